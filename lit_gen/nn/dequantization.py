"""Dequantization: integer pixels to continuous data and back to discrete bits/dim; variational
dequantization (Ho et al. 2019, Flow++ §3.1).

Pixels in [0, 1] (uint8 / 255) are reduced to ``n_bits`` bits (:func:`quantize`) and spread over
their bin with noise (:func:`dequantize`); :func:`to_bits_per_dim` turns the continuous density
of the result into a bound on the discrete likelihood, in bits/dim. A flow trained on integer pixels needs continuous data: ``y = (x + u) / bins`` with ``u`` in
``[0, 1)^D``. Uniform ``u`` gives the bound ``−log P(x) ≤ E_u[−log p(y)] + D log bins``, which is
tight only if the model's density is flat across each bin. A learned noise distribution
``q(u | x)`` tightens it:

    −log P(x) ≤ E_{u ~ q(u|x)} [ −log p(y) + log q(u | x) ] + D log bins.

:class:`VariationalDequantizer` draws ``u`` from ``q(u | x)`` as a flow: standard-normal ``ε``
(the image's shape), squeezed to half resolution, a per-channel scale, ``steps`` affine couplings
whose networks also see features of the squeezed image ``x``, unsqueezed, then a sigmoid into
``(0, 1)``. Only the forward direction (noise → ``u``) is ever needed: ``q`` is sampled, never
inverted. Why it matters on MNIST: most pixels sit in the lowest bin, and after the logit
pre-processing uniform noise there becomes a sharply cut-off density the flow cannot match.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lit_gen.nn.flows import coupling_net, fp32, standard_normal_logprob, widen, _squeeze, _unsqueeze
from lit_gen.utils.rng import image_keyed_noise


def quantize(x: torch.Tensor, n_bits: int) -> torch.Tensor:
    """``x`` in [0, 1] (multiples of 1/255) → integer bins ``0 … 2**n_bits − 1`` (float), same shape."""
    return torch.floor((x * 255).round() / 2 ** (8 - n_bits))


def keyed_dequantization_noise(x: torch.Tensor,
                               distribution: Literal["uniform", "normal"] = "uniform") -> torch.Tensor:
    """Evaluation noise shaped like ``x``, a fixed function of each image: ``U(0, 1)`` (uniform
    dequantization) or ``N(0, 1)`` (a variational dequantizer's input).
    :func:`~lit_gen.utils.rng.image_keyed_noise` with Glow's constants (1024 rows, seed 0, 9973)."""
    return image_keyed_noise(x, x.shape[1:], distribution=distribution)


def dequantize(x: torch.Tensor, n_bits: int, training: bool) -> torch.Tensor:
    """``x`` in [0, 1] (multiples of 1/255) → uniformly dequantized ``y`` in [−½, ½), same shape.

    Training: fresh ``U(0, 1)`` noise per pixel. Evaluation: :func:`keyed_dequantization_noise`.
    """
    noise = torch.rand_like(x) if training else keyed_dequantization_noise(x)
    return (quantize(x, n_bits) + noise) / 2 ** n_bits - 0.5


def to_bits_per_dim(log_density: torch.Tensor, num_dims: int, n_bits: int) -> torch.Tensor:
    """Continuous log-density of dequantized data (nats, ``(B,)``) → discrete bits/dim ``(B,)``:
    ``(−log p(y) + D·log 2**n_bits) / (D·log 2)``."""
    return (-log_density + num_dims * n_bits * math.log(2)) / (num_dims * math.log(2))


class ConditionalAffineCoupling(nn.Module):
    """Glow's affine coupling whose network also sees conditioning features.

    ``x (B, C, H, W)``, ``h (B, F, H, W)``: ``y₁ = x₁``, ``y₂ = (x₂ + t) · s`` with
    ``(t, raw) = NN([x₁, h])`` and ``s = sigmoid(raw + 2)``; ``logdet = Σ log s`` per sample.
    ``x₁`` is the first ``C // 2`` channels; needs ``C ≥ 2``.
    """

    def __init__(self, num_channels: int, cond_channels: int, hidden: int = 32):
        super().__init__()
        if num_channels < 2:
            raise ValueError(f"coupling needs at least 2 channels, got {num_channels}")
        self.c1 = num_channels // 2
        self.net = coupling_net(self.c1 + cond_channels, 2 * (num_channels - self.c1), hidden)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x1, x2 = x[:, : self.c1], x[:, self.c1:]
        shift, raw = widen(self.net(torch.cat([x1, h], dim=1))).chunk(2, dim=1)  # the network may be half precision
        with fp32(x):  # the log-scales are summed into the log-determinant: fp32 (lit_gen.nn.flows)
            log_scale = F.logsigmoid(raw + 2.0)
            return torch.cat([x1, (x2 + shift) * log_scale.exp()], dim=1), log_scale.flatten(1).sum(1)


class VariationalDequantizer(nn.Module):
    """Noise ``q(u | x)`` in ``(0, 1)^D`` for images ``(B, C, H, W)`` (H, W even).

    Args:
        in_shape: ``(C, H, W)`` of the images.
        hidden: width of the conditioning network and of the coupling networks.
        steps: conditional affine couplings (the channel order is reversed between them, so
            each half is transformed in turn).
    """

    def __init__(self, in_shape: Sequence[int], hidden: int = 32, steps: int = 4):
        super().__init__()
        c, h, w = in_shape
        if h % 2 or w % 2:
            raise ValueError(f"variational dequantization squeezes the image once; its side {h}×{w} must be even")
        if steps < 1 or hidden < 1:
            raise ValueError(f"dequantizer steps and hidden must be >= 1, got steps={steps}, hidden={hidden}")
        self.in_shape = (c, h, w)
        self.condition = nn.Sequential(
            nn.Conv2d(4 * c, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
        )
        # exp(log_scale) widens or narrows the noise before the couplings (whose scales are <= 1)
        self.log_scale = nn.Parameter(torch.zeros(1, 4 * c, 1, 1))
        self.couplings = nn.ModuleList(ConditionalAffineCoupling(4 * c, hidden, hidden) for _ in range(steps))

    def forward(self, eps: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standard-normal ``eps`` and the image ``x`` (same shape, ``x`` in [−½, ½)) →
        ``(u, log q(u | x))``: ``u`` of that shape in ``(0, 1)``, ``log q`` ``(B,)`` in nats."""
        log_q = standard_normal_logprob(eps)
        h = self.condition(_squeeze(x))
        v = _squeeze(eps) * self.log_scale.exp()
        logdet = self.log_scale.sum() * v[0, 0].numel() * v.new_ones(v.shape[0])
        for i, coupling in enumerate(self.couplings):
            if i:
                v = v.flip(1)  # a permutation: log|det| = 0
            v, ld = coupling(v, h)
            logdet = logdet + ld
        if len(self.couplings) % 2 == 0:
            v = v.flip(1)  # back to the squeezed layout, so each u sits where its ε and x do
        v = _unsqueeze(v)
        # u = sigmoid(v): log|du/dv| = log σ(v) + log σ(−v)
        logdet = logdet + (F.logsigmoid(v) + F.logsigmoid(-v)).flatten(1).sum(1)
        return torch.sigmoid(v), log_q - logdet
