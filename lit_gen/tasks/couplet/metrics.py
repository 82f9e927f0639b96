"""Couplet metrics as torchmetrics ``Metric``s (states are sums, so DDP ranks sync exactly).

* BLEU-4: torchmetrics ``BLEUScore(n_gram=4)`` on characters (each line is passed as its
  characters joined by spaces, the ``tokenize='char'`` convention), corpus level, one reference.
* :class:`CharAccuracy`: fraction of gold characters matched at the same position.
* :class:`RulePassRate`: fraction of (upper, lower) pairs passing each couplet rule; run it on
  the model's lines and on the gold lines (the gold rates are the ceiling to compare with).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.text import BLEUScore

from lit_gen.tasks.couplet.text import is_punct
from lit_gen.tasks.couplet.tones import tone_ending_ok

RULES = ("equal_length", "punctuation", "repeat_alignment", "no_same_char", "tone_ending")


def spaced(line: str) -> str:
    """Character tokenisation for BLEU: ``"夜雨敲花" → "夜 雨 敲 花"``."""
    return " ".join(line)


def check_rules(upper: str, lower: str) -> dict[str, bool]:
    """Which rules the pair passes. Rules other than ``equal_length`` fail on unequal lengths.

    * punctuation: punctuation at exactly the upper line's punctuation positions;
    * repeat_alignment: for non-punctuation positions i, j: ``up[i] == up[j] ⇔ low[i] == low[j]``;
    * no_same_char: no non-punctuation position repeats the upper character;
    * tone_ending: 仄起平收, the last characters have opposite tone classes
      (:func:`~lit_gen.tasks.couplet.tones.tone_ending_ok`; passes where no tone applies).
    """
    if len(upper) != len(lower):
        return dict.fromkeys(RULES, False)
    pos = [i for i, c in enumerate(upper) if not is_punct(c)]
    same = all(upper[i] != lower[i] for i in pos)
    punct = all(is_punct(a) == is_punct(b) for a, b in zip(upper, lower))
    aligned = all((upper[i] == upper[j]) == (lower[i] == lower[j])
                  for k, i in enumerate(pos) for j in pos[k + 1:])
    return {"equal_length": True, "punctuation": punct, "repeat_alignment": aligned, "no_same_char": same,
            "tone_ending": tone_ending_ok(upper, lower)}


class CharAccuracy(Metric):
    """Matched characters / gold characters (a shorter prediction counts its missing ones wrong)."""

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("correct", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: Sequence[str], targets: Sequence[str]) -> None:
        self.correct += sum(sum(a == b for a, b in zip(p, t)) for p, t in zip(preds, targets))
        self.total += sum(len(t) for t in targets)

    def compute(self) -> torch.Tensor:
        return self.correct / self.total.clamp(min=1)


class RulePassRate(Metric):
    """Per rule, the fraction of pairs passing it (:func:`check_rules`)."""

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("passed", torch.zeros(len(RULES), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, uppers: Sequence[str], lowers: Sequence[str]) -> None:
        for up, low in zip(uppers, lowers, strict=True):
            ok = check_rules(up, low)
            self.passed += torch.tensor([float(ok[r]) for r in RULES], dtype=torch.float64)
        self.total += len(uppers)

    def compute(self) -> dict[str, torch.Tensor]:
        rates = self.passed / self.total.clamp(min=1)
        return {r: rates[k] for k, r in enumerate(RULES)}


class CoupletScores(nn.Module):
    """BLEU-4, char accuracy and rule pass rates of predictions and of the gold lines.

    ``update(uppers, preds, golds)``; ``compute()`` → ``{"bleu4", "char_acc", "rule_<r>",
    "gold_rule_<r>"}`` (BLEU and rates in [0, 1]).
    """

    def __init__(self):
        super().__init__()
        self.bleu = BLEUScore(n_gram=4)
        self.char_acc = CharAccuracy()
        self.rules = RulePassRate()
        self.gold_rules = RulePassRate()

    def update(self, uppers: Sequence[str], preds: Sequence[str], golds: Sequence[str]) -> None:
        self.bleu.update([spaced(p) for p in preds], [[spaced(g)] for g in golds])
        self.char_acc.update(preds, golds)
        self.rules.update(uppers, preds)
        self.gold_rules.update(uppers, golds)

    def compute(self) -> dict[str, float]:
        out = {"bleu4": float(self.bleu.compute()), "char_acc": float(self.char_acc.compute())}
        out.update({f"rule_{k}": float(v) for k, v in self.rules.compute().items()})
        out.update({f"gold_rule_{k}": float(v) for k, v in self.gold_rules.compute().items()})
        return out

    def reset(self) -> None:
        for m in (self.bleu, self.char_acc, self.rules, self.gold_rules):
            m.reset()
