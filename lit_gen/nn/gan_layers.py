"""Layers of PGGAN (Karras et al. 2018) that StyleGAN reuses: equalised learning rate
(:class:`EqualLinear`, :class:`EqualConv2d`), :class:`PixelNorm` and the minibatch standard
deviation layer (:class:`MinibatchStdDev`)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: the gain of He's initialiser, √(2/fan_in), for a layer followed by a (leaky) ReLU: what
#: PGGAN's and StyleGAN's code use for every such layer (``get_weight(..., gain=np.sqrt(2))``)
RELU_GAIN = math.sqrt(2)


class EqualLinear(nn.Module):
    """Linear layer with an equalised learning rate: weights stored as N(0, 1/lr_mul²) and
    scaled at run time by c = gain·lr_mul/√fan_in, so Adam's per-weight step is the same for
    every layer; ``lr_mul`` slows a layer down (StyleGAN's mapping network: 0.01).

    ``gain`` √2 makes c He's constant √(2/fan_in), which the papers use before a (leaky) ReLU
    (:data:`RELU_GAIN`); 1 suits a layer whose output is not rectified (a score, RGB, a style)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.scale, self.lr_mul = gain * lr_mul / math.sqrt(in_features), lr_mul

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, bias)


class EqualConv2d(nn.Module):
    """Conv2d (stride 1, 'same' padding) with an equalised learning rate: N(0, 1) weights scaled
    by gain/√(in·k·k) at run time (``gain`` as in :class:`EqualLinear`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale, self.padding = gain / math.sqrt(in_channels * kernel_size ** 2), kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """b = a / √(mean over channels of a² + ε), at every position (PGGAN's G, StyleGAN's z)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """PGGAN's minibatch standard deviation: the standard deviation of every feature over groups
    of ``group_size`` images, averaged over features and positions, appended as one more
    channel, constant over the image. A batch that does not divide into groups is one group."""

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        g = min(self.group_size, b)
        if b % g:
            g = b
        y = x.view(g, b // g, c, h, w)                             # group member i, group j
        std = (y.var(dim=0, unbiased=False) + self.eps).sqrt()     # (b/g, c, h, w)
        stat = std.mean(dim=(1, 2, 3))                              # one value per group
        stat = stat.view(1, b // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(b, 1, h, w)
        return torch.cat([x, stat], dim=1)
