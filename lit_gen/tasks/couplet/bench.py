"""Benchmark metrics of the couplet task (see :mod:`lit_gen.bench.registry`).

* ``couplet_bleu``: corpus BLEU-4 on characters (torchmetrics ``BLEUScore``, n_gram=4, one
  reference, lines tokenised as space-joined characters) and per-character accuracy, ×100.
* ``couplet_rules``: rule pass rates (%) of the decoded lines and of the gold lines.
* ``couplet_throughput``: lines/s of :meth:`CoupletWriter.write` (forward + constrained decoding).

All decode the test split (4,000 pairs) greedily with the structural rules on (``rules``) and the
tone rule measured but not enforced (``tone: true`` enforces it), unless options say otherwise.
"""

from __future__ import annotations

import time

import torch

from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.tasks.couplet.decode import Rules
from lit_gen.tasks.couplet.writer import CoupletWriter


def _test_pairs(datamodule, limit: int | None) -> list[tuple[str, str]]:
    if datamodule.test_set is None:
        datamodule.setup("test")
    pairs = datamodule.test_set.pairs
    return pairs[:limit] if limit is not None else pairs


_last: dict[tuple, tuple[dict[str, float], dict]] = {}  # one slot: couplet_bleu then couplet_rules


def _scores(model, datamodule, limit: int | None, rules: bool, tone: bool) -> tuple[dict[str, float], dict]:
    """Decode the test split once per (model, step, options); both metrics below read it."""
    key = (id(model), model.global_step, id(datamodule), limit, rules, tone)
    if key not in _last:
        _last.clear()
        _last[key] = _compute_scores(model, datamodule, limit, rules, tone)
    values, protocol = _last[key]
    return dict(values), dict(protocol)


def _compute_scores(model, datamodule, limit: int | None, rules: bool, tone: bool) -> tuple[dict[str, float], dict]:
    pairs = _test_pairs(datamodule, limit)
    writer = CoupletWriter(model.cpu(), rules=Rules(tone_ending=tone) if rules else Rules.none())
    values = writer.score(pairs)
    protocol = {"split": "test", "pairs": len(pairs), "decoding": "greedy",
                "rules": ("no_same_char, copy_punct, align_repeats" + (", tone_ending" if tone else "")
                                     if rules else "none"), "unknown_chars": sum(writer.unknown.values())}
    return values, protocol


@register_metric("couplet_bleu")
def couplet_bleu(model, datamodule, trainer, limit: int | None = None, rules: bool = True,
                 tone: bool = False) -> MetricResult:
    values, protocol = _scores(model, datamodule, limit, rules, tone)
    protocol["bleu"] = "torchmetrics.text.BLEUScore(n_gram=4), corpus level, character tokens, 1 reference"
    return MetricResult({"bleu4": 100 * values["bleu4"], "char_acc": 100 * values["char_acc"]}, protocol)


@register_metric("couplet_rules")
def couplet_rules(model, datamodule, trainer, limit: int | None = None, rules: bool = True,
                  tone: bool = False) -> MetricResult:
    values, protocol = _scores(model, datamodule, limit, rules, tone)
    return MetricResult({k: 100 * v for k, v in values.items() if "rule_" in k}, protocol)


@register_metric("couplet_throughput")
def couplet_throughput(model, datamodule, trainer, limit: int | None = None, batch_size: int = 256,
                       repeats: int = 3) -> MetricResult:
    """Best of ``repeats`` timed passes over the test upper lines (first pass warms up)."""
    uppers = [u for u, _ in _test_pairs(datamodule, limit)]
    writer = CoupletWriter(model.cpu(), batch_size=batch_size)
    writer.write(uppers[:batch_size])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        writer.write(uppers)
        best = min(best, time.perf_counter() - start)
    return MetricResult({"lines_per_s": len(uppers) / best},
                        {"lines": len(uppers), "batch_size": batch_size, "repeats": repeats,
                         "torch_threads": torch.get_num_threads(), "device": "cpu",
                         "includes": "encoding, forward, log-softmax, constrained greedy decoding"})
