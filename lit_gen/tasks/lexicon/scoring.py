"""Segmentation scores with the semantics of the SIGHAN 2005 bakeoff ``score`` script.

The script writes each gold line and each system line one word per line and runs ``diff``:
a word is *correct* when diff keeps it unchanged, i.e. when it lies on a longest common
subsequence of the two word sequences (equal strings, same order). Precision = correct / system
words, recall = correct / gold words; OOV recall counts the correct gold words absent from the
training word list, IV recall the others. We compute the same alignment per line with the
Hunt–Szymanski LCS (fast when few word pairs are equal, as here) rather than calling ``diff``.
Where several LCS exist they give the same P/R/F1; OOV/IV recall could differ from diff's pick
in such ties, which are rare (repeated words inside one line).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

import torch
from torchmetrics import Metric


def lcs_alignment(gold: Sequence[str], test: Sequence[str]) -> list[int]:
    """Indices of the ``gold`` words on one longest common subsequence with ``test``."""
    lo = 0  # common prefix and suffix are always aligned (diff trims them too)
    while lo < len(gold) and lo < len(test) and gold[lo] == test[lo]:
        lo += 1
    hi_g, hi_t = len(gold), len(test)
    while hi_g > lo and hi_t > lo and gold[hi_g - 1] == test[hi_t - 1]:
        hi_g, hi_t = hi_g - 1, hi_t - 1
    where: dict[str, list[int]] = {}
    for j in range(lo, hi_t):
        where.setdefault(test[j], []).append(j)
    thresh: list[int] = []  # thresh[k]: smallest test index ending a common subsequence of k+1
    links: list[tuple] = []  # links[k]: (gold index, previous link) of that subsequence
    for i in range(lo, hi_g):
        for j in reversed(where.get(gold[i], ())):
            k = bisect_left(thresh, j)
            node = (i, links[k - 1] if k else None)
            if k == len(thresh):
                thresh.append(j)
                links.append(node)
            elif j < thresh[k]:
                thresh[k] = j
                links[k] = node
    middle = []
    node = links[-1] if links else None
    while node is not None:
        middle.append(node[0])
        node = node[1]
    return list(range(lo)) + middle[::-1] + list(range(hi_g, len(gold)))


class SighanScore(Metric):
    """P, R, F1, OOV recall, IV recall of segmented lines (SIGHAN 2005 ``score`` semantics).

    Args:
        training_words: the ``<corpus>_training_words.utf8`` word list (OOV = not in it);
            None reports no OOV/IV split.
        check_text: raise if a predicted line and its gold line differ once spaces are removed
            (a gold file that does not belong to the segmented text).

    ``update(preds, target)``: lists of lines, each a list of words. ``compute()`` returns a
    dict of floats: ``P``, ``R``, ``F1``, ``OOV_R``, ``IV_R``, ``OOV_rate``.
    """

    full_state_update = False

    def __init__(self, training_words: Iterable[str] | None = None, check_text: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.training_words = None if training_words is None else frozenset(training_words)
        self.check_text = check_text
        for name in ("gold", "test", "correct", "oov_gold", "oov_correct"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, preds: Sequence[Sequence[str]], target: Sequence[Sequence[str]]) -> None:
        if len(preds) != len(target):
            raise ValueError(f"{len(preds)} segmented lines but {len(target)} gold lines")
        counts = [0, 0, 0, 0, 0]
        for number, (test, gold) in enumerate(zip(preds, target)):
            if self.check_text and "".join(test) != "".join(gold):
                raise ValueError(
                    f"line {number + 1}: segmented text {''.join(test)[:40]!r} does not match the gold "
                    f"text {''.join(gold)[:40]!r}; is the gold file the one for this input?"
                )
            matched = lcs_alignment(gold, test)
            counts[0] += len(gold)
            counts[1] += len(test)
            counts[2] += len(matched)
            if self.training_words is not None:
                counts[3] += sum(w not in self.training_words for w in gold)
                counts[4] += sum(gold[i] not in self.training_words for i in matched)
        for name, value in zip(("gold", "test", "correct", "oov_gold", "oov_correct"), counts):
            setattr(self, name, getattr(self, name) + value)

    def compute(self) -> dict[str, float]:
        gold, test, correct = self.gold.item(), self.test.item(), self.correct.item()
        p = correct / test if test else 0.0
        r = correct / gold if gold else 0.0
        out = {"P": p, "R": r, "F1": 2 * p * r / (p + r) if p + r else 0.0}
        if self.training_words is not None:
            oov, oov_ok = self.oov_gold.item(), self.oov_correct.item()
            out["OOV_rate"] = oov / gold if gold else 0.0
            out["OOV_R"] = oov_ok / oov if oov else 0.0
            out["IV_R"] = (correct - oov_ok) / (gold - oov) if gold > oov else 0.0
        return out


class LexiconScore(Metric):
    """Precision/recall/F1 of the word *types* a segmentation uses against the gold word types.

    States are the 64-bit hashes of the types seen (concatenated across ranks), so the sets are
    exact up to hash collisions (~ n²/2**64). ``compute()``: dict ``type_P``, ``type_R``, ``type_F1``.
    """

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("pred_types", default=[], dist_reduce_fx="cat")
        self.add_state("gold_types", default=[], dist_reduce_fx="cat")

    @staticmethod
    def _hashes(lines: Sequence[Sequence[str]]) -> torch.Tensor:
        from lit_gen.tasks.lexicon.counting import hash_words

        words = sorted({w for line in lines for w in line})
        return torch.from_numpy(hash_words(words).view("int64").copy())

    def update(self, preds: Sequence[Sequence[str]], target: Sequence[Sequence[str]]) -> None:
        self.pred_types.append(self._hashes(preds))
        self.gold_types.append(self._hashes(target))

    def compute(self) -> dict[str, float]:
        def as_set(state) -> set[int]:
            if isinstance(state, torch.Tensor):
                return set(state.tolist())
            return set(torch.cat(state).tolist()) if state else set()

        pred, gold = as_set(self.pred_types), as_set(self.gold_types)
        both = len(pred & gold)
        p = both / len(pred) if pred else 0.0
        r = both / len(gold) if gold else 0.0
        return {"type_P": p, "type_R": r, "type_F1": 2 * p * r / (p + r) if p + r else 0.0}
