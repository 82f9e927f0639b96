"""StyleGAN pieces (issue #39): mapping network, modulated convolutions, per-layer noise, style
mixing and truncation in W, in the generator and through GAN(arch="stylegan")."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lit_gen.data import ImageDataModule
from lit_gen.models import GAN
from lit_gen.nn.stylegan import ModulatedConv2d, StyleGenerator


@pytest.fixture
def g():
    torch.manual_seed(0)
    g = StyleGenerator(latent_dim=8, out_channels=1, image_size=32, width=4)
    with torch.no_grad():                   # noise on, and a w̄ away from 0 (as after training)
        for layer in g.layers:
            layer.noise_strength.fill_(0.3)
        g.w_avg.normal_()
    return g.eval()


def test_layout(g):
    assert g.num_ws == 8                    # 4×4: 1 layer; 8, 16, 32: 2 each; to-RGB
    assert g(torch.randn(3, 8)).shape == (3, 1, 32, 32)
    assert StyleGenerator(latent_dim=8, image_size=28, width=4).eval()(torch.randn(2, 8)).shape == (2, 1, 28, 28)


def test_mapping_network_keeps_w_at_unit_scale():
    """With He's gain √2 before each leaky ReLU (the authors' mapping network) w keeps an RMS of
    order 1 through the 4 layers at initialisation; with gain 1 it falls to ~0.27."""
    torch.manual_seed(0)
    w = StyleGenerator(latent_dim=64, out_channels=1, image_size=32, width=4).mapping(torch.randn(512, 64))
    assert 0.6 < w.pow(2).mean().sqrt().item() < 1.6


def test_style_mixing_with_identical_styles_equals_no_mixing(g):
    z = torch.randn(3, 8)
    plain = g(z, noise="const")
    for cutoff in (1, 4, 7):
        torch.testing.assert_close(g(z, noise="const", mix_z=z, cutoff=cutoff), plain)


def test_style_mixing_switches_styles_at_the_cutoff(g):
    z1, z2 = torch.randn(3, 8), torch.randn(3, 8)
    ws1, ws2 = g.styles(z1), g.styles(z2)
    mixed = g.mix_styles(ws1, ws2, 3)
    assert torch.equal(mixed[:, :3], ws1[:, :3]) and torch.equal(mixed[:, 3:], ws2[:, 3:])
    torch.testing.assert_close(g(z1, noise="const", mix_z=z2, cutoff=g.num_ws), g(z1, noise="const"))
    torch.testing.assert_close(g(z1, noise="const", mix_z=z2, cutoff=0), g(z2, noise="const"))
    assert not torch.allclose(g(z1, noise="const", mix_z=z2, cutoff=3), g(z1, noise="const"))


def test_truncation_in_w(g):
    z = torch.randn(4, 8)
    torch.testing.assert_close(g(z, psi=1.0, noise="const"), g(z, noise="const"))
    # ψ = 0: every sample is the image of the mean w̄
    mean_image = g.synthesis(g.w_avg.expand(1, g.num_ws, -1), noise="const")
    torch.testing.assert_close(g(z, psi=0.0, noise="const"), mean_image.expand(4, -1, -1, -1))
    # ψ = ½: half-way between w̄ and w
    ws = g.styles(z)
    torch.testing.assert_close(g.truncate(ws, 0.5), 0.5 * (g.w_avg + ws))
    with pytest.raises(ValueError, match=r"psi \(truncation in W\) must be in \[0, 1\]"):
        g(z, psi=1.5)


def test_noise_inputs_and_w_avg_tracking(g):
    z = torch.randn(2, 8)
    assert not torch.equal(g(z), g(z))                  # fresh per-pixel noise on each call
    torch.testing.assert_close(g(z, noise="const"), g(z, noise="const"))
    g.train()
    before = g.w_avg.clone()
    w = g.mapping(z).mean(0)
    g.styles(z)
    torch.testing.assert_close(g.w_avg, before + (1 - 0.995) * (w - before))


def test_modulated_conv_by_hand():
    """One input channel, one output channel, 1×1 kernel: out = s·v·x, demodulated to sign(s·v)·x."""
    conv = ModulatedConv2d(1, 1, 1, w_dim=1, demodulate=False)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        conv.affine.weight.fill_(3.0)                    # s = 3·w + 1 (the affine's bias starts at 1)
    x, w = torch.full((1, 1, 2, 2), 0.5), torch.tensor([[0.5]])
    torch.testing.assert_close(conv(x, w), torch.full((1, 1, 2, 2), 2.5 * 2.0 * 0.5))   # scale 1/√1
    conv.demodulate = True
    torch.testing.assert_close(conv(x, w), x, atol=1e-6, rtol=1e-6)


def test_gan_with_stylegan_arch_trains_and_samples_with_psi(tmp_path):
    L.seed_everything(0)
    model = GAN(arch="stylegan", image_size=32, latent_dim=8, g_width=4, d_width=4, g_steps=2, ema_decay=0.9)
    trainer = L.Trainer(accelerator="cpu", max_epochs=3, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=1,
                        enable_checkpointing=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=ImageDataModule(name="digits", batch_size=8, image_size=32))
    assert int(model.g_step) == 2
    assert model.sample(3, psi=0.7).shape == (3, 1, 32, 32)
    with pytest.raises(ValueError, match="arch='stylegan'"):
        GAN(latent_dim=8, g_width=4, d_width=4).sample(2, psi=0.5)
