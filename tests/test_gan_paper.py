"""The authors' setups (configs/gan/paper) and the options they need, and the faster training
step: same losses and weights as a plain reference loop of the old step (two D passes, contiguous
tensors, per-parameter EMA)."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lit_gen.cli import LitGenCLI
from lit_gen.models import GAN
from lit_gen.nn.gan import DCGANDiscriminator, DCGANGenerator

ROOT = Path(__file__).resolve().parents[1]
PAPER = sorted((ROOT / "configs/gan/paper").glob("*.yaml"))


@pytest.mark.parametrize("config", PAPER, ids=lambda p: p.name)
def test_paper_config_takes_a_step(config, tmp_path):
    """Each authors'-setup config builds with its documented options and trains one step."""
    size = ["--data.name=digits", "--data.image_size=28"] if "mnist" in config.name else \
        ["--data.name=digits", "--data.image_size=32", "--model.in_channels=1"]
    cli = LitGenCLI(args=["--config", str(config), *size, "--trainer.fast_dev_run=1", "--data.use_hub=false",
                          f"--trainer.default_root_dir={tmp_path}", "--trainer.enable_progress_bar=false"],
                    run=False)
    model = cli.model
    h = model.hparams
    assert (h.kernel_size, h.d_norm, h.d_bias, h.latent_dim, h.ema_decay) == (5, "batch", False, 128, 0.0)
    assert (h.lr_g, h.lr_d, tuple(h.betas_g), tuple(h.betas_d)) == (2e-4, 2e-4, (0.5, 0.999), (0.5, 0.999))
    assert h.n_critic == (2 if "gan_qp" in config.name else 1)
    assert h.d_pool == ("mean" if "wgan_div" in config.name else "flatten")
    before = copy.deepcopy(model.discriminator.state_dict())
    cli.trainer.fit(model, datamodule=cli.datamodule)
    assert int(model.d_step) == 1
    assert any(not torch.equal(before[k], v) for k, v in model.discriminator.state_dict().items())


def test_post_networks_have_the_authors_shapes():
    """Su's 28 px nets: D = conv5(1→64), conv5(64→128)+BN, 6272→1; G = 128→6272+BN, convT5(128→64)+BN,
    convT5(64→1). Parameter counts by hand."""
    d = DCGANDiscriminator(1, 28, 64, kernel_size=5, norm="batch", bias=False)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(64, 1, 5, 5), (128, 64, 5, 5)]
    assert all(c.bias is None for c in convs) and d.head.bias is None
    norms = [m for m in d.body if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 1 and norms[0].num_features == 128  # after every conv but the first
    assert sum(p.numel() for p in d.parameters()) == 64 * 25 + 128 * 64 * 25 + 2 * 128 + 128 * 7 * 7
    g = DCGANGenerator(128, 1, 28, 64, kernel_size=5)
    assert g(torch.randn(3, 128)).shape == (3, 1, 28, 28)
    n_g = 128 * 6272 + 2 * 6272 + 128 * 64 * 25 + 2 * 64 + 64 * 1 * 25 + 1
    assert sum(p.numel() for p in g.parameters()) == n_g
    pooled = DCGANDiscriminator(3, 32, 64, kernel_size=5, norm="batch", bias=False, pool="mean")
    assert pooled.feature_dim == 256 and pooled(torch.randn(2, 3, 32, 32)).shape == (2,)


def test_batch_norm_in_d_makes_a_score_depend_on_its_batch():
    """With d_norm='batch' a sample's training-mode score changes when another sample of its
    batch changes (and not in eval mode); with 'none' it never does."""
    torch.manual_seed(0)
    x = torch.randn(4, 1, 28, 28)
    y = x.clone()
    y[1:] = torch.randn(3, 1, 28, 28)
    for norm, coupled in (("batch", True), ("none", False)):
        d = DCGANDiscriminator(1, 28, 8, norm=norm).train()
        assert torch.allclose(d(x)[0], d(y)[0]) is not coupled
        d.eval()
        assert torch.allclose(d(x)[0], d(y)[0])


@pytest.mark.parametrize("bad", [{"objective": "wgan_gp"}, {"r1_gamma": 1.0}, {"r2_gamma": 0.5}])
def test_batch_norm_with_a_per_sample_penalty_is_refused(bad):
    with pytest.raises(ValueError) as err:
        GAN(d_norm="batch", **bad)
    text = str(err.value)
    assert "d_norm='batch'" in text and "per-sample gradient penalty" in text and "d_norm='none'" in text
    assert "\n" not in text  # one paragraph
    GAN(d_norm="batch", objective="wgan_div")  # the author's WGAN-div setup is allowed


def test_init_schemes():
    torch.manual_seed(0)
    keras = GAN(init="keras", kernel_size=5, d_bias=False)
    conv = keras.discriminator.body[2]
    bound = (6 / (conv.weight[0].numel() + conv.weight.shape[0] * 25)) ** 0.5  # Glorot: fan_in + fan_out
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(keras.generator.body[-2].bias) == 0
    dcgan = GAN(init="dcgan", g_width=64, d_width=64)
    w = dcgan.generator.body[0].weight
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    with pytest.raises(ValueError, match="init must be"):
        GAN(init="xavier")


def _reference_iterations(model: GAN, batches: list[torch.Tensor], n_critic: int):
    """The step as it was written before the speed-up: D scores real and fake in two passes, the
    G step scores the real batch too, tensors stay contiguous, the EMA loops over parameters.
    The global RNG is reseeded before each batch, as the test's callback does for Lightning."""
    G, D = model.generator, model.discriminator
    opt_g, opt_d = model.configure_optimizers()
    ema = copy.deepcopy(G)
    d_losses, g_losses, n_avg = [], [], 0
    for i, x in enumerate(batches):
        torch.manual_seed(100 + i)
        real = x * 2 - 1
        with torch.no_grad():
            fake = G(model.noise(real.shape[0]))
        s_real, s_fake = D(real), D(fake)
        d_loss = model.objective.d_loss(s_real, s_fake, real=real, fake=fake, critic=model.score, **model.d_args)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        d_losses.append(d_loss.item())
        if (i + 1) % n_critic:
            continue
        D.requires_grad_(False)
        fake = G(model.noise(real.shape[0]))
        g_loss = model.objective.g_loss(D(real), D(fake), real=real, fake=fake, critic=model.score, **model.g_args)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        with torch.no_grad():  # the old avg_fn, one parameter at a time
            d = min(0.999, (1.0 + n_avg) / (10.0 + n_avg))
            for a, c in zip(list(ema.parameters()) + list(ema.buffers()), list(G.parameters()) + list(G.buffers())):
                if n_avg == 0 or not a.is_floating_point():
                    a.copy_(c)
                else:
                    a.copy_(a + (c - a) * (1.0 - d))
        n_avg += 1
        g_losses.append(g_loss.item())
    return d_losses, g_losses, ema


class _ReseedPerBatch(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        torch.manual_seed(100 + batch_idx)


@pytest.mark.parametrize("objective,n_critic", [("sgan", 1), ("wgan_gp", 1), ("gan_qp", 2), ("rsgan", 1)])
def test_fast_step_equals_the_reference_step(objective, n_critic):
    """Lightning + the faster step (channels-last, one D pass over real+fake, real scores only
    where the generator loss reads them, foreach EMA) gives the reference loop's losses and
    weights to float tolerance, on the same batches and random draws."""
    torch.manual_seed(0)
    batches = [torch.rand(8, 1, 28, 28) for _ in range(4 * n_critic)]
    kwargs = dict(latent_dim=8, g_width=8, d_width=8, objective=objective, n_critic=n_critic, ema_decay=0.999,
                  g_steps=4)
    torch.manual_seed(1)
    fast = GAN(**kwargs)
    reference = GAN(**kwargs, channels_last=False)
    reference.load_state_dict(fast.state_dict())
    assert fast.joint_critic_pass

    recorded = {"d": [], "g": []}
    d_loss_fn, g_loss_fn = fast.discriminator_loss, fast.generator_loss

    def record_d(real, fake):
        loss, stats = d_loss_fn(real, fake)
        recorded["d"].append(loss.item())
        return loss, stats

    def record_g(real, fake):
        loss = g_loss_fn(real, fake)
        recorded["g"].append(loss.item())
        return loss

    fast.discriminator_loss, fast.generator_loss = record_d, record_g
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1,
                        callbacks=[_ReseedPerBatch()])
    trainer.fit(fast, DataLoader(TensorDataset(torch.cat(batches)), batch_size=8, shuffle=False))
    ref_d, ref_g, ref_ema = _reference_iterations(reference, batches, n_critic)

    assert int(fast.g_step) == 4 and len(recorded["g"]) == 4
    assert recorded["d"] == pytest.approx(ref_d, rel=1e-4, abs=1e-5)
    assert recorded["g"] == pytest.approx(ref_g, rel=1e-4, abs=1e-5)
    for fast_net, ref_net in ((fast.generator, reference.generator), (fast.discriminator, reference.discriminator),
                              (fast.ema.module, ref_ema)):
        for a, b in zip(fast_net.parameters(), ref_net.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_epoch_means_are_logged_once_per_epoch_and_are_the_epoch_means():
    """The training losses go to Lightning once per epoch (a MeanMetric); the logged value is the
    mean of that epoch's per-step losses, not of all epochs or of the first step."""
    torch.manual_seed(0)
    model = GAN(latent_dim=8, g_width=8, d_width=8, g_steps=100)
    losses = []
    d_loss_fn = model.discriminator_loss

    def record(real, fake):
        loss, stats = d_loss_fn(real, fake)
        losses.append(loss.item())
        return loss, stats

    model.discriminator_loss = record
    calls = []
    log = model.log
    model.log = lambda name, *args, **kwargs: (calls.append(name), log(name, *args, **kwargs))
    trainer = L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu", devices=1)
    trainer.fit(model, DataLoader(TensorDataset(torch.rand(24, 1, 28, 28)), batch_size=8))
    assert len(losses) == 9
    assert trainer.callback_metrics["train/d_loss"].item() == pytest.approx(sum(losses[6:]) / 3, rel=1e-6)
    assert calls.count("train/d_loss") == 3  # once per epoch, not once per step
