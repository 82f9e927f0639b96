"""GAN module: one D and one G step for every objective × regulariser (which network each step
moves, inside a real fit: test_gan_steps.py), the training loop
(n_critic, own generator-step counter, EMA, stop at g_steps), VDB's β update, the divergence
guard, the step-time metric and the configs."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from lit_gen.bench.metrics.gan import gan_step_time
from lit_gen.cli import LitGenCLI
from lit_gen.data import ImageDataModule
from lit_gen.losses.gan import OBJECTIVES
from lit_gen.models import GAN
from lit_gen.utils.checks import DivergenceError

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(latent_dim=8, g_width=4, d_width=4)
OBJECTIVE_ARGS = {"wgan_div": {"points": "interpolate"}, "gan_qp": {"distance": "l2"}}
REGULARISERS = {"none": {}, "r1": {"r1_gamma": 1.0}, "r2": {"r2_gamma": 1.0},
                "spectral_norm": {"spectral_norm": True}, "vdb": {"vdb": True, "vdb_dim": 4, "vdb_step": 0.1}}


def _params(module):
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def _d_step(model, opt_d, real):
    model.generator.requires_grad_(False)
    with torch.no_grad():
        fake = model.generator(model.noise(real.shape[0]))
    loss, stats = model.discriminator_loss(real, fake)
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    model.generator.requires_grad_(True)
    return loss, stats


@pytest.mark.parametrize("regulariser", sorted(REGULARISERS))
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_one_d_and_one_g_step(objective, regulariser):
    torch.manual_seed(0)
    model = GAN(objective=objective, objective_args=OBJECTIVE_ARGS.get(objective), **TINY,
                **REGULARISERS[regulariser])
    opt_g, opt_d = model.configure_optimizers()
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    d0 = _params(model.discriminator)
    loss, stats = _d_step(model, opt_d, real)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert stats["d_real"].shape == (4,)
    g1, d1 = _params(model.generator), _params(model.discriminator)
    assert not torch.equal(d0, d1), "the D step did not change D"
    # whether a step leaves the other network alone is checked inside a real fit, where the
    # module's own loop (not this test's helper) chooses the optimizer: test_gan_steps.py
    if regulariser == "vdb":
        assert stats["kl"] > 0

    model.discriminator.requires_grad_(False)
    g_loss = model.generator_loss(real, model.generator(model.noise(4)))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert torch.isfinite(g_loss)
    assert not torch.equal(g1, _params(model.generator)), "the G step did not change G"


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_discriminator_loss_decreases_on_a_fixed_batch(objective):
    torch.manual_seed(1)
    model = GAN(objective=objective, **TINY, lr_d=1e-3)
    _, opt_d = model.configure_optimizers()
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        fake = model.generator(model.noise(8))
    first = model.discriminator_loss(real, fake)[0].item()
    for _ in range(6):
        loss, _ = model.discriminator_loss(real, fake)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    assert model.discriminator_loss(real, fake)[0].item() < first


def test_vdb_beta_dual_ascent_by_hand():
    model = GAN(vdb=True, vdb_info=0.5, vdb_step=0.1, **TINY)
    for kl, beta in [(1.5, 0.1), (0.0, 0.05), (0.0, 0.0), (0.2, 0.0), (2.5, 0.2)]:
        model.update_vdb_beta(torch.tensor(kl))
        assert model.vdb_beta.item() == pytest.approx(beta)


def test_vdb_generator_scores_the_encoder_mean():
    torch.manual_seed(0)
    model = GAN(vdb=True, **TINY)
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(model.score(x), model.score(x))          # deterministic
    assert not torch.equal(model.critic(x)[0], model.critic(x)[0])      # the D step samples


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="unknown GAN objective"):
        GAN(objective="wgan")
    with pytest.raises(ValueError, match=r"objective_args \['k'\].*'gan_qp'"):
        GAN(objective="gan_qp", objective_args={"k": 2})
    with pytest.raises(ValueError, match="n_critic"):
        GAN(n_critic=0)
    with pytest.raises(ValueError, match="DCGAN networks support image_size"):
        GAN(image_size=30)
    with pytest.raises(ValueError, match="ResNet generator is for 32"):
        GAN(arch="resnet", image_size=28)


def _trainer(tmp_path, **kwargs):
    return L.Trainer(accelerator="cpu", max_epochs=50, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=1,
                     default_root_dir=tmp_path, **kwargs)


def test_fit_counts_generator_steps_and_stops_at_g_steps(tmp_path):
    L.seed_everything(0)
    model = GAN(objective="wgan_gp", n_critic=3, g_steps=3, ema_decay=0.9, **TINY)
    data = ImageDataModule(name="digits", batch_size=16)
    trainer = _trainer(tmp_path, enable_checkpointing=False)
    trainer.fit(model, datamodule=data)
    assert int(model.g_step) == 3 and int(model.d_step) == 9
    assert trainer.global_step == 12          # Lightning counts the steps of both optimisers
    # EMA: a moving average of the generator, not a copy of it
    assert not torch.equal(_params(model.ema.module), _params(model.generator))
    x = model.sample(5)
    assert x.shape == (5, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert "train/d_loss" in trainer.callback_metrics and "val/d_real" in trainer.callback_metrics


class _InjectNaN(Callback):
    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if int(pl_module.g_step) == self.at:
            with torch.no_grad():
                pl_module.discriminator.head.weight.fill_(float("nan"))


def test_nan_triggers_the_guard_and_keeps_the_last_good_checkpoint(tmp_path):
    L.seed_everything(0)
    model = GAN(objective="gan_qp", **TINY)
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=4, save_top_k=-1)
    trainer = _trainer(tmp_path, callbacks=[ckpt, _InjectNaN(at=3)])
    with pytest.raises(DivergenceError, match=r"discriminator loss \(objective gan_qp\).*at step 3"):
        trainer.fit(model, datamodule=ImageDataModule(name="digits", batch_size=16))
    saved = sorted((tmp_path / "ckpt").glob("*.ckpt"))
    assert [p.name for p in saved] == ["epoch=0-step=4.ckpt"]   # 2 D + 2 G steps, before the NaN
    restored = GAN.load_from_checkpoint(saved[0])
    assert int(restored.g_step) == 2
    assert all(torch.isfinite(p).all() for p in restored.parameters())


def test_step_time_metric_leaves_the_model_untouched():
    model = GAN(objective="wgan_div", n_critic=2, **TINY)
    before = _params(model)
    data = ImageDataModule(name="digits", batch_size=16)
    data.setup("fit")
    res = gan_step_time(model, data, None, iterations=3, warmup=1)
    assert set(res.values) == {"d_step_ms", "g_step_ms", "g_iteration_ms"}
    assert all(v > 0 for v in res.values.values())  # the arithmetic: test_gan_steps.py, on a fake clock
    assert res.protocol["batch_size"] == 16 and res.protocol["n_critic"] == 2
    assert torch.equal(before, _params(model))


CONFIGS = sorted((ROOT / "configs/gan").glob("*.yaml"))


def test_every_config_builds_its_model():
    """All configs: the model section builds (valid options), objective and shape match the name."""
    import yaml

    assert len(CONFIGS) == 2 * len(OBJECTIVES)
    for config in CONFIGS:
        spec = yaml.safe_load(config.read_text())
        assert spec["model"]["class_path"] == "lit_gen.models.GAN"
        model = GAN(**spec["model"]["init_args"])
        assert config.name.startswith(model.hparams.objective + "_")
        assert model.image_shape == ((1, 28, 28) if "mnist" in config.name else (3, 32, 32))
        assert spec["data"]["init_args"]["name"] in config.name


@pytest.mark.parametrize("name", ["wgan_div_mnist.yaml", "gan_qp_cifar10.yaml"])
def test_config_through_the_cli(name):
    cli = LitGenCLI(args=["--config", str(ROOT / "configs/gan" / name), "--data.use_hub=false",
                          "--model.objective_args={k: 1.0, p: 2.0}" if "div" in name else "--model.g_steps=7"],
                    run=False)
    model = cli.model
    assert isinstance(model, GAN)
    assert model.sample(2).shape == (2, *model.image_shape)
    if "div" in name:
        assert model.d_args == {"k": 1.0, "p": 2.0}
    else:
        assert model.hparams.g_steps == 7 and model.d_args == {"lam": 10.0, "distance": "l1"}


def test_ema_warm_up_by_hand():
    """Generator weights 1, 2, 3, 4 in turn: the average follows decay min(0.9, (1+n)/(10+n))."""
    model = GAN(ema_decay=0.9, **TINY)
    expected = None
    for n, value in enumerate([1.0, 2.0, 3.0, 4.0]):
        with torch.no_grad():
            for p in model.generator.parameters():
                p.fill_(value)
        model.ema.update_parameters(model.generator)
        d = min(0.9, (1 + n) / (10 + n))   # n = updates so far; the first one copies
        expected = value if expected is None else d * expected + (1 - d) * value
    got = next(model.ema.module.parameters()).flatten()[0].item()
    assert got == pytest.approx(expected)
    assert expected == pytest.approx(((1 * 2 / 11 + 2 * 9 / 11) * 3 / 12 + 3 * 9 / 12) * 4 / 13 + 4 * 9 / 13)


def test_step_time_of_several_objectives_on_the_same_networks():
    model = GAN(objective="sgan", **TINY)
    data = ImageDataModule(name="digits", batch_size=8)
    data.setup("fit")
    res = gan_step_time(model, data, None, iterations=2, warmup=0, objectives=["wgan_gp", "gan_qp"])
    assert set(res.values) == {f"{v}[{o}]" for v in ("d_step_ms", "g_step_ms", "g_iteration_ms")
                               for o in ("wgan_gp", "gan_qp")}
    assert res.protocol["objectives"] == ["wgan_gp", "gan_qp"]
