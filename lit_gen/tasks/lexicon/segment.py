"""Unigram Viterbi segmentation, vectorised over chunks.

``best[i] = max_L best[i - L] + log p(word of L atoms ending at i)``: the recursion is sequential
along a chunk but independent across chunks, so positions are processed grouped by their offset
inside their chunk: step ``j`` updates every chunk's ``j``-th atom at once with numpy. The
number of Python steps is the longest chunk (a few hundred after punctuation pre-splitting),
not the number of characters. Word look-ups are hashed spans (:mod:`.counting`) searched in one
sorted table per word length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lit_gen.tasks.lexicon.counting import SEP, HashIndex, SpanHasher, hash_words
from lit_gen.tasks.lexicon.text import atomize

#: segment at most this many atoms at once (bounds the (atoms × max_len) score matrix)
BLOCK = 1 << 20


class WordIndex:
    """Scores (log-probabilities) of words, looked up by (length, span hash).

    Args:
        words: atom strings (or None and ``keys``/``lens``: their span hashes and lengths).
        logp: their scores (log-probabilities in nats for the unigram model), same length.
        unknown_logp: score of a single atom absent from ``words``.
    """

    def __init__(self, words: Sequence[str] | None, logp: np.ndarray, unknown_logp: float,
                 keys: np.ndarray | None = None, lens: np.ndarray | None = None):
        self.unknown_logp = float(unknown_logp)
        if words is not None:  # else: span hashes ``keys`` and lengths ``lens`` given directly
            lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
            keys = hash_words(list(words))
        self.max_len = int(lens.max()) if len(lens) else 1
        self.tables: dict[int, tuple[HashIndex, np.ndarray]] = {}
        for n in np.unique(lens).tolist():
            sel = lens == n
            self.tables[n] = (HashIndex(keys[sel]), np.asarray(logp, dtype=np.float64)[sel])

    def lookup(self, n: int, keys: np.ndarray) -> np.ndarray:
        """log p of the length-``n`` spans with hashes ``keys``; ``-inf`` where not a word."""
        if n not in self.tables:
            return np.full(len(keys), -np.inf)
        table, values = self.tables[n]
        pos = table.find(keys)
        return np.where(pos >= 0, values[pos], -np.inf)


def viterbi_starts(codes: np.ndarray, index: WordIndex, hasher: SpanHasher | None = None) -> np.ndarray:
    """Word starts of the best segmentation of a corpus code array (chunks framed by ``SEP``).

    ``codes``: ``(N,)`` int64 with ``codes[0] == codes[-1] == SEP``. Returns a ``(N,)`` bool
    array, True where a word starts (never at a SEP).
    """
    n = len(codes)
    if n <= BLOCK:
        return _viterbi_block(codes, index, hasher)
    # cut at separators about every BLOCK atoms and segment the blocks independently
    seps = np.flatnonzero(codes == SEP)
    cuts = seps[np.searchsorted(seps, np.arange(BLOCK, n, BLOCK)).clip(max=len(seps) - 1)]
    bounds = np.unique(np.r_[0, cuts, n - 1])
    out = np.zeros(n, dtype=bool)
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        out[a:b + 1] |= _viterbi_block(codes[a:b + 1], index, None)
    return out


def _viterbi_block(codes: np.ndarray, index: WordIndex, hasher: SpanHasher | None) -> np.ndarray:
    n = len(codes)
    hasher = hasher or SpanHasher(codes)
    is_sep = codes == SEP
    idx = np.arange(n)
    last_sep = np.maximum.accumulate(np.where(is_sep, idx, 0))
    offset = idx - last_sep - 1  # atom's position inside its chunk (-1 at separators)
    K = index.max_len
    score = np.full((n, K), -np.inf, dtype=np.float64)
    for length in range(1, K + 1):
        ok = offset >= length - 1
        ends = idx[ok]
        score[ends, length - 1] = index.lookup(length, hasher.span(ends - length + 1, ends + 1))
    unknown = ~is_sep & np.isneginf(score[:, 0])
    score[unknown, 0] = index.unknown_logp
    best = np.zeros(n, dtype=np.float64)
    back = np.ones(n, dtype=np.int64)
    atoms = idx[~is_sep]
    order = atoms[np.argsort(offset[~is_sep], kind="stable")]
    group_sizes = np.bincount(offset[~is_sep]) if len(atoms) else np.zeros(0, dtype=np.int64)
    lengths = np.arange(1, K + 1)
    pos = 0
    for size in group_sizes.tolist():
        i = order[pos:pos + size]
        pos += size
        prev = best[(i[:, None] - lengths[None, :]).clip(min=0)]
        cand = prev + score[i]
        choice = cand.argmax(axis=1)
        best[i] = cand[np.arange(len(i)), choice]
        back[i] = choice + 1
    starts = np.zeros(n, dtype=bool)
    cur = idx[(~is_sep) & np.r_[is_sep[1:], True]]  # last atom of every chunk
    while len(cur):
        st = cur - back[cur] + 1
        starts[st] = True
        cur = st - 1
        cur = cur[~is_sep[cur]]
    return starts


class Segmenter:
    """Splits raw text into words with a unigram model over a lexicon.

    Args:
        words: lexicon entries as atom strings (see :mod:`.text`).
        counts: their counts; ``p(w) = count / Σ counts``.
        unknown_count: pseudo-count of a single atom missing from the lexicon.
        word_bonus: added to every word's log-probability (nats). Negative values favour fewer,
            longer words; positive values more, shorter ones (a length prior, tuned on dev).
    """

    def __init__(self, words: Sequence[str], counts: np.ndarray, unknown_count: float = 0.5,
                 word_bonus: float | np.ndarray = 0.0):
        counts = np.asarray(counts, dtype=np.float64)
        total = counts.sum() if len(counts) else 1.0
        with np.errstate(divide="ignore"):
            logp = np.log(counts / total) + word_bonus
            low = float(np.min(word_bonus)) if np.size(word_bonus) else 0.0
            self.index = WordIndex(words, logp, np.log(unknown_count / total) + low)

    @classmethod
    def from_index(cls, index: WordIndex) -> Segmenter:
        """A segmenter maximising the total of arbitrary word scores (e.g. autonomy × length)."""
        seg = cls.__new__(cls)
        seg.index = index
        return seg

    def segment_codes(self, codes: np.ndarray) -> np.ndarray:
        """Word-start flags of a corpus code array (see :func:`viterbi_starts`)."""
        return viterbi_starts(codes, self.index)

    def segment(self, lines: Sequence[str]) -> list[list[str]]:
        """Each line split into words; ``"".join(words)`` is the line without its whitespace."""
        text = "\n".join(lines)
        atoms = atomize(text)
        line_of_atom = np.searchsorted(np.cumsum([len(s) + 1 for s in lines]), atoms.start, side="right")
        out: list[list[str]] = [[] for _ in lines]
        if len(atoms) == 0:
            return out
        soft = np.flatnonzero(~atoms.hard)
        # corpus array of soft atoms: a SEP wherever the chunk changes
        chunk = atoms.chunk[soft]
        new_chunk = np.r_[True, chunk[1:] != chunk[:-1]]
        place = np.arange(len(soft)) + np.cumsum(new_chunk)  # each new chunk shifts by one SEP
        codes = np.zeros(len(soft) + int(new_chunk.sum()) + 1, dtype=np.int64)
        codes[place] = atoms.codes[soft]
        starts = np.ones(len(atoms), dtype=bool)  # hard atoms are words of their own
        starts[soft] = self.segment_codes(codes)[place]
        # a word also ends where its chunk ends (words never cross chunks)
        first = np.flatnonzero(starts | np.r_[True, atoms.chunk[1:] != atoms.chunk[:-1]])
        last = np.r_[first[1:], len(atoms)] - 1
        a, b = atoms.start[first].tolist(), atoms.end[last].tolist()
        lines_of_word = line_of_atom[first].tolist()
        for ln, s, e in zip(lines_of_word, a, b):
            out[ln].append(text[s:e])
        return out
