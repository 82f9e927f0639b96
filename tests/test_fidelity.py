"""Sample-quality metrics: conversion, classifier cache, wiring to torch-fidelity, protocol.

Offline and small: the classifier extractor is trained on scikit-learn's digits (upsampled to
28×28, 1,500 train images) for a few epochs; Inception runs on a handful of images only.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import scipy.linalg
import torch
import torch_fidelity
from torch.utils.data import Dataset

from lit_gen.data import ImageDataModule
from lit_gen.metrics.classifier import load_or_train_classifier, load_split
from lit_gen.metrics.extractors import ClassifierFeatures, inception_weights_path, resolve_extractor
from lit_gen.metrics.fidelity import compare_images, compute_fidelity, to_uint8_rgb

from conftest import CLASSIFIER_EPOCHS as EPOCHS  # the session's digits classifier


@pytest.fixture(scope="module")
def cache(fidelity_cache) -> str:
    return fidelity_cache


@pytest.fixture(scope="module")
def digits() -> dict[str, torch.Tensor]:
    return {split: load_split("digits", split, image_size=28)[0] for split in ("train", "test")}


@pytest.fixture(scope="module")
def extractor(digits_extractor):
    return digits_extractor


class RawImages(Dataset):
    """The test's own torch-fidelity input (independent of lit-gen's ImageSet)."""

    def __init__(self, images: torch.Tensor):
        self.images = images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def test_to_uint8_rgb_rounds_and_repeats_gray_channels():
    x = torch.tensor([0.0, 0.5, 1.0, 0.2]).view(1, 1, 2, 2)
    out = to_uint8_rgb(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 2, 2)
    assert out[0, :, 0, 1].tolist() == [128, 128, 128]  # round(127.5) = 128
    assert out[0, 2].flatten().tolist() == [0, 128, 255, 51]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        to_uint8_rgb(x * 2)
    with pytest.raises(ValueError, match="shape"):
        to_uint8_rgb(torch.zeros(2, 2, 4, 4))


def test_selfcheck_puts_uniform_noise_far_from_real_images(cache, extractor):
    from types import SimpleNamespace

    from lit_gen.bench.metrics.fidelity import fidelity_selfcheck

    digits_dm = SimpleNamespace(name="digits", image_size=28)
    res = fidelity_selfcheck(None, digits_dm, None, n=290, cache=cache, is_sets=[], classifier_epochs=EPOCHS,
                             pairs=[["digits:train", "digits:test"], ["noise:1x28", "digits:test"]])
    assert res.protocol["weights_sha256"] == extractor.weights_sha256  # the session's classifier
    real = res.values["fid[classifier](digits:train|digits:test)"]
    noise = res.values["fid[classifier](noise:1x28|digits:test)"]
    assert noise > 5 * real > 0
    with pytest.raises(ValueError, match="noise:<channels>x<side>"):
        fidelity_selfcheck(None, digits_dm, None, n=300, cache=cache, is_sets=[],
                           pairs=[["noise:28", "digits:test"]])


def test_concurrent_callers_train_the_classifier_once(tmp_path, monkeypatch):
    # two bench processes sharing a cache: the second waits for the first one's file
    from lit_gen.metrics import classifier as clf

    fits, real_fit = [], clf._fit

    def slow_fit(*args, **kwargs):
        fits.append(threading.get_ident())
        time.sleep(0.5)  # long enough for the other caller to find the lock held
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(clf, "_fit", slow_fit)
    results = []
    callers = [threading.Thread(target=lambda: results.append(load_or_train_classifier(
        "digits", 14, cache=str(tmp_path), epochs=1, verbose=False))) for _ in range(2)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert len(fits) == 1
    assert sorted(r.trained_now for r in results) == [False, True]
    assert results[0].path == results[1].path and results[0].path.is_file()


def test_classifier_is_trained_once_and_keyed_by_content(cache, extractor, small_classifier):
    again = load_or_train_classifier("digits", 28, cache=cache, epochs=EPOCHS, verbose=False)
    assert not again.trained_now and again.path == extractor.weights_path
    assert again.test_accuracy >= 0.9, again.test_accuracy
    assert extractor.protocol()["classifier_test_accuracy"] == again.test_accuracy
    # new content/recipe (14 px, 1 epoch) in the same cache -> another classifier beside it
    other = small_classifier
    assert other.path.parent == again.path.parent and other.path != again.path and other.key != again.key
    assert not load_or_train_classifier("digits", 14, cache=cache, epochs=1, verbose=False).trained_now


def test_classifier_digest_follows_the_weights_not_the_file(tmp_path, small_classifier):
    # a classifier retrained elsewhere has the same weights but another training time in its file
    import shutil

    from lit_gen.metrics.cache import file_digest

    # a copy of the session's 14 px classifier in a cache of its own (this test edits the file)
    (tmp_path / "classifiers").mkdir()
    shutil.copy(small_classifier.path, tmp_path / "classifiers" / small_classifier.path.name)
    first = resolve_extractor("classifier", dataset="digits", image_size=14, cache=str(tmp_path),
                              classifier_epochs=1)
    assert first.weights_path == tmp_path / "classifiers" / small_classifier.path.name  # found, not retrained
    saved = torch.load(first.weights_path, weights_only=False)
    file_before = file_digest(first.weights_path)
    saved["train_seconds"] += 1000.0
    torch.save(saved, first.weights_path)
    again = resolve_extractor("classifier", dataset="digits", image_size=14, cache=str(tmp_path),
                              classifier_epochs=1)
    assert again.weights_path == first.weights_path
    assert file_digest(first.weights_path) != file_before
    assert again.weights_sha256 == first.weights_sha256
    saved["state_dict"][next(iter(saved["state_dict"]))].view(-1)[0] += 1.0
    torch.save(saved, first.weights_path)
    changed = resolve_extractor("classifier", dataset="digits", image_size=14, cache=str(tmp_path),
                                classifier_epochs=1)
    assert changed.weights_sha256 != first.weights_sha256


def test_wrapper_fid_equals_direct_torch_fidelity_call(digits, extractor, cache):
    a, b = digits["train"][:300], digits["test"][:250]
    ours = compare_images(a, b, ("fid",), "classifier", dataset="digits", cache=cache,
                          classifier_epochs=EPOCHS)
    direct = torch_fidelity.calculate_metrics(
        input1=RawImages(a), input2=RawImages(b), fid=True, feature_extractor="lit-gen-classifier",
        feature_extractor_weights_path=str(extractor.weights_path), cuda=False, cache=False,
        verbose=False, save_cpu_ram=True)[torch_fidelity.KEY_METRIC_FID]
    assert ours.values["fid[classifier]"] == pytest.approx(direct, rel=1e-6)
    assert ours.protocol["extractor"] == "classifier" and ours.protocol["weights_sha256"]


def test_frechet_distance_agrees_with_scipy(digits, extractor, cache):
    a, b = digits["train"][:400], digits["test"]
    fid = compare_images(a, b, ("fid",), "classifier", dataset="digits", cache=cache,
                         classifier_epochs=EPOCHS).values["fid[classifier]"]
    net = ClassifierFeatures("lit-gen-classifier", ["penultimate"], str(extractor.weights_path))
    with torch.no_grad():
        f1, f2 = (net(to_uint8_rgb(x))[0].double().numpy() for x in (a, b))
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    assert fid == pytest.approx(expected, rel=1e-5)  # measured 8.7e-8 (float32 features)
    assert fid > 0


class Oracle:
    """A 'generator' that returns real images (float in [0, 1]), or uniform noise."""

    def __init__(self, images: torch.Tensor | None):
        self.images, self.calls = images, []

    def sample(self, n: int) -> torch.Tensor:
        self.calls.append(n)
        if self.images is None:
            return torch.rand(n, 1, 28, 28)
        return self.images[torch.randint(len(self.images), (n,))].float() / 255


def test_compute_fidelity_ranks_real_above_noise_and_records_protocol(digits, cache):
    dm = ImageDataModule("digits")
    good, noise = Oracle(digits["train"]), Oracle(None)
    opts = dict(metrics=("fid", "kid", "is"), extractor="classifier", n_fake=300, n_real=None,
                cache=cache, classifier_epochs=EPOCHS, isc_splits=1, kid_subsets=10)
    r_good = compute_fidelity(good, dm, **opts)
    r_noise = compute_fidelity(noise, dm, **opts)
    assert sum(good.calls) == 300  # torch-fidelity drew exactly n_fake samples from sample()
    assert r_good.values["fid[classifier]"] * 10 < r_noise.values["fid[classifier]"]
    assert r_good.values["kid[classifier]"] < r_noise.values["kid[classifier]"]
    # real digits spread over the 10 classes, noise falls into few: IS is bounded by 10 and
    # much higher for real images (the >= 9 check on MNIST runs in the fidelity bench suite,
    # with the fully trained classifier; this one saw 3 epochs of 1,500 images)
    assert 10.0 >= r_good.values["is[classifier]"] > 2 * r_noise.values["is[classifier]"]
    ref = r_good.protocol["reference"]
    assert (ref["dataset"], ref["split"], ref["n"]) == ("digits", "test", 297)
    assert r_good.protocol["n_fake"] == 300 and "conversion" in r_good.protocol
    # reference features are cached on disk under a name with dataset/split/n/extractor
    cached = list((torch_fidelity_cache := __import__("pathlib").Path(cache) / "fidelity").glob("*"))
    assert any("litgen-digits-test-n297-s0-classifier" in p.name for p in cached), torch_fidelity_cache
    # same seed -> same samples -> same value (the cache gives the reference side)
    again = compute_fidelity(Oracle(digits["train"]), dm, **{**opts, "metrics": ("fid",)})
    assert again.values["fid[classifier]"] == pytest.approx(r_good.values["fid[classifier]"], rel=1e-9)


def test_bench_metrics_share_one_feature_pass(digits, cache):
    from types import SimpleNamespace

    from lit_gen.bench.registry import get_metric

    model, trainer = Oracle(digits["train"]), SimpleNamespace(global_step=7)
    opts = dict(extractor="classifier", n_fake=200, n_real=200, cache=cache, classifier_epochs=EPOCHS,
                kid_subsets=10)
    fid = get_metric("fid")(model, ImageDataModule("digits"), trainer, **opts)
    score = get_metric("is")(model, ImageDataModule("digits"), trainer, **opts)
    assert set(fid.values) == {"fid[classifier]"} and set(score.values) == {"is[classifier]", "is_std[classifier]"}
    assert sum(model.calls) == 200  # one torch-fidelity pass served both metrics
    assert fid.protocol["reference"]["n"] == 200 and fid.protocol["n_fake"] == 200


def test_inception_ts_reports_is_as_unavailable(digits):
    res = compare_images(digits["test"][:4], digits["test"][4:8], ("is",), "inception-ts")
    assert res.values == {}
    assert "is[inception-ts]" in res.protocol["unavailable"]


def test_missing_inception_weights_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("LIT_GEN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="LIT_GEN_INCEPTION_WEIGHTS"):
        inception_weights_path()
    monkeypatch.setenv("LIT_GEN_INCEPTION_WEIGHTS", str(tmp_path / "nope.pth"))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        resolve_extractor("inception")


def test_bad_names_are_clear_errors(digits):
    with pytest.raises(ValueError, match="unknown feature extractor 'vgg'"):
        resolve_extractor("vgg")
    with pytest.raises(ValueError, match="unknown sample-quality metric"):
        compare_images(digits["test"][:4], digits["test"][:4], ("fidd",), "inception-ts")
    with pytest.raises(TypeError, match="sample"):
        compute_fidelity(object(), ImageDataModule("digits"), extractor="inception-ts", n_real=4)


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.timeout(300)  # 20 InceptionV3 passes at 299 px and three idx files: ~40 s idle, 2-3x that on a busy box
def test_inception_ts_separates_mnist_from_fashion(shared_data):
    n = 5  # ~5.5 images/s on 2 idle cores: 4 sets of 5 images
    mnist_train = load_split("mnist", "train", str(shared_data / "mnist"))[0][:n]
    mnist_test = load_split("mnist", "test", str(shared_data / "mnist"))[0][:n]
    fashion = load_split("fashion_mnist", "test", str(shared_data / "fashion-mnist"))[0][:n]
    same = compare_images(mnist_train, mnist_test, ("fid",), "inception-ts").values["fid[inception-ts]"]
    other = compare_images(mnist_test, fashion, ("fid",), "inception-ts").values["fid[inception-ts]"]
    assert 0 < same < other


@pytest.mark.data
def test_real_vs_real_metrics_equal_torch_fidelity_on_mnist(shared_data, extractor, cache):
    """MNIST train vs test images as the files hold them (uint8, 1 channel), through lit-gen and
    through torch-fidelity's own calculate_metrics with the same extractor (the input built
    here, independently of lit-gen's conversion): the same FID and KID."""
    root = str(shared_data / "mnist")
    a, b = load_split("mnist", "train", root)[0][:1000], load_split("mnist", "test", root)[0][:1000]
    ours = compare_images(a, b, ("fid", "kid"), "classifier", dataset="digits", cache=cache,
                          classifier_epochs=EPOCHS, kid_subset_size=500, seed=1).values
    direct = torch_fidelity.calculate_metrics(
        input1=RawImages(a), input2=RawImages(b), fid=True, kid=True, kid_subset_size=500, rng_seed=1,
        feature_extractor="lit-gen-classifier", feature_extractor_weights_path=str(extractor.weights_path),
        cuda=False, cache=False, verbose=False, save_cpu_ram=True)
    # the same features in the same order: measured equal to the last bit
    assert ours["fid[classifier]"] == pytest.approx(direct[torch_fidelity.KEY_METRIC_FID], rel=1e-12)
    assert ours["kid[classifier]"] == pytest.approx(direct[torch_fidelity.KEY_METRIC_KID_MEAN], rel=1e-12)
    assert ours["fid[classifier]"] > 0


def test_resnet_classifier_extractor_shapes_for_colour_images(tmp_path):
    from lit_gen.nn.classifiers import build_classifier

    torch.manual_seed(0)
    net = build_classifier("resnet", in_channels=3, num_classes=10)
    path = tmp_path / "resnet.pt"
    torch.save({"arch": "resnet", "arch_kwargs": {"in_channels": 3, "num_classes": 10},
                "state_dict": net.state_dict()}, path)
    ext = ClassifierFeatures("lit-gen-classifier", ["penultimate", "logits"], str(path))
    x = (torch.rand(4, 3, 32, 32) * 255).to(torch.uint8)
    feats, logits = ext(x)
    assert feats.shape == (4, 128) and logits.shape == (4, 10)
    with torch.no_grad():  # the extractor is the network's own split: head(features) = logits
        assert torch.allclose(net.eval()(x.float() / 255), logits, atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        ext(x.float())
