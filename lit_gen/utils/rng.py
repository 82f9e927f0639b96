"""Seeded draws that leave the global random state as it was, and image-keyed evaluation noise."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Literal

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


def image_keyed_noise(images: torch.Tensor, row_shape: Sequence[int], *, distribution: Literal["uniform", "normal"],
                      like: torch.Tensor | None = None, rows: int = 1024, seed: int = 0,
                      hash_scale: float = 9973.0) -> torch.Tensor:
    """Evaluation noise ``(B, *row_shape)`` that is a fixed function of each image.

    A bank of ``rows`` draws (``U(0, 1)`` or ``N(0, 1)``, each of ``row_shape``) and a random
    projection of the pixels come from a generator seeded with ``seed``; image ``b`` of
    ``images`` ``(B, ...)`` gets bank row ``floor(pixels_b · projection · hash_scale) mod rows``.
    So validation and test numbers do not depend on batch size, order or the number of DDP
    processes. The bank takes ``like``'s dtype and device (default: ``images``'). The callers'
    constants (``rows``, ``seed``, ``hash_scale``) differ, and each must keep its own: they fix
    the noise behind committed results.
    """
    like = images if like is None else like
    gen = torch.Generator().manual_seed(seed)
    draw = torch.rand if distribution == "uniform" else torch.randn
    bank = draw(rows, *row_shape, generator=gen).to(like)
    proj = torch.rand(images[0].numel(), generator=gen, dtype=torch.float64).to(images.device)
    keys = (images.flatten(1).double() @ proj * hash_scale).floor().long() % rows
    return bank[keys]
