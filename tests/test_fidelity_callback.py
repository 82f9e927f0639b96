"""FidelityCallback: logs during fit, and 2-process DDP (gloo, CPU) logs the 1-process value;
under DDP with training (lr > 0) every rank logs the trained model's value, and a fit resumed
from a real ModelCheckpoint file continues the curve."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import lightning as L
import pytest

from lit_gen.callbacks import FidelityCallback
from lit_gen.data import ImageDataModule
from lit_gen.models import VAE
from conftest import CLASSIFIER_EPOCHS, run_child

KEY = "fidelity/fid[classifier]"


def _fit(cache: str, root: str, **trainer_kwargs) -> tuple[dict, FidelityCallback]:
    L.seed_everything(0)
    # lr=0 keeps the weights at their (seeded) initialisation, so a 1-process and a 2-process
    # run hold the same model even though DDP shards the batches differently
    model = VAE(latent_dim=4, channels=(8, 16), hidden=32, lr=0.0)
    dm = ImageDataModule("digits", batch_size=64)
    callback = FidelityCallback(metrics=("fid", "is"), n_fake=200, n_real=200, cache=cache,
                                classifier_epochs=CLASSIFIER_EPOCHS)  # the session's classifier
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[callback], default_root_dir=root,
                        **trainer_kwargs)
    trainer.fit(model, datamodule=dm)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}, callback


@pytest.fixture(scope="module")
def cache(fidelity_cache, digits_extractor) -> str:
    return fidelity_cache  # holding the session's digits classifier


@pytest.fixture(scope="module")
def single(cache, tmp_path_factory):
    return _fit(cache, str(tmp_path_factory.mktemp("single")), accelerator="cpu", devices=1)


def test_callback_logs_named_metrics_with_protocol(single):
    metrics, callback = single
    assert math.isfinite(metrics[KEY]) and metrics[KEY] > 0
    assert 1.0 <= metrics["fidelity/is[classifier]"] <= 10.0
    protocol = callback.last_result.protocol
    assert protocol["n_fake"] == 200 and protocol["reference"]["n"] == 200
    assert protocol["extractor"] == "classifier"


def test_callback_rejects_unknown_metric():
    with pytest.raises(ValueError, match="unknown sample-quality metric"):
        FidelityCallback(metrics=("fid", "lpips"))


def test_missing_inception_weights_stop_fit_at_setup_with_a_clear_error(monkeypatch, tmp_path):
    import torch

    monkeypatch.delenv("LIT_GEN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, callbacks=[FidelityCallback(extractor="inception")],
                        default_root_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="LIT_GEN_INCEPTION_WEIGHTS"):
        trainer.fit(VAE(latent_dim=2, channels=(4, 8), hidden=8), datamodule=ImageDataModule("digits"))


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.timeout(300)  # measured 30 s on 2 busy cores
def test_two_process_ddp_logs_the_single_process_value(single, cache, tmp_path):
    metrics, _ = _fit(cache, str(tmp_path), accelerator="cpu", devices=2, strategy="ddp_spawn")
    assert metrics[KEY] == pytest.approx(single[0][KEY], rel=1e-9)
    assert metrics["fidelity/is[classifier]"] == pytest.approx(single[0]["fidelity/is[classifier]"], rel=1e-9)


def test_curve_survives_a_checkpoint_and_continues(single):
    """A fit resumed from a checkpoint keeps the measured curve: the restored callback starts
    from the saved history, batch count and training time instead of from zero."""
    _, callback = single
    saved = callback.state_dict()
    assert len(saved["history"]) == 1 and saved["batches"] == 2 and saved["train_seconds"] > 0
    resumed = FidelityCallback(metrics=("fid", "is"), n_fake=200, n_real=200)
    assert resumed.state_key == callback.state_key  # the checkpoint's entry finds this callback
    resumed.load_state_dict(saved)
    resumed.on_fit_start(None, None)
    assert resumed.history == callback.history and resumed._batches == 2
    assert resumed.state_dict()["train_seconds"] >= saved["train_seconds"]
    fresh = FidelityCallback(metrics=("fid", "is"), n_fake=200, n_real=200)
    fresh.on_fit_start(None, None)
    assert fresh.history == [] and fresh.state_dict()["train_seconds"] < saved["train_seconds"]
    assert FidelityCallback(metrics=("fid",)).state_key != callback.state_key


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.timeout(300)  # measured 32 s on 2 busy cores
def test_two_process_training_logs_the_trained_value_on_every_rank_and_resumes(cache, tmp_path, one_thread):
    """tests/scripts/fidelity_ddp.py: epoch 0 with a ModelCheckpoint, then epoch 1 from that
    file. Both ranks log the value that the weights saved after each fit give here, in one
    process; the resumed curve starts with the checkpoint's point and adds epoch 1's."""
    import torch

    from lit_gen.metrics.fidelity import compute_fidelity

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "tests/scripts/fidelity_ddp.py"), str(tmp_path), "2", cache,
           str(CLASSIFIER_EPOCHS)]
    result = run_child(cmd, timeout=240, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["checkpoint"] == "epoch=0-step=2.ckpt"

    values = {}
    for fit, epochs in (("first", 1), ("resumed", 2)):
        model = VAE(latent_dim=4, channels=(8, 16), hidden=32)
        model.load_state_dict(torch.load(tmp_path / f"weights-{epochs}.pt"))
        expected = compute_fidelity(model, ImageDataModule("digits"), ("fid", "is"), "classifier", 200, 200,
                                    cache=cache, classifier_epochs=CLASSIFIER_EPOCHS).values
        values[fit] = expected
        for rank in ranks:
            logged = rank[fit]["logged"]
            assert set(logged) == {f"fidelity/{k}" for k in expected}
            for name, value in expected.items():
                # measured within 4.1e-8: self.log keeps a float32
                assert logged[f"fidelity/{name}"] == pytest.approx(value, rel=1e-6), (fit, name)
    assert values["first"]["fid[classifier]"] != values["resumed"]["fid[classifier]"]  # training moved it

    for rank in ranks:
        first, resumed = rank["first"]["history"], rank["resumed"]["history"]
        assert [(p["epoch"], p["batches"]) for p in first] == [(0, 2)]
        assert resumed[0] == ranks[0]["first"]["history"][0]  # rank 0's point, from the checkpoint
        assert [(p["epoch"], p["batches"]) for p in resumed] == [(0, 2), (1, 4)]
        assert resumed[1]["train_seconds"] > resumed[0]["train_seconds"]
        assert resumed[1]["fid[classifier]"] == pytest.approx(values["resumed"]["fid[classifier]"], rel=1e-6)
