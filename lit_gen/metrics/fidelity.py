"""Sample-quality metrics (FID, KID, Inception Score, precision/recall) through torch-fidelity.

:func:`compute_fidelity` compares ``model.sample(n)`` with a reference split of the model's
``ImageDataModule``; :func:`compare_images` compares two fixed image sets (real-vs-real checks).
All the statistics (Fréchet distance, MMD, IS, k-NN precision/recall) are torch-fidelity's
``calculate_metrics``; lit-gen supplies the inputs, the extractors
(:mod:`lit_gen.metrics.extractors`) and the protocol record.

Image conversion (one rule for every extractor): float images in [0, 1] become
``round(255 x)`` uint8; one-channel images are repeated to three channels. The Inception
extractors then resize to 299×299 inside torch-fidelity's resize; the classifier sees the data
at its own size.

Values are named by extractor, e.g. ``fid[classifier]``, ``fid[inception-ts]``: a classifier
FID is never reported as a plain FID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity import GenerativeModelBase

from lit_gen.metrics.cache import cache_dir, tensor_digest
from lit_gen.metrics.classifier import load_split
from lit_gen.metrics.extractors import Extractor, resolve_extractor
from lit_gen.utils.rng import seeded

METRICS = ("fid", "kid", "is", "prc")
CONVERSION = "float [0,1] -> round(255x) uint8; 1 channel repeated to 3"
_KEYS = {  # torch-fidelity key -> our value name prefix
    torch_fidelity.KEY_METRIC_FID: "fid",
    torch_fidelity.KEY_METRIC_KID_MEAN: "kid", torch_fidelity.KEY_METRIC_KID_STD: "kid_std",
    torch_fidelity.KEY_METRIC_ISC_MEAN: "is", torch_fidelity.KEY_METRIC_ISC_STD: "is_std",
    torch_fidelity.KEY_METRIC_PRECISION: "precision", torch_fidelity.KEY_METRIC_RECALL: "recall",
}


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` float in [0, 1] (or uint8) with C ∈ {1, 3} → uint8 ``(N, 3, H, W)``."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1|3, H, W), got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        finite = torch.isfinite(images)
        if not finite.all():  # before the range check: min/max of a NaN tensor say nothing useful
            nan = int(torch.isnan(images).sum())
            raise ValueError(f"{nan} NaN value(s) and {int((~finite).sum()) - nan} infinite value(s) among "
                             f"{images.numel()} pixels: sample(n) must return finite pixel values in [0, 1] "
                             "(a model whose training diverged samples NaN)")
        lo, hi = float(images.min()), float(images.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ValueError(f"expected float images in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; "
                             "sample(n) must return pixel values in [0, 1]")
        images = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return images.expand(-1, 3, -1, -1).contiguous() if images.shape[1] == 1 else images


class ImageSet(Dataset):
    """A fixed image set as torch-fidelity input: item ``i`` is uint8 ``(3, H, W)``."""

    def __init__(self, images: torch.Tensor):
        self.images = to_uint8_rgb(images).cpu()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


class SampleGenerator(GenerativeModelBase):
    """Any object with ``sample(n) -> (n, C, H, W)`` in [0, 1], as torch-fidelity's ``input1``.

    torch-fidelity draws its own noise and passes it in; only its batch size is used, the model
    draws its own latents from torch's RNG (seed it around the call, see :func:`compare_images`).
    Output: uint8 ``(n, 3, H, W)`` on the device of the noise (where the extractor runs).
    """

    def __init__(self, model: Any):
        super().__init__()
        if not callable(getattr(model, "sample", None)):
            raise TypeError(f"{type(model).__name__} has no sample(n) method; sample-quality "
                            "metrics need a generative model")
        self.__dict__["model"] = model  # not a submodule: torch-fidelity must not move/copy it

    @property
    def z_size(self) -> int:
        return 1

    @property
    def z_type(self) -> str:
        return "normal"

    @property
    def num_classes(self) -> int:
        return 0

    @torch.no_grad()
    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        model = self.model
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        try:
            images = model.sample(int(noise.shape[0]))
        finally:
            if was_training:
                model.train()
        return to_uint8_rgb(images).to(noise.device)  # where torch-fidelity runs its extractor


@dataclass
class FidelityResult:
    """``values`` (``fid[classifier]`` → float, …) and the ``protocol`` that produced them."""

    values: dict[str, float]
    protocol: dict[str, Any] = field(default_factory=dict)


def check_metric_names(metrics: Sequence[str]) -> None:
    """A clear error for names outside ``fid``, ``kid``, ``is``, ``prc`` (or none at all)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown sample-quality metric(s) {unknown or list(metrics)}; choose from {METRICS}")


def _available(metrics: Sequence[str], extractor: Extractor) -> tuple[list[str], dict[str, str]]:
    """The metrics ``extractor`` can compute, and the reason for each one it cannot."""
    unavailable = {}
    if "is" in metrics and not extractor.supports_is:
        unavailable[f"is[{extractor.name}]"] = f"{extractor.name} has no logits layer"
    return [m for m in metrics if f"{m}[{extractor.name}]" not in unavailable], unavailable


def run_torch_fidelity(input1: Dataset | GenerativeModelBase, input2: Dataset | None,
                       metrics: Sequence[str], extractor: Extractor, *, n1: int | None = None,
                       cache_name2: str | None = None, cache: str | None = None, seed: int = 0,
                       batch_size: int | None = None, kid_subset_size: int = 1000,
                       kid_subsets: int = 100, isc_splits: int = 10, cuda: bool = False,
                       verbose: bool = False) -> dict[str, float]:
    """One ``torch_fidelity.calculate_metrics`` call; returns ``{fid[extractor]: ...}``."""
    binary = any(m in metrics for m in ("fid", "kid", "prc"))
    sizes = [n1 if n1 is not None else len(input1)] + ([len(input2)] if binary else [])
    kwargs = dict(
        input1=input1, input2=input2 if binary else None,
        fid="fid" in metrics, kid="kid" in metrics, isc="is" in metrics, prc="prc" in metrics,
        feature_extractor=extractor.fidelity_name,
        feature_extractor_weights_path=str(extractor.weights_path),
        batch_size=batch_size or extractor.batch_size, cuda=cuda, verbose=verbose,
        save_cpu_ram=True,  # no DataLoader worker processes for in-memory tensors
        rng_seed=seed, cache_root=str(cache_dir(cache, "fidelity")), cache=cache_name2 is not None,
        input2_cache_name=cache_name2 if binary else None,
        kid_subset_size=min(kid_subset_size, *sizes), kid_subsets=kid_subsets,
        isc_splits=min(isc_splits, sizes[0]),
    )
    if n1 is not None:
        kwargs["input1_model_num_samples"] = int(n1)
    raw = torch_fidelity.calculate_metrics(**kwargs)
    return {f"{_KEYS[k]}[{extractor.name}]": float(v) for k, v in raw.items() if k in _KEYS}


def reference_images(dataset: str, split: str, n: int | None, *, root: str | None = None,
                     use_hub: bool = True, image_size: int | None = None,
                     seed: int = 0) -> tuple[torch.Tensor, dict[str, Any]]:
    """``n`` images of ``split`` (a seeded random subset; the whole split, in file order, when
    ``n`` is None or its size) and their record."""
    images, _ = load_split(dataset, split, root, use_hub, image_size)
    if n is not None and n > len(images):
        raise ValueError(f"n={n} images asked but the {split!r} split of {dataset!r} has only {len(images)}")
    if n is not None and n < len(images):
        images = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
    info = {"dataset": dataset, "split": split, "n": len(images), "subset_seed": seed,
            "image_size": images.shape[-1], "content_sha256": tensor_digest(images)[:16]}
    return images, info


def _cache_name(ref: dict[str, Any], extractor: Extractor) -> str:
    """Names dataset, split, n, extractor, resize, weights hash and the images' content hash."""
    resize = "r299" if extractor.name.startswith("inception") else f"r{ref['image_size']}"
    return (f"litgen-{ref['dataset']}-{ref['split']}-n{ref['n']}-s{ref['subset_seed']}-{extractor.name}"
            f"-{resize}-w{extractor.weights_sha256[:12]}-c{ref['content_sha256'][:12]}")


def compute_fidelity(model: Any, datamodule: Any, metrics: Sequence[str] = ("fid",),
                     extractor: str = "classifier", n_fake: int = 10_000, n_real: int | None = 10_000,
                     split: str = "test", seed: int = 0, cache: str | None = None,
                     batch_size: int | None = None, inception_weights: str | None = None,
                     classifier_epochs: int | None = None, kid_subset_size: int = 1000,
                     kid_subsets: int = 100, isc_splits: int = 10,
                     verbose: bool = False) -> FidelityResult:
    """FID/KID/IS/PRC of ``model.sample`` against ``split`` of ``datamodule``'s data set.

    Args:
        model: anything with ``sample(n) -> (n, C, H, W)`` in [0, 1] (e.g. :class:`lit_gen.models.VAE`).
        datamodule: an ``ImageDataModule`` (its ``name``, ``root``, ``use_hub``, ``image_size``
            select the reference images; binarisation is not applied to them).
        metrics: any of ``fid``, ``kid``, ``is``, ``prc``.
        extractor: ``classifier`` (fast on CPU, only comparable on one data set), ``inception``
            or ``inception-ts`` (comparable with papers).
        n_fake: generated images. n_real: reference images (None = the whole split).
        seed: seeds the model's sampling, the reference subset and torch-fidelity's RNG.
        kid_subset_size / kid_subsets / isc_splits: torch-fidelity's KID and IS settings.
        cache: cache root for the classifier and reference features (default ``~/.cache/lit_gen``).
    """
    check_metric_names(metrics)  # before any classifier training or data loading
    name = getattr(datamodule, "name", None)
    if name is None:
        raise ValueError("sample-quality metrics need an ImageDataModule (with .name) for the reference images")
    root, use_hub = getattr(datamodule, "root", None), getattr(datamodule, "use_hub", True)
    size = getattr(datamodule, "image_size", None)
    ext = resolve_extractor(extractor, dataset=name, image_size=size, root=root, use_hub=use_hub,
                            cache=cache, inception_weights=inception_weights,
                            classifier_epochs=classifier_epochs)
    wanted, unavailable = _available(metrics, ext)
    images, ref = reference_images(name, split, n_real, root=root, use_hub=use_hub, image_size=size,
                                   seed=seed)
    values: dict[str, float] = {}
    if wanted:
        device = getattr(model, "device", torch.device("cpu"))
        with seeded(seed, device):
            values = run_torch_fidelity(
                SampleGenerator(model), ImageSet(images), wanted, ext, n1=n_fake,
                cache_name2=_cache_name(ref, ext), cache=cache, seed=seed, batch_size=batch_size,
                kid_subset_size=kid_subset_size, kid_subsets=kid_subsets, isc_splits=isc_splits,
                cuda=device.type == "cuda", verbose=verbose)
    protocol = {**ext.protocol(), "metrics": list(metrics), "n_fake": n_fake, "reference": ref,
                "conversion": CONVERSION, "seed": seed, "kid_subset_size": min(kid_subset_size, n_fake, ref["n"]),
                "kid_subsets": kid_subsets,
                "isc_splits": isc_splits, "torch_fidelity": torch_fidelity.__version__}
    if unavailable:
        protocol["unavailable"] = unavailable
    return FidelityResult(values, protocol)


def compare_images(images1: torch.Tensor, images2: torch.Tensor, metrics: Sequence[str] = ("fid",),
                   extractor: str = "classifier", *, dataset: str | None = None,
                   image_size: int | None = None, root: str | None = None, use_hub: bool = True,
                   cache: str | None = None, seed: int = 0, batch_size: int | None = None,
                   inception_weights: str | None = None, classifier_epochs: int | None = None,
                   kid_subset_size: int = 1000, isc_splits: int = 10) -> FidelityResult:
    """Metrics between two fixed image sets ``(N, C, H, W)`` (float [0, 1] or uint8).

    ``is`` is computed on ``images1``. ``dataset`` names the data set the classifier extractor
    is trained on. Nothing is cached except the classifier.
    """
    check_metric_names(metrics)
    ext = resolve_extractor(extractor, dataset=dataset, image_size=image_size or images1.shape[-1],
                            root=root, use_hub=use_hub, cache=cache,
                            inception_weights=inception_weights, classifier_epochs=classifier_epochs)
    wanted, unavailable = _available(metrics, ext)
    values = run_torch_fidelity(ImageSet(images1), ImageSet(images2), wanted, ext, cache=cache,
                                seed=seed, batch_size=batch_size, kid_subset_size=kid_subset_size,
                                isc_splits=isc_splits) if wanted else {}
    protocol = {**ext.protocol(), "metrics": list(metrics), "n1": len(images1), "n2": len(images2),
                "conversion": CONVERSION, "seed": seed, "torch_fidelity": torch_fidelity.__version__}
    if unavailable:
        protocol["unavailable"] = unavailable
    return FidelityResult(values, protocol)
