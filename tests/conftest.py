"""Shared fixtures. Tests that need the real data sets use ``shared_data`` and are skipped
(with the reason) when ``LIT_GEN_DATA`` does not point at them; CI always sets it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items):
    """A test that reads the shared data sets carries the ``data`` marker, so that
    ``pytest -m "not data"`` is a complete offline run; one that forgets it stops the session."""
    missing = [item.nodeid for item in items
               if "shared_data" in getattr(item, "fixturenames", ()) and item.get_closest_marker("data") is None]
    if missing:
        raise pytest.UsageError("tests using the shared_data fixture need @pytest.mark.data: " + ", ".join(missing))


def run_child(cmd, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True, timeout=...)`` for tests. On timeout
    the child's whole process group is killed (DDP ranks it launched included) and the test
    fails with the end of the child's stderr, which pytest-timeout, firing later, would lose:
    keep ``timeout`` below the test's own."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(map(str, cmd))} ran over {timeout} s; its stderr ends with:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = os.environ.get("LIT_GEN_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("LIT_GEN_DATA is not set to the shared data folder (e.g. ../shared/data)")
    return Path(root)


@pytest.fixture(scope="session")
def fidelity_cache(tmp_path_factory) -> str:
    """One cache folder per session for the feature classifiers and torch-fidelity's reference
    features: each classifier below trains once, whichever fidelity test asks first."""
    return str(tmp_path_factory.getbasetemp() / "lit_gen_fidelity_cache")


#: epochs of the digits classifier every fidelity test uses (3 × 1,500 images: a few seconds)
CLASSIFIER_EPOCHS = 3


@pytest.fixture(scope="session")
def digits_extractor(fidelity_cache):
    """The ``classifier`` extractor for digits at 28 px, trained once per session."""
    from lit_gen.metrics.extractors import resolve_extractor

    return resolve_extractor("classifier", dataset="digits", image_size=28, cache=fidelity_cache,
                             classifier_epochs=CLASSIFIER_EPOCHS)


@pytest.fixture(scope="session")
def small_classifier(fidelity_cache):
    """A second classifier in the same cache (14 px, 1 epoch) for the cache-key tests; trained once."""
    from lit_gen.metrics.classifier import load_or_train_classifier

    return load_or_train_classifier("digits", 14, cache=fidelity_cache, epochs=1, verbose=False)


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
