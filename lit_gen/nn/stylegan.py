"""A small StyleGAN generator for 28 or 32 px images (Karras et al. 2019, with StyleGAN2's
modulated convolutions): ``GAN(arch="stylegan")``.

- Mapping network f: z → w, pixel norm then ``n_mlp`` equalised linear layers with LeakyReLU
  0.2 (He's gain √2) and a learning-rate multiplier of 0.01 (as in the papers).
- Synthesis network: a learned constant (4×4 for 32 px, 7×7 for 28 px), then per resolution
  one (4×4) or two (above) :class:`StyleLayer` s — a modulated 3×3 convolution whose input
  channels are scaled by an affine map of that layer's w and whose output is demodulated,
  plus per-pixel noise with a learned strength per layer (StyleGAN2; StyleGAN had one per
  channel), a bias and LeakyReLU·√2 — and a modulated 1×1 convolution to RGB, then tanh (the
  images of every lit-gen generator are in [−1, 1]).
- Style mixing: in training, with probability ``mixing_prob`` the batch's styles switch from
  w₁ = f(z₁) to w₂ = f(z₂) at a random layer (``forward(z, mix_z=..., cutoff=...)`` does it on
  request).
- Truncation in W: ``forward(z, psi=ψ)`` uses w' = w̄ + ψ(w − w̄), w̄ the moving average of w
  tracked in training (decay ``w_avg_beta``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gen.nn.gan_layers import RELU_GAIN, EqualLinear, PixelNorm

#: image side → (side of the constant input, number of 2× up-sampling stages)
STYLEGAN_SIDES = {28: (7, 2), 32: (4, 3)}
NoiseMode = Literal["random", "const", "none"]


class MappingNetwork(nn.Sequential):
    def __init__(self, latent_dim: int, w_dim: int, n_mlp: int = 4, lr_mul: float = 0.01):
        layers: list[nn.Module] = [PixelNorm()]
        for i in range(n_mlp):
            # He's gain √2 before each leaky ReLU, as in the authors' mapping network: without it w
            # shrinks by about √2 per layer at initialisation
            layers += [EqualLinear(latent_dim if i == 0 else w_dim, w_dim, lr_mul=lr_mul, gain=RELU_GAIN),
                       nn.LeakyReLU(0.2)]
        super().__init__(*layers)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated convolution: w' = s_i·w (s = affine(style), one scale per input
    channel), demodulated w'' = w' / √(Σ w'² + ε) per output channel, as one grouped conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 upsample: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)    # styles start at 1
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.demodulate, self.upsample, self.padding = demodulate, upsample, kernel_size // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        b, c, h, wd = x.shape
        s = self.affine(w)                                               # (B, in)
        weight = self.scale * self.weight[None] * s[:, None, :, None, None]   # (B, out, in, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            h, wd = 2 * h, 2 * wd
        out = F.conv2d(x.reshape(1, b * c, h, wd), weight.reshape(-1, c, *weight.shape[3:]), padding=self.padding,
                       groups=b)
        return out.view(b, -1, h, wd)


class StyleLayer(nn.Module):
    """Modulated 3×3 conv (optionally after 2× up-sampling) + noise·strength + bias, LeakyReLU·√2."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, side: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, upsample=upsample)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("noise_const", torch.randn(1, 1, side, side))

    def forward(self, x: Tensor, w: Tensor, noise: NoiseMode = "random") -> Tensor:
        x = self.conv(x, w)
        if noise == "random":
            x = x + self.noise_strength * torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        elif noise == "const":
            x = x + self.noise_strength * self.noise_const
        return F.leaky_relu(x + self.bias[:, None, None], 0.2) * math.sqrt(2)


class StyleGenerator(nn.Module):
    """``forward(z) → images (B, C, H, W)`` in [−1, 1]; see the module docstring.

    Args:
        latent_dim: size of z; w_dim: size of w (default ``latent_dim``).
        out_channels, image_size: 28 or 32 px.
        width: channels at the full resolution; each stage below doubles them (32 px, width 32:
            256 at 4×4, 128, 64, 32).
        n_mlp: layers of the mapping network. mixing_prob: style mixing probability in training.
        w_avg_beta: decay of the tracked mean w̄ used by truncation.
    """

    def __init__(self, latent_dim: int = 64, out_channels: int = 1, image_size: int = 32, width: int = 32,
                 w_dim: int | None = None, n_mlp: int = 4, mixing_prob: float = 0.9, w_avg_beta: float = 0.995):
        super().__init__()
        if image_size not in STYLEGAN_SIDES:
            raise ValueError(f"the StyleGAN generator supports image_size {sorted(STYLEGAN_SIDES)}, got {image_size}")
        if not 0.0 <= mixing_prob <= 1.0:
            raise ValueError(f"mixing_prob must be in [0, 1], got {mixing_prob}")
        side, n_up = STYLEGAN_SIDES[image_size]
        w_dim = w_dim or latent_dim
        widths = [width * 2 ** (n_up - i) for i in range(n_up + 1)]
        self.mapping = MappingNetwork(latent_dim, w_dim, n_mlp)
        self.const = nn.Parameter(torch.randn(1, widths[0], side, side))
        layers = [StyleLayer(widths[0], widths[0], w_dim, side)]
        for i in range(1, n_up + 1):
            s = side * 2 ** i
            layers += [StyleLayer(widths[i - 1], widths[i], w_dim, s, upsample=True),
                       StyleLayer(widths[i], widths[i], w_dim, s)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = ModulatedConv2d(widths[-1], out_channels, 1, w_dim, demodulate=False)
        self.rgb_bias = nn.Parameter(torch.zeros(out_channels))
        self.num_ws = len(self.layers) + 1
        self.mixing_prob, self.w_avg_beta = mixing_prob, w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    @staticmethod
    def mix_styles(ws: Tensor, ws2: Tensor, cutoff: int) -> Tensor:
        """Styles of layers ``< cutoff`` from ``ws``, the rest from ``ws2`` (``(B, num_ws, w_dim)``)."""
        return torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)

    def truncate(self, ws: Tensor, psi: float) -> Tensor:
        """w' = w̄ + ψ(w − w̄)."""
        if not 0.0 <= float(psi) <= 1.0:
            raise ValueError(f"psi (truncation in W) must be in [0, 1] (1 = none, 0 = the mean w), got {psi}")
        return self.w_avg + psi * (ws - self.w_avg)

    def styles(self, z: Tensor, track: bool = True) -> Tensor:
        """``(B, num_ws, w_dim)``: w = f(z) for every layer; in training, also tracks w̄."""
        w = self.mapping(z)
        if self.training and track:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0), 1 - self.w_avg_beta)
        return w[:, None].expand(-1, self.num_ws, -1)

    def synthesis(self, ws: Tensor, noise: NoiseMode = "random") -> Tensor:
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise)
        return torch.tanh(self.to_rgb(x, ws[:, -1]) + self.rgb_bias[:, None, None])

    def forward(self, z: Tensor, psi: float | None = None, noise: NoiseMode = "random", mix_z: Tensor | None = None,
                cutoff: int | None = None) -> Tensor:
        ws = self.styles(z)
        if mix_z is None and self.training and self.mixing_prob > 0 and float(torch.rand(())) < self.mixing_prob:
            mix_z, cutoff = torch.randn_like(z), int(torch.randint(1, self.num_ws, ()))
        if mix_z is not None:
            ws = self.mix_styles(ws, self.styles(mix_z, track=False), self.num_ws if cutoff is None else cutoff)
        if psi is not None:
            ws = self.truncate(ws, psi)
        return self.synthesis(ws, noise)
