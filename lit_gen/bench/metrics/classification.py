"""Benchmark metrics of classifiers (the VIB family), errors in **percent**.

* ``test_error``: classification error of the model's ``predict_step`` (e.g. VIBClassifier,
  softmax averaged over its ``test_samples`` draws).
* ``test_error_at_mu``: the same error with the class read from the posterior mean alone,
  ``model.predict_proba(x, num_samples=0)`` (VIBClassifier's other evaluation), so one run
  reports both.
"""

from __future__ import annotations

import torch
from torchmetrics.classification import MulticlassAccuracy

from lit_gen.bench.metrics.splits import collect
from lit_gen.bench.registry import MetricResult, register_metric


@register_metric("test_error")
def test_error(model, datamodule, trainer, split: str = "test") -> MetricResult:
    """Classification error in percent of ``predict_step``'s labels on ``split``."""
    preds, labels = collect(model, datamodule, split, lambda x, i: model.predict_step((x,), i))
    samples = getattr(getattr(model, "hparams", {}), "test_samples", None)
    return MetricResult({"test_error": _error_percent(preds, labels)},
                        {"split": split, "images": len(labels), "unit": "percent",
                         "test_samples": samples})


@register_metric("test_error_at_mu")
def test_error_at_mu(model, datamodule, trainer, split: str = "test") -> MetricResult:
    """Classification error in percent with z = mu: ``model.predict_proba(x, num_samples=0)``."""
    if not callable(getattr(model, "predict_proba", None)):
        raise ValueError(f"test_error_at_mu needs a model with predict_proba(x, num_samples) "
                         f"(e.g. VIBClassifier), got {type(model).__name__}")
    preds, labels = collect(model, datamodule, split, lambda x, i: model.predict_proba(x, num_samples=0).argmax(1))
    return MetricResult({"test_error_at_mu": _error_percent(preds, labels)},
                        {"split": split, "images": len(labels), "unit": "percent", "test_samples": 0})


def _error_percent(preds: torch.Tensor, labels: torch.Tensor) -> float:
    accuracy = MulticlassAccuracy(int(max(labels.max(), preds.max())) + 1, average="micro")
    accuracy.update(preds, labels)
    return 100.0 * (1.0 - float(accuracy.compute()))
