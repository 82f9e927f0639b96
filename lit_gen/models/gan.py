"""One GAN LightningModule with pluggable objectives and regularisers (manual optimisation).

Per training batch: one discriminator (critic) step; every ``n_critic``-th batch also one
generator step. The module counts generator steps itself (``g_step``, saved in checkpoints;
Lightning's ``global_step`` counts the steps of both optimisers) and stops at ``g_steps``.
Images are in [0, 1] outside the module and in [−1, 1] inside (the generator ends in tanh).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm
from torch.optim.swa_utils import AveragedModel
from torchmetrics import MeanMetric

from lit_gen.losses.gan import get_objective, r1_penalty
from lit_gen.losses.gan_regularizers import D_REGULARIZERS, G_REGULARIZERS, truncated_noise
from lit_gen.models.gan_options import batch_labels, check_labels, check_reading_list_options, sample_labels
from lit_gen.nn.gan import (DCGANDiscriminator, DCGANGenerator, ResNetDiscriminator32, ResNetGenerator32, VDBHead,
                            init_weights)
from lit_gen.nn.gan_conditional import ConditionalDCGANGenerator, ProjectionHead
from lit_gen.nn.pggan import PGDiscriminator, PGGenerator
from lit_gen.nn.stylegan import StyleGenerator
from lit_gen.utils.checks import check_finite, check_image_shape

def ema_with_warmup(decay: float):
    """EMA update for ``AveragedModel`` (its ``multi_avg_fn``): decay ``min(decay, (1 + n) / (10 + n))``
    after ``n`` updates (TensorFlow's ``num_updates`` rule), so a short run's average is not stuck
    at the untrained generator (0.999 would need thousands of steps to forget it). One foreach
    call per dtype group instead of a Python loop over the parameters; integer buffers (BatchNorm's
    batch counter) are copied."""

    def multi_avg_fn(averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        if averaged[0].is_floating_point():
            torch._foreach_lerp_(averaged, current, 1.0 - d)  # a + (c − a)(1 − d)
        else:
            torch._foreach_copy_(averaged, current)

    return multi_avg_fn


ARCHS = {"dcgan": (DCGANGenerator, DCGANDiscriminator), "resnet": (ResNetGenerator32, ResNetDiscriminator32),
         "stylegan": (StyleGenerator, DCGANDiscriminator), "pggan": (PGGenerator, PGDiscriminator)}
#: architectures whose discriminator is the DCGAN one (with its options)
DCGAN_D = ("dcgan", "stylegan")


class GAN(L.LightningModule):
    """GAN for ``in_channels × image_size × image_size`` images in [0, 1].

    Args:
        in_channels, image_size: image shape (DCGAN: 28, 32 or 64 px; ResNet: 32 px).
        latent_dim: size of the generator's N(0, I) noise.
        arch: ``dcgan``, ``resnet`` (SNGAN ResNet, 32 px), ``stylegan`` (StyleGAN generator,
            28 or 32 px, with the DCGAN discriminator; see :mod:`lit_gen.nn.stylegan`) or ``pggan``
            (PGGAN networks at 32 px, not grown: :class:`lit_gen.models.ProgressiveGAN` grows them).
        g_width, d_width: base channel widths of the generator / discriminator.
        kernel_size: DCGAN convolution kernel, 4 or 5 (Su's GAN-QP and WGAN-div code).
        d_norm: ``none`` or ``batch`` (DCGAN: BatchNorm after every D conv but the first). Refused
            with a per-sample gradient penalty (WGAN-GP, R1, R2): batch norm makes a sample's
            score depend on the rest of its batch, so ∇ₓD(x) is not that sample's gradient.
            WGAN-div is allowed: its author's code (the paper setup) uses it.
        d_bias: biases in D's convs and head (Su's code: none).
        d_pool: ``flatten`` D's last feature map or ``mean`` it (global average pooling).
        init: ``torch`` (PyTorch defaults), ``keras`` (Glorot-uniform, zero biases: Su's GAN-QP
            code) or ``dcgan`` (N(0, 0.02) convs: Su's WGAN-div code); see
            :func:`lit_gen.nn.gan.init_weights`.
        objective: a name registered in :data:`lit_gen.losses.gan.OBJECTIVES` (``sgan``,
            ``lsgan``, ``hinge``, ``rsgan``, ``rasgan``, ``wgan_gp``, ``wgan_div``, ``gan_qp``).
        objective_args: keyword options of that objective, e.g. ``{gp_weight: 10}`` (wgan_gp),
            ``{k: 2, p: 6, points: real_fake}`` (wgan_div), ``{lam: 10, distance: l1}`` (gan_qp).
        n_critic: discriminator steps per generator step.
        lr_g, lr_d, betas_g, betas_d: Adam settings of each network (TTUR: lr_d > lr_g).
        r1_gamma, r2_gamma: weight γ of γ/2·E‖∇D‖² on real (R1) / fake (R2) images; 0 = off.
        spectral_norm: spectral normalisation on every conv/linear layer of the discriminator.
        vdb: variational discriminator bottleneck with ``vdb_dim`` codes, information constraint
            ``vdb_info`` (I_c, nats per image) and dual step ``vdb_step`` (α_β).
        ema_decay: if > 0, sample from an exponential moving average of the generator
            (with a warm-up: see :func:`ema_with_warmup`).
        g_steps: stop after this many generator steps (None: the trainer's limits decide).
        channels_last: keep images and conv weights in channels-last memory order: the same
            computation, faster convolutions on CPU (oneDNN) and on GPUs with tensor cores.
        roth_gamma, roth_anneal, roth_anneal_steps: Roth et al.'s regulariser γ/2·E[(1 − D)²‖∇T‖² | real] +
            E[D²‖∇T‖² | fake], D = σ(T) (objective ``sgan``); ``roth_anneal`` decays γ as γ·0.01^(t/T)
            over T = ``roth_anneal_steps`` G steps (default ``g_steps``), then holds it at 0.01·γ.
        ct_weight, ct_margin, d_dropout: CT-GAN's consistency term λ₂·E[max(0, d + 0.1 d_ − M')]
            between two dropout passes of D on the real batch (needs ``d_dropout`` > 0, the rate
            of the dropout added after every LeakyReLU of the DCGAN discriminator).
        num_classes: class-conditional GAN (labels from the batches): conditional batch norm in
            G, a projection head in D (DCGAN networks); None = unconditional.
        g_shared_dim, g_hierarchical: BigGAN's shared class embedding (its size; 0 = one
            embedding per batch-norm layer) and hierarchical z (chunks of z per G layer).
        g_ortho: β of BigGAN's orthogonal regularisation β‖WWᵀ ⊙ (1 − I)‖²_F of G's weights.
        style_mixing: StyleGAN's style-mixing probability in training (``arch='stylegan'``).
        See docs/gan.md ("The reading list") for the equations beside their code.
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 64,
        arch: Literal["dcgan", "resnet", "stylegan", "pggan"] = "dcgan",
        g_width: int = 64,
        d_width: int = 64,
        kernel_size: int = 4,
        d_norm: Literal["none", "batch"] = "none",
        d_bias: bool = True,
        d_pool: Literal["flatten", "mean"] = "flatten",
        init: Literal["torch", "keras", "dcgan"] = "torch",
        objective: str = "sgan",
        objective_args: dict[str, Any] | None = None,
        n_critic: int = 1,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas_g: Sequence[float] = (0.5, 0.999),
        betas_d: Sequence[float] = (0.5, 0.999),
        r1_gamma: float = 0.0,
        r2_gamma: float = 0.0,
        spectral_norm: bool = False,
        vdb: bool = False,
        vdb_dim: int = 32,
        vdb_info: float = 0.5,
        vdb_step: float = 1e-5,
        ema_decay: float = 0.0,
        g_steps: int | None = None,
        channels_last: bool = True,
        roth_gamma: float = 0.0,
        roth_anneal: bool = False,
        roth_anneal_steps: int | None = None,
        ct_weight: float = 0.0,
        ct_margin: float = 0.0,
        d_dropout: float = 0.0,
        num_classes: int | None = None,
        g_shared_dim: int = 0,
        g_hierarchical: bool = False,
        g_ortho: float = 0.0,
        style_mixing: float = 0.9,
    ):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        if min(r1_gamma, r2_gamma, vdb_info, vdb_step) < 0:
            raise ValueError("r1_gamma, r2_gamma, vdb_info and vdb_step must be >= 0")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        self.objective = get_objective(objective)
        penalties = [name for name, on in (("objective wgan_gp", objective == "wgan_gp"), ("r1_gamma > 0", r1_gamma > 0),
                                           ("r2_gamma > 0", r2_gamma > 0), ("roth_gamma > 0", roth_gamma > 0)) if on]
        if d_norm == "batch" and penalties:
            raise ValueError(
                f"d_norm='batch' cannot be combined with a per-sample gradient penalty ({', '.join(penalties)}): "
                "batch norm mixes the samples of a batch, so the gradient of one image's score is no longer that "
                "image's own, which the penalty assumes (Gulrajani et al. 2017, sec. 4, drop batch norm from the "
                "critic for this reason). Use d_norm='none' (spectral_norm=true also works), or an objective "
                "without such a penalty (sgan, lsgan, hinge, rsgan, rasgan, gan_qp; wgan_div is allowed because "
                "its author's code uses batch norm).")
        if arch not in DCGAN_D and (kernel_size != 4 or d_norm != "none" or not d_bias or d_pool != "flatten"):
            raise ValueError("kernel_size, d_norm, d_bias and d_pool are options of arch='dcgan' only; "
                             f"arch={arch!r} has its own fixed layout")
        check_reading_list_options(arch, objective, vdb, g_steps, roth_gamma, roth_anneal, ct_weight, ct_margin,
                                   d_dropout, num_classes, g_shared_dim, g_hierarchical, g_ortho, spectral_norm, init,
                                   roth_anneal_steps)
        self.d_args, self.g_args = self.objective.split_args(dict(objective_args or {}))
        self.save_hyperparameters()
        self.d_regularizers = [name for name, on in (("roth", roth_gamma > 0), ("ct", ct_weight > 0)) if on]
        self.g_regularizers = ["ortho"] if g_ortho > 0 else []
        self.automatic_optimization = False
        self.generator = self.build_generator()
        self.discriminator = self.build_discriminator()
        init_weights(self.generator, self.discriminator, init)
        if vdb:  # the linear head becomes a stochastic bottleneck followed by a linear score
            self.discriminator.head = VDBHead(self.discriminator.feature_dim, vdb_dim)
        if num_classes is not None:  # score = linear(φ(x)) + ⟨embed(y), φ(x)⟩
            self.discriminator.head = ProjectionHead(self.discriminator.feature_dim, num_classes, d_bias)
        if spectral_norm:
            for module in list(self.discriminator.modules()):
                if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
                    _spectral_norm(module)
        # D scores each image on its own (no batch norm, no sampled bottleneck, no minibatch
        # standard deviation, not a subclass's own D): real and fake can go through one forward pass
        self.joint_critic_pass = (type(self).build_discriminator is GAN.build_discriminator and d_norm == "none"
                                  and not vdb and arch != "pggan")
        self.ema = None
        if ema_decay > 0:
            self.ema = AveragedModel(self.generator, multi_avg_fn=ema_with_warmup(ema_decay), use_buffers=True)
            self.ema.requires_grad_(False)
        # counters and the VDB multiplier are buffers: saved in checkpoints, resumed exactly
        self.register_buffer("g_step", torch.zeros((), dtype=torch.long))
        self.register_buffer("d_step", torch.zeros((), dtype=torch.long))
        self.register_buffer("vdb_beta", torch.zeros(()))
        self._logged_this_epoch: set[str] = set()
        self.epoch_means = nn.ModuleDict({name: MeanMetric() for name in
                                          ("d_loss", "g_loss", "d_real", "d_fake", "kl", "val_d_real", "val_d_fake")})
        self.epoch_means.update({name: MeanMetric() for name in self.d_regularizers})  # train/roth, train/ct

    # ----- networks: override in a subclass to change them -----
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.hparams.in_channels, self.hparams.image_size, self.hparams.image_size)

    def build_generator(self) -> nn.Module:
        h = self.hparams
        if h.num_classes is not None:
            return ConditionalDCGANGenerator(h.latent_dim, h.in_channels, h.image_size, h.g_width, h.kernel_size,
                                             h.num_classes, h.g_shared_dim, h.g_hierarchical)
        if h.arch == "stylegan":
            return StyleGenerator(h.latent_dim, h.in_channels, h.image_size, h.g_width, mixing_prob=h.style_mixing)
        if h.arch == "dcgan":
            return DCGANGenerator(h.latent_dim, h.in_channels, h.image_size, h.g_width, h.kernel_size)
        return ARCHS[h.arch][0](h.latent_dim, h.in_channels, h.image_size, h.g_width)

    def build_discriminator(self) -> nn.Module:
        """Must have ``body`` (images → ``(B, feature_dim)``), ``feature_dim`` and ``head``."""
        h = self.hparams
        if h.arch in DCGAN_D:
            return DCGANDiscriminator(h.in_channels, h.image_size, h.d_width, h.kernel_size, h.d_norm, h.d_bias,
                                      h.d_pool, h.d_dropout)
        return ARCHS[h.arch][1](h.in_channels, h.image_size, h.d_width)

    # ----- the model -----
    def critic(self, x: Tensor, sample: bool = True, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Scores ``(B,)`` of images in [−1, 1] (of labels ``y`` when conditional) and, with VDB,
        the per-image KL ``(B,)`` (nats)."""
        features = self.discriminator.body(x)
        if self.hparams.vdb:
            return self.discriminator.head(features, sample=sample)
        if self.hparams.num_classes is not None:
            return self.discriminator.head(features, y).squeeze(1), None
        return self.discriminator.head(features).squeeze(1), None

    def critic_features(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Scores ``(B,)`` and D's penultimate features ``(B, feature_dim)`` (CT-GAN's D_)."""
        features = self.discriminator.body(x)
        head = self.discriminator.head
        scores = head(features) if self.hparams.num_classes is None else head(features, y)
        return scores.squeeze(1), features

    def score(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Deterministic scores (VDB: at the encoder mean): what penalties and the generator use."""
        return self.critic(x, sample=False, y=y)[0]

    def noise(self, n: int) -> Tensor:
        return torch.randn(n, self.hparams.latent_dim, device=self.device)

    def generate(self, z: Tensor, y: Tensor | None = None, net: nn.Module | None = None) -> Tensor:
        """``net(z)`` (default: the generator), or ``net(z, y)`` for a conditional GAN."""
        net = self.generator if net is None else net
        return net(z) if self.hparams.num_classes is None else net(z, y)

    def critic_pair(self, real: Tensor, fake: Tensor,
                    y: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """Scores and VDB KLs of ``real`` and ``fake``: one forward pass of D over both batches when
        its scores are per-sample (``self.joint_critic_pass``: same values, fewer and larger
        convolutions), else two, so batch norm sees each batch alone as in the papers' code."""
        if self.joint_critic_pass:
            scores, _ = self.critic(torch.cat([real, fake]), y=None if y is None else torch.cat([y, y]))
            s_real, s_fake = scores.split([real.shape[0], fake.shape[0]])
            return s_real, s_fake, None, None
        (s_real, kl_real), (s_fake, kl_fake) = self.critic(real, y=y), self.critic(fake, y=y)
        return s_real, s_fake, kl_real, kl_fake

    def discriminator_loss(self, real: Tensor, fake: Tensor, y: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Objective + regularisers for one D step; ``real``/``fake`` ``(B, C, H, W)`` in [−1, 1]
        (a conditional GAN scores both with the real batch's labels ``y``)."""
        h = self.hparams
        s_real, s_fake, kl_real, kl_fake = self.critic_pair(real, fake, y)
        critic = self.score if y is None else functools.partial(self.score, y=y)
        loss = self.objective.d_loss(s_real, s_fake, real=real, fake=fake, critic=critic, **self.d_args)
        stats = {"d_real": s_real.detach(), "d_fake": s_fake.detach()}
        if h.r1_gamma > 0:
            loss = loss + r1_penalty(critic, real, h.r1_gamma)
        if h.r2_gamma > 0:
            loss = loss + r1_penalty(critic, fake, h.r2_gamma)
        for name in self.d_regularizers:
            term = D_REGULARIZERS[name](self, real, fake, critic, y)
            loss = loss + term
            stats[name] = term.detach()
        if h.vdb:
            kl = 0.5 * (kl_real.mean() + kl_fake.mean())
            loss = loss + self.vdb_beta * (kl - h.vdb_info)
            stats["kl"] = kl.detach()
        return loss, stats

    def generator_loss(self, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
        """Generator loss for ``fake = G(z)`` (with graph); D is scored deterministically. Real
        images are scored only for objectives whose generator loss reads their scores."""
        critic = self.score if y is None else functools.partial(self.score, y=y)
        s_real = critic(real) if self.objective.g_uses_real_scores else None
        loss = self.objective.g_loss(s_real, critic(fake), real=real, fake=fake, critic=critic, **self.g_args)
        for name in self.g_regularizers:
            loss = loss + G_REGULARIZERS[name](self, real, fake, critic, y)
        return loss

    @torch.no_grad()
    def update_vdb_beta(self, kl: Tensor) -> None:
        """Dual ascent on the information constraint: β ← max(0, β + α_β (KL − I_c))."""
        self.vdb_beta.add_(self.hparams.vdb_step * (kl - self.hparams.vdb_info)).clamp_(min=0.0)

    @property
    def sampler(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.generator

    def check_labels(self, y: int | Tensor) -> Tensor:
        """``y`` as int64 on the model's device; a clear error for labels outside [0, num_classes)."""
        return check_labels(y, self.hparams.num_classes, self.device)

    def sample_labels(self, n: int, y: int | Tensor | None = None) -> Tensor | None:
        """Labels of ``n`` samples (see :func:`lit_gen.models.gan_options.sample_labels`)."""
        return sample_labels(n, y, self.hparams.num_classes, self.device)

    def _labels(self, batch) -> Tensor | None:
        """The batch's labels for a conditional GAN (checked), None for an unconditional one."""
        return batch_labels(batch, self.hparams.num_classes, self.device)

    @torch.no_grad()
    def sample(self, n: int, y: int | Tensor | None = None, truncation: float | None = None,
               psi: float | None = None) -> Tensor:
        """``n`` images ``(n, C, H, W)`` in [0, 1] (from the EMA generator when ``ema_decay`` > 0).

        ``y``: class labels (conditional GAN): one int for all, or ``n`` of them; default random.
        ``truncation``: ψ ∈ (0, 1] of BigGAN's truncation trick (z from a normal truncated at ±2,
        times ψ); None = z ~ N(0, I).
        ``psi``: StyleGAN's truncation in W towards the tracked mean w̄ (``arch='stylegan'``).
        """
        labels = self.sample_labels(n, y)
        z = self.noise(n) if truncation is None else truncated_noise(n, self.hparams.latent_dim, truncation,
                                                                       self.device)
        if psi is not None and self.hparams.arch != "stylegan":
            raise ValueError(f"psi is StyleGAN's truncation in W (arch='stylegan'); arch is {self.hparams.arch!r}: "
                             "use truncation=... for z")
        x = self.generate(z, labels, self.sampler) if psi is None else self.sampler(z, psi=psi)
        return ((x + 1) / 2).clamp(0.0, 1.0).contiguous()

    # ----- Lightning hooks -----
    def setup(self, stage: str) -> None:
        check_image_shape(self, self.image_shape)
        if self.hparams.channels_last:
            self.to(memory_format=torch.channels_last)  # G, D and the EMA copy

    def _images(self, batch) -> Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = x * 2 - 1
        return x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last and x.dim() == 4 else x

    def _log_mean(self, name: str, value: Tensor, stage: str = "train", prog_bar: bool = False) -> None:
        """Add ``value`` to the epoch mean ``<stage>/<name>`` (a ``MeanMetric``: synced under DDP).
        ``self.log`` costs milliseconds per call, so the metric is handed to Lightning once per
        epoch; Lightning computes and resets it at the epoch's end."""
        metric = self.epoch_means[name]
        metric.update(value.detach())
        if name not in self._logged_this_epoch:
            self._logged_this_epoch.add(name)
            self.log(f"{stage}/{name.removeprefix('val_')}", metric, on_step=False, on_epoch=True, prog_bar=prog_bar)

    def on_train_epoch_start(self) -> None:
        self._logged_this_epoch = set()

    def on_validation_epoch_start(self) -> None:
        self._logged_this_epoch = set()

    def _log_every_n_steps(self) -> bool:
        """Per-step scalars (``train/g_step``, ``train/vdb_beta``) only at the trainer's logging
        interval: the logger would drop the others anyway."""
        return int(self.g_step) % self.trainer.log_every_n_steps == 0

    def _descend(self, optimizer, loss: torch.Tensor, what: str, step: int) -> None:
        """One optimizer step on ``loss`` (after the divergence guard), then release the toggle
        that the caller set before computing the loss."""
        check_finite(loss, what, step)
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        self.untoggle_optimizer(optimizer)

    def training_step(self, batch, batch_idx: int) -> None:
        h, real, y = self.hparams, self._images(batch), self._labels(batch)
        opt_g, opt_d = self.optimizers()
        step = int(self.g_step)

        self.toggle_optimizer(opt_d)
        labels = {} if y is None else {"y": y}  # unconditional: the two-argument calls of before
        with torch.no_grad():
            fake = self.generate(self.noise(real.shape[0]), y)
        d_loss, stats = self.discriminator_loss(real, fake, **labels)
        self._descend(opt_d, d_loss, f"discriminator loss (objective {h.objective})", step)
        self.d_step += 1
        if h.vdb:
            self.update_vdb_beta(stats["kl"])
            self._log_mean("kl", stats["kl"])
            if self._log_every_n_steps():
                self.log("train/vdb_beta", self.vdb_beta, on_step=True, on_epoch=False)
        self._log_mean("d_loss", d_loss, prog_bar=True)
        self._log_mean("d_real", stats["d_real"])
        self._log_mean("d_fake", stats["d_fake"])
        for name in self.d_regularizers:
            self._log_mean(name, stats[name])

        if int(self.d_step) % h.n_critic:
            return
        self.toggle_optimizer(opt_g)
        g_loss = self.generator_loss(real, self.generate(self.noise(real.shape[0]), y), **labels)
        self._descend(opt_g, g_loss, f"generator loss (objective {h.objective})", step)
        self.g_step += 1
        if self.ema is not None:
            self.ema.update_parameters(self.generator)
        self._log_mean("g_loss", g_loss, prog_bar=True)
        if self._log_every_n_steps():
            self.log("train/g_step", self.g_step.float(), on_step=True, on_epoch=False)
        if h.g_steps is not None and int(self.g_step) >= h.g_steps:
            self.trainer.should_stop = True

    def validation_step(self, batch, batch_idx: int) -> None:
        """Mean critic scores of held-out real images and of samples (a cheap health signal)."""
        real, y = self._images(batch), self._labels(batch)
        self._log_mean("val_d_real", self.score(real, y), "val")
        self._log_mean("val_d_fake", self.score(self.sample(real.shape[0], y) * 2 - 1, y), "val")

    def configure_optimizers(self):
        h = self.hparams
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=h.lr_g, betas=tuple(h.betas_g))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=h.lr_d, betas=tuple(h.betas_d))
        return [opt_g, opt_d]
