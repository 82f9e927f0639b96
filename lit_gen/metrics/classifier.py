"""The ``classifier`` feature extractor's network: trained once per data set, cached by content.

:func:`load_or_train_classifier` returns a checkpoint file for the data set's train split at
a given image size. Its name holds a sha256 over the training images, labels, architecture and
training recipe, so a changed data file or recipe trains a new one and an unchanged one is
reused (from ``<cache>/classifiers/``, see :mod:`lit_gen.metrics.cache`). The test accuracy is
printed when it is trained and stored in the checkpoint.

Why a hand-written training loop instead of a Lightning ``Trainer``: the classifier is often
trained lazily from inside another run's ``fit`` (the :class:`~lit_gen.callbacks.FidelityCallback`,
possibly on rank 0 of a DDP job), where a nested ``Trainer`` would pick up the outer run's
cluster environment, loggers and global seed. The loop runs under ``lit_gen.utils.rng.seeded`` so
it neither disturbs nor depends on the caller's random state.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from filelock import FileLock, Timeout
from torch.utils.data import DataLoader, TensorDataset

from lit_gen.data.images import resize_uint8
from lit_gen.data.sources import locate_and_load
from lit_gen.metrics.cache import cache_dir, tensor_digest
from lit_gen.nn.classifiers import build_classifier
from lit_gen.utils.io import atomic_save
from lit_gen.utils.rng import seeded

#: bump when the training recipe changes in a way the hash below does not see
RECIPE_VERSION = 1
#: accuracy the issue asks of each data set's classifier (a warning is printed below it)
TARGET_ACCURACY = {"mnist": 0.99, "fashion_mnist": 0.90, "cifar10": 0.85}


@dataclass
class ClassifierCheckpoint:
    """A trained classifier on disk: ``path``, its content ``key``, its ``test_accuracy`` and
    ``weights_sha256``, a digest of the weights alone (see :func:`weights_digest`)."""

    path: Path
    key: str
    test_accuracy: float
    arch: str
    trained_now: bool
    weights_sha256: str


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 (hex) of a state dict's names and tensors. Unlike the file's digest it ignores what
    else the checkpoint records (its training time), so a classifier retrained on another machine
    with the same weights keeps the same digest, and the features cached under it stay valid."""
    names = sorted(state_dict)
    return tensor_digest(*(state_dict[name] for name in names), extra=",".join(names))


def load_split(name: str, split: str, root: str | None = None, use_hub: bool = True,
               image_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images ``(N, C, H, W)`` (resized to ``image_size``) and int64 labels ``(N,)``."""
    images, labels = locate_and_load(name, split, root, use_hub)
    if image_size is not None:
        images = resize_uint8(images, image_size)
    return images, labels


def default_recipe(arch: str, n_train: int) -> dict:
    """Epochs/lr/batch: 3 passes over 60k images for LeNet; small sets get ~20k image draws."""
    if arch == "resnet":
        return {"epochs": 15, "lr": 2e-3, "batch_size": 128, "weight_decay": 5e-4, "flip": True}
    epochs = min(30, max(3, math.ceil(20_000 / max(n_train, 1))))
    return {"epochs": epochs, "lr": 3e-3, "batch_size": 128, "weight_decay": 0.0, "flip": False}


def _fit(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: dict,
         seed: int) -> None:
    """Adam + one-cycle schedule on uint8 ``images``; ``flip`` adds horizontal flips (CIFAR)."""
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(images, labels), batch_size=recipe["batch_size"],
                        shuffle=True, generator=generator, drop_last=len(images) > recipe["batch_size"])
    opt = torch.optim.Adam(net.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe["lr"],
                                                total_steps=recipe["epochs"] * len(loader))
    net.train()
    for _ in range(recipe["epochs"]):
        for x, y in loader:
            x = x.float().div_(255.0)
            if recipe["flip"]:
                flip = torch.rand(len(x), generator=generator) < 0.5
                x[flip] = x[flip].flip(-1)
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()


@torch.no_grad()
def accuracy(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    """Top-1 accuracy of ``net`` on uint8 ``images``."""
    net.eval()
    correct = sum(int((net(x.float() / 255.0).argmax(1) == y).sum())
                  for x, y in zip(images.split(batch), labels.split(batch)))
    return correct / len(labels)


def load_or_train_classifier(dataset: str, image_size: int | None = None, root: str | None = None,
                             use_hub: bool = True, cache: str | None = None,
                             epochs: int | None = None, seed: int = 0,
                             verbose: bool = True) -> ClassifierCheckpoint:
    """The cached classifier for ``dataset`` at ``image_size``, training it first if needed.

    Args:
        dataset: an ``ImageDataModule`` name (``mnist``, ``fashion_mnist``, ``cifar10``,
            ``digits``, ``folder``); ``root``/``use_hub`` locate it as the data module does.
        image_size: side the images are resized to (the generator's output size).
        cache: cache root (default ``$LIT_GEN_CACHE`` or ``~/.cache/lit_gen``).
        epochs: override the recipe's epochs (part of the content key).
        seed: initialisation and shuffling seed (part of the content key).
    """
    images, labels = load_split(dataset, "train", root, use_hub, image_size)
    channels, side = images.shape[1], images.shape[-1]
    arch = "lenet" if channels == 1 else "resnet"
    num_classes = int(labels.max()) + 1
    arch_kwargs = {"in_channels": channels, "num_classes": num_classes}
    recipe = default_recipe(arch, len(images))
    if epochs is not None:
        recipe["epochs"] = int(epochs)
    spec = json.dumps({"arch": arch, "arch_kwargs": arch_kwargs, "recipe": recipe, "seed": seed,
                       "version": RECIPE_VERSION}, sort_keys=True)
    key = tensor_digest(images, labels, extra=spec)
    path = cache_dir(cache, "classifiers") / f"{dataset}-{arch}-{side}px-{key[:16]}.pt"
    if path.is_file():
        return _cached(path, key, arch)
    with _training_lock(path, f"the {dataset} feature classifier"):
        if path.is_file():  # trained by the process we waited for
            return _cached(path, key, arch)
        return _train(path, key, dataset, arch, arch_kwargs, recipe, seed, root, use_hub, image_size,
                      verbose, images, labels)


@contextlib.contextmanager
def _training_lock(path: Path, what: str):
    """Held while ``path`` is being made. Several bench processes often share one cache: the
    first to come trains, the others wait for its file instead of training the same network
    again (the CIFAR-10 classifier takes about an hour on one CPU core)."""
    lock = FileLock(path.with_name(path.name + ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"lit-gen: another process is training {what}; waiting for {path}", file=sys.stderr)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _cached(path: Path, key: str, arch: str) -> ClassifierCheckpoint:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    return ClassifierCheckpoint(path, key, saved["test_accuracy"], arch, trained_now=False,
                                weights_sha256=weights_digest(saved["state_dict"]))


def _train(path, key, dataset, arch, arch_kwargs, recipe, seed, root, use_hub, image_size, verbose,
           images, labels) -> ClassifierCheckpoint:
    side = images.shape[-1]
    start = time.perf_counter()
    with seeded(seed):
        net = build_classifier(arch, **arch_kwargs)
        _fit(net, images, labels, recipe, seed)
    test_images, test_labels = load_split(dataset, "test", root, use_hub, image_size)
    acc = accuracy(net, test_images, test_labels)
    seconds = time.perf_counter() - start
    atomic_save({"arch": arch, "arch_kwargs": arch_kwargs, "state_dict": net.state_dict(),
                 "test_accuracy": acc, "dataset": dataset, "image_size": side, "key": key,
                 "recipe": recipe, "seed": seed, "train_seconds": seconds}, path)
    if verbose:
        target = TARGET_ACCURACY.get(dataset)
        note = "" if target is None or acc >= target else f"  (below the {target:.0%} target)"
        print(f"lit-gen: trained the {arch} feature classifier for {dataset} ({side}px, "
              f"{recipe['epochs']} epochs, {seconds:.0f} s): test accuracy {acc:.4f}{note}; "
              f"cached at {path}", file=sys.stderr)
    return ClassifierCheckpoint(path, key, acc, arch, trained_now=True,
                                weights_sha256=weights_digest(net.state_dict()))


def load_classifier(path: str | Path) -> torch.nn.Module:
    """The network stored in a checkpoint written by :func:`load_or_train_classifier`, in eval mode."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        net = build_classifier(saved["arch"], **saved["arch_kwargs"])
        net.load_state_dict(saved["state_dict"])
    except (OSError, KeyError, RuntimeError) as err:
        raise ValueError(f"{path} is not a lit-gen feature-classifier checkpoint ({err}); delete it "
                         "and it will be retrained") from None
    return net.eval().requires_grad_(False)
