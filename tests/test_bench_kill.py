"""A real SIGKILL in the middle of a `lit-gen bench` fit, then the resumption.

The fit runs in a subprocess with :class:`fit_probe.FitProbe` in its callbacks: it pauses at the
start of epoch 1, after the epoch-end checkpoint of epoch 0 is on disk, and the test kills the
whole process group there. The next `lit-gen bench` must resume from that checkpoint: the
state the resumed fit starts from (weights, optimizer moments, GAN counters, VDB β, EMA) is
compared tensor by tensor with the checkpoint file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from lit_gen.bench.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROBE = [{"class_path": "fit_probe.FitProbe"}]

VAE_ENTRY = {
    "name": "vae", "config": "configs/vae.yaml", "seeds": [0], "budget": {"max_epochs": 3},
    "overrides": {"data.name": "digits", "data.batch_size": 50, "data.val_size": 200, "model.latent_dim": 4,
                  "model.channels": [8, 16], "model.hidden": 32, "trainer.limit_train_batches": 10,
                  "trainer.limit_val_batches": 1, "trainer.callbacks": PROBE},
    "metrics": ["nelbo"],
}
# 4 batches an epoch, 2 D steps per G step: 2 G steps an epoch; g_steps = 5 ends mid-epoch 2
GAN_ENTRY = {
    "name": "gan", "config": "configs/gan/wgan_div_mnist.yaml", "seeds": [0],
    "overrides": {"data.name": "digits", "data.batch_size": 16, "model.latent_dim": 8, "model.g_width": 4,
                  "model.d_width": 4, "model.n_critic": 2, "model.g_steps": 5, "model.vdb": True,
                  "model.vdb_dim": 4, "model.vdb_step": 0.1, "model.vdb_info": 0.0, "model.ema_decay": 0.9,
                  "trainer.limit_train_batches": 4, "trainer.limit_val_batches": 1, "trainer.callbacks": PROBE},
    "metrics": ["param_count"],
}


def write_suite(folder: Path, entry: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "entries.yaml").write_text(yaml.safe_dump([entry]))
    return folder


def bench(suite: Path, out: Path) -> int:
    return main(["--suite", str(suite), "--out", str(out), "--root", str(ROOT)])


def kill_after_first_epoch(suite: Path, out: Path, probe: Path) -> str:
    """Run `lit-gen bench` in a subprocess until the probe pauses it in epoch 1; SIGKILL it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "FIT_PROBE_DIR": str(probe), "FIT_PROBE_PAUSE_EPOCH": "1", "OMP_NUM_THREADS": "1"}
    log = probe / "log.txt"
    with log.open("w") as sink:
        proc = subprocess.Popen(["lit-gen", "bench", "--suite", str(suite), "--out", str(out), "--root", str(ROOT)],
                                stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + 120  # measured: paused after ~15 s on 2 busy cores
            while not (probe / "paused").exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert (probe / "paused").exists(), f"the fit never reached epoch 1:\n{text[-3000:]}"
    assert proc.returncode == -signal.SIGKILL
    return text


def assert_same(a, b, where="") -> None:
    """Equal nested dicts/lists of tensors and numbers, tensors exactly."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif torch.is_tensor(a):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def killed_and_resumed(tmp_path: Path, monkeypatch, entry: dict):
    """Kill ``entry``'s fit after epoch 0, resume it in this process. Returns the result, the
    checkpoint the kill left and the state the resumed fit started from."""
    suite, out = write_suite(tmp_path / "suite", entry), tmp_path / "out"
    killed = tmp_path / "killed"
    killed.mkdir()
    kill_after_first_epoch(suite, out, killed)
    result = out / "suite/runs" / entry["name"] / "seed=0.json"
    assert not result.exists()  # killed in training: no result, nothing to skip next time
    partial = out / "suite/work" / entry["name"] / "seed=0/partial/epoch-end.ckpt"
    shutil.copy(partial, tmp_path / "at-kill.ckpt")  # the resumption deletes partial/ when done
    checkpoint = torch.load(tmp_path / "at-kill.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["epoch"] == 0  # paused at the start of epoch 1

    resumed = tmp_path / "resumed"
    resumed.mkdir()
    monkeypatch.setenv("FIT_PROBE_DIR", str(resumed))
    monkeypatch.delenv("FIT_PROBE_PAUSE_EPOCH", raising=False)
    assert bench(suite, out) == 0
    start = torch.load(resumed / "start.pt", weights_only=False)
    return json.loads(result.read_text()), checkpoint, start, out


@pytest.mark.timeout(240)  # measured 16 s on 2 busy cores
def test_vae_killed_after_an_epoch_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    run, checkpoint, start, out = killed_and_resumed(tmp_path, monkeypatch, VAE_ENTRY)
    assert run["resumed"] == [{"epoch": 1}]
    assert run["epochs"] == 3 and run["global_steps"] == 30
    # the resumed fit starts from the checkpoint's weights and Adam moments, not a fresh start
    assert start["epoch"] == 1
    assert_same(start["state_dict"], checkpoint["state_dict"], "state_dict")
    assert_same(start["optimizer_states"], checkpoint["optimizer_states"], "optimizer")
    moments = start["optimizer_states"][0]["state"]
    assert moments and all(int(m["step"]) == 10 for m in moments.values())  # Adam has moments to lose

    # one uninterrupted fit of the same entry (the probe does nothing without FIT_PROBE_DIR)
    monkeypatch.delenv("FIT_PROBE_DIR")
    assert bench(tmp_path / "suite", tmp_path / "plain") == 0
    plain = json.loads((tmp_path / "plain/suite/runs/vae/seed=0.json").read_text())
    assert "resumed" not in plain and plain["config_hash"] == run["config_hash"]
    # the resumed fit draws new random streams (binarisation, shuffling, posterior noise), so
    # it is not bit-identical. Measured |resumed − uninterrupted| on seeds 0-3: 0.11, 0.36, 0.86,
    # 0.23 nats; a fit that lost one of its 3 epochs is 43-70 nats worse, seeds differ by 45.
    assert run["metrics"]["test_nelbo"] == pytest.approx(plain["metrics"]["test_nelbo"], abs=2.0)


@pytest.mark.timeout(240)  # measured 15 s
def test_gan_killed_after_an_epoch_resumes_counters_beta_and_ema(tmp_path, monkeypatch):
    run, checkpoint, start, out = killed_and_resumed(tmp_path, monkeypatch, GAN_ENTRY)
    assert run["resumed"] == [{"epoch": 1}]
    saved = checkpoint["state_dict"]
    # the state a fresh fit would not have: 2 G and 4 D steps, β > 0, an EMA that is not G
    assert (int(saved["g_step"]), int(saved["d_step"])) == (2, 4) and saved["vdb_beta"] > 0
    ema = {k.removeprefix("ema.module."): v for k, v in saved.items() if k.startswith("ema.module.")}
    assert any(not torch.equal(v, saved[f"generator.{k}"]) for k, v in ema.items() if v.is_floating_point())
    for key in ("g_step", "d_step", "vdb_beta", "ema.n_averaged", *(f"ema.module.{k}" for k in ema)):
        assert torch.equal(start["state_dict"][key], saved[key]), key
    assert_same(start["state_dict"], saved, "state_dict")
    assert_same(start["optimizer_states"], checkpoint["optimizer_states"], "optimizer")

    # it stops exactly at g_steps = 5: 10 D steps (2 per G step), 15 optimizer steps in all
    final = torch.load(out / "suite/work/gan/seed=0/final.ckpt", map_location="cpu", weights_only=False)
    assert (int(final["state_dict"]["g_step"]), int(final["state_dict"]["d_step"])) == (5, 10)
    assert run["global_steps"] == 15


@pytest.mark.timeout(240)  # two fits of VAE_ENTRY's size
def test_a_checkpoint_callback_keeps_its_best_across_a_resume(tmp_path, monkeypatch):
    """The resumed piece logs to a new version folder; an entry's ModelCheckpoint saves in the
    run's work folder instead, so Lightning restores its top-k and best score: all 3 epochs are
    ranked, not just the 2 after the kill (the couplet rows score their best val/loss weights)."""
    saver = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
             "init_args": {"monitor": "val/nelbo", "save_top_k": -1}}
    entry = {**VAE_ENTRY, "overrides": {**VAE_ENTRY["overrides"], "trainer.callbacks": PROBE + [saver]}}
    run, _, _, out = killed_and_resumed(tmp_path, monkeypatch, entry)
    assert run["resumed"] == [{"epoch": 1}]
    work = out / "suite/work/vae/seed=0"
    final = torch.load(work / "final.ckpt", map_location="cpu", weights_only=False)
    (state,) = [v for k, v in final["callbacks"].items() if k.startswith("ModelCheckpoint{") and "val/nelbo" in k]
    assert state["dirpath"] == os.path.realpath(work / "checkpoints")
    assert len(state["best_k_models"]) == 3 and all(Path(p).is_file() for p in state["best_k_models"])
    assert float(state["best_model_score"]) == pytest.approx(min(float(v) for v in state["best_k_models"].values()))
