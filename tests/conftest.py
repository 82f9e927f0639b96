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
