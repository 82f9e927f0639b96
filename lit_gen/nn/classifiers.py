"""Small image classifiers whose penultimate layer serves as a feature space for FID/KID/IS.

Both networks split into ``features`` (image → penultimate vector) and ``head`` (vector →
logits), so a feature extractor can return both without running the network twice.
"""

from __future__ import annotations

import torch
from torch import nn


class LeNet(nn.Module):
    """LeNet-style CNN for small grayscale images (MNIST-like 28×28; any side ≥ 8 works).

    ``(B, C, H, W)`` float → ``features (B, feature_dim)`` → ``logits (B, num_classes)``.
    Two 3×3 conv + pool blocks (with batch norm, for fast convergence in 2–3 epochs; ~1 M
    multiply-adds per 28×28 image at the default widths), pooled to a fixed 7×7 grid so other sides work too, then a
    ``feature_dim`` ReLU layer.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, feature_dim: int = 128,
                 widths: tuple[int, int] = (16, 32)):
        super().__init__()
        w1, w2 = widths
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w1, 3, padding=1), nn.BatchNorm2d(w1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w1, w2, 3, padding=1), nn.BatchNorm2d(w2), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(7), nn.Flatten(),
            nn.Linear(w2 * 49, feature_dim), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)
        self.feature_dim, self.num_classes = feature_dim, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)``."""
        return self.head(self.dropout(self.features(x)))


class BasicBlock(nn.Module):
    """Pre-activation-free ResNet basic block (two 3×3 convs + identity/1×1 shortcut)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class SmallResNet(nn.Module):
    """A ResNet-10-like network for 32×32 colour images (CIFAR-10).

    ``(B, 3, H, W)`` → ``features (B, widths[-1])`` (global-average-pooled) → logits.
    Three stages of one basic block each (strides 1, 2, 2).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10,
                 widths: tuple[int, int, int] = (32, 64, 128)):
        super().__init__()
        stages: list[nn.Module] = []
        c = widths[0]
        for i, w in enumerate(widths):
            stages.append(BasicBlock(c, w, stride=1 if i == 0 else 2))
            c = w
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
            nn.ReLU(), *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(c, num_classes)
        self.feature_dim, self.num_classes = c, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)``."""
        return self.head(self.features(x))


ARCHITECTURES = {"lenet": LeNet, "resnet": SmallResNet}


def build_classifier(arch: str, **kwargs) -> nn.Module:
    """``lenet`` or ``resnet`` with the given constructor arguments."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown classifier architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)
