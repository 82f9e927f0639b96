"""Shared fixtures. Tests that need the real data sets use ``shared_data`` and are skipped
(with the reason) when ``LIT_GEN_DATA`` does not point at them; CI always sets it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = os.environ.get("LIT_GEN_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("LIT_GEN_DATA is not set to the shared data folder (e.g. ../shared/data)")
    return Path(root)


@pytest.fixture(autouse=True)
def _quiet_offline_hub(monkeypatch):
    """Tests never reach the network: the hub is offline unless a test says otherwise."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def one_thread():
    """One intra-op thread for the test: on a shared 2-core machine two threads spin-wait and
    small convolutions run many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fit_learning_rates():
    """``fit(model, datamodule, max_epochs, batches) -> [lr at each training step]``: a short
    CPU fit without logging or checkpoints that records the first optimizer's rate."""
    import lightning as L

    def fit(model, datamodule, max_epochs: int, batches: int) -> list[float]:
        rates: list[float] = []

        class Record(L.Callback):
            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                rates.append(trainer.optimizers[0].param_groups[0]["lr"])

        trainer = L.Trainer(max_epochs=max_epochs, limit_train_batches=batches, limit_val_batches=0,
                            logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, callbacks=[Record()])
        trainer.fit(model, datamodule=datamodule)
        return rates

    return fit
