"""Score a fixed image set (a folder, an array, or samples of a checkpoint) against a reference
data set split or a second image set: the engine of ``lit-gen eval``.

Features are extracted once per set (with a tqdm progress bar) and every metric is computed on
them: FID, KID, IS and precision/recall by torch-fidelity's own feature-to-metric functions, with
the same settings :func:`lit_gen.metrics.fidelity.compute_fidelity` passes to
``calculate_metrics`` (so the numbers equal the bench's for the same images), and density/coverage
(:mod:`lit_gen.metrics.density`) on the precision/recall features. We do not call
``calculate_metrics`` itself because it returns numbers, not features, and density/coverage
would need a second pass over the images.

Reference features are cached under the same names as the bench's (torch-fidelity's cache
layout in ``<cache>/fidelity``), so a reference split extracted by a bench run is reused.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch_fidelity
from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_featuresdict_to_metric
from torch_fidelity.metric_kid import kid_featuresdict_to_metric
from torch_fidelity.metric_prc import prc_featuresdict_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import cache_lookup_group_recompute_all_on_any_miss, create_feature_extractor
from tqdm import tqdm

import lit_gen
from lit_gen.data.images import NATIVE_SHAPE, resize_uint8
from lit_gen.metrics.cache import cache_dir
from lit_gen.metrics.density import density_coverage
from lit_gen.metrics.extractors import Extractor, resolve_extractor
from lit_gen.metrics.fidelity import (_KEYS, CONVERSION, FidelityResult, _available, _cache_name, reference_images,
                                      to_uint8_rgb)
from lit_gen.metrics.inputs import checkpoint_data, describe, kind_of, load_images, load_model, sample_images
from lit_gen.utils.rng import seeded

#: ``dc`` = density and coverage (Naeem et al. 2020); the rest as in :data:`fidelity.METRICS`
EVAL_METRICS = ("fid", "kid", "is", "prc", "dc")
REFERENCE_DATASETS = tuple(NATIVE_SHAPE)
SPLITS = ("train", "test")
#: torch-fidelity's k for precision/recall (its default; recorded in the protocol)
PRC_NEIGHBORHOOD = 3
#: the layer torch-fidelity uses for each of our metrics ("dc" shares precision/recall's)
_FIDELITY_METRIC = {"fid": "fid", "kid": "kid", "is": "isc", "prc": "prc", "dc": "prc"}


def parse_reference(spec: str) -> tuple[str, str]:
    """``"mnist:test"`` → ``("mnist", "test")``; the split defaults to ``test``."""
    dataset, _, split = spec.partition(":")
    split = split or "test"
    if dataset not in REFERENCE_DATASETS or split not in SPLITS:
        raise ValueError(f"unknown reference {spec!r}: give DATASET[:SPLIT] with DATASET one of "
                         f"{', '.join(REFERENCE_DATASETS)} and SPLIT one of {', '.join(SPLITS)} "
                         "(e.g. --reference mnist:test), or compare with a second image set (--against)")
    return dataset, split


def check_eval_metrics(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in EVAL_METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metric(s) {unknown or list(metrics)}; choose from {', '.join(EVAL_METRICS)}")


def feature_layers(extractor: Extractor, metrics: Sequence[str]) -> dict[str, str]:
    """Metric → feature layer of ``extractor`` (torch-fidelity's default for that metric)."""
    cls = FEATURE_EXTRACTORS_REGISTRY[extractor.fidelity_name]
    return {m: cls.get_default_feature_layer_for_metric(_FIDELITY_METRIC[m]) for m in metrics}


def feature_network(extractor: Extractor, layers: Sequence[str]) -> torch.nn.Module:
    """torch-fidelity's feature extractor module for ``extractor``, giving ``layers``, on the CPU."""
    return create_feature_extractor(extractor.fidelity_name, sorted(set(layers)), cuda=False, verbose=False,
                                    feature_extractor_weights_path=str(extractor.weights_path))


def extract_features(images: torch.Tensor, net: torch.nn.Module, batch_size: int, *, desc: str,
                     cache_name: str | None = None, cache: str | None = None) -> dict[str, torch.Tensor]:
    """``{layer: (N, D) features}`` of uint8/float ``images`` ``(N, C, H, W)`` by ``net``.

    With ``cache_name`` the features are looked up in (and written to) torch-fidelity's cache
    under the name the bench uses for the same reference images and extractor.
    """
    def compute() -> dict[str, torch.Tensor]:
        parts: dict[str, list[torch.Tensor]] = {}
        with torch.no_grad(), tqdm(total=len(images), desc=f"features: {desc}", unit="img",
                                   file=sys.stderr, disable=None, leave=False) as bar:
            for batch in images.split(batch_size):
                out = net.convert_features_tuple_to_dict(net(to_uint8_rgb(batch)))
                for name, value in out.items():
                    parts.setdefault(name, []).append(value.cpu())
                bar.update(len(batch))
        return {name: torch.cat(chunks) for name, chunks in parts.items()}

    if cache_name is None:
        return compute()
    return cache_lookup_group_recompute_all_on_any_miss(
        f"{cache_name}-{net.get_name()}-features-", net.get_requested_features_list(), compute,
        cache=True, cache_root=str(cache_dir(cache, "fidelity")), verbose=False)


def score_features(generated: dict[str, torch.Tensor], real: dict[str, torch.Tensor],
                   layers: dict[str, str], extractor_name: str, *, seed: int = 0,
                   kid_subset_size: int = 1000, kid_subsets: int = 100, isc_splits: int = 10,
                   nearest_k: int = 5) -> dict[str, float]:
    """Metric values named ``fid[extractor]``, ``density[extractor]``, … from two feature sets.

    ``generated`` plays torch-fidelity's ``input1``, ``real`` its ``input2``; the settings are
    the ones :func:`~lit_gen.metrics.fidelity.run_torch_fidelity` passes.
    """
    n1, n2 = (len(next(iter(f.values()))) for f in (generated, real))
    kwargs = dict(rng_seed=seed, kid_subset_size=min(kid_subset_size, n1, n2), kid_subsets=kid_subsets,
                  isc_splits=min(isc_splits, n1), prc_neighborhood=PRC_NEIGHBORHOOD,
                  save_cpu_ram=True, verbose=False)
    raw: dict[str, Any] = {}
    if "fid" in layers:
        layer = layers["fid"]
        raw.update(fid_statistics_to_metric(fid_featuresdict_to_statistics(generated, layer),
                                            fid_featuresdict_to_statistics(real, layer), False))
    if "kid" in layers:
        raw.update(kid_featuresdict_to_metric(generated, real, layers["kid"], **kwargs))
    if "is" in layers:
        raw.update(isc_featuresdict_to_metric(generated, layers["is"], **kwargs))
    if "prc" in layers:
        raw.update(prc_featuresdict_to_metric(generated, real, layers["prc"], **kwargs))
    values = {f"{_KEYS[k]}[{extractor_name}]": float(v) for k, v in raw.items() if k in _KEYS}
    if "dc" in layers:
        dc = density_coverage(real[layers["dc"]], generated[layers["dc"]], nearest_k)
        values.update({f"{k}[{extractor_name}]": v for k, v in dc.items()})
    return values


def _resized(images: torch.Tensor, size: int) -> tuple[torch.Tensor, str]:
    """``images`` at ``size × size`` pixels and how they got there (recorded in the protocol)."""
    height, width = images.shape[-2:]
    if (height, width) == (size, size):
        return images, "none"
    return resize_uint8(images, size), f"bilinear, antialiased, {height}x{width} -> {size}x{size}"


def evaluate(source: str | Path, *, n: int | None = None, reference: str | None = None,
             against: str | Path | None = None, metrics: Sequence[str] = EVAL_METRICS,
             extractor: str = "classifier", n_real: int | None = None, seed: int = 0,
             image_size: int | None = None, classifier_dataset: str | None = None,
             root: str | None = None, use_hub: bool = True, cache: str | None = None,
             batch_size: int | None = None, inception_weights: str | None = None,
             classifier_epochs: int | None = None, kid_subset_size: int = 1000, kid_subsets: int = 100,
             isc_splits: int = 10, nearest_k: int = 5) -> FidelityResult:
    """Metrics of the images at ``source`` against ``reference`` (``dataset[:split]``) or ``against``.

    Args:
        source: folder of PNG/JPG, ``.npy``/``.npz`` array, or ``.ckpt`` (sampled ``n`` times).
        n: images to sample from a checkpoint; for a folder/array a seeded subset (None = all).
        reference: e.g. ``mnist:test``; default for a checkpoint: its data set's test split.
        against: a second folder/array instead of a data set split (its features are not cached).
        n_real: reference images (a seeded subset; None = the whole split / set).
        image_size: side (pixels) every set is resized to; default the checkpoint's data size or
            the source images' own side.
        classifier_dataset: the data set the ``classifier`` extractor is trained on (default
            the reference data set; needed with ``against``).
        seed: sampling, subsets and torch-fidelity's RNG. nearest_k: density/coverage's k.
    Returns: values and a protocol record, as a bench metric stores them.
    """
    check_eval_metrics(metrics)
    kind = kind_of(source)
    saved = checkpoint_data(source) if kind == "checkpoint" else {}
    if reference is not None and against is not None:
        raise ValueError("give either --reference DATASET[:SPLIT] or --against PATH, not both")
    if reference is None and against is None:
        if not saved.get("name"):
            raise ValueError("say what to compare with: --reference DATASET[:SPLIT] (e.g. mnist:test) "
                             "or --against FOLDER_OR_ARRAY")
        reference = f"{saved['name']}:test"
    dataset, split = parse_reference(reference) if reference is not None else (None, None)
    if root is None and dataset is not None and saved.get("name") == dataset:
        root = saved.get("root")
    if kind == "checkpoint" and n is None:
        raise ValueError(f"{source} is a checkpoint: say how many images to sample with --n")
    model = load_model(source) if kind == "checkpoint" else None
    images, record = (None, None) if model is not None else load_images(source, n, seed)
    size = (image_size or saved.get("image_size") or getattr(model, "hparams", {}).get("image_size")
            or (images.shape[-1] if images is not None else None))
    if size is None:
        raise ValueError(f"cannot tell the image size of {source}'s samples: pass --image-size")
    cls_dataset = classifier_dataset or dataset
    if extractor == "classifier" and cls_dataset is None:
        raise ValueError("the classifier extractor is trained on a data set: with --against, name it "
                         f"with --classifier-dataset (one of {', '.join(REFERENCE_DATASETS)})")
    ext = resolve_extractor(extractor, dataset=cls_dataset, image_size=size,
                            root=root if cls_dataset == dataset else None, use_hub=use_hub, cache=cache,
                            inception_weights=inception_weights, classifier_epochs=classifier_epochs)
    wanted, unavailable = _available(metrics, ext)
    layers = feature_layers(ext, wanted or ["fid"])
    batch = batch_size or ext.batch_size
    # The bench builds the feature network inside its seeded block, then samples: building it
    # draws initial weights from torch's RNG, so the same order gives the bench's samples.
    with seeded(seed):
        net = feature_network(ext, layers.values())
        if model is not None:
            images = sample_images(model, n, batch)
            record = describe(images, {"kind": "checkpoint", "path": str(source), "sampling_seed": seed,
                                       "model": f"{type(model).__module__}.{type(model).__qualname__}"})
    images, resize = _resized(images, size)
    record["resize"] = resize

    if dataset is not None:
        real, ref = reference_images(dataset, split, n_real, root=root, use_hub=use_hub,
                                     image_size=size, seed=seed)
        cache_name = _cache_name(ref, ext)
    else:
        real, ref = load_images(against, n_real, seed)
        real, ref["resize"] = _resized(real, size)
        cache_name = None

    values: dict[str, float] = {}
    if wanted:
        generated = extract_features(images, net, batch, desc="images")
        reals = extract_features(real, net, batch, desc="reference", cache_name=cache_name, cache=cache)
        values = score_features(generated, reals, {m: layers[m] for m in wanted}, ext.name, seed=seed,
                                kid_subset_size=kid_subset_size, kid_subsets=kid_subsets,
                                isc_splits=isc_splits, nearest_k=nearest_k)
    protocol = {**ext.protocol(), "metrics": list(metrics), "input": record, "n_fake": record["n"],
                "reference": ref, "image_size": size, "conversion": CONVERSION, "seed": seed,
                "kid_subset_size": min(kid_subset_size, record["n"], ref["n"]), "kid_subsets": kid_subsets,
                "isc_splits": isc_splits, "prc_neighborhood": PRC_NEIGHBORHOOD, "nearest_k": nearest_k,
                "torch_fidelity": torch_fidelity.__version__, "lit_gen": lit_gen.__version__}
    if unavailable:
        protocol["unavailable"] = unavailable
    return FidelityResult(values, protocol)
