"""Benchmark metrics ``fid``, ``kid``, ``is`` (model samples vs data) and ``fidelity_selfcheck``
(real vs real), registered with :mod:`lit_gen.bench.registry`.

Entry options (``metric_options: {fid: {...}}``): ``extractor`` (``classifier`` default,
``inception``, ``inception-ts``), ``n_fake`` (10,000), ``n_real`` (10,000; null = whole split),
``split`` (``test``), ``seed`` (0), ``cache``, ``inception_weights``, ``batch_size``,
``kid_subsets`` (100), ``classifier_epochs`` (the recipe's).

``fid``, ``kid`` and ``is`` with the same options share one feature pass: the first of them
computes all three (torch-fidelity extracts every needed layer in one go) and the others reuse
the result while the model is unchanged (same object, same ``global_step``).
"""

from __future__ import annotations

from typing import Any

import torch

from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.metrics.fidelity import compare_images, compute_fidelity, reference_images

_MEMO: dict[tuple, Any] = {}


def _all_metrics(model, datamodule, trainer, options: dict[str, Any]):
    step = getattr(trainer, "global_step", None)
    key = (id(model), step, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _MEMO:
        _MEMO.clear()
        _MEMO[key] = compute_fidelity(model, datamodule, ("fid", "kid", "is"), **options)
    return _MEMO[key]


def _select(result, prefixes: tuple[str, ...]) -> MetricResult:
    values = {k: v for k, v in result.values.items() if k.split("[")[0] in prefixes}
    return MetricResult(values, dict(result.protocol))


def _options(extractor: str = "classifier", n_fake: int = 10_000, n_real: int | None = 10_000,
             split: str = "test", seed: int = 0, cache: str | None = None,
             inception_weights: str | None = None, batch_size: int | None = None,
             classifier_epochs: int | None = None, kid_subsets: int = 100) -> dict[str, Any]:
    return {"extractor": extractor, "n_fake": n_fake, "n_real": n_real, "split": split, "seed": seed,
            "cache": cache, "inception_weights": inception_weights, "batch_size": batch_size,
            "classifier_epochs": classifier_epochs, "kid_subsets": kid_subsets}


@register_metric("fid")
def fid(model, datamodule, trainer, **options) -> MetricResult:
    """``fid[extractor]``: Fréchet distance between sample and reference features."""
    return _select(_all_metrics(model, datamodule, trainer, _options(**options)), ("fid",))


@register_metric("kid")
def kid(model, datamodule, trainer, **options) -> MetricResult:
    """``kid[extractor]`` and ``kid_std[extractor]`` (torch-fidelity's polynomial-kernel MMD²)."""
    return _select(_all_metrics(model, datamodule, trainer, _options(**options)), ("kid", "kid_std"))


@register_metric("is")
def inception_score(model, datamodule, trainer, **options) -> MetricResult:
    """``is[extractor]``/``is_std[extractor]``; absent (protocol ``unavailable``) for inception-ts."""
    return _select(_all_metrics(model, datamodule, trainer, _options(**options)), ("is", "is_std"))


def _images(spec: str, n: int | None, image_size: int | None, seed: int, datamodule=None):
    """``dataset:split`` images (the data module's root when it names the same data set), or
    ``noise:<channels>x<side>``: ``n`` seeded uniform uint8 images, the floor a metric should
    put far from real images."""
    dataset, _, split = spec.partition(":")
    if dataset == "noise":
        channels, _, side = split.partition("x")
        if not (channels.isdigit() and side.isdigit()) or n is None:
            raise ValueError(f"noise images are given as 'noise:<channels>x<side>' with n set, got {spec!r}")
        shape = (n, int(channels), int(side), int(side))
        return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    root = getattr(datamodule, "root", None) if dataset == getattr(datamodule, "name", None) else None
    return reference_images(dataset, split or "test", n, root=root, image_size=image_size, seed=seed)[0]


@register_metric("fidelity_selfcheck")
def fidelity_selfcheck(model, datamodule, trainer, extractor: str = "classifier", n: int = 10_000,
                       pairs: list[list[str]] | None = None, is_sets: list[str] | None = None,
                       dataset: str | None = None, seed: int = 0, cache: str | None = None,
                       batch_size: int | None = None, classifier_epochs: int | None = None) -> MetricResult:
    """Real-vs-real FID/KID (and IS of real images): checks the metric, ignores the model.

    ``pairs``: ``[["mnist:train", "mnist:test"], ...]`` (``dataset:split``); ``is_sets``: sets
    whose IS is reported. ``dataset``: the classifier's training set (default: the data module's).
    ``classifier_epochs``: the classifier's epochs (default: the recipe's), as in ``fid``.
    Values are named ``fid[extractor](a|b)``, ``kid[extractor](a|b)``, ``is[extractor](a)``.
    """
    pairs = pairs if pairs is not None else [["mnist:train", "mnist:test"], ["mnist:test", "fashion_mnist:test"]]
    is_sets = is_sets if is_sets is not None else ["mnist:test"]
    dataset = dataset or getattr(datamodule, "name", None)
    size = getattr(datamodule, "image_size", None)
    common = dict(extractor=extractor, dataset=dataset, image_size=size, cache=cache, seed=seed,
                  batch_size=batch_size, classifier_epochs=classifier_epochs)
    values, protocol = {}, {}
    for a, b in pairs:
        res = compare_images(_images(a, n, size, seed, datamodule), _images(b, n, size, seed, datamodule),
                             ("fid", "kid"), **common)
        values.update({f"{k}({a}|{b})": v for k, v in res.values.items() if not k.startswith("kid_std")})
        protocol = res.protocol
    for a in is_sets:
        res = compare_images(_images(a, n, size, seed, datamodule), _images(a, 2, size, seed, datamodule),
                             ("is",), **common)
        values.update({f"{k}({a})": v for k, v in res.values.items() if not k.startswith("is_std")})
        protocol.setdefault("unavailable", {}).update(res.protocol.get("unavailable", {}))
    protocol.update({"n": n, "pairs": pairs, "is_sets": is_sets, "subset_seed": seed})
    protocol.pop("n1", None), protocol.pop("n2", None)
    return MetricResult(values, protocol)
