"""f-VAE: the loss by hand on a fresh model, loss decrease, sampling, interpolation, the config."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from lit_gen.cli import main
from lit_gen.models import FVAE
from lit_gen.nn.dequantization import dequantize

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_fvae(**kw) -> FVAE:
    args = dict(in_channels=1, image_size=8, hidden=8, blocks=1, levels=2, steps=2, flow_hidden=8, warmup_steps=1)
    return FVAE(**{**args, **kw})


def test_loss_terms_match_a_hand_computation_on_a_fresh_model():
    # a fresh additive flow is a rotation (logdet 0, ‖F(h)‖ = ‖h‖), so the KL term is
    # ½‖h‖² − D log σ₁ − ½‖u‖² and the reconstruction a Gaussian NLL with σ₂
    torch.manual_seed(0)
    model = tiny_fvae(sigma1=0.3, sigma2=0.2).eval()
    x = torch.rand(3, 1, 8, 8)
    terms = model.loss_terms(x)
    y = dequantize(x, 8, training=False) + 0.5
    u = model.posterior_noise(y)
    with torch.no_grad():
        h = 0.3 * u + model.encoder(y)
        err = (model.decoder(h) - y).pow(2).flatten(1).sum(1)
    d = 64
    recon = err / (2 * 0.04) + d * math.log(0.2) + 0.5 * d * math.log(2 * math.pi)
    kl = 0.5 * h.pow(2).flatten(1).sum(1) - d * math.log(0.3) - 0.5 * u.pow(2).flatten(1).sum(1)
    assert torch.allclose(terms["recon"], recon, rtol=1e-4)
    assert torch.allclose(terms["kl"], kl, rtol=1e-4, atol=1e-2)
    bpd = (recon + kl + d * math.log(256)) / (d * math.log(2))
    assert torch.allclose(terms["bpd"], bpd, rtol=1e-4)


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = tiny_fvae()
    x = torch.rand(32, 1, 8, 8).round()
    opt = model.configure_optimizers()["optimizer"]
    model.train()
    model.loss_terms(x)  # actnorm init
    model.eval()
    before = model.loss_terms(x)["bpd"].mean().item()
    model.train()
    for _ in range(40):
        opt.zero_grad()
        model.loss_terms(x)["bpd"].mean().backward()
        opt.step()
    model.eval()
    after = model.loss_terms(x)["bpd"].mean().item()
    assert after < before - 0.5, (before, after)


def test_sample_reconstruct_and_interpolation_endpoints():
    torch.manual_seed(0)
    model = tiny_fvae().eval()
    with torch.no_grad():
        for p in model.parameters():  # a non-trivial flow and encoder
            p.add_(0.05 * torch.randn_like(p))
        model.decoder[-1].bias.fill_(0.5)  # outputs inside (0, 1), away from the clamp
    s = model.sample(4, temperature=0.5)
    assert s.shape == (4, 1, 8, 8) and s.min() >= 0 and s.max() <= 1
    x_a, x_b = torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)
    strip = model.interpolate(x_a, x_b, num=5)
    assert strip.shape == (2, 5, 1, 8, 8)
    assert torch.allclose(strip[:, 0], model.reconstruct(x_a), atol=1e-4)
    assert torch.allclose(strip[:, -1], model.reconstruct(x_b), atol=1e-4)
    assert not torch.allclose(strip[:, 0], strip[:, -1], atol=1e-3)
    assert not torch.allclose(strip[:, 2], strip[:, 0], atol=1e-4)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="sigma1"):
        FVAE(sigma1=0.0)
    with pytest.raises(ValueError, match="lr_decay_start"):
        FVAE(lr_schedule="cosine", lr_decay_start=-0.1)


@pytest.mark.data
def test_fit_configs_fvae_yaml_fast_dev_run(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("LIT_GEN_DATA", str(shared_data))
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", str(REPO / "configs/fvae.yaml"), "--trainer.fast_dev_run", "true",
                 "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false"])
    assert code == 0
    names = {p.name for p in tmp_path.rglob("*.png")}
    assert {"samples_T=0.5_final.png", "samples_T=1_final.png", "interp_final.png"} <= names


def test_fit_fvae_offline_on_digits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", str(REPO / "configs/fvae.yaml"), "--data.name", "digits",
                 "--trainer.fast_dev_run", "true", "--trainer.default_root_dir", str(tmp_path),
                 "--trainer.enable_progress_bar", "false"])
    assert code == 0


def test_per_channel_sigmas_are_scalars_repeated_when_equal():
    """per_channel_sigma gives (C,) σ₁, σ₂; with every channel at the scalar model's values (and
    the same weights) the loss is the scalar model's; with channels apart, the reconstruction is
    Σ_c [‖G(h)_c − y_c‖² / (2σ₂c²) + H·W·log σ₂c] + (D/2)·log 2π by hand."""
    torch.manual_seed(0)
    scalar = tiny_fvae(in_channels=3, sigma1=0.3, sigma2=0.2).eval()
    channel = tiny_fvae(in_channels=3, sigma1=0.3, sigma2=0.2, per_channel_sigma=True).eval()
    assert scalar.log_sigma1.shape == scalar.log_sigma2.shape == ()
    assert channel.log_sigma1.shape == channel.log_sigma2.shape == (3,)
    state = {k: (v.expand(3).clone() if k.startswith("log_sigma") else v) for k, v in scalar.state_dict().items()}
    channel.load_state_dict(state)
    x = torch.rand(2, 3, 8, 8)
    a, b = scalar.loss_terms(x), channel.loss_terms(x)
    for name in ("recon", "kl", "nelbo", "bpd"):
        assert torch.isfinite(b[name]).all()
        torch.testing.assert_close(a[name], b[name])
    with torch.no_grad():
        channel.log_sigma2.copy_(torch.tensor([0.1, 0.2, 0.4]).log())
        channel.log_sigma1.copy_(torch.tensor([0.3, 0.5, 0.7]).log())
    terms = channel.loss_terms(x)
    y = dequantize(x, 8, training=False) + 0.5
    u = channel.posterior_noise(y)
    with torch.no_grad():
        h = torch.tensor([0.3, 0.5, 0.7]).view(3, 1, 1) * u + channel.encoder(y)
        err = (channel.decoder(h) - y).pow(2).sum((2, 3))                       # (B, C)
    recon = sum(err[:, c] / (2 * s ** 2) + 64 * math.log(s) for c, s in enumerate((0.1, 0.2, 0.4)))
    recon = recon + 0.5 * 192 * math.log(2 * math.pi)
    torch.testing.assert_close(terms["recon"], recon, rtol=1e-4, atol=1e-3)
    z, logdet = channel.flow(h)
    kl = (0.5 * z.pow(2).flatten(1).sum(1) - logdet - 64 * math.log(0.3 * 0.5 * 0.7)
          - 0.5 * u.pow(2).flatten(1).sum(1))
    torch.testing.assert_close(terms["kl"], kl, rtol=1e-4, atol=1e-3)
