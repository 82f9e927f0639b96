"""Building a lexicon from counted text: the post's bigram algorithm and the n-gram variant.

Both cut the training text where adjacent atoms do not hold together, count the pieces as
candidate words, and keep the frequent ones; then (``em_iters``) re-estimate the word counts by
segmenting the text with the current lexicon (hard-EM / Viterbi training), which lowers the
description length L and prunes words the segmenter never uses.

* ``bigram`` (最小熵原理(二), the reproduction setting): cut where ``p_ab < min_prob`` or
  ``PMI(a, b) < min_pmi``; keep pieces with ``p >= min_prob``; remove redundant words longest
  first (``redundancy='ours'``: a word whose PMI with its best split by the rest of the lexicon is
  ``<= redundancy_pmi`` gives its count to its parts; ``'author'``: nlp-zero's rule, see
  :mod:`.redundancy`).
* ``nvbe`` (Magistry & Sagot 2012): no cutting; every frequent n-gram is a candidate scored by
  its autonomy (normalised variation of branching entropy, :mod:`.entropy`) times its length,
  and the text is segmented to maximise the total. The words it uses form the lexicon.
* ``ngram``: a gap between two atoms is kept closed if some n-gram (2 <= n <= max_n) covering it
  is frequent (``count >= min_count``) and cohesive: its *smallest* PMI over all binary splits is
  ``>= min_cohesion[n-2]``. Higher-order PMI sees that 中华人民 holds together even where a single
  bigram inside it is weak.

What the defaults add to nvbe, each kept because it raised F1 on the PFR dev split
(``docs/lexicon.md`` lists the numbers, and what did not help):

* candidates of at most 3 atoms (``max_n`` 4) and a length prior (``length_bonus``): longer
  candidates are mostly phrases (台湾同胞, 和平统一) under the PKU standard;
* numbers (``number_units``): a digit run is never inside a word and binds only magnitude and
  calendar/clock units (1998年, 5万), not measure words (5 个);
* measure words (``measure_numerals``), found from the data as atoms that follow many distinct
  numerals: 一 年, 两 个 are two words, like 5 个;
* function atoms (``function_ratio``, ``function_penalty``), found from the previous
  segmentation as frequent atoms that are mostly words of their own (的 在 和 了 是 ...): a word
  with one at its edge pays a penalty, so 新的 becomes 新 的 while frequent 目的 survives.
  Unigram Viterbi alone merges such pairs whenever they are frequent, whatever their PMI.

A split-PMI floor on candidates (``min_word_pmi``, the post's "merge only if PMI > 1") is an
option but off: it helped before the function-atom rule (dev F1 +0.003) and not after it.

All statistics are vectorised over the corpus code array (:mod:`.counting`); the only Python
loops run over distinct words, never over characters. Under DDP every rank passes its shard's
codes and a ``gather`` that all-gathers a Python object; merges are exact sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lit_gen.tasks.lexicon.counting import SEP, CountTable, HashIndex, SpanHasher, hash_words
from lit_gen.tasks.lexicon.entropy import autonomy, min_split_pmi, ngram_atoms, parents
from lit_gen.tasks.lexicon.lexicon import Lexicon
from lit_gen.tasks.lexicon.redundancy import RULES, remove_redundant, remove_redundant_author
from lit_gen.tasks.lexicon.segment import Segmenter, WordIndex
from lit_gen.tasks.lexicon.text import NUM, atom_string

#: added to the score of a number + unit word (nats): large enough that the pair always binds
NUMBER_BIND = 20.0
#: a function atom (``BuildConfig.function_ratio``) makes up at least this share of the text
FUNCTION_SHARE = 1e-3
#: Chinese numerals; with the digit-run atom, what precedes measure words
CHINESE_NUMERALS = "一二三四五六七八九十两几零○〇"
NUMERALS = CHINESE_NUMERALS + chr(NUM)
#: all-gathers a picklable object from every rank (``lambda x: [x]`` in one process)
Gather = Callable[[Any], list[Any]]


def single_process(obj: Any) -> list[Any]:
    return [obj]


@dataclass
class BuildConfig:
    """Hyper-parameters of lexicon building (see the module docstring). The defaults are the
    ones chosen on the PFR dev split (``docs/lexicon.md``); ``number_units``, ``function_*``,
    ``measure_numerals`` and ``length_bonus`` act on every method's segmentation scores and word
    lists (None / empty turns each off, as the bigram reproduction config does).

    Args:
        method: ``bigram`` (the post) or ``ngram`` (higher-order cohesion).
        max_n: longest n-gram counted (``ngram``) — 2 suffices for ``bigram``.
        min_prob: ``bigram``: minimum pair/word probability (per atom of text).
        min_pmi: ``bigram``: minimum PMI (nats) of a pair that is not cut.
        redundancy_pmi: ``bigram``, ``redundancy='ours'``: a word whose PMI with its best split
            is <= this is removed.
        min_count: ``ngram``: minimum count of an n-gram / a kept word.
        min_cohesion: ``ngram``: minimum of the smallest split PMI (nats), for n = 2, 3, 4, ...
        em_iters: re-segmentation rounds after building (0 = keep the piece counts).
        max_word_len: longest word (atoms) kept (``nvbe``: at most ``max_n - 1``).
        word_bonus: added to every word's segmentation score (nats); < 0 favours longer words.
        length_bonus: added to the score of words of 1, 2, 3, ... atoms (the last value also for
            longer words; empty = none): a length prior on top of ``word_bonus``.
        min_word_pmi: ``nvbe``: a candidate of >= 2 atoms needs its smallest split PMI (nats) >=
            this (None = no filter; see :func:`.entropy.min_split_pmi`).
        pmi_weight: ``nvbe``: 0 = drop candidates below ``min_word_pmi``; > 0 = keep them but
            subtract ``pmi_weight × (min_word_pmi − PMI)`` from their score (a soft filter).
        number_units: None (no rule), or the characters a number atom (a run of digits) may
            join: a word holding a number is then the number alone or the number + one of them,
            and that pair always binds (+``NUMBER_BIND`` nats: 5万 元, never 5 万元).
            A number heads a measure phrase and is never inside a word (so 1月26日 is two
            words); it binds only what completes the quantity itself — magnitudes (万 亿) and
            calendar/clock units (1998年, 12月, 26日) — while measure words (个 元 名) stand alone.
        redundancy: ``bigram``: which rule removes redundant words, ``ours`` (words of >= 3
            atoms, PMI <= ``redundancy_pmi``) or ``author`` (nlp-zero's: words of >= 2 atoms,
            PMI < length − 1); :mod:`.redundancy` gives both step by step.
    """

    method: Literal["bigram", "ngram", "nvbe"] = "nvbe"
    max_n: int = 4
    min_prob: float = 1e-6
    min_pmi: float = 1.0
    redundancy_pmi: float = 1.0
    min_count: int = 2
    min_cohesion: Sequence[float] = (2.0, 4.0, 6.0, 8.0)
    em_iters: int = 1
    max_word_len: int = 8
    word_bonus: float = -1.0
    length_bonus: Sequence[float] = (-1.25, 0.0, -0.75)
    min_word_pmi: float | None = None
    pmi_weight: float = 1.0
    number_units: str | None = "年月日时分秒万亿千百"
    function_ratio: float | None = 0.45
    function_penalty: float = 7.0
    measure_numerals: int | None = 4
    redundancy: str = "ours"

    def __post_init__(self) -> None:
        if self.method not in ("bigram", "ngram", "nvbe"):
            raise ValueError(f"method must be 'bigram', 'ngram' or 'nvbe', got {self.method!r}")
        need = {"bigram": 2, "ngram": self.max_n, "nvbe": 2}[self.method]
        if self.max_n < need:
            raise ValueError(f"max_n must be >= {need} for method {self.method!r}")
        if self.method == "ngram" and len(self.min_cohesion) < self.max_n - 1:
            raise ValueError(f"min_cohesion needs {self.max_n - 1} values (n = 2..{self.max_n})")
        if self.min_count < 1 or self.em_iters < 0 or self.max_word_len < 1:
            raise ValueError("min_count and max_word_len must be >= 1, em_iters >= 0")
        if not all(math.isfinite(b) for b in self.length_bonus):
            raise ValueError(f"length_bonus must hold finite numbers (nats), got {self.length_bonus!r}")
        if self.min_word_pmi is not None and not math.isfinite(self.min_word_pmi):
            raise ValueError(f"min_word_pmi must be a finite number of nats or None, got {self.min_word_pmi!r}")
        if not (math.isfinite(self.pmi_weight) and self.pmi_weight >= 0):
            raise ValueError(f"pmi_weight must be a finite number >= 0, got {self.pmi_weight!r}")
        if self.function_ratio is not None and not 0.0 <= self.function_ratio <= 1.0:
            raise ValueError(f"function_ratio must be in [0, 1] or None, got {self.function_ratio!r}")
        if not math.isfinite(self.function_penalty):
            raise ValueError(f"function_penalty must be a finite number of nats, got {self.function_penalty!r}")
        if self.measure_numerals is not None and self.measure_numerals < 1:
            raise ValueError(f"measure_numerals must be >= 1 or None, got {self.measure_numerals!r}")
        if self.number_units is not None and not isinstance(self.number_units, str):
            raise ValueError(f"number_units must be a string of characters or None, got {self.number_units!r}")
        if self.redundancy not in RULES:
            raise ValueError(f"redundancy must be one of {RULES}, got {self.redundancy!r}")
        self.length_bonus = tuple(float(b) for b in self.length_bonus)

    def bonus(self, lengths: np.ndarray) -> np.ndarray:
        """``word_bonus`` + the length bonus of words of ``lengths`` atoms. ``(W,) → (W,)`` nats."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if not len(self.length_bonus):
            return np.full(len(lengths), float(self.word_bonus))
        table = np.asarray(self.length_bonus, dtype=np.float64)
        return self.word_bonus + table[(lengths - 1).clip(0, len(table) - 1)]


def merged_tables(gather: Gather, tables: list[CountTable]) -> list[CountTable]:
    """Count tables summed over ranks."""
    per_rank = gather(tables)
    return [CountTable.merge(t[n] for t in per_rank) for n in range(len(tables))]


def merged_words(gather: Gather, counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in gather(counts):
        for w, c in part.items():
            total[w] = total.get(w, 0) + c
    return total


def piece_bounds(codes: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` spans of the words whose first atoms are flagged in ``starts``."""
    is_sep = codes == SEP
    first = np.flatnonzero(starts & ~is_sep)
    bounds = np.flatnonzero(starts | is_sep)
    return first, bounds[np.searchsorted(bounds, first, side="right")]


def count_pieces(codes: np.ndarray, starts: np.ndarray, hasher: SpanHasher,
                 in_text_order: bool = False) -> dict[str, int]:
    """Counts of the distinct words of a segmentation (``starts`` flags), as ``{word: count}``;
    ``in_text_order``: the words in the order of their first occurrence (else by hash key)."""
    a, b = piece_bounds(codes, starts)
    keys = hasher.span(a, b) ^ (b - a).astype(np.uint64)  # salt with the length: one table
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    if in_text_order:
        order = np.argsort(first, kind="stable")
        first, counts = first[order], counts[order]
    text = atom_string(codes)
    return {text[s:e]: c for s, e, c in zip(a[first].tolist(), b[first].tolist(), counts.tolist())}


def cohesion_of(words: list[str], tables: list[CountTable]) -> np.ndarray:
    """Smallest PMI (nats) over binary splits of each word, from n-gram counts (nan if unknown)."""
    out = np.full(len(words), np.nan)
    total = float(tables[0].counts.sum())
    lens = np.array([len(w) for w in words])
    for n in range(2, len(tables) + 1):
        sel = np.flatnonzero(lens == n)
        if not len(sel):
            continue
        ws = [words[i] for i in sel]
        c_w = tables[n - 1].lookup(hash_words(ws)).astype(np.float64)
        worst = np.full(len(ws), np.inf)
        for k in range(1, n):
            c_l = tables[k - 1].lookup(hash_words([w[:k] for w in ws])).astype(np.float64)
            c_r = tables[n - k - 1].lookup(hash_words([w[k:] for w in ws])).astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                worst = np.minimum(worst, np.log(total * c_w / (c_l * c_r)))
        out[sel] = np.where(c_w > 0, worst, np.nan)
    return out


def _bigram_starts(codes, hasher, tables, cfg: BuildConfig) -> np.ndarray:
    total = float(tables[0].counts.sum())
    i = np.arange(len(codes) - 1)
    c_a = tables[0].lookup(codes[:-1].astype(np.uint64)).astype(np.float64)
    c_b = tables[0].lookup(codes[1:].astype(np.uint64)).astype(np.float64)
    c_ab = tables[1].lookup(hasher.span(i, i + 2)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(total * c_ab / (c_a * c_b))
    strong = (c_ab >= cfg.min_prob * total) & (pmi >= cfg.min_pmi)
    return (codes != SEP) & ~np.r_[False, strong]


def _ngram_starts(codes, hasher, tables, cfg: BuildConfig) -> np.ndarray:
    total = float(tables[0].counts.sum())
    n_codes = len(codes)
    seps = np.r_[0, np.cumsum(codes == SEP)]
    depth = np.zeros(n_codes + 1, dtype=np.int64)  # difference array over gaps (i, i+1)
    for n in range(2, cfg.max_n + 1):
        pos = np.arange(n_codes - n + 1)
        pos = pos[seps[pos + n] == seps[pos]]
        c_w = tables[n - 1].lookup(hasher.span(pos, pos + n))
        keep = c_w >= cfg.min_count
        pos, c_w = pos[keep], c_w[keep].astype(np.float64)
        worst = np.full(len(pos), np.inf)
        for k in range(1, n):
            c_l = tables[k - 1].lookup(hasher.span(pos, pos + k))
            c_r = tables[n - k - 1].lookup(hasher.span(pos + k, pos + n))
            worst = np.minimum(worst, np.log(total * c_w / (c_l.astype(np.float64) * c_r)))
        pos = pos[worst >= cfg.min_cohesion[n - 2]]
        depth += np.bincount(pos, minlength=n_codes + 1) - np.bincount(pos + n - 1, minlength=n_codes + 1)
    closed = np.cumsum(depth)[:-1] > 0  # gap (i, i+1) is covered by a kept n-gram
    return (codes != SEP) & ~np.r_[False, closed[:-1]]


def _entropies(codes, starts, lex_words, gather) -> tuple[np.ndarray, np.ndarray]:
    """Entropy (bits) of the atom left/right of each word's occurrences in the segmentation."""
    a, b = piece_bounds(codes, starts)
    hasher = SpanHasher(codes)
    keys = hasher.span(a, b) ^ (b - a).astype(np.uint64)
    lex_keys = hash_words(lex_words) ^ np.array([len(w) for w in lex_words], dtype=np.uint64)
    order = np.argsort(lex_keys)
    pos = np.searchsorted(lex_keys[order], keys).clip(max=len(order) - 1)
    found = lex_keys[order][pos] == keys
    word_id = order[pos][found].astype(np.uint64)
    out = []
    for neighbour in (codes[a[found] - 1], codes[b[found]]):
        table = CountTable.from_keys((word_id << np.uint64(21)) | neighbour.astype(np.uint64))
        table = CountTable.merge(gather(table))
        wid = (table.keys >> np.uint64(21)).astype(np.int64)
        c = table.counts.astype(np.float64)
        tot = np.bincount(wid, weights=c, minlength=len(lex_words))
        p = c / tot[wid]
        ent = np.bincount(wid, weights=-p * np.log2(p), minlength=len(lex_words))
        out.append(np.where(tot > 0, ent, np.nan))
    return out[0], out[1]


def _nvbe_index(tables: list[CountTable], cfg: BuildConfig,
                measure: frozenset[str]) -> tuple[WordIndex, list[np.ndarray]]:
    """Candidate words = n-grams (n <= min(max_word_len, max_n - 1)) with count >= min_count
    (every single atom) that pass the ``min_word_pmi``, ``number_units`` and numeral + measure
    filters, scored ``autonomy × n + bonus(n)`` (+ ``NUMBER_BIND`` for number + unit)."""
    auto = autonomy(tables, standardise=True)
    longest = min(cfg.max_word_len, len(tables) - 1)
    links = parents(tables[:longest])
    atoms = ngram_atoms(tables[:longest], links) if cfg.number_units is not None else None
    pmi = min_split_pmi(tables[:longest], links) if cfg.min_word_pmi is not None else None
    measure_codes = np.array([ord(a) for a in measure], dtype=np.int64)
    numerals = np.array([ord(a) for a in CHINESE_NUMERALS], dtype=np.int64)
    keys, scores, lens = [], [], []
    for n in range(1, longest + 1):
        sel = (tables[n - 1].counts >= cfg.min_count) | (n == 1)
        extra = np.zeros(len(sel))
        if n > 1 and pmi is not None and cfg.pmi_weight > 0:
            extra -= cfg.pmi_weight * np.maximum(cfg.min_word_pmi - pmi[n - 1], 0.0)
        elif n > 1 and pmi is not None:
            sel &= pmi[n - 1] >= cfg.min_word_pmi
        if n > 1 and atoms is not None:
            ok, bind = _number_ok(atoms[n - 1], cfg.number_units)
            sel &= ok
            extra += bind * NUMBER_BIND
        if n == 2 and len(measure_codes):  # numeral + measure atom
            sel &= ~(np.isin(tables[1].first, numerals) & np.isin(tables[1].last, measure_codes))
        keys.append(tables[n - 1].keys[sel])
        scores.append(auto[n - 1][sel] * n + cfg.bonus(np.full(int(sel.sum()), n)) + extra[sel])
        lens.append(np.full(int(sel.sum()), n))
    score = np.concatenate(scores)
    index = WordIndex(None, score, float(score.min()) - 1.0, np.concatenate(keys), np.concatenate(lens))
    return index, auto


def _number_ok(atoms: np.ndarray, units: str) -> tuple[np.ndarray, np.ndarray]:
    """Which n-grams may be words, and which are number + unit (see ``BuildConfig.number_units``).
    ``(W, n)`` atom codes → two ``(W,)`` bool arrays."""
    if atoms.shape[1] == 1:
        return np.ones(len(atoms), dtype=bool), np.zeros(len(atoms), dtype=bool)
    unit = np.isin(atoms[:, 1], [ord(u) for u in units])
    bind = (atoms.shape[1] == 2) & (atoms[:, 0] == NUM) & unit
    return ~(atoms == NUM).any(axis=1) | bind, bind


def _number_word(word: str, units: str) -> tuple[bool, bool]:
    """The number rule on one word (the string twin of :func:`_number_ok`): whether it may be a
    word, and whether it is number + unit."""
    num = chr(NUM)
    bind = len(word) == 2 and word[0] == num and word[1] in units
    return len(word) == 1 or num not in word or bind, bind


def _function_atoms(words: dict[str, int], ratio: float | None) -> frozenset[str]:
    """Atoms that are frequent (>= FUNCTION_SHARE of all atoms) and a word of their own in >=
    ``ratio`` of their occurrences in the segmentation counted by ``words``."""
    if ratio is None:
        return frozenset()
    seen: dict[str, int] = {}
    for w, c in words.items():
        for ch in w:
            seen[ch] = seen.get(ch, 0) + c
    total = sum(seen.values())
    return frozenset(ch for ch, c in seen.items()
                     if c >= FUNCTION_SHARE * total and words.get(ch, 0) >= ratio * c)


def _measure_atoms(tables: list[CountTable], min_numerals: int | None) -> frozenset[str]:
    """Atoms (not numerals themselves) preceded by >= ``min_numerals`` distinct ``NUMERALS`` at
    least twice each; empty if ``min_numerals`` is None."""
    if min_numerals is None or len(tables) < 2:
        return frozenset()
    atoms = atom_string(tables[0].first)
    pairs = [n + a for a in atoms for n in NUMERALS]
    seen = (tables[1].lookup(hash_words(pairs)) >= 2).reshape(len(atoms), len(NUMERALS))
    return frozenset(a for a, k in zip(atoms, seen.sum(axis=1).tolist())
                     if k >= min_numerals and a not in NUMERALS + "百千万亿")


def _word_bonus(words: list[str], cfg: BuildConfig, function: frozenset[str] = frozenset()) -> np.ndarray:
    """``cfg.bonus`` of each word + ``NUMBER_BIND`` for number + unit words − ``function_penalty``
    for words with a function atom at an edge. ``→ (W,)`` nats."""
    bonus = cfg.bonus(np.array([len(w) for w in words], dtype=np.int64))
    if function and cfg.function_penalty:
        bonus -= cfg.function_penalty * np.array([len(w) > 1 and (w[0] in function or w[-1] in function)
                                                  for w in words], dtype=np.float64)
    if cfg.number_units:
        bonus += NUMBER_BIND * np.array([_number_word(w, cfg.number_units)[1] for w in words], dtype=np.float64)
    return bonus


def _unigram_segmenter(words: dict[str, int], cfg: BuildConfig, function: frozenset[str]) -> Segmenter:
    bonus = _word_bonus(list(words), cfg, function)
    return Segmenter(list(words), np.array(list(words.values())), word_bonus=bonus)


def build_lexicon(codes: np.ndarray, tables: list[CountTable], cfg: BuildConfig,
                  gather: Gather = single_process) -> Lexicon:
    """Lexicon from a corpus code array (this rank's shard) and merged n-gram ``tables``."""
    tables = tables[:cfg.max_n]  # a counter of longer n-grams must not lengthen the candidates
    if not len(tables[0]) or tables[0].counts.sum() == 0:
        raise ValueError("the training text holds no words (empty corpus, or only punctuation)")
    hasher = SpanHasher(codes)
    total = float(tables[0].counts.sum())
    auto = None
    measure = _measure_atoms(tables, cfg.measure_numerals)
    if cfg.method == "nvbe":
        index, auto = _nvbe_index(tables, cfg, measure)
        starts = Segmenter.from_index(index).segment_codes(codes)
    else:
        find = _bigram_starts if cfg.method == "bigram" else _ngram_starts
        starts = find(codes, hasher, tables, cfg)
    author = cfg.method == "bigram" and cfg.redundancy == "author"
    # the author's rule takes words of one length in the order the text first shows them
    words = merged_words(gather, count_pieces(codes, starts, hasher, in_text_order=author))
    if cfg.method == "bigram":
        words = {w: c for w, c in words.items() if c >= cfg.min_prob * total or len(w) == 1}
        words = remove_redundant_author(words) if author else remove_redundant(words, cfg.redundancy_pmi)
    elif cfg.method == "ngram":
        words = {w: c for w, c in words.items() if c >= cfg.min_count or len(w) == 1}
    words = {w: c for w, c in words.items() if len(w) <= cfg.max_word_len}
    if cfg.number_units is not None:
        words = {w: c for w, c in words.items() if _number_word(w, cfg.number_units)[0]}
    if measure:
        words = {w: c for w, c in words.items() if not (len(w) == 2 and w[0] in CHINESE_NUMERALS and w[1] in measure)}
    function = frozenset()
    for _ in range(cfg.em_iters):  # hard EM with the unigram model: re-segment, re-count
        function = _function_atoms(words, cfg.function_ratio)
        starts = _unigram_segmenter(words, cfg, function).segment_codes(codes)
        words = merged_words(gather, count_pieces(codes, starts, hasher))
        floor = cfg.min_prob * total if cfg.method == "bigram" else cfg.min_count
        words = {w: c for w, c in words.items() if c >= floor or len(w) == 1}
        auto = None  # scores are now unigram log-probabilities
    if cfg.em_iters or cfg.method != "nvbe":  # counts of the kept words as the segmenter uses them
        starts = _unigram_segmenter(words, cfg, function).segment_codes(codes)
        words = merged_words(gather, count_pieces(codes, starts, hasher))
    lex_words = list(words)
    counts = np.array([words[w] for w in lex_words], dtype=np.int64)
    if auto is not None:
        score = _lookup_autonomy(lex_words, tables, auto) + _word_bonus(lex_words, cfg)
    else:
        score = np.log(counts / counts.sum()) + _word_bonus(lex_words, cfg, function)
    left, right = _entropies(codes, starts, lex_words, gather)
    return Lexicon(lex_words, counts, score, cohesion_of(lex_words, tables), left, right)


def _lookup_autonomy(words: list[str], tables: list[CountTable], auto: list[np.ndarray]) -> np.ndarray:
    """autonomy × length of each word (words are n-grams of the tables by construction)."""
    out = np.full(len(words), np.nan)
    lens = np.array([len(w) for w in words])
    for n in range(1, len(auto) + 1):
        sel = np.flatnonzero(lens == n)
        if len(sel):
            pos = HashIndex(tables[n - 1].keys).find(hash_words([words[i] for i in sel]))
            out[sel] = np.where(pos >= 0, auto[n - 1][pos] * n, np.nan)
    return out
