"""Removing redundant words from a ``bigram`` lexicon: our rule and the author's.

A word is *redundant* when the lexicon can spell it from other words at little cost in
description length; it is then dropped and its count given to those words. Longest words go
first, so a long phrase is split before the shorter words it would be split into are judged.

* ``ours`` (:func:`remove_redundant`, the issue's rule and the committed bigram row): words of
  >= 3 atoms; drop when ``log p(w) − Σ log p(part) <= threshold`` (``redundancy_pmi``, 1 nat),
  with the best split by the other words and probabilities over the total count at the start.
* ``author`` (:func:`remove_redundant_author`): the de-redundancy loop of ``Word_Finder.find`` in
  the author's nlp-zero (github.com/bojone/nlp-zero), step by step:

  1. words of >= 2 atoms, longest first, words of one length in the lexicon's order (nlp-zero:
     the order the cutting pass first met them; :func:`~.build.build_lexicon` passes them so);
  2. ``pmi = log c(w) − log T`` with ``T`` the current total count, w included;
  3. w leaves the lexicon and is segmented by the rest: unigram Viterbi with scores
     ``log c(k) − log T``; an atom that is no word costs −100 (nlp-zero's ``null_score``); ties
     keep the path found first. ``T`` still includes w's count: nlp-zero's trie does not update
     its log-total on deletion, so the stale total is part of the rule;
  4. ``pmi −= Σ (log c(k) − log T)`` over the parts (``log 0 = −100``, nlp-zero's ``log``);
  5. redundant when ``pmi < len(w) − 1`` (strict): every part gains w's count (a part used
     twice gains it twice) and w is gone; otherwise w returns with its count.

  Not reproduced: nlp-zero's tokenizer also cuts the word at punctuation and glues runs of
  Latin letters and digits back together; our atoms already are such runs (``<NUM>``,
  ``<LAT>``), and pieces hold no punctuation.
"""

from __future__ import annotations

import math

#: the redundancy rules ``BuildConfig.redundancy`` accepts
RULES = ("ours", "author")
#: nlp-zero's log(0) and its score of an atom that is no word
NULL_SCORE = -100.0


def remove_redundant(words: dict[str, int], threshold: float) -> dict[str, int]:
    """Our rule: longest first, drop a word of >= 3 atoms whose PMI with its best split by the
    others is <= ``threshold``; ``{word: count} → {word: count}``."""
    words = dict(words)
    total = float(sum(words.values()))
    for w in sorted((w for w in words if len(w) >= 3), key=len, reverse=True):
        best = best_split(w, words, total)
        if best is None:
            continue
        score, parts = best
        if math.log(words[w] / total) - score <= threshold:
            count = words.pop(w)
            for p in parts:
                words[p] += count
    return words


def best_split(w: str, words: dict[str, int], total: float) -> tuple[float, list[str]] | None:
    """Best segmentation of ``w`` into >= 2 other lexicon words (Σ log p), or None."""
    n = len(w)
    best: list[tuple[float, list[str]] | None] = [(0.0, [])] + [None] * n
    for j in range(1, n + 1):
        for i in range(max(0, j - 8), j):
            piece = w[i:j]
            if best[i] is None or (i == 0 and j == n) or piece not in words:
                continue
            s = best[i][0] + math.log(words[piece] / total)
            if best[j] is None or s > best[j][0]:
                best[j] = (s, best[i][1] + [piece])
    return best[n]


def _log(x: float) -> float:
    return math.log(x) if x > 0 else NULL_SCORE


def author_split(w: str, words: dict[str, int], log_total: float) -> list[str]:
    """nlp-zero's ``Tokenizer.simple_tokenize`` of ``w`` with the lexicon ``words``: the path of
    words (any substring in ``words``) maximising Σ (log c − ``log_total``), an atom that is no
    word scoring −100 when nothing else reaches past it; the first-found path wins ties."""
    n = len(w)
    best: dict[int, tuple[list[tuple[int, int]], float]] = {0: ([], 1.0)}
    for start in range(n):
        for end in range(start + 1, n + 1):  # nlp-zero's trie search lists ends in this order
            count = words.get(w[start:end], 0)
            if count:
                score = best[start][1] + math.log(count) - log_total
                if end not in best or score > best[end][1]:
                    best[end] = (best[start][0] + [(start, end)], score)
        if start + 1 not in best:
            best[start + 1] = (best[start][0] + [(start, start + 1)], best[start][1] + NULL_SCORE)
    return [w[a:b] for a, b in best[n][0]]


def remove_redundant_author(words: dict[str, int]) -> dict[str, int]:
    """The author's rule (see the module docstring): ``{word: count} → {word: count}``; the
    order of ``words`` decides among words of one length."""
    words = dict(words)
    total = sum(words.values())
    for w in sorted(list(words), key=len, reverse=True):  # stable: ties keep the dict's order
        if len(w) == 1:
            continue
        num = words.pop(w)
        log_total = math.log(total)  # w still counted: the stale total of nlp-zero's trie
        parts = author_split(w, words, log_total)
        pmi = math.log(num) - log_total - sum(_log(words.get(k, 0)) - log_total for k in parts)
        if pmi < len(w) - 1:
            for k in parts:
                words[k] = words.get(k, 0) + num
            total += num * (len(parts) - 1)
        else:
            words[w] = num
    return words
