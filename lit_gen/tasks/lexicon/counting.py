"""Vectorised counting of atom n-grams and of arbitrary spans, with exactly mergeable tables.

Every substring of atoms is keyed by a 64-bit polynomial hash computed from prefix sums, so the
key of *any* span ``[a, b)`` costs two array look-ups: ``h(a, b) = (S[b] - S[a]) * P**a``
(mod 2**64, numpy's wrapping ``uint64`` arithmetic), with ``S[i] = Σ_{k<i} c_k · Q**k`` and
``Q = P**-1``. That gives one key function for characters, n-grams, candidate pieces and
lexicon words, computed without a per-character Python loop. Tables keep one length per table,
so only same-length spans can collide; for M distinct spans the chance of any collision is about
M²/2**65 (≈1e-5 for the 11M-character PFR text). Counts are merged by concatenation and
``np.unique``: exact, and independent of how the text was split into batches or ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from lit_gen.tasks.lexicon.text import chunk_strings, codepoints

_P = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible mod 2**64
_Q = np.uint64(pow(0x9E3779B97F4A7C15, -1, 2**64))
SEP = 0  #: atom code separating chunks in a corpus array (never a real atom)


def _powers(base: np.uint64, n: int) -> np.ndarray:
    out = np.full(n, base, dtype=np.uint64)
    out[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(out, dtype=np.uint64)


class SpanHasher:
    """Prefix sums of one code array; :meth:`span` hashes any ``[a, b)`` spans at once."""

    def __init__(self, codes: np.ndarray):
        n = len(codes)
        self.pow_p = _powers(_P, n + 1)
        with np.errstate(over="ignore"):
            terms = np.asarray(codes).astype(np.uint64) * _powers(_Q, n)
            self.prefix = np.r_[np.uint64(0), np.cumsum(terms, dtype=np.uint64)]

    def span(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Hashes of spans ``[a, b)`` (arrays of equal shape) → ``uint64`` of that shape."""
        with np.errstate(over="ignore"):
            return (self.prefix[b] - self.prefix[a]) * self.pow_p[a]


def encode(chunks: Iterable[str]) -> np.ndarray:
    """Atom strings → one ``int64`` code array, chunks separated by :data:`SEP` (and framed by it)."""
    return codepoints("\0" + "\0".join(chunks) + "\0")


def encode_texts(texts: Iterable[str]) -> np.ndarray:
    """Raw texts → the corpus code array (pre-split into soft-atom chunks, see :mod:`.text`)."""
    return encode(chunk_strings("\n".join(texts)))  # one vectorised pass over the whole batch


def hash_words(words: list[str]) -> np.ndarray:
    """Hashes of atom strings (same key as their spans in a corpus). ``→ (len(words),) uint64``."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    codes = codepoints("".join(words))
    lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    ends = np.cumsum(lens)
    return SpanHasher(codes).span(ends - lens, ends)


class HashIndex:
    """Position of each key in a key array, by open addressing with linear probing.

    ``np.searchsorted`` costs ~20 dependent cache misses per query on a million keys; a table
    twice the size of the key set answers in one or two probes, vectorised over all queries.
    The slot is the top bits of the splitmix64 finaliser of the key (span hashes are not mixed
    enough themselves: a single atom hashes to its small code point). (Key 0 is stored as 1: the empty marker.
    Spans only hash to 0 or 1 with probability 2**-63.)
    """

    def __init__(self, keys: np.ndarray):
        keys = np.where(keys == 0, np.uint64(1), keys).astype(np.uint64)
        bits = max(4, int(np.ceil(np.log2(max(len(keys), 1)))) + 1)
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.slots = np.zeros(1 << bits, dtype=np.uint64)
        self.where = np.full(1 << bits, -1, dtype=np.int64)
        todo = np.arange(len(keys))
        slot = self._slot(keys)
        while len(todo):  # place every key whose slot is free (first claimant wins), move the rest on
            free = self.slots[slot] == 0
            cand, cslot = todo[free], slot[free]
            _, first = np.unique(cslot, return_index=True)
            self.slots[cslot[first]] = keys[cand[first]]
            self.where[cslot[first]] = cand[first]
            placed = np.zeros(len(todo), dtype=bool)
            placed[np.flatnonzero(free)[first]] = True
            todo, slot = todo[~placed], slot[~placed]
            slot = np.where(self.slots[slot] != 0, (slot + 1) & self.mask, slot)

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        x = keys.astype(np.uint64)
        with np.errstate(over="ignore"):
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x ^= x >> np.uint64(31)
        return (x >> self.shift).astype(np.int64)

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Index of each query in the original key array, -1 where absent. Same shape."""
        queries = np.asarray(queries, dtype=np.uint64)
        flat = np.where(queries == 0, np.uint64(1), queries).ravel()
        out = np.full(len(flat), -1, dtype=np.int64)
        todo = np.arange(len(flat))
        slot = self._slot(flat)
        while len(todo):
            held = self.slots[slot]
            hit = held == flat[todo]
            out[todo[hit]] = self.where[slot[hit]]
            more = ~hit & (held != 0)
            todo, slot = todo[more], (slot[more] + 1) & self.mask
        return out.reshape(np.shape(queries))


@dataclass
class CountTable:
    """Sorted unique ``keys`` (``uint64``) with their ``counts`` (``int64``).

    n-gram tables also keep the ``first`` and ``last`` atom of each n-gram: with them the hash of
    its prefix/suffix follows from its own (:func:`prefix_keys`), so branching entropies can be
    computed from merged tables alone.
    """

    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    first: np.ndarray | None = None
    last: np.ndarray | None = None

    @staticmethod
    def from_keys(keys: np.ndarray, weights: np.ndarray | None = None, first: np.ndarray | None = None,
                  last: np.ndarray | None = None) -> CountTable:
        uniq, index, inv = np.unique(keys, return_index=True, return_inverse=True)
        counts = np.bincount(inv.ravel(), weights=weights, minlength=len(uniq)).astype(np.int64)
        pick = (lambda a: None if a is None else a[index])
        return CountTable(uniq, counts, pick(first), pick(last))

    @staticmethod
    def merge(tables: Iterable[CountTable]) -> CountTable:
        tables = list(tables)
        cat = (lambda name: None if getattr(tables[0], name) is None
               else np.concatenate([getattr(t, name) for t in tables]))
        return CountTable.from_keys(cat("keys"), cat("counts"), cat("first"), cat("last"))

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Counts of ``keys`` (0 where absent), same shape."""
        if len(self.keys) == 0:
            return np.zeros(np.shape(keys), dtype=np.int64)
        if getattr(self, "_index", None) is None:
            self._index = HashIndex(self.keys)
        pos = self._index.find(keys)
        return np.where(pos >= 0, self.counts[pos], 0)

    def __len__(self) -> int:
        return len(self.keys)


def ngram_positions(codes: np.ndarray, n: int) -> np.ndarray:
    """Start positions ``i`` whose n-gram ``codes[i:i+n]`` lies inside one chunk. ``→ (M,)``."""
    if len(codes) < n:
        return np.zeros(0, dtype=np.int64)
    seps = np.r_[0, np.cumsum(codes == SEP)]
    starts = np.arange(len(codes) - n + 1)
    return starts[seps[starts + n] == seps[starts]]


def count_ngrams(codes: np.ndarray, max_n: int, hasher: SpanHasher | None = None) -> list[CountTable]:
    """Tables of n-gram counts for ``n = 1..max_n`` (index 0 is n=1) over a corpus code array."""
    hasher = hasher or SpanHasher(codes)
    tables = []
    for n in range(1, max_n + 1):
        pos = ngram_positions(codes, n)
        tables.append(CountTable.from_keys(hasher.span(pos, pos + n), None, codes[pos], codes[pos + n - 1]))
    return tables


#: merges one rank's count tables with every other rank's (identity in a single process)
Reducer = Callable[[list[CountTable]], list[CountTable]]


def local_reduce(tables: list[CountTable]) -> list[CountTable]:
    return tables


class NgramCounter:
    """Accumulates n-gram counts over batches of text; :meth:`tables` merges them once.

    Keeps the encoded text too (4 bytes per atom), because building a lexicon needs a second
    pass over it (cutting, re-segmenting).
    """

    def __init__(self, max_n: int = 4):
        self.max_n = max_n
        self._parts: list[list[CountTable]] = []
        self._codes: list[np.ndarray] = []

    def update(self, texts: Iterable[str]) -> None:
        codes = encode_texts(texts)
        self._codes.append(codes[1:].astype(np.int32))  # drop the leading separator
        self._parts.append(count_ngrams(codes, self.max_n))

    def codes(self) -> np.ndarray:
        """All text seen so far as one corpus code array (``int64``)."""
        return np.r_[SEP, np.concatenate(self._codes)].astype(np.int64) if self._codes else np.zeros(1, np.int64)

    def tables(self, reduce: Reducer = local_reduce) -> list[CountTable]:
        """This rank's counts merged over batches, then over ranks with ``reduce``."""
        local = [CountTable.merge(p[n] for p in self._parts) if self._parts else CountTable()
                 for n in range(self.max_n)]
        return reduce(local)


def prefix_keys(keys: np.ndarray, last: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the first ``n - 1`` atoms of n-grams with hashes ``keys`` and last atoms ``last``."""
    with np.errstate(over="ignore"):
        return keys - last.astype(np.uint64) * _powers(_Q, n)[n - 1]


def suffix_keys(keys: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Hashes of the last ``n - 1`` atoms of n-grams with hashes ``keys`` and first atoms ``first``."""
    with np.errstate(over="ignore"):
        return (keys - first.astype(np.uint64)) * _P
