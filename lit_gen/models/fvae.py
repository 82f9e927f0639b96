"""f-VAE (Su & Wu 2018, "f-VAEs: Improve VAEs with Conditional Flows").

The posterior is a conditional flow, ``z = F(h)``, ``h = σ₁u + E(x)``, ``u ~ N(0, I)``, with
``z`` the same size as ``x`` (no bottleneck); the likelihood is ``N(x; G(h), σ₂²I)`` and the
prior ``p(z) = N(0, I)``. The per-image negative ELBO, in nats, is

    ‖G(h) − x‖²/(2σ₂²) + D·log σ₂ + (D/2)·log 2π            (reconstruction, −log p(x|z))
  + ½‖F(h)‖² − log|det ∂F/∂h| − D·log σ₁ − ½‖u‖²           (KL(q(z|x) ‖ p(z)), one sample)

(the two ``(D/2)·log 2π`` of log p(z) and log q(z|x) cancel). As for :class:`~lit_gen.models.Glow`
pixels are uniformly dequantized, so the bound converts to discrete bits/dim (``*/bpd``: an
upper bound, directly comparable with Glow's). Sampling: ``z ~ N(0, T²I)``, ``x = G(F⁻¹(z))``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from lit_gen.losses.gaussian import LOG_2PI
from lit_gen.models.base import StagedLossModule, adam_with_linear_warmup, check_lr_schedule, epoch_means
from lit_gen.nn.dequantization import dequantize, to_bits_per_dim
from lit_gen.nn.flows import GlowFlow
from lit_gen.nn.fvae import ResidualImageNet
from lit_gen.utils.checks import check_finite, check_image_shape
from lit_gen.utils.rng import image_keyed_noise


class FVAE(StagedLossModule):
    """f-VAE for ``in_channels × image_size × image_size`` images in [0, 1].

    Args:
        in_channels: image channels (1 for MNIST, 3 for CIFAR-10).
        image_size: image side; divisible by ``2 ** levels``.
        hidden: width of the residual encoder E and decoder G.
        blocks: residual blocks in E and in G.
        levels: scales of the flow F.
        steps: flow steps per scale.
        flow_hidden: coupling-network width of F.
        coupling: ``additive`` (the paper) or ``affine``.
        sigma1: initial σ₁ (posterior noise scale, learned).
        sigma2: initial σ₂ (pixel std of the likelihood, learned; pixels in [0, 1]).
        per_channel_sigma: learn one σ₁ and one σ₂ per image channel (``(C,)`` parameters, as an
            ActNorm scale without shift) instead of one scalar each. The author's code
            (bojone/flow ``f-VAEs.py``) reshapes to a trailing axis of size 1 before its
            ``Actnorm``, so it learns scalars; this is an extension. On 1-channel images the two
            are the same model.
        lr: Adam learning rate (linear warm-up over ``warmup_steps``).
        warmup_steps: optimizer steps of warm-up.
        lr_schedule: ``constant`` after the warm-up, or ``cosine``: the rate falls to 0 as the
            trainer's budget runs out, by steps (``max_epochs``/``max_steps``) or by the
            ``max_time`` clock, whichever ends first (wall-clock budgets are the cpu suite's).
        lr_decay_start: with ``cosine``, the fraction of the budget the rate stays at ``lr`` before
            the cosine begins (0: right after the warm-up; 0.7: full rate for 70 % of the budget,
            then down to 0, a warmup-stable-decay schedule).
    """

    #: read by the bench's ``bpd`` metric: the test bits/dim is a negative ELBO (an upper bound)
    exact_density = False

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        hidden: int = 64,
        blocks: int = 2,
        levels: int = 2,
        steps: int = 4,
        flow_hidden: int = 64,
        coupling: Literal["additive", "affine"] = "additive",
        sigma1: float = 0.1,
        sigma2: float = 0.1,
        lr: float = 1e-3,
        warmup_steps: int = 200,
        lr_schedule: Literal["constant", "cosine"] = "constant",
        lr_decay_start: float = 0.0,
        per_channel_sigma: bool = False,
    ):
        super().__init__()
        check_lr_schedule(lr_schedule, lr_decay_start)
        if sigma1 <= 0 or sigma2 <= 0:
            raise ValueError(f"sigma1 and sigma2 must be > 0, got {sigma1}, {sigma2}")
        self.save_hyperparameters()
        self.encoder = ResidualImageNet(in_channels, hidden, blocks)
        self.decoder = ResidualImageNet(in_channels, hidden, blocks)
        self.flow = GlowFlow(self.image_shape, levels, steps, flow_hidden, coupling)
        # scalars by default (the checkpoints' shapes); (C,) with per_channel_sigma
        shape = (in_channels,) if per_channel_sigma else ()
        self.log_sigma1 = nn.Parameter(torch.full(shape, math.log(sigma1)))
        self.log_sigma2 = nn.Parameter(torch.full(shape, math.log(sigma2)))
        self.epoch_means = epoch_means(("nelbo", "recon", "kl", "bpd"))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.hparams.in_channels, self.hparams.image_size, self.hparams.image_size)

    def posterior_noise(self, y: torch.Tensor) -> torch.Tensor:
        """``u ~ N(0, I)`` shaped like ``y``; in evaluation a fixed function of each image."""
        if self.training:
            return torch.randn_like(y)
        # f-VAE's own constants (seed 1, 7919), not Glow's: they fix the noise of stored results
        return image_keyed_noise(y, y.shape[1:], distribution="normal", seed=1, hash_scale=7919.0)

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-image ``recon``, ``kl``, ``nelbo`` (nats) and ``bpd`` (bits/dim), each ``(B,)``."""
        y = dequantize(x, 8, self.training) + 0.5  # in [0, 1), like x
        d = y[0].numel()
        u = self.posterior_noise(y)
        if self.log_sigma1.dim():  # per channel: (C, 1, 1) scales, Σ_c H·W·log σ_c over the D dims
            log_s1, log_s2 = self.log_sigma1.view(-1, 1, 1), self.log_sigma2.view(-1, 1, 1)
            pixels = d // y.shape[1]
            h = log_s1.exp() * u + self.encoder(y)
            z, logdet = self.flow(h)
            scaled = ((self.decoder(h) - y).pow(2) * (-2 * log_s2).exp()).flatten(1).sum(1)
            recon = 0.5 * scaled + pixels * (self.log_sigma2.sum() + 0.5 * y.shape[1] * LOG_2PI)
            log_det_s1 = pixels * self.log_sigma1.sum()
        else:  # the scalar model, as it always was
            h = self.log_sigma1.exp() * u + self.encoder(y)
            z, logdet = self.flow(h)
            sq_err = (self.decoder(h) - y).pow(2).flatten(1).sum(1)
            recon = 0.5 * sq_err * (-2 * self.log_sigma2).exp() + d * (self.log_sigma2 + 0.5 * LOG_2PI)
            log_det_s1 = d * self.log_sigma1
        kl = 0.5 * z.pow(2).flatten(1).sum(1) - logdet - log_det_s1 - 0.5 * u.pow(2).flatten(1).sum(1)
        nelbo = recon + kl
        # the density of y − ½ equals that of y (a shift), so Glow's conversion applies as is
        return {"nelbo": nelbo, "recon": recon, "kl": kl, "bpd": to_bits_per_dim(-nelbo, d, 8)}

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``z ~ N(0, T²I)``, ``x = G(F⁻¹(z))``: ``(n, C, H, W)`` in [0, 1]."""
        z = torch.randn(n, *self.image_shape, device=self.device) * temperature
        return self.decoder(self.flow.inverse(z)).clamp(0.0, 1.0)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``G(E(x))`` (the posterior at u = 0): ``(B, C, H, W) → (B, C, H, W)`` in [0, 1]."""
        return self.decoder(self.encoder(x)).clamp(0.0, 1.0)

    @torch.no_grad()
    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, num: int = 8) -> torch.Tensor:
        """Images along the straight line between ``F(E(x_a))`` and ``F(E(x_b))`` in the
        Gaussian latent space: ``(B, C, H, W) × 2 → (B, num, C, H, W)`` in [0, 1]; the first and
        last columns are the reconstructions of ``x_a`` and ``x_b``."""
        z_a, _ = self.flow(self.encoder(x_a))
        z_b, _ = self.flow(self.encoder(x_b))
        t = torch.linspace(0, 1, num, device=z_a.device, dtype=z_a.dtype).view(1, num, 1, 1, 1)
        z = ((1 - t) * z_a.unsqueeze(1) + t * z_b.unsqueeze(1)).flatten(0, 1)
        return self.decoder(self.flow.inverse(z)).clamp(0.0, 1.0).unflatten(0, (x_a.shape[0], num))

    def setup(self, stage: str) -> None:
        check_image_shape(self, self.image_shape)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        terms = self.loss_terms(x)
        loss = terms["bpd"].mean()  # nelbo scaled to bits/dim: same optimum, lr independent of D
        if stage == "train":
            check_finite(loss, "training loss (nelbo bits/dim)", self.global_step)
            self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
            # per channel: the geometric mean, the scale the log-determinant sees
            self.log("train/sigma1", self.log_sigma1.mean().exp(), on_step=True, on_epoch=False)
            self.log("train/sigma2", self.log_sigma2.mean().exp(), on_step=True, on_epoch=False)
        self.log_epoch_means(stage, terms, prog_bar="bpd")
        return loss

    def configure_optimizers(self):
        h = self.hparams
        return adam_with_linear_warmup(self, h.lr, h.warmup_steps, cosine=h.lr_schedule == "cosine",
                                       decay_start=h.lr_decay_start)
