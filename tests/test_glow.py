"""Glow: exact density against a hand computation, training, sampling, the bpd bench metric."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from lit_gen.bench.registry import get_metric
from lit_gen.data import ImageDataModule
from lit_gen.models import Glow
from lit_gen.nn.dequantization import dequantize, keyed_dequantization_noise, quantize


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_glow(**kw) -> Glow:
    args = dict(in_channels=1, image_size=8, levels=2, steps=2, hidden=16, warmup_steps=1)
    return Glow(**{**args, **kw})


def perturbed_vd_glow() -> Glow:
    torch.manual_seed(0)
    model = tiny_glow(preprocess="logit", dequantization="variational", dequant_hidden=8, dequant_steps=2).eval()
    with torch.no_grad():  # move the zero-initialised couplings so q is not a plain sigmoid of N(0, I)
        for p in model.dequantizer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_fresh_additive_glow_is_a_rotation_so_bpd_is_the_gaussian_one():
    # before training every layer is an identity or an orthogonal map (LU-parametrised rotation,
    # squeezes, zero-init couplings/priors), so log p(y) = log N(y; 0, I) exactly
    torch.manual_seed(0)
    model = tiny_glow(coupling="additive").eval()
    x = torch.rand(4, 1, 8, 8)
    y = dequantize(x, 8, training=False)
    d = 64
    log_p = -0.5 * y.pow(2).flatten(1).sum(1) - 0.5 * d * math.log(2 * math.pi)
    expected = (-log_p + d * math.log(256)) / (d * math.log(2))
    assert torch.allclose(model.bits_per_dim(x), expected, atol=1e-4)


def test_fresh_logit_glow_adds_the_logit_jacobian_to_the_gaussian_density():
    torch.manual_seed(0)
    alpha = 0.05
    model = tiny_glow(coupling="additive", preprocess="logit", logit_alpha=alpha).eval()
    x = torch.rand(4, 1, 8, 8)
    p = alpha + (1 - 2 * alpha) * (dequantize(x, 8, training=False) + 0.5)
    z = torch.log(p) - torch.log(1 - p)
    d = 64
    log_p = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)
             + math.log(1 - 2 * alpha) - torch.log(p) - torch.log(1 - p)).flatten(1).sum(1)
    expected = (-log_p + d * math.log(256)) / (d * math.log(2))
    assert torch.allclose(model.bits_per_dim(x), expected, atol=1e-4)
    # T = 0: u = 0 → logit 0 → the mid-grey pixel, as with the shift
    assert torch.allclose(model.sample(2, temperature=0.0), torch.full((2, 1, 8, 8), 0.5), atol=1e-6)


def test_eval_dequantization_is_a_fixed_function_of_each_image():
    x = torch.rand(6, 1, 8, 8)
    a = dequantize(x, 8, training=False)
    b = dequantize(x[[3, 0, 5]], 8, training=False)
    assert torch.equal(a[[3, 0, 5]], b)
    # dequantized values stay in the pixel's own bin [k/256, (k+1)/256) − ½
    k = (x * 255).round()
    assert ((a + 0.5) * 256 >= k).all() and ((a + 0.5) * 256 < k + 1).all()
    # 5 bits: 32 bins
    assert torch.equal(torch.floor((dequantize(x, 5, False) + 0.5) * 32), torch.floor((x * 255).round() / 8))


@pytest.mark.parametrize("preprocess, dequantization", [
    ("shift", "uniform"), ("logit", "uniform"), ("logit", "variational"),
])
def test_training_lowers_bits_per_dim_on_a_fixed_batch(preprocess, dequantization):
    torch.manual_seed(0)
    model = tiny_glow(lr=5e-3, preprocess=preprocess, dequantization=dequantization, dequant_hidden=8)
    x = torch.rand(32, 1, 8, 8).round()  # binary images: very compressible
    opt = model.configure_optimizers()["optimizer"]
    model.train()
    model.bits_per_dim(x)  # actnorm init
    model.eval()
    before = model.bits_per_dim(x).mean().item()
    model.train()
    for _ in range(60):
        opt.zero_grad()
        model.bits_per_dim(x).mean().backward()
        opt.step()
    model.eval()
    after = model.bits_per_dim(x).mean().item()
    assert after < before - 0.5, (before, after)


def test_variational_dequantization_bound_is_fixed_per_image_and_uses_q():
    model = perturbed_vd_glow()
    x = torch.rand(6, 1, 8, 8)
    bpd = model.bits_per_dim(x)
    assert torch.equal(bpd[[4, 1]], model.bits_per_dim(x[[4, 1]]))  # evaluation noise keyed by the image
    # the bound by hand: u = q's sample from the image's fixed normal noise, −log p(y) + log q(u|x)
    x_int = quantize(x, 8)
    u, log_q = model.dequantizer(keyed_dequantization_noise(x, "normal"), x_int / 256 - 0.5)
    y = (x_int + u) / 256 - 0.5
    assert ((y + 0.5) * 256 >= x_int).all() and ((y + 0.5) * 256 <= x_int + 1).all()  # u stays in the bin
    expected = (-(model.log_density(y) - log_q) + 64 * math.log(256)) / (64 * math.log(2))
    torch.testing.assert_close(bpd, expected)
    assert not torch.allclose(log_q, torch.zeros_like(log_q))


@pytest.mark.parametrize("dequantization", ["uniform", "variational"])
def test_importance_weighted_log_likelihood_by_hand(dequantization):
    model = perturbed_vd_glow() if dequantization == "variational" else tiny_glow(preprocess="logit").eval()
    x = torch.rand(3, 1, 8, 8)
    torch.manual_seed(7)
    with torch.no_grad():
        got = model.log_likelihood(x, num_samples=5)
    # by hand, from the same five draws: log w_k = log p(y_k) − log q(u_k | x)
    torch.manual_seed(7)
    x_int = quantize(x, 8)
    log_w = []
    with torch.no_grad():
        for _ in range(5):
            if dequantization == "uniform":
                u, log_q = torch.rand_like(x), torch.zeros(3)
            else:
                u, log_q = model.dequantizer(torch.randn_like(x), x_int / 256 - 0.5)
            log_w.append(model.log_density((x_int + u) / 256 - 0.5) - log_q)
    log_w = torch.stack(log_w)  # (5, 3)
    expected = torch.log(torch.exp(log_w - log_w.max(0).values).mean(0)) + log_w.max(0).values - 64 * math.log(256)
    torch.testing.assert_close(got, expected)
    # Jensen: the importance-weighted estimate is at least the mean single-draw bound of the same draws
    assert (got >= log_w.mean(0) - 64 * math.log(256) - 1e-4).all()
    # one draw is the training bound, bits_per_dim, on that draw
    model.train()
    torch.manual_seed(3)
    one = model.log_likelihood(x, num_samples=1)
    torch.manual_seed(3)
    torch.testing.assert_close(-one / (64 * math.log(2)), model.bits_per_dim(x))
    with pytest.raises(ValueError, match="num_samples"):
        model.log_likelihood(x, num_samples=0)


def test_nll_bench_metric_on_glow_averages_log_likelihood(tmp_path):
    L.seed_everything(0)
    dm = ImageDataModule(name="digits", image_size=8, batch_size=64)
    model = perturbed_vd_glow()
    trainer = L.Trainer(logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    result = get_metric("nll")(model, dm, trainer, num_samples=3, limit=150, batch_size=100, seed=5)
    torch.manual_seed(5)  # the metric's seed; its DataLoader draws from the same generator
    with torch.no_grad():
        loader = DataLoader(Subset(dm.test_set, range(150)), batch_size=100)
        expected = torch.cat([-model.log_likelihood(x, 3) for x, _ in loader]).mean()
    assert result.values["nll"] == pytest.approx(expected.item(), rel=1e-5)
    assert result.values["nll_bits_per_dim"] == pytest.approx(expected.item() / (64 * math.log(2)), rel=1e-5)
    assert result.protocol["num_samples"] == 3 and result.protocol["n_images"] == 150
    bpd = get_metric("bpd")(model, dm, trainer)
    assert bpd.protocol["dequantization"] == "variational, 8 bits"
    assert "variational" in bpd.protocol["bound"]


def test_sample_shape_range_and_temperature():
    model = tiny_glow().eval()
    torch.manual_seed(0)
    s = model.sample(5, temperature=0.7)
    assert s.shape == (5, 1, 8, 8) and s.min() >= 0 and s.max() <= 1
    # T = 0 is the mode of the fresh flow: u = 0 → y = 0 → every pixel ½
    assert torch.allclose(model.sample(2, temperature=0.0), torch.full((2, 1, 8, 8), 0.5), atol=1e-6)


def test_overflowing_inverse_gives_finite_samples_and_a_warning():
    model = tiny_glow().eval()
    with torch.no_grad():
        model.flow.scales[-1][-1].logs.fill_(100.0)  # top prior std e^100: float32 overflow
    with pytest.warns(RuntimeWarning, match="not finite"):
        s = model.sample(3)
    assert torch.isfinite(s).all() and s.min() >= 0 and s.max() <= 1


def test_bad_dequantization_is_a_clear_error():
    with pytest.raises(ValueError, match="dequantization"):
        tiny_glow(dequantization="gaussian")


def test_bad_sizes_raise_clear_errors():
    with pytest.raises(ValueError, match="2\\*\\*levels"):
        Glow(image_size=28, levels=3)
    with pytest.raises(ValueError, match="n_bits"):
        Glow(n_bits=9)
    with pytest.raises(ValueError, match="preprocess"):
        Glow(preprocess="log")
    with pytest.raises(ValueError, match="alpha"):
        Glow(preprocess="logit", logit_alpha=0.0)
    with pytest.raises(ValueError, match="lr_schedule"):
        Glow(lr_schedule="linear")
    with pytest.raises(ValueError, match="lr_decay_start"):
        Glow(lr_schedule="cosine", lr_decay_start=1.0)
    with pytest.raises(ValueError, match="needs lr_schedule='cosine'"):
        Glow(lr_decay_start=0.5)


@pytest.mark.parametrize("decay_start, steps", [(0.0, 4), (0.5, 8)])
def test_cosine_rate_follows_the_max_time_clock(monkeypatch, tmp_path, decay_start, steps):
    """With a wall-clock budget the cosine is driven by the Timer: a fake clock that advances
    1/steps of max_time per step gives the rates of a half cosine at 0, 1/steps, ... (with
    ``lr_decay_start`` the full rate until that fraction of the clock, then a half cosine over
    the rest), and the Timer stops the fit at the end of the budget (the step budget, 100
    epochs, is far away)."""
    from lightning.pytorch.callbacks import Timer

    clock = {"seconds": 0.0}
    monkeypatch.setattr(Timer, "time_elapsed", lambda self, stage="train": clock["seconds"])
    rates = []

    class Probe(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            rates.append(trainer.optimizers[0].param_groups[0]["lr"])
            clock["seconds"] += 100.0 / steps

    L.seed_everything(0)
    dm = ImageDataModule(name="digits", image_size=8, batch_size=64)
    model = tiny_glow(lr=1e-3, warmup_steps=1, lr_schedule="cosine", lr_decay_start=decay_start)
    trainer = L.Trainer(max_time={"seconds": 100}, max_epochs=100, limit_train_batches=2, limit_val_batches=0,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[Probe()])
    trainer.fit(model, datamodule=dm)
    clock_fractions = [i / steps for i in range(steps)]
    expected = [1e-3 * 0.5 * (1 + math.cos(math.pi * max(0.0, q - decay_start) / (1 - decay_start)))
                for q in clock_fractions]
    assert rates == pytest.approx(expected)
    assert trainer.global_step == steps


def test_cosine_rate_needs_a_finite_budget(tmp_path):
    dm = ImageDataModule(name="digits", image_size=8, batch_size=64)
    trainer = L.Trainer(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    with pytest.raises(ValueError, match="finite budget"):
        trainer.fit(tiny_glow(lr_schedule="cosine"), datamodule=dm)


def test_bpd_and_param_count_bench_metrics(tmp_path):
    L.seed_everything(0)
    dm = ImageDataModule(name="digits", image_size=8, batch_size=64)
    model = tiny_glow()
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    result = get_metric("bpd")(model, dm, trainer)
    model.eval()
    with torch.no_grad():
        per_image = torch.cat([model.bits_per_dim(x) for x, _ in dm.test_dataloader()])
    assert result.values["test_bpd"] == pytest.approx(per_image.mean().item(), rel=1e-5)
    assert result.protocol["bound"] == "exact flow density"
    model.__class__ = type("MyGlow", (Glow,), {})  # a user's subclass keeps Glow's label
    assert get_metric("bpd")(model, dm, trainer).protocol["bound"] == "exact flow density"
    count = get_metric("param_count")(model, dm, trainer).values["params"]
    assert count == sum(p.numel() for p in model.parameters())


def _ddp_fit(out, devices: int) -> None:
    """Script mode (Lightning relaunches this file for rank 1): fit a tiny Glow, then test."""
    L.seed_everything(0)
    dm = ImageDataModule(name="digits", image_size=8, batch_size=32)
    model = tiny_glow()
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
                        max_steps=3, limit_val_batches=0, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False, default_root_dir=out)
    trainer.fit(model, datamodule=dm)
    bpd = get_metric("bpd")(model, dm, trainer).values["test_bpd"]
    torch.save({"state": model.state_dict(), "bpd": bpd}, Path(out) / f"rank{trainer.global_rank}.pt")


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.timeout(300)  # measured 34 s on 2 busy cores
def test_two_process_ddp_actnorm_init_and_test_bpd_match_one_process(tmp_path):
    # actnorm statistics are all-reduced, so both ranks start (and stay) identical; test/bpd is
    # synced as (sum, count), so it equals a 1-process pass over the whole test split
    from conftest import run_child

    cmd = [sys.executable, __file__, str(tmp_path), "2"]
    result = run_child(cmd, timeout=240, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for key, value in r0["state"].items():
        torch.testing.assert_close(value, r1["state"][key], rtol=0, atol=1e-6)
    assert r0["bpd"] == pytest.approx(r1["bpd"], rel=1e-6)
    model = tiny_glow()
    model.load_state_dict(r0["state"])
    model.eval()
    dm = ImageDataModule(name="digits", image_size=8, batch_size=64)
    dm.setup("test")
    with torch.no_grad():
        one = torch.cat([model.bits_per_dim(x) for x, _ in dm.test_dataloader()]).mean().item()
    assert r0["bpd"] == pytest.approx(one, rel=1e-5)


if __name__ == "__main__":
    _ddp_fit(sys.argv[1], int(sys.argv[2]))
