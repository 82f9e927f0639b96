"""``ImageDataModule``: MNIST, Fashion-MNIST, CIFAR-10, scikit-learn digits, or a folder.

Batches are ``(x, y)``: ``x`` float32 of shape ``(B, C, H, W)`` with pixels in **[0, 1]**
(0 = black), ``y`` int64 class labels of shape ``(B,)``. With ``binarize=True`` pixels are
0/1: training images are re-sampled as Bernoulli(pixel) every time they are drawn (dynamic
binarisation), validation and test images are sampled once with a fixed seed so every
evaluation sees the same binary set.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset

from lit_gen.data.sources import locate_and_load

DatasetName = Literal["mnist", "fashion_mnist", "cifar10", "digits", "folder"]

#: (channels, native side) of each named data set; digits (8×8) are upsampled to 28 by default
NATIVE_SHAPE = {"mnist": (1, 28), "fashion_mnist": (1, 28), "cifar10": (3, 32), "digits": (1, 28)}
#: validation images held out of train when ``val_size`` is not given
DEFAULT_VAL_SIZE = {"mnist": 5000, "fashion_mnist": 5000, "cifar10": 5000, "digits": 150}


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a ``(N, C, H, W)`` uint8 batch to ``size × size`` (bilinear, antialiased)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = []
    for chunk in images.split(4096):
        resized = F.interpolate(chunk.float(), size=(size, size), mode="bilinear",
                                antialias=True, align_corners=False)
        out.append(resized.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


class ImageTensorDataset(Dataset):
    """uint8 images in memory → float [0, 1] tensors, optionally Bernoulli-binarised per draw."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, dynamic_binarize: bool = False):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.dynamic_binarize = images, labels, dynamic_binarize

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].float().div_(255.0)
        if self.dynamic_binarize:
            image = torch.bernoulli(image)
        return image, self.labels[index]


def binarize_once(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Bernoulli-sample uint8 images once, reproducibly; returns uint8 0/255."""
    generator = torch.Generator().manual_seed(seed)
    probs = images.float() / 255.0
    return (torch.bernoulli(probs, generator=generator) * 255).to(torch.uint8)


class ImageDataModule(L.LightningDataModule):
    """Image data sets with a seeded validation split taken from train; test split untouched.

    Args:
        name: ``mnist``, ``fashion_mnist``, ``cifar10``, ``digits`` (scikit-learn's bundled
            8×8 digits, upsampled; needs no download) or ``folder`` (``root/<split>/<class>/``).
        root: folder holding the files. If unset, ``$LIT_GEN_DATA/<name>`` is tried, then the
            hub through ``datasets`` (see :func:`lit_gen.data.sources.locate_and_load`).
        image_size: side in pixels; default the data set's own (28, or 32 for CIFAR-10).
        batch_size: images per batch (per device under DDP).
        num_workers: DataLoader worker processes.
        val_size: images held out of train for validation (an int, or a fraction < 1);
            default 5,000 (150 for digits).
        binarize: Bernoulli-binarise pixels (dynamic in train, fixed-seed in val/test).
        use_hub: allow ``datasets.load_dataset`` when no local copy is found.
        seed: seed of the validation split and of the fixed val/test binarisation.
    """

    def __init__(
        self,
        name: DatasetName = "digits",
        root: str | None = None,
        image_size: int | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        val_size: int | float | None = None,
        binarize: bool = False,
        use_hub: bool = True,
        seed: int = 0,
    ):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if image_size is not None and image_size < 4:
            raise ValueError(f"image_size must be >= 4 pixels, got {image_size}")
        if val_size is not None and val_size < 0:
            raise ValueError(f"val_size must be >= 0, got {val_size}")
        native = NATIVE_SHAPE.get(name)
        image_size = image_size or (native[1] if native else None)
        # saved with the resolved size, so it merges with the model's image_size in the logs
        self.save_hyperparameters({"name": name, "root": root, "image_size": image_size,
                                   "batch_size": batch_size, "val_size": val_size,
                                   "binarize": binarize, "seed": seed})
        self.name, self.root, self.batch_size, self.num_workers = name, root, batch_size, num_workers
        self.binarize, self.use_hub, self.seed = binarize, use_hub, seed
        self.image_size = image_size
        self.channels = native[0] if native else None
        self.val_size = val_size
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.num_classes: int | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of a batch element (known before ``setup`` except for ``folder``)."""
        if self.channels is None or self.image_size is None:
            raise RuntimeError("image shape of a 'folder' data set is known only after setup()")
        return (self.channels, self.image_size, self.image_size)

    def _load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = locate_and_load(self.name, split, self.root, self.use_hub)
        if self.image_size is None:  # folder data: take the files' own size
            self.image_size = images.shape[-1]
        self.channels = images.shape[1]
        self.num_classes = max(self.num_classes or 0, int(labels.max()) + 1)
        return resize_uint8(images, self.image_size), labels

    def _eval_set(self, images: torch.Tensor, labels: torch.Tensor, seed: int) -> Dataset:
        if self.binarize:
            images = binarize_once(images, seed)
        return ImageTensorDataset(images, labels)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit", "validate") and self.train_set is None:
            images, labels = self._load("train")
            n_val = self.val_size if self.val_size is not None else DEFAULT_VAL_SIZE.get(self.name, 0.1)
            n_val = int(round(n_val * len(images))) if isinstance(n_val, float) and n_val < 1 else int(n_val)
            if n_val >= len(images):
                raise ValueError(f"val_size={n_val} leaves no training images (train has {len(images)})")
            order = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.seed))
            val_idx, train_idx = order[:n_val], order[n_val:]
            self.train_set = ImageTensorDataset(images[train_idx], labels[train_idx], self.binarize)
            self.val_set = self._eval_set(images[val_idx], labels[val_idx], self.seed + 1)
        if stage == "fit" and self.trainer is not None and self.val_set is not None and len(self.val_set) == 0:
            # val_size 0 (the clustering post's setting): nothing to validate, so the trainer runs
            # no validation loop rather than warning that the loader is empty
            self.trainer.limit_val_batches = 0
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = self._eval_set(*self._load("test"), seed=self.seed + 2)

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        sampler = None
        if not shuffle and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # Lightning's default DistributedSampler pads uneven shards with repeated images,
            # which would bias validation/test means; each image is scored exactly once instead.
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, sampler=sampler,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          drop_last=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)
