"""Progressive GAN networks (Karras et al. 2018) for 32 px images, grown 8 → 16 → 32 with a
fade-in α (:class:`lit_gen.models.ProgressiveGAN` schedules it).

Both networks are built for the full size and run at ``resolution`` ∈ {8, 16, 32} with
``alpha`` ∈ [0, 1], set with :meth:`set_stage`. Every layer has an equalised learning rate
(:mod:`lit_gen.nn.gan_layers`); G normalises each pixel's feature vector after every conv
(pixel norm); D ends with the minibatch standard deviation layer.

Fade-in (paper, fig. 2): while a new block of resolution r is added,

    G(z) = (1 − α) · up(toRGB_{r/2}(h_{r/2})) + α · toRGB_r(block_r(up(h_{r/2})))
    D(x) = rest(  (1 − α) · fromRGB_{r/2}(down(x)) + α · block_r(fromRGB_r(x))  )

so α = 0 is the network of the lower resolution (its output up-sampled) and α = 1 the new one.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from lit_gen.nn.gan_layers import RELU_GAIN, EqualConv2d, EqualLinear, MinibatchStdDev, PixelNorm

#: the resolutions a 32 px model grows through (the 4×4 base block is always there)
PG_RESOLUTIONS = (8, 16, 32)


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2)


def up(x: Tensor) -> Tensor:
    """2× nearest-neighbour up-sampling (PGGAN)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def down(x: Tensor) -> Tensor:
    """2× average pooling (PGGAN)."""
    return F.avg_pool2d(x, 2)


class _Staged(nn.Module):
    resolution: int = 32
    alpha: float = 1.0

    def set_stage(self, resolution: int, alpha: float = 1.0) -> None:
        if resolution not in PG_RESOLUTIONS:
            raise ValueError(f"resolution must be one of {PG_RESOLUTIONS}, got {resolution}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"fade-in alpha must be in [0, 1], got {alpha}")
        self.resolution, self.alpha = resolution, float(alpha)

    @property
    def level(self) -> int:
        """Index of the current resolution's block: 4 px → 0, 8 → 1, 16 → 2, 32 → 3."""
        return {4: 0, 8: 1, 16: 2, 32: 3}[self.resolution]


class PGGenerator(_Staged):
    """z → pixel norm → 4×4 base (linear, conv) → blocks (up, conv, conv) → 1×1 toRGB per level."""

    def __init__(self, latent_dim: int = 64, out_channels: int = 3, image_size: int = 32, width: int = 16):
        super().__init__()
        if image_size != 32:
            raise ValueError(f"the progressive GAN grows to 32 px, got image_size {image_size}")
        widths = [width * 8, width * 4, width * 2, width]         # 4, 8, 16, 32 px
        self.base_width = widths[0]
        # gains as in the authors' code: He's √2 before every leaky ReLU, √2/4 for the dense 4×4
        # base (its 16 positions share one fan-in), 1 for toRGB
        self.base = EqualLinear(latent_dim, widths[0] * 16, gain=RELU_GAIN / 4)
        self.base_conv = EqualConv2d(widths[0], widths[0], 3, gain=RELU_GAIN)
        self.blocks = nn.ModuleList(
            nn.Sequential(EqualConv2d(widths[i - 1], widths[i], 3, gain=RELU_GAIN), _lrelu(), PixelNorm(),
                          EqualConv2d(widths[i], widths[i], 3, gain=RELU_GAIN), _lrelu(), PixelNorm())
            for i in range(1, 4))
        self.to_rgb = nn.ModuleList(EqualConv2d(w, out_channels, 1) for w in widths)
        self.norm, self.act = PixelNorm(), _lrelu()

    def features(self, z: Tensor, level: int) -> Tensor:
        """Features of resolution 4·2^level (before toRGB)."""
        h = self.norm(self.act(self.base(self.norm(z)).view(-1, self.base_width, 4, 4)))
        h = self.norm(self.act(self.base_conv(h)))
        for i in range(level):
            h = self.blocks[i](up(h))
        return h

    def forward(self, z: Tensor) -> Tensor:
        level = self.level
        h_low = self.features(z, level - 1)
        high = self.to_rgb[level](self.blocks[level - 1](up(h_low)))
        if self.alpha >= 1.0:
            return high
        low = up(self.to_rgb[level - 1](h_low))
        return (1 - self.alpha) * low + self.alpha * high


class PGDiscriminator(_Staged):
    """1×1 fromRGB per level → blocks (conv, conv, down) → minibatch std, conv, linear = ``body``;
    ``head`` = linear to one score (the interface the GAN module expects)."""

    def __init__(self, in_channels: int = 3, image_size: int = 32, width: int = 16, group_size: int = 4):
        super().__init__()
        if image_size != 32:
            raise ValueError(f"the progressive GAN grows to 32 px, got image_size {image_size}")
        widths = [width * 8, width * 4, width * 2, width]
        # gains as in the authors' code: He's √2 before every leaky ReLU, 1 for the score
        self.from_rgb = nn.ModuleList(nn.Sequential(EqualConv2d(in_channels, w, 1, gain=RELU_GAIN), _lrelu())
                                      for w in widths)
        self.blocks = nn.ModuleList(   # blocks[i - 1] takes resolution 4·2^i down to 4·2^(i−1)
            nn.Sequential(EqualConv2d(widths[i], widths[i], 3, gain=RELU_GAIN), _lrelu(),
                          EqualConv2d(widths[i], widths[i - 1], 3, gain=RELU_GAIN), _lrelu())
            for i in range(1, 4))
        self.final = nn.Sequential(MinibatchStdDev(group_size),
                                   EqualConv2d(widths[0] + 1, widths[0], 3, gain=RELU_GAIN), _lrelu(),
                                   nn.Flatten(), EqualLinear(widths[0] * 16, widths[0], gain=RELU_GAIN), _lrelu())
        self.feature_dim = widths[0]
        self.head = EqualLinear(widths[0], 1)

    def rest(self, h: Tensor, level: int) -> Tensor:
        """From features of resolution 4·2^level down to the ``feature_dim`` vector."""
        for i in range(level, 0, -1):
            h = down(self.blocks[i - 1](h))
        return self.final(h)

    def body(self, x: Tensor) -> Tensor:
        level = self.level
        h = down(self.blocks[level - 1](self.from_rgb[level](x)))
        if self.alpha < 1.0:
            h = (1 - self.alpha) * self.from_rgb[level - 1](down(x)) + self.alpha * h
        return self.rest(h, level - 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x)).squeeze(1)
