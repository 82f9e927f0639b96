"""Feature-extraction speed of each extractor on this machine, and a 10k-sample FID end to end.

    LIT_GEN_DATA=../shared/data python benchmarks/studies/fidelity_speed.py [--inception-images 32]

Prints images/s for ``classifier`` (10,000 MNIST test images), ``inception-ts`` and
``inception`` (a few images each; ``inception`` only when its weights are found offline), then
the wall time of ``compute_fidelity`` for an (untrained) VAE's 10,000 samples against 10,000
MNIST test images with the classifier extractor: once with a cold reference-feature cache and
once warm. The classifier itself must already be cached (it is trained on first use).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from lit_gen.data import ImageDataModule
from lit_gen.metrics.classifier import load_split
from lit_gen.metrics.extractors import resolve_extractor
from lit_gen.metrics.fidelity import compute_fidelity, to_uint8_rgb
from lit_gen.models import VAE
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY


def images_per_second(name: str, images: torch.Tensor, batch: int) -> float:
    ext = resolve_extractor(name, dataset="mnist", image_size=28)
    layer = "penultimate" if name == "classifier" else "2048"
    net = FEATURE_EXTRACTORS_REGISTRY[ext.fidelity_name](ext.fidelity_name, [layer],
                                                         feature_extractor_weights_path=str(ext.weights_path))
    net.eval()
    x = to_uint8_rgb(images)
    with torch.no_grad():
        net(x[:batch])  # warm-up (TorchScript optimises on the first calls)
        start = time.perf_counter()
        for chunk in x.split(batch):
            net(chunk)
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inception-images", type=int, default=32)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    test, _ = load_split("mnist", "test")
    print(f"classifier    {images_per_second('classifier', test, 500):8.1f} images/s (10,000 images, batch 500)")
    few = test[: args.inception_images]
    print(f"inception-ts  {images_per_second('inception-ts', few, 8):8.2f} images/s "
          f"({len(few)} images, batch 8)")
    try:
        print(f"inception     {images_per_second('inception', few, 8):8.2f} images/s ({len(few)} images, batch 8)")
    except FileNotFoundError as err:
        print(f"inception     not measured: {str(err).splitlines()[0][:160]}")

    classifier = resolve_extractor("classifier", dataset="mnist", image_size=28).weights_path
    with tempfile.TemporaryDirectory() as tmp:  # cold reference cache, same classifier
        (Path(tmp) / "classifiers").mkdir()
        shutil.copy(classifier, Path(tmp) / "classifiers" / classifier.name)
        torch.manual_seed(0)
        model, dm = VAE(), ImageDataModule("mnist")
        for label in ("cold reference cache", "warm reference cache"):
            start = time.perf_counter()
            res = compute_fidelity(model, dm, ("fid",), "classifier", n_fake=10_000, n_real=10_000, cache=tmp)
            print(f"10k-vs-10k fid[classifier] of an untrained VAE, {label}: "
                  f"{time.perf_counter() - start:.1f} s (fid {res.values['fid[classifier]']:.2f})")


if __name__ == "__main__":
    main()
