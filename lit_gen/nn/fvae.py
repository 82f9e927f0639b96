"""Shape-preserving residual conv nets for the f-VAE encoder E and decoder G.

``(B, C, H, W) → (B, C, H, W)``: a 3×3 stem, one stride-2 down-sampling (the residual blocks
run at half resolution, 4× cheaper on CPU), ``blocks`` residual blocks, a transposed-conv
up-sampling and a 3×3 head. ``H`` and ``W`` must be even.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """``x + conv3×3(ReLU(conv3×3(ReLU(x))))``, width preserved."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualImageNet(nn.Sequential):
    """Image-to-image residual net ``(B, C, H, W) → (B, C, H, W)`` (see the module docstring)."""

    def __init__(self, channels: int, hidden: int = 64, blocks: int = 2):
        if blocks < 0 or hidden < 1:
            raise ValueError(f"need hidden >= 1 and blocks >= 0, got hidden={hidden}, blocks={blocks}")
        super().__init__(
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.Conv2d(hidden, hidden, 4, stride=2, padding=1),
            *(ResBlock(hidden) for _ in range(blocks)),
            nn.ReLU(),
            nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 3, padding=1),
        )
