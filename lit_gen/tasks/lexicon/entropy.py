"""Branching entropy and nVBE autonomy of n-grams (Magistry & Sagot 2012), from count tables.

``h_r(x)``: entropy (nats) of the atom following the n-gram ``x``; ``h_l(x)``: of the atom
preceding it. A chunk edge counts as a new, distinct neighbour each time (it adds
``log c(x) / c(x)`` per occurrence), so strings that often touch punctuation look free.
``VBE_r(x) = h_r(x) - h_r(x[:-1])`` and ``VBE_l(x) = h_l(x) - h_l(x[1:])``: entropy rises at a
word's end. Normalising by the mean over the n-grams of the same length (``nVBE``) makes
lengths comparable; the *autonomy* ``a(x) = nVBE_l(x) + nVBE_r(x)`` scores how word-like ``x``
is, and segmentation maximises ``Σ a(w)·len(w)``.

All from merged count tables (:class:`~.counting.CountTable` with first/last atoms), so the
result is the same however the text was sharded.
"""

from __future__ import annotations

import numpy as np

from lit_gen.tasks.lexicon.counting import CountTable, HashIndex, prefix_keys, suffix_keys


def _entropy(table: CountTable, longer: CountTable, parent_keys: np.ndarray, edge: str = "distinct") -> np.ndarray:
    """Entropy of the neighbour of each n-gram of ``table`` given its (n+1)-gram ``longer`` counts
    and, for each (n+1)-gram, the key of the n-gram it extends (``parent_keys``)."""
    index = HashIndex(table.keys)
    parent = index.find(parent_keys)
    ok = parent >= 0
    c_x = table.counts.astype(np.float64)
    c = longer.counts[ok].astype(np.float64)
    p = c / c_x[parent[ok]]
    h = np.bincount(parent[ok], weights=-p * np.log(p), minlength=len(table))
    seen = np.bincount(parent[ok], weights=c, minlength=len(table))
    edges = np.maximum(c_x - seen, 0)  # occurrences next to a chunk edge
    if edge == "single":  # all edges are one neighbour symbol
        p_e = edges / c_x
        with np.errstate(divide="ignore", invalid="ignore"):
            return h - np.where(p_e > 0, p_e * np.log(p_e), 0.0)
    return h + edges * np.log(c_x) / c_x  # each edge a distinct neighbour


def branching_entropies(tables: list[CountTable], edge: str = "distinct") -> list[tuple[np.ndarray, np.ndarray]]:
    """``(h_left, h_right)`` for every entry of ``tables[0..len-2]`` (n = 1 .. max_n - 1)."""
    out = []
    for n in range(1, len(tables)):
        table, longer = tables[n - 1], tables[n]
        h_right = _entropy(table, longer, prefix_keys(longer.keys, longer.last, n + 1), edge)
        h_left = _entropy(table, longer, suffix_keys(longer.keys, longer.first), edge)
        out.append((h_left, h_right))
    return out


def autonomy(tables: list[CountTable], standardise: bool = False, edge: str = "distinct") -> list[np.ndarray]:
    """nVBE autonomy ``a(x)`` of every n-gram in ``tables[0..len-2]`` (aligned with their keys);
    ``edge``: chunk edges as a new neighbour each time (``distinct``) or as one symbol (``single``)."""
    ent = branching_entropies(tables, edge)
    total = tables[0].counts.astype(np.float64)
    p0 = total / total.sum()
    h0 = float(-(p0 * np.log(p0)).sum())  # the empty string's neighbour entropy (both sides)
    out = []
    for n in range(1, len(tables)):
        h_left, h_right = ent[n - 1]
        table = tables[n - 1]
        if n == 1:
            vbe_r, vbe_l = h_right - h0, h_left - h0
        else:
            shorter = tables[n - 2]
            s_left, s_right = ent[n - 2]
            index = HashIndex(shorter.keys)
            pre = index.find(prefix_keys(table.keys, table.last, n))
            suf = index.find(suffix_keys(table.keys, table.first))
            vbe_r = np.where(pre >= 0, h_right - s_right[pre], 0.0)
            vbe_l = np.where(suf >= 0, h_left - s_left[suf], 0.0)
        scores = []
        for v in (vbe_l, vbe_r):
            v = v - v.mean()
            scores.append(v / (v.std() or 1.0) if standardise else v)
        out.append(scores[0] + scores[1])
    return out


def parents(tables: list[CountTable]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For n = 2 .. len(tables): the index in ``tables[n-2]`` of every n-gram's prefix and suffix
    (``(M_n,)`` int64 each; every (n-1)-gram inside a counted n-gram is itself counted)."""
    out = []
    for n in range(2, len(tables) + 1):
        table, index = tables[n - 1], HashIndex(tables[n - 2].keys)
        out.append((index.find(prefix_keys(table.keys, table.last, n)),
                    index.find(suffix_keys(table.keys, table.first))))
    return out


def ngram_atoms(tables: list[CountTable], links: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """The atoms of every n-gram, ``(M_n, n)`` int64 per table: its prefix's atoms + its last atom."""
    out = [tables[0].first.astype(np.int64)[:, None]]
    for n in range(2, len(tables) + 1):
        out.append(np.c_[out[-1][links[n - 2][0]], tables[n - 1].last.astype(np.int64)])
    return out


def min_split_pmi(tables: list[CountTable], links: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Smallest PMI (nats) over the binary splits ``x = uv`` of every n-gram,
    ``log N c(x) / (c(u) c(v))`` with N the atom count; one ``(M_n,)`` array per n = 1 ..
    len(tables) (``+inf`` for single atoms, which have no split). Merging u and v lowers the
    text's entropy only if PMI(u, v) > 1 (最小熵原理(二)): a pair below that merely co-occurs
    because one part is frequent everywhere (新的, 这是)."""
    total = float(tables[0].counts.sum())
    out = [np.full(len(tables[0]), np.inf)]
    for n in range(2, len(tables) + 1):
        c_x = tables[n - 1].counts.astype(np.float64)
        worst = np.full(len(c_x), np.inf)
        for k in range(1, n):  # the k-atom prefix is n - k prefix links away, the suffix k links
            left = right = np.arange(len(c_x))
            for m in range(n, k, -1):
                left = links[m - 2][0][left]
            for m in range(n, n - k, -1):
                right = links[m - 2][1][right]
            c_l = tables[k - 1].counts[left].astype(np.float64)
            c_r = tables[n - k - 1].counts[right].astype(np.float64)
            worst = np.minimum(worst, np.log(total * c_x / (c_l * c_r)))
        out.append(worst)
    return out
