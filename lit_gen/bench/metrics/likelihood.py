"""Benchmark metrics for likelihood models: ``test`` (the module's own test metrics),
``nelbo`` and ``nll`` (importance-sampled negative log-likelihood, nats), ``bpd`` (test
bits/dim of flows and f-VAEs) and ``param_count`` (trainable parameters, any model)."""

from __future__ import annotations

import math

import lightning as L
import torch
from torch.utils.data import DataLoader, Subset
from torchmetrics import MeanMetric

from lit_gen.bench.registry import MetricResult, register_metric


@register_metric("test")
def test_metrics(model: L.LightningModule, datamodule, trainer: L.Trainer, keys: list[str] | None = None,
                 prefix: str = "test/") -> MetricResult:
    """Run ``trainer.test`` (synced across ranks by the module's torchmetrics) and report what it
    logs under ``prefix`` (all of it, or ``keys``), with the prefix removed."""
    logged = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    values = {k.removeprefix(prefix): float(v) for k, v in logged.items() if k.startswith(prefix)}
    if keys is not None:
        missing = sorted(set(keys) - set(values))
        if missing:
            raise KeyError(f"the module logged no {missing} under '{prefix}' (it logged {sorted(values)})")
        values = {k: values[k] for k in keys}
    return MetricResult(values, {"split": "test", "source": "trainer.test"})


@register_metric("nelbo")
def nelbo(model, datamodule, trainer, **_) -> MetricResult:
    """Test-split negative ELBO per image, nats (deterministic evaluation noise)."""
    result = test_metrics(model, datamodule, trainer, keys=["nelbo"])
    return MetricResult({"test_nelbo": result.values["nelbo"]}, {"split": "test", "unit": "nats"})


def _rank_shard(dataset, trainer: L.Trainer, limit: int | None):
    n = len(dataset) if limit is None else min(limit, len(dataset))
    indices = list(range(trainer.global_rank, n, trainer.world_size))
    return Subset(dataset, indices), n


@register_metric("nll")
def nll(model, datamodule, trainer, num_samples: int = 200, limit: int | None = None, batch_size: int = 100,
        seed: int = 1234) -> MetricResult:
    """Importance-sampled −log p(x) on the test split, nats per image, and in bits/dim.

    VAEs sample the latent (Burda et al. 2016), :class:`~lit_gen.models.Glow` the dequantization
    noise (Hoogeboom et al. 2020); ``num_samples`` draws per image. Each rank scores its own
    share of the test images; the mean is synced as (sum, count), so 1 and N processes average
    the same images. ``limit`` scores the first ``limit`` images only. Needs
    ``model.log_likelihood(x, num_samples)``.
    """
    if not callable(getattr(model, "log_likelihood", None)):
        raise TypeError(f"{type(model).__name__} has no log_likelihood(x, num_samples); 'nll' does not apply")
    datamodule.setup("test")
    shard, n = _rank_shard(datamodule.test_set, trainer, limit)
    mean = MeanMetric().to(model.device)
    model.eval()
    torch.manual_seed(seed + trainer.global_rank)
    with torch.no_grad():
        for x, _ in DataLoader(shard, batch_size=batch_size):
            mean.update(-model.log_likelihood(x.to(model.device), num_samples=num_samples))
    value = float(mean.compute())
    bits = value / (math.log(2) * math.prod(datamodule.image_shape))
    return MetricResult({"nll": value, "nll_bits_per_dim": bits},
                        {"split": "test", "n_images": n, "num_samples": num_samples, "unit": "nats",
                         "binarized": bool(getattr(datamodule, "binarize", False))})


@register_metric("bpd")
def bpd(model: L.LightningModule, datamodule, trainer: L.Trainer, **_) -> MetricResult:
    """Test-split bits per dimension from ``trainer.test`` (synced across ranks as sum/count).

    A model whose class sets ``exact_density = True`` (:class:`~lit_gen.models.Glow`) reports
    the exact flow density of uniformly dequantized pixels (a bound on the discrete NLL), or with
    ``dequantization="variational"`` the bound ``E_q[−log p(y) + log q(u | x)]``; any other
    (:class:`~lit_gen.models.FVAE`) the negative ELBO of uniformly dequantized pixels, a looser
    upper bound. Evaluation noise is a fixed function of each image, so the value does not
    depend on batch size or process count.
    """
    result = test_metrics(model, datamodule, trainer, keys=["bpd"])
    dequantization = getattr(model, "hparams", {}).get("dequantization", "uniform")
    if not getattr(model, "exact_density", False):
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
