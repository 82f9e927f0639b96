"""PGGAN pieces (issue #39): equalised learning rate, pixel norm, minibatch standard deviation,
and progressive growing 8 → 16 → 32 with fade-in α, in the networks and in ProgressiveGAN."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from lit_gen.data import ImageDataModule
from lit_gen.models import ProgressiveGAN
from lit_gen.models.pggan import pg_stage
from lit_gen.nn.gan_layers import EqualLinear, MinibatchStdDev, PixelNorm
from lit_gen.nn.pggan import PGDiscriminator, PGGenerator, down, up


def test_pixel_norm_by_hand():
    x = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)           # mean of squares 12.5
    torch.testing.assert_close(PixelNorm(eps=0.0)(x).flatten(), torch.tensor([3.0, 4.0]) / math.sqrt(12.5))


def test_equalised_linear_scales_at_run_time():
    layer = EqualLinear(4, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    assert layer(torch.ones(1, 4)).item() == pytest.approx(4 / math.sqrt(4))     # w·c, c = 1/√fan_in
    slow = EqualLinear(4, 1, bias=False, lr_mul=0.01)
    assert slow.weight.std().item() > 10                                          # stored as N(0, 1/0.01²)


def test_gain_scales_the_run_time_constant():
    layer = EqualLinear(4, 1, bias=False, gain=math.sqrt(2))
    with torch.no_grad():
        layer.weight.fill_(1.0)
    assert layer(torch.ones(1, 4)).item() == pytest.approx(4 * math.sqrt(2 / 4))   # He: c = √(2/fan_in)


def test_discriminator_keeps_unit_scale_features_at_initialisation():
    """He's gain √2 before each leaky ReLU (the authors' code) keeps D's features of order 1 through
    its eight layers at initialisation; with gain 1 they shrink by ~√2 per layer (RMS ~0.02 at
    the output), and the score barely depends on the image."""
    torch.manual_seed(0)
    d = PGDiscriminator(in_channels=3, width=16)
    features = d.body(torch.randn(64, 3, 32, 32))
    assert 0.3 < features.pow(2).mean().sqrt().item() < 3.0


def test_minibatch_stddev_by_hand():
    """Groups of 2 out of 4 images: image n is in group n mod 2. Group {0, 2}: values 1 and 3 →
    std 1; group {1, 3}: 0 and 4 → std 2 (one feature, one pixel)."""
    x = torch.tensor([1.0, 0.0, 3.0, 4.0]).view(4, 1, 1, 1)
    out = MinibatchStdDev(group_size=2, eps=0.0)(x)
    assert out.shape == (4, 2, 1, 1)
    assert out[:, 1].flatten().tolist() == pytest.approx([1.0, 2.0, 1.0, 2.0])
    torch.testing.assert_close(out[:, :1], x)


@pytest.fixture
def nets():
    torch.manual_seed(0)
    return PGGenerator(latent_dim=8, out_channels=1, width=2).eval(), PGDiscriminator(in_channels=1, width=2).eval()


@pytest.mark.parametrize("resolution", [16, 32])
def test_generator_fade_in_ends_are_the_low_and_high_resolution_paths(nets, resolution):
    g, _ = nets
    z = torch.randn(3, 8)
    g.set_stage(resolution // 2, 1.0)
    low = g(z)                                                # the network of the lower resolution
    g.set_stage(resolution, 0.0)
    torch.testing.assert_close(g(z), up(low))                 # α = 0: its output, up-sampled
    g.set_stage(resolution, 1.0)
    high = g(z)
    assert high.shape == (3, 1, resolution, resolution)
    level = {16: 2, 32: 3}[resolution]
    torch.testing.assert_close(high, g.to_rgb[level](g.features(z, level)))
    g.set_stage(resolution, 0.25)                             # in between: the blend
    torch.testing.assert_close(g(z), 0.75 * up(low) + 0.25 * high)


@pytest.mark.parametrize("resolution", [16, 32])
def test_discriminator_fade_in_ends_are_the_low_and_high_resolution_paths(nets, resolution):
    _, d = nets
    x = torch.randn(4, 1, resolution, resolution)
    d.set_stage(resolution // 2, 1.0)
    low = d(down(x))                                          # the lower-resolution D on down(x)
    d.set_stage(resolution, 0.0)
    torch.testing.assert_close(d(x), low)
    d.set_stage(resolution, 1.0)
    level = {16: 2, 32: 3}[resolution]
    high = d.head(d.rest(down(d.blocks[level - 1](d.from_rgb[level](x))), level - 1)).squeeze(1)
    torch.testing.assert_close(d(x), high)
    assert not torch.allclose(low, high)


def test_options_that_do_not_apply_are_errors():
    for bad in ({"spectral_norm": True}, {"init": "dcgan"}):
        with pytest.raises(ValueError, match="equalised-learning-rate layers"):
            ProgressiveGAN(latent_dim=8, g_width=2, d_width=2, **bad)
    with pytest.raises(ValueError, match="unconditional"):
        ProgressiveGAN(latent_dim=8, g_width=2, d_width=2, num_classes=10)


def test_stage_errors(nets):
    g, _ = nets
    with pytest.raises(ValueError, match="alpha must be in"):
        g.set_stage(16, 1.5)
    with pytest.raises(ValueError, match="resolution must be one of"):
        g.set_stage(4)


def test_schedule_by_hand():
    # 1 stable step at 8 px; 16 px: 2 fade steps, 1 stable; 32 px: 2 fade steps, then stable
    table = [(8, 1.0), (16, 0.0), (16, 0.5), (16, 1.0), (32, 0.0), (32, 0.5), (32, 1.0), (32, 1.0)]
    assert [pg_stage(t, 1, 2) for t in range(8)] == table


def test_real_images_follow_the_stage():
    model = ProgressiveGAN(pg_stable_steps=1, pg_fade_steps=2, in_channels=1, latent_dim=8, g_width=2, d_width=2,
                           channels_last=False)
    x = torch.rand(2, 1, 32, 32)
    x16 = down(x * 2 - 1)
    torch.testing.assert_close(model._images((x, None)), down(x16))          # step 0: 8 px
    model.g_step.fill_(2)                                                      # 16 px, α = ½
    torch.testing.assert_close(model._images((x, None)), 0.5 * up(down(x16)) + 0.5 * x16)
    assert model.sample(3).shape == (3, 1, 32, 32)                              # always full size


def test_progressive_fit_grows_to_32_px(tmp_path):
    L.seed_everything(0)
    model = ProgressiveGAN(pg_stable_steps=1, pg_fade_steps=1, in_channels=1, latent_dim=8, g_width=2, d_width=2,
                           objective="wgan_gp", g_steps=5, ema_decay=0.9)
    trainer = L.Trainer(accelerator="cpu", max_epochs=5, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=1,
                        enable_checkpointing=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=ImageDataModule(name="digits", batch_size=8, image_size=32))
    assert int(model.g_step) == 5 and model.stage() == (32, 1.0)
    assert model.ema.module.resolution == 32
    assert "val/d_real" in trainer.callback_metrics


def test_config_through_the_cli():
    from pathlib import Path

    from lit_gen.cli import LitGenCLI

    config = Path(__file__).resolve().parents[1] / "configs/gan/readinglist/pggan_cifar10.yaml"
    cli = LitGenCLI(args=["--config", str(config), "--data.use_hub=false", "--model.pg_fade_steps=7"], run=False)
    assert isinstance(cli.model, ProgressiveGAN)
    assert cli.model.hparams.pg_fade_steps == 7 and cli.model.hparams.objective == "wgan_gp"
