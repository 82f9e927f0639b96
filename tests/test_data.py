"""ImageDataModule and the file loaders, on the real data sets and on damaged files."""

from __future__ import annotations

import gzip
import time

import numpy as np
import pytest
import torch

from lit_gen.data import CorruptDataError, DataNotFoundError, ImageDataModule, locate_and_load, read_idx

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.data
def test_mnist_from_lit_gen_data(shared_data, monkeypatch):
    monkeypatch.setenv("LIT_GEN_DATA", str(shared_data))
    x_train, y_train = locate_and_load("mnist", "train", root=None, use_hub=False)
    x_test, y_test = locate_and_load("mnist", "test", root=None, use_hub=False)
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == torch.uint8
    assert torch.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert sorted(y_test.unique().tolist()) == list(range(10))

    dm = ImageDataModule(name="mnist", batch_size=256)
    dm.setup("fit")
    dm.setup("test")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55000, 5000, 10000)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (256, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.99  # documented range [0, 1]


@pytest.mark.data
def test_validation_split_is_seeded_and_disjoint(shared_data, monkeypatch):
    monkeypatch.setenv("LIT_GEN_DATA", str(shared_data))
    a, b = ImageDataModule(name="mnist", val_size=1000), ImageDataModule(name="mnist", val_size=1000)
    a.setup("fit"), b.setup("fit")
    assert torch.equal(a.val_set.images, b.val_set.images)
    train_keys = {img.numpy().tobytes() for img in a.train_set.images[:20000]}
    assert not any(img.numpy().tobytes() in train_keys for img in a.val_set.images[:200])


@pytest.mark.data
def test_fashion_mnist(shared_data, monkeypatch):
    monkeypatch.setenv("LIT_GEN_DATA", str(shared_data))
    x, y = locate_and_load("fashion_mnist", "train", root=None, use_hub=False)
    assert x.shape == (60000, 1, 28, 28)
    assert torch.bincount(y).tolist() == [6000] * 10
    x, y = locate_and_load("fashion_mnist", "test", root=None, use_hub=False)
    assert x.shape == (10000, 1, 28, 28) and torch.bincount(y).tolist() == [1000] * 10


@pytest.mark.data
@pytest.mark.slow
def test_cifar10_from_jpeg_zips(shared_data, monkeypatch):
    monkeypatch.setenv("LIT_GEN_DATA", str(shared_data))
    x, y = locate_and_load("cifar10", "test", root=None, use_hub=False)
    assert x.shape == (10000, 3, 32, 32) and torch.bincount(y).tolist() == [1000] * 10
    x, y = locate_and_load("cifar10", "train", root=None, use_hub=False)
    assert x.shape == (50000, 3, 32, 32) and torch.bincount(y).tolist() == [5000] * 10


def test_digits_is_embedded_and_resized():
    dm = ImageDataModule(name="digits", batch_size=32)
    dm.setup("fit")
    dm.setup("test")
    assert dm.image_shape == (1, 28, 28)
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 1797
    x, _ = next(iter(dm.val_dataloader()))
    assert x.shape == (32, 1, 28, 28) and 0 <= x.min() and x.max() <= 1


def test_binarize_is_dynamic_in_train_and_fixed_in_eval():
    dm = ImageDataModule(name="digits", binarize=True, batch_size=16)
    dm.setup("fit")
    a, b = dm.train_set[0][0], dm.train_set[0][0]
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a, b)  # re-sampled on every draw
    assert torch.equal(dm.val_set[3][0], dm.val_set[3][0])
    again = ImageDataModule(name="digits", binarize=True)
    again.setup("fit")
    assert torch.equal(dm.val_set.images, again.val_set.images)


def test_offline_hub_failure_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LIT_GEN_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(DataNotFoundError) as info:
        locate_and_load("mnist", "train", root=str(tmp_path / "nowhere"), use_hub=True)
    message = str(info.value)
    assert time.monotonic() - start < 60  # no retry loop
    for needle in ("mnist", str(tmp_path / "nowhere"), "--data.root", "LIT_GEN_DATA", "ylecun/mnist"):
        assert needle in message
    assert "\n" not in message  # one paragraph


def test_truncated_idx_names_the_file(tmp_path):
    good = np.zeros((5, 28, 28), dtype=np.uint8)
    header = bytes([0, 0, 0x08, 3]) + np.array([5, 28, 28], dtype=">u4").tobytes()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + good.tobytes()[:1000]))
    with pytest.raises(CorruptDataError, match="train-images-idx3-ubyte.gz"):
        read_idx(path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CorruptDataError, match="train-labels-idx1-ubyte.gz"):
        read_idx(tmp_path / "train-labels-idx1-ubyte.gz")
    path.write_bytes(gzip.compress(header + good.tobytes()))
    assert read_idx(path).shape == (5, 28, 28)
    with pytest.raises(CorruptDataError, match="train-labels"):
        locate_and_load("mnist", "train", root=str(tmp_path), use_hub=False)


def test_bad_values_are_rejected():
    with pytest.raises(ValueError, match="batch_size"):
        ImageDataModule(batch_size=0)
    dm = ImageDataModule(name="digits", val_size=5000)
    with pytest.raises(ValueError, match="val_size"):
        dm.setup("fit")


def test_val_size_zero_trains_on_every_image_and_skips_validation(tmp_path, recwarn):
    """val_size 0 (the clustering post's setting): all training images train, and the trainer runs
    no validation loop instead of warning about an empty loader."""
    import lightning as L

    from lit_gen.models import VAE

    dm = ImageDataModule(name="digits", val_size=0, batch_size=64, image_size=16)
    dm.setup("fit")
    full = ImageDataModule(name="digits", val_size=150)
    full.setup("fit")
    assert len(dm.train_set) == len(full.train_set) + 150 and len(dm.val_set) == 0
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(VAE(in_channels=1, image_size=16, latent_dim=2, channels=[8], hidden=16), datamodule=dm)
    assert trainer.limit_val_batches == 0 and trainer.global_step == 2
    assert not [w for w in recwarn if "across ranks is zero" in str(w.message)]
