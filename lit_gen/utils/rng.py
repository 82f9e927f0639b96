"""Seeded draws that leave the global random state as it was."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None):
    """Run the block with ``torch.manual_seed(seed)`` and restore the global random state after
    (CPU, and ``device``'s generator when it is a CUDA device).

    A side computation (a picture, a metric, a feature classifier) must not change the run
    around it: drawing from the global generator would shift the training noise after it (on
    rank 0 only, for rank-0 work). A fixed seed also makes the side computation repeatable.
    """
    cuda = [device.index or 0] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
