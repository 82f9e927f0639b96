"""Sample quality of class-conditional generators: :func:`class_accuracy` (the bench registers
it as the metric ``class_accuracy``, :mod:`lit_gen.bench.metrics.gan`).

For each class k, ``n_per_class`` images ``model.sample(n, y=k)`` are drawn and given to the
reference classifier of the ``classifier`` FID extractor (:mod:`lit_gen.metrics.classifier`,
trained once per data set and cached). Values:

- ``class_accuracy[classifier]``: the share of samples the classifier puts in their requested
  class (the classifier's own test accuracy, stored in the protocol, is the ceiling);
- ``intra_fid[classifier]``: the mean over classes of the FID between the class's samples and
  the class's images of the reference split (Miyato & Koyama 2018's intra-FID), in the
  classifier's penultimate features; ``intra_fid=False`` leaves it out.

Images are converted as for FID (round(255 x) uint8), so the classifier sees what the FID
extractor sees.
"""

from __future__ import annotations

from typing import Any

import torch

from lit_gen.metrics.classifier import load_classifier, load_split
from lit_gen.metrics.extractors import resolve_extractor
from lit_gen.metrics.fidelity import FidelityResult, ImageSet, run_torch_fidelity
from lit_gen.utils.rng import seeded


def _num_classes(model: Any) -> int:
    hparams = getattr(model, "hparams", None)
    k = getattr(hparams, "num_classes", None) if hparams is not None else None
    if k is None:
        raise ValueError("class_accuracy measures a class-conditional generator (sample(n, y=k)); this model "
                         "has no num_classes")
    return int(k)


@torch.no_grad()
def _class_samples(model: Any, k: int, n: int, batch: int, truncation: float | None) -> torch.Tensor:
    """``n`` uint8 samples of class ``k`` with the model's channel count, on the CPU."""
    out = []
    for start in range(0, n, batch):
        m = min(batch, n - start)
        x = model.sample(m, y=k) if truncation is None else model.sample(m, y=k, truncation=truncation)
        out.append(x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu())
    return torch.cat(out)


def class_accuracy(model, datamodule, n_per_class: int = 1000, intra_fid: bool = True,
                   split: str = "test", seed: int = 0, cache: str | None = None, batch_size: int = 500,
                   classifier_epochs: int | None = None, truncation: float | None = None) -> FidelityResult:
    """Reference-classifier accuracy on samples of each requested class, and intra-class FID."""
    num_classes = _num_classes(model)
    name = getattr(datamodule, "name", None)
    if name is None:
        raise ValueError("class_accuracy needs an ImageDataModule (with .name) for the reference classifier")
    root, use_hub = getattr(datamodule, "root", None), getattr(datamodule, "use_hub", True)
    size = getattr(datamodule, "image_size", None)
    ext = resolve_extractor("classifier", dataset=name, image_size=size, root=root, use_hub=use_hub, cache=cache,
                            classifier_epochs=classifier_epochs)
    net = load_classifier(ext.weights_path)
    real_images, real_labels = load_split(name, split, root, use_hub, size) if intra_fid else (None, None)
    device = getattr(model, "device", torch.device("cpu"))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    correct, per_class_fid = 0, {}
    try:
        with seeded(seed, device):
            for k in range(num_classes):
                images = _class_samples(model, k, n_per_class, batch_size, truncation)
                pred = torch.cat([net(x.float() / 255.0).argmax(1) for x in images.split(batch_size)])
                correct += int((pred == k).sum())
                if intra_fid:
                    ref = real_images[real_labels == k]
                    if len(ref) < 2:
                        raise ValueError(f"intra_fid: the {split!r} split of {name!r} has {len(ref)} images of "
                                         f"class {k}; use intra_fid=false")
                    fid = run_torch_fidelity(ImageSet(images), ImageSet(ref), ("fid",), ext,
                                             seed=seed, batch_size=batch_size)
                    per_class_fid[k] = fid[f"fid[{ext.name}]"]
    finally:
        if was_training:
            model.train()
    values = {f"class_accuracy[{ext.name}]": correct / (num_classes * n_per_class)}
    if intra_fid:
        values[f"intra_fid[{ext.name}]"] = sum(per_class_fid.values()) / num_classes
    protocol = {**ext.protocol(), "n_per_class": n_per_class, "num_classes": num_classes, "seed": seed,
                "truncation": truncation, "conversion": "float [0,1] -> round(255x) uint8"}
    if intra_fid:
        protocol.update({"intra_fid_split": split, "intra_fid_per_class": per_class_fid,
                         "intra_fid_n_real": {k: int((real_labels == k).sum()) for k in range(num_classes)}})
    return FidelityResult(values, protocol)
