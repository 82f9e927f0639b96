"""FID, KID and IS through lit-gen's code path against hand computations with numpy/scipy.

A stub feature extractor returns fixed features and logits: image ``i`` carries its index in
its first two pixels and the stub looks the rows up. So everything lit-gen adds (conversion to
uint8, the torch-fidelity arguments: subset size, splits, seed; the names of the values) is
checked against the textbook formulas on known numbers, without a network in the way.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from lit_gen.metrics import fidelity
from lit_gen.metrics.extractors import Extractor, _EagerExtractor

N1, N2, DIM, CLASSES = 60, 50, 8, 5
rng = np.random.default_rng(0)
# float32 values (what a real extractor returns), a different mean and spread for each set
FEATURES = np.concatenate([rng.normal(0.0, 1.0, (N1, DIM)), rng.normal(0.3, 1.5, (N2, DIM))]).astype(np.float32)
LOGITS = rng.normal(0.0, 2.0, (N1 + N2, CLASSES)).astype(np.float32)


class FixedFeatures(_EagerExtractor):
    """Row ``i`` of FEATURES/LOGITS for an image whose pixels (0, 0) and (0, 1) hold i // 256, i % 256."""

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features"}[metric]

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 4, 4, dtype=torch.uint8)

    def forward(self, x):
        index = x[:, 0, 0, 0].long() * 256 + x[:, 0, 0, 1].long()
        table = {"features": torch.from_numpy(FEATURES), "logits": torch.from_numpy(LOGITS)}
        return tuple(table[name][index] for name in self.features_list)


if "lit-gen-test-fixed" not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor("lit-gen-test-fixed", FixedFeatures)


@pytest.fixture
def stub(monkeypatch):
    ext = Extractor("fixed", "lit-gen-test-fixed", Path("none"), "0" * 64, True, "none")
    monkeypatch.setattr(fidelity, "resolve_extractor", lambda name, **kwargs: ext)


def indexed_images(first: int, n: int) -> torch.Tensor:
    """Float images in [0, 1] (1 channel, 4×4) whose uint8 conversion encodes rows first..first+n-1."""
    index = torch.arange(first, first + n)
    x = torch.zeros(n, 1, 4, 4)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = (index // 256) / 255, (index % 256) / 255
    return x


def compare(metrics, **options):
    return fidelity.compare_images(indexed_images(0, N1), indexed_images(N1, N2), metrics, "fixed",
                                   **options).values


def hand_kid(f1, f2, subset_size, subsets, seed):
    """Polynomial-kernel MMD² (k(x, y) = (x·y / d + 1)³, unbiased) over random subsets drawn as
    torch-fidelity draws them: one RandomState(seed), choice without replacement, set 1 then 2."""
    state, values = np.random.RandomState(seed), []
    for _ in range(subsets):
        x = f1[state.choice(len(f1), subset_size, replace=False)]
        y = f2[state.choice(len(f2), subset_size, replace=False)]
        k = lambda a, b: (a @ b.T / a.shape[1] + 1.0) ** 3  # noqa: E731
        kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
        m = subset_size
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                      - 2 * kxy.mean())
    return np.mean(values), np.std(values)


def hand_is(logits, splits, seed):
    """exp(E_x KL(p(y|x) ‖ p(y))) per split of a seeded permutation; mean and std over splits."""
    logits = logits[np.random.RandomState(seed).permutation(len(logits))]
    logp = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    scores = []
    for i in range(splits):
        part = logp[i * len(logp) // splits:(i + 1) * len(logp) // splits]
        p_y = np.exp(part).mean(0)
        scores.append(math.exp((np.exp(part) * (part - np.log(p_y))).sum(1).mean()))
    return np.mean(scores), np.std(scores)


def test_kid_by_hand(stub):
    f1, f2 = FEATURES[:N1].astype(np.float64), FEATURES[N1:].astype(np.float64)
    values = compare(("kid",), kid_subset_size=20, seed=3)  # 100 subsets by default
    mean, std = hand_kid(f1, f2, 20, 100, seed=3)
    assert values["kid[fixed]"] == pytest.approx(mean, rel=1e-6)  # measured 4.5e-8 (float32 kernels)
    assert values["kid_std[fixed]"] == pytest.approx(std, rel=1e-6)
    # a subset larger than a set is cut to the smaller set's size (N2 = 50), as run_torch_fidelity says
    values = compare(("kid",), kid_subset_size=1000, seed=3)
    assert values["kid[fixed]"] == pytest.approx(hand_kid(f1, f2, N2, 100, seed=3)[0], rel=1e-6)


def test_inception_score_by_hand(stub):
    values = compare(("is",), isc_splits=3, seed=5)  # IS of the first set only
    mean, std = hand_is(LOGITS[:N1].astype(np.float64), 3, seed=5)
    assert values["is[fixed]"] == pytest.approx(mean, rel=1e-12)  # the same float64 operations: exact
    assert values["is_std[fixed]"] == pytest.approx(std, rel=1e-12)
    assert 1.0 < mean < CLASSES


def test_fid_agrees_with_scipy(stub):
    f1, f2 = FEATURES[:N1].astype(np.float64), FEATURES[N1:].astype(np.float64)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    expected = ((f1.mean(0) - f2.mean(0)) ** 2).sum() + np.trace(s1 + s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
    assert compare(("fid",))["fid[fixed]"] == pytest.approx(expected, rel=1e-6)  # measured 8.9e-8


class NaNSampler:
    """A 'generator' whose samples contain a NaN in the second batch (it diverged)."""

    def __init__(self):
        self.calls = 0

    def sample(self, n):
        self.calls += 1
        x = indexed_images(0, n)
        if self.calls == 2:
            x[1, 0, 2, 2] = float("nan")
        return x


def test_nan_samples_are_a_clear_error(stub):
    with pytest.raises(ValueError, match=r"1 NaN value.*sample\(n\)"):
        fidelity.run_torch_fidelity(fidelity.SampleGenerator(NaNSampler()), None, ("is",),
                                    fidelity.resolve_extractor("fixed"), n1=40, batch_size=20)
    with pytest.raises(ValueError, match="NaN"):
        fidelity.to_uint8_rgb(torch.full((2, 1, 4, 4), float("nan")))
