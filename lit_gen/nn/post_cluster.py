"""The clustering post's own networks, layer for layer (Su Jianlin, "变分自编码器(四)", 2018; the
Keras code is ``vae_keras_cluster.py`` in github.com/bojone/vae).

Two versions of that file exist and differ in more than the reconstruction weight:

* ``sep`` (the September 2018 version, reconstruction weight 5): per listed width one 3×3
  stride-2 ReLU convolution; the flattened map goes straight into two dense layers (mean and
  log-variance, no hidden dense layer). The decoder is a dense layer *without* activation to the
  last map's shape, per width (reversed) one 3×3 stride-2 ReLU transposed convolution, then a
  3×3 stride-1 transposed convolution to the image channels (sigmoid applied by the likelihood).
* ``dec`` (the revised version, weight 2.5): LeakyReLU(0.2) instead of ReLU, and each stride-2
  (transposed) convolution is paired with a 3×3 stride-1 one of the same width (encoder:
  stride 2 then 1; decoder: stride 1 then 2).

Keras details kept so that the networks are the post's, not only its shapes:

* ``padding='same'`` in TensorFlow pads a stride-2 convolution of an even side on the bottom and
  right only (PyTorch's ``padding=1`` pads both sides, which shifts the sampling grid by a pixel);
  :class:`SameConv2d` and :class:`SameConvTranspose2d` pad and crop as TensorFlow does.
* Keras initialises every kernel Glorot-uniform and every bias at zero (:func:`keras_init`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

VARIANTS = ("sep", "dec")


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after) of a side of ``size`` for a forward convolution:
    output ``ceil(size / stride)``, the odd pixel of padding goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's ``padding='same'``: ``(B, C, H, W) → (B, C', ⌈H/s⌉, ⌈W/s⌉)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = _same_padding(x.shape[-2], k, s)
        left, right = _same_padding(x.shape[-1], k, s)
        if top == bottom and left == right:  # even padding (stride 1): the convolution pads, no copy
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left))
        return super().forward(F.pad(x, (left, right, top, bottom)))


class SameConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` with TensorFlow's ``padding='same'``: ``(B, C, H, W) → (B, C', sH, sW)``.

    The transpose of a 'same' convolution from ``sH`` to ``H``: the full output is cropped by that
    convolution's padding (its odd pixel at the end)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        h, w = x.shape[-2] * s, x.shape[-1] * s
        top, bottom = _same_padding(h, k, s)
        left, right = _same_padding(w, k, s)
        if top == bottom and left == right:
            # an even crop (stride 1) is the transposed convolution's own padding: no full-size
            # output and no slice, whose backward costs a zero-filled copy (same values)
            return F.conv_transpose2d(x, self.weight, self.bias, self.stride, (top, left))
        return super().forward(x)[..., top:top + h, left:left + w]


def keras_init(module: nn.Module) -> nn.Module:
    """Keras' defaults on every dense and (transposed) convolution layer of ``module``: Glorot-uniform
    kernels (the fans of Keras and PyTorch agree for all three layer types) and zero biases."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


def _check(variant: str, image_size: int, channels: Sequence[int]) -> int:
    if variant not in VARIANTS:
        raise ValueError(f"network variant must be one of {VARIANTS}, got {variant!r}")
    factor = 2 ** len(channels)
    if not channels or image_size % factor:
        raise ValueError(f"image_size {image_size} is not divisible by {factor} (= 2 ** len(channels={list(channels)}))")
    return image_size // factor


def _activation(variant: str) -> nn.Module:
    return nn.ReLU() if variant == "sep" else nn.LeakyReLU(0.2)


class PostEncoder(nn.Module):
    """``(B, C, H, W)`` image → ``(B, 2·latent_dim)``: the post's mean and log-variance, concatenated.

    Layers: per width in ``channels`` (the post: 32, 64) a 3×3 stride-2 convolution (``dec``: then a
    3×3 stride-1 one), each followed by the activation; flatten; two dense layers to ``latent_dim``.
    """

    def __init__(self, in_channels: int, image_size: int, latent_dim: int,
                 channels: Sequence[int] = (32, 64), variant: str = "sep"):
        super().__init__()
        side = _check(variant, image_size, channels)
        layers: list[nn.Module] = []
        width = in_channels
        for out in channels:
            layers += [SameConv2d(width, out, 3, stride=2), _activation(variant)]
            if variant == "dec":
                layers += [SameConv2d(out, out, 3, stride=1), _activation(variant)]
            width = out
        self.features = nn.Sequential(*layers, nn.Flatten())
        # two separate dense layers, as the post's z_mean and z_log_var (their Glorot bounds use
        # fan_out = latent_dim each, not 2·latent_dim)
        self.mean = nn.Linear(width * side * side, latent_dim)
        self.logvar = nn.Linear(width * side * side, latent_dim)
        keras_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return torch.cat([self.mean(h), self.logvar(h)], dim=1)


class PostDecoder(nn.Module):
    """``(B, latent_dim)`` code → ``(B, C, H, W)`` logits (the post's sigmoid is the likelihood's).

    Layers: a dense layer, no activation, to ``channels[-1] × H/2^n × W/2^n``; per width in
    ``channels`` reversed (the post: 64, 32) a 3×3 stride-2 transposed convolution to that width
    (``dec``: a 3×3 stride-1 one to that width, then the stride-2 one keeping it), each followed by
    the activation; a 3×3 stride-1 transposed convolution to ``out_channels``.
    """

    def __init__(self, latent_dim: int, out_channels: int, image_size: int,
                 channels: Sequence[int] = (32, 64), variant: str = "sep"):
        super().__init__()
        self.side = _check(variant, image_size, channels)
        self.width = channels[-1]
        self.stem = nn.Linear(latent_dim, self.width * self.side * self.side)
        layers: list[nn.Module] = []
        width = self.width
        for out in reversed(channels):
            # the post's loop: `filters` starts at the last encoder width and halves after each
            # block, so the widths are the encoder's reversed (64 then 32)
            if variant == "dec":  # the stride-1 layer already changes the width
                layers += [SameConvTranspose2d(width, out, 3, stride=1), _activation(variant)]
                width = out
            layers += [SameConvTranspose2d(width, out, 3, stride=2), _activation(variant)]
            width = out
        layers.append(SameConvTranspose2d(width, out_channels, 3, stride=1))
        self.body = nn.Sequential(*layers)
        keras_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(z).view(-1, self.width, self.side, self.side))


def post_classifier(latent_dim: int, hidden: int, num_clusters: int) -> nn.Sequential:
    """The post's p(y|z) logits: ``(B, latent_dim) → (B, K)``, one ``hidden``-unit ReLU layer (the
    post: 256), Keras-initialised (the softmax is applied by the caller)."""
    return keras_init(nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_clusters)))
