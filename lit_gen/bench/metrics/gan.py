"""Benchmark metrics of the GAN family: ``gan_step_time`` (wall time of D and G steps),
``fid_second_extractor`` (a second FID extractor in the same entry), ``truncation_curve``
(sample quality against BigGAN's ψ or StyleGAN's ψ in W) and ``class_accuracy``
(class-conditional generators, :mod:`lit_gen.metrics.conditional`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import torch
from torch import Tensor

from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.losses.gan import get_objective
from lit_gen.metrics import conditional
from lit_gen.metrics.fidelity import FidelityResult, compute_fidelity


def _timed_iteration(net, opt_g, opt_d, real: Tensor, y: Tensor | None = None) -> tuple[float, float]:
    """One D step and one G step as in training (plain ``backward``); seconds of each."""
    t0 = time.perf_counter()
    net.generator.requires_grad_(False)
    with torch.no_grad():
        fake = net.generate(net.noise(real.shape[0]), y)
    labels = {} if y is None else {"y": y}
    d_loss, _ = net.discriminator_loss(real, fake, **labels)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    net.generator.requires_grad_(True)
    t1 = time.perf_counter()
    net.discriminator.requires_grad_(False)
    g_loss = net.generator_loss(real, net.generate(net.noise(real.shape[0]), y), **labels)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    net.discriminator.requires_grad_(True)
    return t1 - t0, time.perf_counter() - t1


@register_metric("gan_step_time")
def gan_step_time(model, datamodule, trainer, iterations: int = 10, warmup: int = 2,
                  objectives: Sequence[str] | None = None) -> MetricResult:
    """Wall time of D and G steps, milliseconds (median), on a copy of the trained model (the
    model itself is untouched) and one fixed training batch; the same loss code as training.

    Values: ``d_step_ms``, ``g_step_ms`` and ``g_iteration_ms`` (``n_critic`` D steps + 1 G
    step: the cost of one generator step of training). With ``objectives``, each listed
    objective (default options) is timed on the same networks and batch, interleaved step by
    step so that load changes on a shared machine hit all of them alike; the values are then
    suffixed ``[objective]``.
    """
    batch = next(iter(datamodule.train_dataloader()))
    real, y = model._images(batch).to(model.device), model._labels(batch)
    y = y.to(model.device) if y is not None else None
    names = list(objectives) if objectives else [model.hparams.objective]
    runs = {}
    for name in names:
        net = copy.deepcopy(model).train()
        if objectives:
            net.objective, (net.d_args, net.g_args) = get_objective(name), ({}, {})
        runs[name] = (net, *reversed(net.configure_optimizers()))
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for it in range(warmup + iterations):
        for name, (net, opt_d, opt_g) in runs.items():
            d, g = _timed_iteration(net, opt_g, opt_d, real, y)
            if it >= warmup:
                times[name].append((d, g))
    n_critic, values = model.hparams.n_critic, {}
    for name, pairs in times.items():
        d = 1e3 * sorted(p[0] for p in pairs)[len(pairs) // 2]
        g = 1e3 * sorted(p[1] for p in pairs)[len(pairs) // 2]
        suffix = f"[{name}]" if objectives else ""
        values |= {f"d_step_ms{suffix}": d, f"g_step_ms{suffix}": g, f"g_iteration_ms{suffix}": n_critic * d + g}
    return MetricResult(values, {"statistic": "median", "iterations": iterations, "warmup": warmup,
                                 "batch_size": int(real.shape[0]), "n_critic": n_critic, "objectives": names,
                                 "threads": torch.get_num_threads(), "device": str(model.device)})


@register_metric("fid_second_extractor")
def fid_second_extractor(model, datamodule, trainer, extractor: str = "inception-ts", n_fake: int = 5000,
                         n_real: int | None = 5000, metrics: Sequence[str] = ("fid",), seed: int = 0,
                         **options) -> MetricResult:
    """The sample-quality metrics of :mod:`lit_gen.metrics` with a second extractor in the same
    entry (an entry's ``fid`` options name one extractor): e.g. ``fid[classifier]`` from ``fid``
    and ``fid[inception-ts]`` from this, measured on the same trained model. No statistic here:
    it calls :func:`lit_gen.metrics.fidelity.compute_fidelity`."""
    return _as_metric(compute_fidelity(model, datamodule, tuple(metrics), extractor=extractor, n_fake=n_fake,
                                       n_real=n_real, seed=seed, **options))


@register_metric("class_accuracy")
def class_accuracy(model, datamodule, trainer, **options) -> MetricResult:
    """``class_accuracy[classifier]`` and ``intra_fid[classifier]`` of a class-conditional
    generator; options and values: :func:`lit_gen.metrics.conditional.class_accuracy`."""
    return _as_metric(conditional.class_accuracy(model, datamodule, **options))


class _TruncatedSampler:
    """``model`` seen by :func:`compute_fidelity` as a sampler that always truncates:
    ``sample(n)`` is ``model.sample(n, truncation=psi)`` (or ``psi=psi`` for StyleGAN's W).
    Its train/eval mode is the model's, so that :func:`compute_fidelity` samples in eval mode as it
    does for any model (in train mode, G's batch norm would cancel ψ's scaling of z, and StyleGAN
    would mix styles and move w̄ while being measured)."""

    def __init__(self, model, psi: float, keyword: str):
        self.model, self.kwargs = model, {keyword: psi}

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def training(self) -> bool:
        return self.model.training

    def eval(self) -> "_TruncatedSampler":
        self.model.eval()
        return self

    def train(self, mode: bool = True) -> "_TruncatedSampler":
        self.model.train(mode)
        return self

    def sample(self, n: int) -> Tensor:
        return self.model.sample(n, **self.kwargs)


@register_metric("truncation_curve")
def truncation_curve(model, datamodule, trainer, psis: Sequence[float] = (1.0, 0.8, 0.6, 0.4, 0.2),
                     kind: str = "truncation", metrics: Sequence[str] = ("fid", "is"),
                     extractor: str = "classifier", n_fake: int = 5000, n_real: int | None = 5000,
                     seed: int = 0, **options) -> MetricResult:
    """Sample quality at each ψ of the truncation trick: BigGAN's (``kind='truncation'``: z from a
    normal truncated at ±2, times ψ) or StyleGAN's (``kind='psi'``: w pulled towards the mean w̄).
    Values ``fid[classifier]@psi=0.5``, ``is[classifier]@psi=0.5``, …: the trade-off curve, IS
    expected to rise and diversity (so FID, past a point) to suffer as ψ falls. Every ψ draws from
    the same seed, so the curve compares ψ and not noise."""
    if kind not in ("truncation", "psi"):
        raise ValueError(f"truncation_curve: kind must be 'truncation' or 'psi', got {kind!r}")
    if not psis or any(not 0 < float(psi) <= 1 for psi in psis):
        raise ValueError(f"truncation_curve: every psi must be in (0, 1], got {list(psis)}")
    values, protocol = {}, {}
    for psi in psis:
        result = compute_fidelity(_TruncatedSampler(model, float(psi), kind), datamodule, tuple(metrics),
                                  extractor=extractor, n_fake=n_fake, n_real=n_real, seed=seed, **options)
        values |= {f"{name}@psi={float(psi):g}": value for name, value in result.values.items()}
        protocol = dict(result.protocol)
    return MetricResult(values, protocol | {"psis": [float(psi) for psi in psis], "kind": kind})


def _as_metric(result: FidelityResult) -> MetricResult:
    return MetricResult(dict(result.values), dict(result.protocol))
