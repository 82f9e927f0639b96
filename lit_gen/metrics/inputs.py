"""Image sets for ``lit-gen eval``: a folder of PNG/JPG files, an ``.npy``/``.npz`` array, or a
lit-gen checkpoint sampled with ``sample(n)``.

Every loader returns uint8 images ``(N, C, H, W)`` with C ∈ {1, 3} (0–255) and a JSON record
of where they came from. Bad input raises :class:`~lit_gen.data.errors.CorruptDataError` or
``ValueError`` naming the file and what is expected of it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lit_gen.data.errors import CorruptDataError, DataNotFoundError
from lit_gen.metrics.cache import tensor_digest
from lit_gen.metrics.fidelity import to_uint8_rgb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIXES = (".npy", ".npz")
CHECKPOINT_SUFFIXES = (".ckpt",)
#: array names looked for in an ``.npz`` holding several arrays
NPZ_KEYS = ("images", "samples", "x", "arr_0")


def kind_of(path: str | Path) -> str:
    """``folder``, ``array`` or ``checkpoint``; a clear error for anything else."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise DataNotFoundError(f"{path} does not exist (expected a folder of images, an .npy/.npz "
                                "array or a .ckpt checkpoint)")
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return "array"
    if path.suffix.lower() in CHECKPOINT_SUFFIXES:
        return "checkpoint"
    raise ValueError(f"{path}: cannot tell what it holds from its suffix {path.suffix!r}; give a "
                     f"folder of {'/'.join(IMAGE_SUFFIXES)} files, an .npy/.npz array or a .ckpt checkpoint")


def load_folder(folder: Path) -> torch.Tensor:
    """Every PNG/JPG under ``folder`` (sorted by path; subfolders too) as one uint8 batch.

    All images must have one size. Channels: 1 if every file is grayscale, else 3 (RGB).
    """
    from PIL import Image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataNotFoundError(f"{folder} holds no {', '.join(IMAGE_SUFFIXES)} files")
    arrays, modes = [], set()
    for path in files:
        try:
            with Image.open(path) as img:
                modes.add("L" if img.mode in ("1", "L", "I;16", "I") else "RGB")
                arrays.append((path, img.convert("RGB")))
        except Exception as err:  # PIL raises many types for damaged files
            raise CorruptDataError(f"cannot decode image {path}: {err}") from None
    sizes = {img.size for _, img in arrays}
    if len(sizes) > 1:
        first = arrays[0]
        other = next(a for a in arrays if a[1].size != first[1].size)
        raise CorruptDataError(f"images in {folder} differ in size: {first[0].name} is {first[1].size}, "
                               f"{other[0].name} is {other[1].size}; resize them to one size first")
    stack = np.stack([np.asarray(img) for _, img in arrays]).transpose(0, 3, 1, 2)
    images = torch.from_numpy(np.ascontiguousarray(stack))
    return images[:, :1].contiguous() if modes == {"L"} else images


def _read_array(path: Path) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise CorruptDataError(f"cannot read array file {path}: {err}") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        keys = list(loaded.keys())
        if len(keys) == 1:
            return loaded[keys[0]]
        for key in NPZ_KEYS:
            if key in keys:
                return loaded[key]
    raise CorruptDataError(f"{path} holds arrays {keys}; name the images one of {', '.join(NPZ_KEYS)}")


def load_array(path: Path) -> torch.Tensor:
    """An ``(N, H, W)``, ``(N, C, H, W)`` or ``(N, H, W, C)`` array (C ∈ {1, 3}), uint8 or float
    in [0, 1], as uint8 ``(N, C, H, W)``."""
    array = _read_array(path)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise CorruptDataError(f"{path}: expected images of shape (N, H, W), (N, C, H, W) or "
                               f"(N, H, W, C), got {array.shape}")
    if array.shape[1] not in (1, 3) and array.shape[3] in (1, 3):
        array = array.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    if array.shape[1] not in (1, 3):
        raise CorruptDataError(f"{path}: images need 1 or 3 channels (NCHW or NHWC), got shape {array.shape}")
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise CorruptDataError(f"{path}: expected uint8 (0-255) or float (0-1) pixels, got {array.dtype}")
    images = torch.from_numpy(np.ascontiguousarray(array))
    if images.is_floating_point():
        try:
            images = to_uint8_rgb(images.float())[:, :images.shape[1]].contiguous()
        except ValueError as err:
            raise CorruptDataError(f"{path}: {err}") from None
    return images


def load_model(path: Path):
    """The LightningModule saved in a lit-gen checkpoint, on the CPU, in eval mode."""
    import lightning as L

    import lit_gen.models  # noqa: F401  (registers the classes the checkpoint names)

    try:
        model = L.LightningModule.load_from_checkpoint(path, map_location="cpu")
    except Exception as err:
        raise ValueError(f"cannot load the model in checkpoint {path} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}); it must come from "
                         "`lit-gen fit`") from None
    if not callable(getattr(model, "sample", None)):
        raise ValueError(f"{type(model).__name__} in {path} has no sample(n): only generative "
                         "models can be evaluated from a checkpoint")
    return model.eval()


def sample_images(model, n: int, batch_size: int) -> torch.Tensor:
    """``n`` uint8 samples ``(n, 3, H, W)`` of ``model.sample`` in batches of ``batch_size``,
    drawn from torch's global RNG (seed it around the call)."""
    out = []
    with torch.no_grad(), tqdm(total=n, desc="sampling", unit="img", file=sys.stderr, disable=None,
                               leave=False) as bar:
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            out.append(to_uint8_rgb(model.sample(size)).cpu())
            bar.update(size)
    return torch.cat(out)


def subset(images: torch.Tensor, n: int | None, seed: int, what: str) -> torch.Tensor:
    """A seeded random subset of ``n`` images (all of them, in order, when ``n`` is None or their number)."""
    if n is None or n == len(images):
        return images
    if n > len(images):
        raise ValueError(f"--n {n} asked but {what} holds only {len(images)} images")
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]


def describe(images: torch.Tensor, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` plus the images' number, side, channels and content hash."""
    return {**record, "n": len(images), "image_size": images.shape[-1], "channels": images.shape[1],
            "content_sha256": tensor_digest(images)[:16]}


def load_images(path: str | Path, n: int | None = None, seed: int = 0) -> tuple[torch.Tensor, dict[str, Any]]:
    """uint8 ``(N, C, H, W)`` images of a folder or array and their record (kind, path, n,
    content hash); ``n``: a seeded random subset of that many (None = all, in order)."""
    path = Path(path)
    kind = kind_of(path)
    if kind == "checkpoint":
        raise ValueError(f"{path} is a checkpoint; here a folder of images or an .npy/.npz array is needed")
    images = load_folder(path) if kind == "folder" else load_array(path)
    images = subset(images, n, seed, str(path))
    return images, describe(images, {"kind": kind, "path": str(path),
                                     **({"subset_seed": seed} if n is not None else {})})


def checkpoint_data(path: str | Path) -> dict[str, Any]:
    """The data module settings saved in a checkpoint (``name``, ``image_size``, ``root``...), or {}."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    return dict(saved.get("datamodule_hyper_parameters") or {})
