"""GAN networks: DCGAN generator/discriminator for 28, 32 and 64 pixel images, the SNGAN ResNet
for 32×32 (Miyato et al. 2018, as in mimicry), and the variational discriminator bottleneck head.

Generators map ``(B, latent_dim)`` noise to ``(B, C, H, W)`` images in [−1, 1] (tanh).
Discriminators are split into a ``body`` ``(B, C, H, W) → (B, feature_dim)`` and a head, so the
GAN module can swap the linear head for a :class:`VDBHead`.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: stride-2 up/down-sampling stages per supported image side (DCGAN)
DCGAN_STAGES = {28: 2, 32: 3, 64: 4}


def _stages(image_size: int) -> int:
    if image_size not in DCGAN_STAGES:
        raise ValueError(f"DCGAN networks support image_size {sorted(DCGAN_STAGES)}, got {image_size}")
    return DCGAN_STAGES[image_size]


def _up(w_in: int, w_out: int, kernel_size: int, bias: bool) -> nn.ConvTranspose2d:
    """Stride-2 transposed conv that doubles the side exactly (Keras ``padding='same'``)."""
    if kernel_size not in (4, 5):
        raise ValueError(f"kernel_size must be 4 or 5, got {kernel_size}")
    # k 4: (s−1)·2 − 2 + 4 = 2s; k 5: (s−1)·2 − 4 + 5 + 1 = 2s
    return nn.ConvTranspose2d(w_in, w_out, kernel_size, 2, kernel_size // 2 - (kernel_size == 4),
                              output_padding=kernel_size % 2, bias=bias)


def _down(w_in: int, w_out: int, kernel_size: int, bias: bool) -> nn.Conv2d:
    """Stride-2 conv that halves an even side exactly."""
    if kernel_size not in (4, 5):
        raise ValueError(f"kernel_size must be 4 or 5, got {kernel_size}")
    return nn.Conv2d(w_in, w_out, kernel_size, 2, kernel_size // 2 - (kernel_size == 4), bias=bias)


class DCGANGenerator(nn.Module):
    """Linear → (w·2^(n−1), s, s) → n transposed convs (BN, ReLU) doubling the side → tanh.

    ``n`` = 2 for 28 px (7 → 14 → 28), 3 for 32 px (4 → 32), 4 for 64 px. ``kernel_size`` 4
    (the DCGAN default) or 5 (Su's GAN-QP and WGAN-div code, Keras ``padding='same'``).
    """

    def __init__(self, latent_dim: int = 64, out_channels: int = 1, image_size: int = 28, width: int = 64,
                 kernel_size: int = 4):
        super().__init__()
        n = _stages(image_size)
        self.side, self.top = image_size // 2 ** n, width * 2 ** (n - 1)
        self.stem = nn.Sequential(nn.Linear(latent_dim, self.top * self.side ** 2, bias=False),
                                  nn.BatchNorm1d(self.top * self.side ** 2), nn.ReLU(True))
        layers: list[nn.Module] = []
        w = self.top
        for i in range(n - 1):  # no conv bias before BN: BN's shift subsumes it
            layers += [_up(w, w // 2, kernel_size, False), nn.BatchNorm2d(w // 2), nn.ReLU(True)]
            w //= 2
        layers += [_up(w, out_channels, kernel_size, True), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.stem(z).view(-1, self.top, self.side, self.side))


class DCGANDiscriminator(nn.Module):
    """n stride-2 convs with LeakyReLU 0.2 → flatten (or mean over positions) = ``body``;
    ``head`` = linear to one score.

    Args:
        kernel_size: 4 (DCGAN) or 5 (Su's code).
        norm: ``none`` (default: batch norm makes a sample's score depend on its batch, which
            breaks per-sample gradient penalties) or ``batch``: BatchNorm after every conv but
            the first, as in DCGAN and in Su's GAN-QP and WGAN-div code.
        bias: biases in the convs and the head (Su's code has none).
        pool: ``flatten`` the last feature map, or ``mean`` it over positions (Su's WGAN-div
            code: global average pooling).
        dropout: if > 0, dropout with this rate after every LeakyReLU (CT-GAN's critic: 0.5);
            0 (default) adds no layer, so the layout and state-dict keys are unchanged.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, width: int = 64, kernel_size: int = 4,
                 norm: Literal["none", "batch"] = "none", bias: bool = True,
                 pool: Literal["flatten", "mean"] = "flatten", dropout: float = 0.0):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if norm not in ("none", "batch"):
            raise ValueError(f"norm must be 'none' or 'batch', got {norm!r}")
        if pool not in ("flatten", "mean"):
            raise ValueError(f"pool must be 'flatten' or 'mean', got {pool!r}")
        n = _stages(image_size)
        layers: list[nn.Module] = []
        w_in, w = in_channels, width
        for i in range(n):
            layers.append(_down(w_in, w, kernel_size, bias))
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2, True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            w_in, w = w, w * 2
        if pool == "mean":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            self.feature_dim = w_in
        else:
            layers.append(nn.Flatten())
            self.feature_dim = w_in * (image_size // 2 ** n) ** 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(self.feature_dim, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x)).squeeze(1)


def init_weights(generator: nn.Module, discriminator: nn.Module, scheme: str) -> None:
    """Re-initialise both networks' weights in place.

    ``torch``: leave PyTorch's defaults. ``keras``: Keras' defaults (Glorot-uniform weights, zero
    biases), as in Su's GAN-QP code. ``dcgan``: N(0, 0.02) for convolutions and the generator's
    linear layer, Keras' defaults for the discriminator's linear head, as in Su's WGAN-div code.
    BatchNorm layers keep weight 1, bias 0 in every scheme.
    """
    if scheme == "torch":
        return
    if scheme not in ("keras", "dcgan"):
        raise ValueError(f"init must be 'torch', 'keras' or 'dcgan', got {scheme!r}")
    for net in (generator, discriminator):
        for m in net.modules():
            if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                continue
            weight = getattr(m, "parametrizations", None)
            weight = weight.weight.original if weight is not None else m.weight
            normal = scheme == "dcgan" and (not isinstance(m, nn.Linear) or net is generator)
            if normal:
                nn.init.normal_(weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ----- SNGAN ResNet for 32×32 (Miyato et al. 2018, appendix; mimicry's sngan_32) -----
class _GBlock(nn.Module):
    def __init__(self, w: int):
        super().__init__()
        self.b1, self.c1 = nn.BatchNorm2d(w), nn.Conv2d(w, w, 3, 1, 1)
        self.b2, self.c2 = nn.BatchNorm2d(w), nn.Conv2d(w, w, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.b1(x)), scale_factor=2)
        h = self.c2(F.relu(self.b2(self.c1(h))))
        return h + F.interpolate(x, scale_factor=2)  # the width is constant: identity shortcut


class _DBlock(nn.Module):
    def __init__(self, w_in: int, w: int, down: bool, first: bool):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(w_in, w, 3, 1, 1), nn.Conv2d(w, w, 3, 1, 1)
        self.sc = nn.Conv2d(w_in, w, 1) if (w_in != w or down) else None
        self.down, self.first = down, first

    def forward(self, x: Tensor) -> Tensor:
        h = self.c2(F.relu(self.c1(x if self.first else F.relu(x))))
        s = x
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.sc is not None:  # optimised first block pools before its shortcut conv
            s = self.sc(F.avg_pool2d(s, 2) if self.first else s)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator32(nn.Module):
    """SNGAN ResNet generator: linear → 4×4×w → 3 up-blocks → BN, ReLU, conv3 → tanh."""

    def __init__(self, latent_dim: int = 128, out_channels: int = 3, image_size: int = 32, width: int = 256):
        super().__init__()
        if image_size != 32:
            raise ValueError(f"the ResNet generator is for 32×32 images, got image_size {image_size}")
        self.width = width
        self.stem = nn.Linear(latent_dim, 16 * width)
        self.blocks = nn.Sequential(_GBlock(width), _GBlock(width), _GBlock(width))
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(True),
                                 nn.Conv2d(width, out_channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.out(self.blocks(self.stem(z).view(-1, self.width, 4, 4)))


class ResNetDiscriminator32(nn.Module):
    """SNGAN ResNet discriminator: 4 blocks (2 down-sampling), ReLU, global sum pool = ``body``."""

    def __init__(self, in_channels: int = 3, image_size: int = 32, width: int = 128):
        super().__init__()
        if image_size != 32:
            raise ValueError(f"the ResNet discriminator is for 32×32 images, got image_size {image_size}")
        self.blocks = nn.Sequential(_DBlock(in_channels, width, True, True), _DBlock(width, width, True, False),
                                    _DBlock(width, width, False, False), _DBlock(width, width, False, False))
        self.feature_dim = width
        self.head = nn.Linear(width, 1)

    def body(self, x: Tensor) -> Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x)).squeeze(1)


class VDBHead(nn.Module):
    """Variational discriminator bottleneck (Peng et al. 2019): features → q(z|x) = N(μ, σ²) →
    one score from a linear layer on z (sampled in the D step, μ when ``sample=False``).

    ``forward(h) → (scores (B,), kl (B,))`` with kl = KL(q(z|x) ‖ N(0, I)) in nats.
    """

    def __init__(self, feature_dim: int, bottleneck_dim: int = 32):
        super().__init__()
        self.encode = nn.Linear(feature_dim, 2 * bottleneck_dim)
        self.score = nn.Linear(bottleneck_dim, 1)

    def forward(self, h: Tensor, sample: bool = True) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encode(h).chunk(2, dim=1)
        logvar = logvar.clamp(-12.0, 8.0)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return self.score(z).squeeze(1), kl
