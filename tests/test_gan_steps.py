"""The GAN's optimizer steps inside a real ``Trainer.fit``, and the step-time metric's arithmetic.

A callback hooks every optimizer step of the fit (``register_step_pre_hook``/``post_hook``) and
notes which loss was computed last (D or G): the D step must move every D weight and no G
weight, the G step the reverse, each with the optimizer of its own network, for every
regulariser. VDB's β must follow the dual-ascent rule on the KL of each D step.
"""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import pytest
import torch

from lit_gen.bench.metrics import gan as gan_module
from lit_gen.data import ImageDataModule
from lit_gen.models import GAN

TINY = dict(latent_dim=8, g_width=4, d_width=4, g_steps=2)
REGULARISERS = {"vdb": {"vdb": True, "vdb_dim": 4, "vdb_step": 0.1, "vdb_info": 0.0},
                "spectral_norm": {"spectral_norm": True}, "r1": {"r1_gamma": 1.0}, "r2": {"r2_gamma": 1.0}}


def weights(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


class StepRecorder(L.Callback):
    """One record per optimizer step: the phase (the loss computed last), the parameters the
    stepping optimizer holds, G and D weights before and after, β before; and each D step's KL."""

    def __init__(self):
        self.steps, self.kls, self.phase = [], [], None

    def on_train_start(self, trainer, model):
        d_loss, g_loss = model.discriminator_loss, model.generator_loss

        def discriminator_loss(*args, **kwargs):
            self.phase = "D"
            loss, stats = d_loss(*args, **kwargs)
            self.kls.append(stats.get("kl"))
            return loss, stats

        def generator_loss(*args, **kwargs):
            self.phase = "G"
            return g_loss(*args, **kwargs)

        model.discriminator_loss, model.generator_loss = discriminator_loss, generator_loss
        for opt in trainer.optimizers:
            opt.register_step_pre_hook(lambda opt, *_: self.steps.append(dict(
                phase=self.phase, params={id(p) for group in opt.param_groups for p in group["params"]},
                g0=weights(model.generator), d0=weights(model.discriminator), beta=float(model.vdb_beta))))
            opt.register_step_post_hook(lambda opt, *_: self.steps[-1].update(
                g1=weights(model.generator), d1=weights(model.discriminator)))


@pytest.fixture(scope="module")
def digits():
    return ImageDataModule(name="digits", batch_size=16)


def fit(digits, tmp_path, **options):
    L.seed_everything(0)
    model, recorder = GAN(objective="sgan", **TINY, **options), StepRecorder()
    trainer = L.Trainer(accelerator="cpu", max_epochs=10, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path, callbacks=[recorder])
    trainer.fit(model, datamodule=digits)
    return model, recorder


@pytest.mark.parametrize("regulariser", sorted(REGULARISERS))
def test_each_step_moves_its_own_network_only(regulariser, digits, tmp_path):
    model, recorder = fit(digits, tmp_path, **REGULARISERS[regulariser])
    assert [s["phase"] for s in recorder.steps] == ["D", "G", "D", "G"]  # g_steps = 2, n_critic = 1
    own = {"D": {id(p) for p in model.discriminator.parameters()}, "G": {id(p) for p in model.generator.parameters()}}
    for k, step in enumerate(recorder.steps):
        mine, other = ("d", "g") if step["phase"] == "D" else ("g", "d")
        assert step["params"] == own[step["phase"]], f"step {k}: the optimizer holds another network's weights"
        moved = [n for n in step[f"{mine}0"] if not torch.equal(step[f"{mine}0"][n], step[f"{mine}1"][n])]
        assert moved == list(step[f"{mine}0"]), f"step {k} ({step['phase']}): weights that did not move"
        touched = [n for n in step[f"{other}0"] if not torch.equal(step[f"{other}0"][n], step[f"{other}1"][n])]
        assert touched == [], f"step {k} ({step['phase']}) moved the other network: {touched}"


def test_vdb_beta_follows_the_kl_of_each_d_step(digits, tmp_path):
    h = REGULARISERS["vdb"]
    model, recorder = fit(digits, tmp_path, **h)
    betas = [s["beta"] for s in recorder.steps if s["phase"] == "D"] + [float(model.vdb_beta)]
    assert len(recorder.kls) == 2 and betas[0] == 0.0
    for k, kl in enumerate(recorder.kls):  # β ← max(0, β + α (KL − I_c)) after D step k
        assert betas[k + 1] == pytest.approx(max(0.0, betas[k] + h["vdb_step"] * (float(kl) - h["vdb_info"])), rel=1e-6)
    assert betas[-1] > 0  # it moved


class FakeClock:
    """``time.perf_counter`` for ``gan_step_time``: advanced only by the loss calls, by the
    milliseconds listed for each objective, call after call."""

    def __init__(self, d_ms, g_ms):
        self.now, self.d_ms, self.g_ms = 0.0, d_ms, g_ms
        self.calls = {}

    def advance(self, kind, objective):
        n = self.calls.get((kind, objective), 0)
        self.calls[(kind, objective)] = n + 1
        self.now += 1e-3 * (self.d_ms if kind == "D" else self.g_ms)[objective][n]


def test_step_time_medians_skip_warmup_and_count_n_critic(monkeypatch, digits):
    """D and G steps that 'take' known times: the metric reports the median of the timed
    iterations (warm-up ones excluded) of each objective, and n_critic D steps + 1 G step."""
    clock = FakeClock(d_ms={"wgan_gp": [100, 100, 3, 9, 5, 4, 4.5], "gan_qp": [50, 50, 1, 2, 3, 2.5, 7]},
                      g_ms={"wgan_gp": [200, 200, 11, 30, 10, 12, 8], "gan_qp": [90, 90, 6, 6, 5, 40, 7]})
    d_loss, g_loss = GAN.discriminator_loss, GAN.generator_loss

    def timed_d(self, *args):
        clock.advance("D", self.objective.name)
        return d_loss(self, *args)

    def timed_g(self, *args):
        clock.advance("G", self.objective.name)
        return g_loss(self, *args)

    monkeypatch.setattr(GAN, "discriminator_loss", timed_d)
    monkeypatch.setattr(GAN, "generator_loss", timed_g)
    monkeypatch.setattr(gan_module, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    digits.setup("fit")
    model = GAN(objective="sgan", n_critic=3, **TINY)
    res = gan_module.gan_step_time(model, digits, None, iterations=5, warmup=2, objectives=["wgan_gp", "gan_qp"])
    # medians of the last 5: D 4.5 and 2.5 ms, G 11 and 6 ms (the means would be 5.1, 3.1, 14.2, 12.8)
    expected = {"wgan_gp": (4.5, 11.0), "gan_qp": (2.5, 6.0)}
    for name, (d, g) in expected.items():
        assert res.values[f"d_step_ms[{name}]"] == pytest.approx(d)
        assert res.values[f"g_step_ms[{name}]"] == pytest.approx(g)
        assert res.values[f"g_iteration_ms[{name}]"] == pytest.approx(3 * d + g)
    assert clock.calls == {(k, o): 7 for k in "DG" for o in expected}  # 2 warm-up + 5 timed each
