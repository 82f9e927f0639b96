"""Where image data sets come from: local files, ``$LIT_GEN_DATA``, scikit-learn, or the hub.

Every loader returns ``(images, labels)``: ``images`` a ``uint8`` tensor of shape ``(N, C, H, W)``
(0–255) and ``labels`` an ``int64`` tensor of shape ``(N,)``. Turning them into floats happens
later, in :mod:`lit_gen.data.images`, so the in-memory copy stays small (MNIST: 47 MB).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import torch

from lit_gen.data.errors import CorruptDataError, DataNotFoundError

Array = tuple[torch.Tensor, torch.Tensor]

#: file names of the idx data sets, per split (the layout of ``../shared/data/mnist``)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: folder under ``$LIT_GEN_DATA`` for each data set name
ENV_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist", "cifar10": "cifar10-jpg"}
#: hub ids an online user gets, and the column names of image and label
HUB_IDS = {
    "mnist": ("ylecun/mnist", "image", "label"),
    "fashion_mnist": ("zalando-datasets/fashion_mnist", "image", "label"),
    "cifar10": ("uoft-cs/cifar10", "img", "label"),
}
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (``.gz`` or raw) into a numpy array; name the file on any damage."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise CorruptDataError(f"cannot read idx file {path}: {err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise CorruptDataError(f"{path} is not an idx file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptDataError(f"{path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise CorruptDataError(
            f"{path} is truncated or padded: header promises {expected} bytes of data "
            f"(shape {shape}), file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_folder(folder: Path, split: str) -> Array | None:
    """MNIST-layout idx files in ``folder`` for ``split`` ('train'|'test'), or None if absent."""
    images_stem, labels_stem = IDX_FILES[split]
    images_path, labels_path = _find(folder, images_stem), _find(folder, labels_stem)
    if images_path is None or labels_path is None:
        return None
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise CorruptDataError(
            f"{images_path} ({images.shape}) and {labels_path} ({labels.shape}) do not pair up"
        )
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def load_image_zip(path: Path, split: str) -> Array:
    """A zip holding ``<split>/<class>/<file>.jpg|png`` (the ``cifar10-jpg`` layout)."""
    from PIL import Image

    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise CorruptDataError(f"cannot open image archive {path}: {err}") from None
    with archive:
        names = sorted(
            n for n in archive.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png"))
        )
        if not names:
            raise CorruptDataError(f"{path} holds no .jpg/.png images")
        classes = sorted({n.split("/")[-2] for n in names})
        index = {c: i for i, c in enumerate(classes)}
        images, labels = [], []
        for name in names:
            try:
                with Image.open(io.BytesIO(archive.read(name))) as img:
                    images.append(np.asarray(img.convert("RGB")))
            except Exception as err:  # PIL raises many types for damaged files
                raise CorruptDataError(f"{path}: cannot decode {name}: {err}") from None
            labels.append(index[name.split("/")[-2]])
    shapes = {a.shape for a in images}
    if len(shapes) != 1:
        raise CorruptDataError(f"{path}: images differ in size ({sorted(shapes)[:3]} ...)")
    array = np.stack(images).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(array)), torch.tensor(labels, dtype=torch.int64)


def load_image_folder(root: Path, split: str) -> Array:
    """``root/<split>/<class>/*.png|jpg`` (torchvision ``ImageFolder`` layout), or a zip of it."""
    from torchvision.datasets import ImageFolder

    zipped = root / f"{split}.zip"
    if zipped.is_file():
        return load_image_zip(zipped, split)
    folder = root / split
    if not folder.is_dir():
        raise DataNotFoundError(f"folder data set: neither {folder}/ nor {zipped} exists")
    dataset = ImageFolder(str(folder))
    images = [np.asarray(dataset.loader(p).convert("RGB")) for p, _ in dataset.samples]
    if not images:
        raise CorruptDataError(f"{folder} holds no images")
    array = np.stack(images).transpose(0, 3, 1, 2)
    labels = torch.tensor([t for _, t in dataset.samples], dtype=torch.int64)
    return torch.from_numpy(np.ascontiguousarray(array)), labels


def load_digits_split(split: str, test_size: int = 297) -> Array:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, values 0–16).

    There is no official split: the last ``test_size`` images of a fixed permutation are the
    test split. Pixels are rescaled to 0–255 so every data set shares one range.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    order = order[-test_size:] if split == "test" else order[:-test_size]
    images = np.round(bunch.images[order] * (255.0 / 16.0)).astype(np.uint8)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(bunch.target[order].astype(np.int64))


def load_from_hub(name: str, split: str) -> Array:
    """Download (or read from the hub cache) with ``datasets.load_dataset``; the online path."""
    import datasets

    hub_id, image_key, label_key = HUB_IDS[name]
    dataset = datasets.load_dataset(hub_id, split=split)
    images = np.stack([np.asarray(im) for im in dataset[image_key]])
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    return (
        torch.from_numpy(np.ascontiguousarray(images)),
        torch.tensor(dataset[label_key], dtype=torch.int64),
    )


def locate_and_load(name: str, split: str, root: str | None, use_hub: bool = True) -> Array:
    """Load ``split`` of data set ``name`` from the first place that has it.

    Order: ``root`` (a folder with the files), ``$LIT_GEN_DATA/<folder>``, then the hub. When
    nothing works the error names every place tried and the settings that fix it.
    """
    if name == "digits":
        return load_digits_split(split)
    if name == "folder":
        if root is None:
            raise DataNotFoundError("data set 'folder' needs --data.root pointing at <root>/<split>/<class>/")
        return load_image_folder(Path(root).expanduser(), split)

    tried: list[str] = []
    candidates: list[Path] = []
    if root is not None:
        candidates.append(Path(root).expanduser())
    env = os.environ.get("LIT_GEN_DATA")
    if env:
        candidates.append(Path(env).expanduser() / ENV_FOLDERS[name])
    for folder in candidates:
        tried.append(str(folder))
        if name == "cifar10":
            zipped = folder / f"{split}.zip"
            if zipped.is_file():
                return load_image_zip(zipped, split)
            if (folder / split).is_dir():
                return load_image_folder(folder, split)
        else:
            loaded = load_idx_folder(folder, split)
            if loaded is not None:
                return loaded

    hub_id = HUB_IDS[name][0]
    hub_error = "not tried (hub download disabled: --data.use_hub false)"
    if use_hub:
        tried.append(f"hub dataset '{hub_id}'")
        try:
            return load_from_hub(name, split)
        except Exception as err:  # offline, no cache, or a hub error: all end in one message
            hub_error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    raise DataNotFoundError(
        f"Could not load the '{split}' split of data set '{name}'. Tried, in order: "
        + ("; ".join(tried) if tried else "nothing (no --data.root, LIT_GEN_DATA unset)")
        + f". The hub said: {hub_error}. Fix it by pointing --data.root at a folder holding the "
        + ("files train.zip/test.zip (<split>/<class>/*.jpg)" if name == "cifar10" else "four idx .gz files")
        + f", or set LIT_GEN_DATA to a folder holding '{ENV_FOLDERS[name]}/', or go online so "
        f"that datasets.load_dataset('{hub_id}') can download it (unset HF_HUB_OFFLINE)."
    )
