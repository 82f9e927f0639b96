"""Convolutional encoder/decoder pairs for small images (28×28, 32×32, any side divisible by 4)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ConvEncoder(nn.Module):
    """``(B, C, H, W)`` image → ``(B, out_features)``.

    One 4×4 stride-2 convolution with LeakyReLU(0.2) per listed width (H → H/2 → H/4 for two
    widths), then a ``hidden``-unit LeakyReLU dense layer and a linear layer to ``out_features``.
    ``H`` and ``W`` must be divisible by ``2 ** len(channels)``.
    """

    def __init__(self, in_channels: int, image_size: int, out_features: int,
                 channels: Sequence[int] = (32, 64), hidden: int = 256):
        super().__init__()
        factor = 2 ** len(channels)
        if image_size % factor:
            raise ValueError(f"image_size {image_size} is not divisible by {factor} "
                             f"(= 2 ** len(channels={list(channels)}))")
        layers: list[nn.Module] = []
        width = in_channels
        for out in channels:
            layers += [nn.Conv2d(width, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            width = out
        side = image_size // factor
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(nn.Linear(width * side * side, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """``(B, in_features)`` code → ``(B, C, H, W)`` logits/means (no output activation)."""

    def __init__(self, in_features: int, out_channels: int, image_size: int,
                 channels: Sequence[int] = (64, 32), hidden: int = 256):
        super().__init__()
        factor = 2 ** len(channels)
        if image_size % factor:
            raise ValueError(f"image_size {image_size} is not divisible by {factor}")
        self.side, self.width = image_size // factor, channels[0]
        self.stem = nn.Sequential(
            nn.Linear(in_features, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, self.width * self.side * self.side), nn.LeakyReLU(0.2),
        )
        layers: list[nn.Module] = []
        widths = list(channels) + [out_channels]
        for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1))
            if i < len(widths) - 2:
                layers.append(nn.LeakyReLU(0.2))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(-1, self.width, self.side, self.side)
        return self.body(h)
