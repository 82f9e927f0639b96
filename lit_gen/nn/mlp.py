"""A plain multi-layer perceptron on flattened inputs (the VIB paper's 784-1024-1024 encoder)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """``(B, ...)`` input, flattened to ``(B, in_features)`` → ``(B, out_features)``.

    ``hidden`` lists the widths of the ReLU layers; the last layer is linear (no activation).
    ``dropout`` > 0 drops each hidden unit with that probability in training (after its ReLU);
    at 0 no dropout layer is built.
    """

    def __init__(self, in_features: int, out_features: int, hidden: Sequence[int] = (1024, 1024),
                 dropout: float = 0.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
