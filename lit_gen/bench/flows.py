"""Benchmark metrics for flow models: ``bpd`` (test bits/dim) and ``param_count``."""

from __future__ import annotations

import lightning as L

from lit_gen.bench.metrics import test_metrics
from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.models.glow import Glow


@register_metric("bpd")
def bpd(model: L.LightningModule, datamodule, trainer: L.Trainer, **_) -> MetricResult:
    """Test-split bits per dimension from ``trainer.test`` (synced across ranks as sum/count).

    For :class:`~lit_gen.models.Glow` it is the exact flow density of uniformly dequantized
    pixels (a bound on the discrete NLL), or with ``dequantization="variational"`` the bound
    ``E_q[−log p(y) + log q(u | x)]``; for :class:`~lit_gen.models.FVAE` the negative ELBO of
    uniformly dequantized pixels, a looser upper bound. Evaluation noise is a fixed function of
    each image, so the value does not depend on batch size or process count.
    """
    result = test_metrics(model, datamodule, trainer, keys=["bpd"])
    dequantization = getattr(model, "hparams", {}).get("dequantization", "uniform")
    if not isinstance(model, Glow):  # a user's Glow subclass is still an exact-density flow
        bound = "negative ELBO"
    elif dequantization == "variational":
        bound = "variational dequantization, one draw of q(u | x) per image"
    else:
        bound = "exact flow density"
    return MetricResult({"test_bpd": result.values["bpd"]},
                        {"split": "test", "unit": "bits/dim", "dequantization": f"{dequantization}, 8 bits",
                         "limit_test_batches": trainer.limit_test_batches, "bound": bound})


@register_metric("param_count")
def param_count(model: L.LightningModule, datamodule, trainer: L.Trainer, **_) -> MetricResult:
    """Number of trainable parameters of the model."""
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return MetricResult({"params": float(n)}, {"counted": "trainable parameters"})
