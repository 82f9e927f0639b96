"""Glow (Kingma & Dhariwal 2018): a multi-scale normalizing flow with exact log-likelihood.

Pixels in [0, 1] (uint8 / 255) are reduced to ``n_bits`` bits and dequantized with uniform
noise, ``y = (x_int + noise) / 2**n_bits − ½``, so the continuous density gives a variational
bound on the discrete likelihood: ``bits/dim = (−log p(y) + D·log 2**n_bits) / (D·log 2)``.
In evaluation the noise is a fixed function of each image, so val/test numbers do not depend
on batch size, order or the number of DDP processes. With ``preprocess="logit"`` the flow
models ``logit(α + (1 − 2α)(y + ½))`` instead of ``y``; the transform's log-determinant is part of
``log p(y)``, so bits/dim stay the same quantity (RealNVP's MNIST/CIFAR pre-processing). With
``dequantization="variational"`` the noise is drawn from a learned ``q(u | x)`` instead (Flow++),
and ``log q`` joins the bound.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch

from lit_gen.models.base import StagedLossModule, adam_with_linear_warmup, check_lr_schedule, epoch_means
from lit_gen.nn.dequantization import VariationalDequantizer, keyed_dequantization_noise, quantize, to_bits_per_dim
from lit_gen.nn.flows import GlowFlow, LogitTransform, standard_normal_logprob
from lit_gen.utils.checks import check_finite, check_image_shape


class Glow(StagedLossModule):
    """Glow for ``in_channels × image_size × image_size`` images in [0, 1].

    Args:
        in_channels: image channels (1 for MNIST, 3 for CIFAR-10).
        image_size: image side; divisible by ``2 ** levels``.
        levels: scales L (squeeze + steps + split each).
        steps: flow steps K per scale (actnorm → 1×1 conv → coupling).
        hidden: coupling-network width.
        coupling: ``affine`` (Glow) or ``additive``.
        n_bits: bits per pixel kept (8 = full; Glow uses 5 for CelebA-HQ).
        lr: Adam learning rate (linear warm-up over ``warmup_steps``, as in Glow).
        warmup_steps: optimizer steps of linear learning-rate warm-up.
        preprocess: ``shift`` (the flow sees ``y`` in [−½, ½), as Glow) or ``logit`` (the flow
            sees ``logit(α + (1 − 2α)(y + ½))``, as RealNVP; see :class:`LogitTransform`).
        logit_alpha: ``α`` of the logit pre-processing, in (0, ½). 1e-6 (MAF's MNIST value) beat
            RealNVP's CIFAR-10 value 0.05 by 0.75 bits/dim after 6 minutes on MNIST (docs/flows.md).
        lr_schedule: ``constant`` after the warm-up, or ``cosine``: the rate falls to 0 as the
            trainer's budget runs out, by steps (``max_epochs``/``max_steps``) or by the
            ``max_time`` clock, whichever ends first (wall-clock budgets are the cpu suite's).
        dequantization: ``uniform`` noise in each bin, or ``variational``: noise drawn from a
            learned ``q(u | x)`` (Flow++, :class:`~lit_gen.nn.dequantization.VariationalDequantizer`),
            trained with the flow; bits/dim are then the tighter bound ``E_q[−log p(y) +
            log q(u | x)]``. The dequantizer's parameters count in ``param_count``; sampling
            does not use it.
        dequant_hidden: width of the dequantizer's networks.
        dequant_steps: conditional couplings of the dequantizer.
        lr_decay_start: with ``cosine``, the fraction of the budget the rate stays at ``lr`` before
            the cosine begins (0: right after the warm-up; 0.7: full rate for 70 % of the budget,
            then down to 0, a warmup-stable-decay schedule).
    """

    #: read by the bench's ``bpd`` metric: the test bits/dim is the flow's exact density of the
    #: dequantized pixels (a bound on the discrete NLL), not an ELBO; subclasses inherit it
    exact_density = True

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        levels: int = 2,
        steps: int = 8,
        hidden: int = 128,
        coupling: Literal["affine", "additive"] = "affine",
        n_bits: int = 8,
        lr: float = 1e-3,
        warmup_steps: int = 200,
        preprocess: Literal["shift", "logit"] = "shift",
        logit_alpha: float = 1e-6,
        lr_schedule: Literal["constant", "cosine"] = "constant",
        dequantization: Literal["uniform", "variational"] = "uniform",
        dequant_hidden: int = 32,
        dequant_steps: int = 4,
        lr_decay_start: float = 0.0,
    ):
        super().__init__()
        check_lr_schedule(lr_schedule, lr_decay_start)
        if not 1 <= n_bits <= 8:
            raise ValueError(f"n_bits must be in 1..8, got {n_bits}")
        if preprocess not in ("shift", "logit"):
            raise ValueError(f"preprocess must be 'shift' or 'logit', got {preprocess!r}")
        if dequantization not in ("uniform", "variational"):
            raise ValueError(f"dequantization must be 'uniform' or 'variational', got {dequantization!r}")
        self.save_hyperparameters()
        self.logit = LogitTransform(logit_alpha) if preprocess == "logit" else None
        self.flow = GlowFlow(self.image_shape, levels, steps, hidden, coupling)
        self.dequantizer = (VariationalDequantizer(self.image_shape, dequant_hidden, dequant_steps)
                            if dequantization == "variational" else None)
        self.epoch_means = epoch_means(("bpd",))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.hparams.in_channels, self.hparams.image_size, self.hparams.image_size)

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        """Exact log p(y) of dequantized images ``(B, C, H, W)`` in [−½, ½), nats ``(B,)``."""
        logdet = y.new_zeros(y.shape[0])
        if self.logit is not None:
            y, logdet = self.logit(y)
        u, flow_logdet = self.flow(y)
        return standard_normal_logprob(u) + logdet + flow_logdet

    def dequantization_noise(self, x: torch.Tensor, fixed: bool) -> torch.Tensor:
        """Noise shaped like ``x`` for :meth:`dequantized_log_density`: ``U(0, 1)`` (uniform
        dequantization) or ``N(0, 1)`` (the variational dequantizer's input); fresh draws, or
        with ``fixed`` a function of each image (:func:`keyed_dequantization_noise`), as evaluation uses."""
        distribution = "uniform" if self.dequantizer is None else "normal"
        if fixed:
            return keyed_dequantization_noise(x, distribution)
        return torch.rand_like(x) if distribution == "uniform" else torch.randn_like(x)

    def dequantized_log_density(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``log p(y) − log q(u | x)`` in nats ``(B,)``: images ``x`` in [0, 1] ``(B, C, H, W)``
        dequantized by ``noise`` (:meth:`dequantization_noise`) to ``y = (x_int + u) / bins − ½``.
        Uniform dequantization: ``u = noise``, ``log q = 0``; variational: ``(u, log q)`` from the
        dequantizer. Minus ``D log bins`` it is the log of an unbiased estimate of ``P(x_int)``."""
        n_bits = self.hparams.n_bits
        x_int, bins = quantize(x, n_bits), 2 ** n_bits
        if self.dequantizer is None:
            u, log_q = noise, 0.0
        else:
            u, log_q = self.dequantizer(noise, x_int / bins - 0.5)
        return self.log_density((x_int + u) / bins - 0.5) - log_q

    def bits_per_dim(self, x: torch.Tensor) -> torch.Tensor:
        """Bits/dim of images ``x`` in [0, 1] ``(B, C, H, W) → (B,)`` (dequantization bound).

        Training draws fresh noise; evaluation a fixed draw per image, so val/test values do
        not depend on batch, order or process count."""
        noise = self.dequantization_noise(x, fixed=not self.training)
        return to_bits_per_dim(self.dequantized_log_density(x, noise), x[0].numel(), self.hparams.n_bits)

    def log_likelihood(self, x: torch.Tensor, num_samples: int = 16) -> torch.Tensor:
        """Importance-weighted ``log P(x)`` of the discrete images, nats ``(B,)``.

        ``logsumexp_k [log p(y_k) − log q(u_k | x)] − log K − D log bins`` with ``K`` fresh noise
        draws (Hoogeboom et al. 2020; Burda et al. 2016 for VAEs): a stochastic lower bound that
        tightens as ``K`` grows; ``K = 1`` is the training bound, :meth:`bits_per_dim`. The
        ``nll`` bench metric calls it (``nll_bits_per_dim`` is then comparable to ``test_bpd``).
        """
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        weights = torch.stack([self.dequantized_log_density(x, self.dequantization_noise(x, fixed=False))
                               for _ in range(num_samples)])
        num_dims, n_bits = x[0].numel(), self.hparams.n_bits
        return torch.logsumexp(weights, dim=0) - math.log(num_samples) - num_dims * n_bits * math.log(2)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``n`` images, ``u ~ N(0, T²I)``: ``(n, C, H, W)`` in [0, 1]."""
        u = torch.randn(n, *self.image_shape, device=self.device) * temperature
        y = self.flow.inverse(u)
        if self.logit is not None:
            y = self.logit.inverse(y)
        bad = ~torch.isfinite(y)
        if bad.any():
            # an under-trained flow's inverse can overflow (1/s of the affine couplings); such
            # pixels are shown saturated instead of poisoning FID with NaN, and counted here
            warnings.warn(f"Glow.sample: {int(bad.sum())} of {y.numel()} sampled values were not finite "
                          "(inverse overflow); they are set to 0 or 1", RuntimeWarning, stacklevel=2)
            y = torch.nan_to_num(y, nan=0.5, posinf=0.5, neginf=-0.5)
        return (y + 0.5).clamp(0.0, 1.0)

    def setup(self, stage: str) -> None:
        check_image_shape(self, self.image_shape)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        bpd = self.bits_per_dim(x)
        loss = bpd.mean()
        if stage == "train":
            check_finite(loss, "training loss (bits/dim)", self.global_step)
            self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.log_epoch_means(stage, {"bpd": bpd}, prog_bar="bpd")
        return loss

    def configure_optimizers(self):
        h = self.hparams
        return adam_with_linear_warmup(self, h.lr, h.warmup_steps, cosine=h.lr_schedule == "cosine",
                                       decay_start=h.lr_decay_start)
