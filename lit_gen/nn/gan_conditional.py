"""Class-conditional GAN networks: a DCGAN generator with class-conditional batch norm (and
BigGAN's shared embedding with hierarchical z), and the projection discriminator's head
(Miyato & Koyama 2018).

``ConditionalDCGANGenerator(z, y)`` has the layout of :class:`lit_gen.nn.gan.DCGANGenerator`
(linear → n transposed convs → tanh), with every batch norm replaced by a conditional one
whose gain and shift come from the class:

- plain (``shared_dim=0``): each layer has its own embedding of y into (γ, β), γ starting at 1;
- BigGAN (``shared_dim > 0``): one embedding e(y) shared by all layers, each layer a linear
  map of its conditioning vector to (γ − 1, β); with ``hierarchical=True`` z is split into
  one chunk for the stem and one per conditional layer, and each layer's conditioning vector
  is [e(y), z_chunk].
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lit_gen.nn.gan import _stages, _up


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine, then γ(c)·x̂ + β(c).

    ``num_classes``: c is a label tensor ``(B,)`` and (γ, β) come from an embedding (γ rows
    start at 1, β at 0). ``cond_dim``: c is a vector ``(B, cond_dim)`` and γ = 1 + linear(c),
    β = linear(c) (BigGAN's ccbn), bias-free linear maps with PyTorch's default initialisation.
    """

    def __init__(self, num_features: int, num_classes: int | None = None, cond_dim: int | None = None):
        super().__init__()
        if (num_classes is None) == (cond_dim is None):
            raise ValueError("ConditionalBatchNorm2d takes exactly one of num_classes and cond_dim")
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        if num_classes is not None:
            self.embed = nn.Embedding(num_classes, 2 * num_features)
            with torch.no_grad():
                self.embed.weight[:, :num_features].fill_(1.0)
                self.embed.weight[:, num_features:].zero_()
        else:
            self.linear = nn.Linear(cond_dim, 2 * num_features, bias=False)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        if hasattr(self, "embed"):
            gamma, beta = self.embed(c).chunk(2, dim=1)
        else:
            gain, beta = self.linear(c).chunk(2, dim=1)
            gamma = 1 + gain
        return self.bn(x) * gamma[:, :, None, None] + beta[:, :, None, None]


class ConditionalDCGANGenerator(nn.Module):
    """DCGAN generator conditioned on labels ``y`` ``(B,)`` through conditional batch norm.

    Args:
        latent_dim, out_channels, image_size, width, kernel_size: as :class:`DCGANGenerator`.
        num_classes: number of classes.
        shared_dim: size of BigGAN's shared class embedding (0 = one embedding per layer).
        hierarchical: split z over the stem and the conditional layers (needs ``shared_dim``).
    """

    def __init__(self, latent_dim: int = 64, out_channels: int = 1, image_size: int = 28, width: int = 64,
                 kernel_size: int = 4, num_classes: int = 10, shared_dim: int = 0, hierarchical: bool = False):
        super().__init__()
        if hierarchical and shared_dim <= 0:
            raise ValueError("hierarchical z (BigGAN) feeds each layer [shared embedding, z chunk]: "
                             "set shared_dim > 0 too")
        n = _stages(image_size)
        self.side, self.top = image_size // 2 ** n, width * 2 ** (n - 1)
        widths = [self.top // 2 ** i for i in range(n)]  # the n conditional layers' channels
        self.hierarchical = hierarchical
        if hierarchical:
            chunk = latent_dim // (n + 1)
            if chunk < 1:
                raise ValueError(f"hierarchical z needs latent_dim >= {n + 1} (one chunk per layer + the stem), "
                                 f"got {latent_dim}")
            self.z_split = [latent_dim - n * chunk] + [chunk] * n
        else:
            self.z_split = [latent_dim]
        self.shared = nn.Embedding(num_classes, shared_dim) if shared_dim > 0 else None
        cond_dim = shared_dim + (self.z_split[1] if hierarchical else 0)

        def norm(w: int) -> ConditionalBatchNorm2d:
            if shared_dim > 0:
                return ConditionalBatchNorm2d(w, cond_dim=cond_dim)
            return ConditionalBatchNorm2d(w, num_classes=num_classes)

        self.stem = nn.Linear(self.z_split[0], self.top * self.side ** 2, bias=False)
        self.norms = nn.ModuleList(norm(w) for w in widths)
        self.ups = nn.ModuleList(_up(w, w // 2, kernel_size, False) for w in widths[:-1])
        self.out = _up(widths[-1], out_channels, kernel_size, True)

    def conditions(self, z: Tensor, y: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The stem's input and each conditional layer's conditioning (labels or vectors)."""
        chunks = list(z.split(self.z_split, dim=1))
        if self.shared is None:
            return chunks[0], [y] * len(self.norms)
        e = self.shared(y)
        if not self.hierarchical:
            return chunks[0], [e] * len(self.norms)
        return chunks[0], [torch.cat([e, c], dim=1) for c in chunks[1:]]

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        z0, conds = self.conditions(z, y)
        h = self.stem(z0).view(-1, self.top, self.side, self.side)
        for i, norm in enumerate(self.norms):
            h = torch.relu(norm(h, conds[i]))
            h = self.ups[i](h) if i < len(self.ups) else self.out(h)
        return torch.tanh(h)


class ProjectionHead(nn.Module):
    """Projection discriminator head: score = ψ(φ(x)) + ⟨embed(y), φ(x)⟩, ψ linear.

    ``forward(features (B, F), y (B,)) → (B, 1)``, like the plain linear head.
    """

    def __init__(self, feature_dim: int, num_classes: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(feature_dim, 1, bias=bias)
        self.embed = nn.Embedding(num_classes, feature_dim)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, h: Tensor, y: Tensor) -> Tensor:
        return self.linear(h) + (self.embed(y) * h).sum(1, keepdim=True)
