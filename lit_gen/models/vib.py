"""Deep variational information bottleneck classifier (Alemi et al., ICLR 2017).

``x → encoder → (mu, log σ²)`` of size K, ``z = mu + σ·ε``, ``logits = Linear(z)``. Loss per
example, in nats: ``CE(y, logits(z)) + β · KL(N(mu, σ²) ‖ N(0, I))`` (one z per example). At
test time the class probabilities are the softmax averaged over ``test_samples`` draws of z
(Alemi's 12), or the softmax at ``z = mu`` when ``test_samples = 0``.

``β = 0`` is the deterministic baseline of the same network: z = mu, no noise, no KL (as the
paper's "deterministic" row), so the two rows differ only by the bottleneck.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from lit_gen.data.augment import check_warp_ranges, random_affine
from lit_gen.losses.gaussian import gaussian_kl
from lit_gen.models.base import (
    StagedLossModule,
    budget_steps,
    epoch_means,
    warmup_cosine,
)
from lit_gen.nn.mlp import MLP
from lit_gen.utils.checks import check_finite

#: σ = softplus(ρ − 5) in Alemi et al.'s code: a fresh encoder (ρ ≈ 0) starts nearly deterministic
SOFTPLUS_SHIFT = 5.0


class VIBClassifier(StagedLossModule):
    """VIB classifier for images ``(B, C, H, W)`` (flattened by the default MLP encoder).

    Args:
        in_features: input size after flattening (784 for MNIST).
        num_classes: number of labels.
        bottleneck_dim: K, the size of z (Alemi: 256).
        hidden: widths of the MLP encoder (Alemi: 1024, 1024).
        beta: KL weight β >= 0 (Alemi's best on MNIST: 1e-3); 0 = deterministic baseline.
        test_samples: S, z draws averaged at evaluation (0 = use mu).
        lr: Adam learning rate (betas 0.5, 0.999 as Alemi). Alemi et al. train 200 epochs at
            1e-4; the default 1e-3 suits short budgets.
        lr_decay: multiplicative learning-rate decay per ``lr_decay_epochs`` epochs
            (Alemi: 0.97 every 2 epochs); 1 = constant.
        lr_decay_epochs: epochs between decays.
        lr_schedule: ``step`` (the decay above, Alemi's 200-epoch schedule) or ``cosine``: the
            rate falls to 0 over the trainer's budget (``max_epochs``/``max_steps``), per step,
            which suits short CPU budgets where a slow step decay never gets to anneal.
        posterior_scale: how the encoder's second half gives σ. ``logvar``: it is log σ²
            (clamped to [-12, 8]), so a fresh network starts at σ ≈ 1. ``softplus``:
            σ = softplus(ρ − 5), the parameterisation of Alemi et al.'s released code, so a fresh
            network starts at σ ≈ 0.007 and the noise grows only where the KL term pays for it.
        dropout: probability of dropping each hidden unit of the MLP encoder in training
            (Srivastava et al. 2014; Alemi et al.'s "dropout" row, without the bottleneck, is
            1.34 %). 0 = none (the paper's VIB).
        centre_inputs: feed the encoder ``2x − 1`` (pixels in [-1, 1]) instead of ``x`` in
            [0, 1], as Alemi et al.'s released code does.
        weight_init: ``default`` keeps PyTorch's ``nn.Linear`` initialisation (uniform with
            bound 1/√fan_in); ``glorot`` draws every ``nn.Linear`` weight of the encoder and
            decoder Glorot-uniform (bound √(6 / (fan_in + fan_out))) with zero biases, the
            TensorFlow ``fully_connected`` default that the released code trains from. At
            784 → 1024 its weights are 1.6× larger than PyTorch's.
        augment_shift, augment_rotation, augment_scale: ranges of a random affine warp applied
            to each training image (:func:`lit_gen.data.augment.random_affine`: shift in pixels
            per axis, rotation in degrees, zoom ±scale); validation and test images are never
            warped. All 0 (the default, and Alemi et al.'s protocol) = no augmentation.

    Override :meth:`build_encoder` (images → ``2 · bottleneck_dim`` features) or
    :meth:`build_decoder` (``bottleneck_dim`` → ``num_classes`` logits) to change networks.
    """

    def __init__(
        self,
        in_features: int = 784,
        num_classes: int = 10,
        bottleneck_dim: int = 256,
        hidden: Sequence[int] = (1024, 1024),
        beta: float = 1e-3,
        test_samples: int = 12,
        lr: float = 1e-3,
        lr_decay: float = 0.97,
        lr_decay_epochs: int = 2,
        lr_schedule: Literal["step", "cosine"] = "step",
        posterior_scale: Literal["logvar", "softplus"] = "logvar",
        dropout: float = 0.0,
        centre_inputs: bool = False,
        weight_init: Literal["default", "glorot"] = "default",
        augment_shift: float = 0.0,
        augment_rotation: float = 0.0,
        augment_scale: float = 0.0,
    ):
        super().__init__()
        if beta < 0 or not math.isfinite(beta):
            raise ValueError(f"VIBClassifier: beta must be a finite number >= 0, got {beta}")
        if num_classes < 2:
            raise ValueError(f"VIBClassifier: num_classes must be >= 2, got {num_classes}")
        if bottleneck_dim < 1 or in_features < 1:
            raise ValueError(f"VIBClassifier: bottleneck_dim and in_features must be >= 1, "
                             f"got {bottleneck_dim}, {in_features}")
        if test_samples < 0:
            raise ValueError(f"VIBClassifier: test_samples must be >= 0, got {test_samples}")
        if not 0 < lr_decay <= 1 or lr_decay_epochs < 1:
            raise ValueError(f"VIBClassifier: need 0 < lr_decay <= 1 and lr_decay_epochs >= 1, "
                             f"got {lr_decay}, {lr_decay_epochs}")
        if lr_schedule not in ("step", "cosine"):
            raise ValueError(f"VIBClassifier: lr_schedule must be 'step' or 'cosine', got {lr_schedule!r}")
        if posterior_scale not in ("logvar", "softplus"):
            raise ValueError(f"VIBClassifier: posterior_scale must be 'logvar' or 'softplus', got {posterior_scale!r}")
        if weight_init not in ("default", "glorot"):
            raise ValueError(f"VIBClassifier: weight_init must be 'default' or 'glorot', got {weight_init!r}")
        check_warp_ranges(augment_rotation, augment_shift, augment_scale, "VIBClassifier",
                          ("augment_rotation", "augment_shift", "augment_scale", "flip"))
        self.save_hyperparameters()
        self.encoder = self.build_encoder()
        self.decoder = self.build_decoder()
        if weight_init == "glorot":
            self.apply_glorot_init()
        self.epoch_means = epoch_means(("loss", "ce", "kl"))
        self.accuracy = nn.ModuleDict({
            stage: MulticlassAccuracy(num_classes, average="micro") for stage in ("val", "test")
        })

    def build_encoder(self) -> nn.Module:
        h = self.hparams
        return MLP(h.in_features, 2 * h.bottleneck_dim, h.hidden, dropout=h.dropout)

    def build_decoder(self) -> nn.Module:
        return nn.Linear(self.hparams.bottleneck_dim, self.hparams.num_classes)

    def apply_glorot_init(self) -> None:
        """Glorot-uniform weights and zero biases for every ``nn.Linear`` of encoder and decoder."""
        for module in (*self.encoder.modules(), *self.decoder.modules()):
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @property
    def augments(self) -> bool:
        h = self.hparams
        return h.augment_shift > 0 or h.augment_rotation > 0 or h.augment_scale > 0

    @property
    def deterministic(self) -> bool:
        return self.hparams.beta == 0

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, ...) → (mu, logvar)``, each ``(B, K)``."""
        if self.hparams.centre_inputs:
            x = 2.0 * x - 1.0
        mu, raw = self.encoder(x).chunk(2, dim=1)
        if self.hparams.posterior_scale == "softplus":
            # σ floored at 1e-6 so log σ stays finite (and its gradient defined) in float32
            sigma = F.softplus(raw - SOFTPLUS_SHIFT).clamp_min(1e-6)
            return mu, 2.0 * sigma.log()
        return mu, raw.clamp(-12.0, 8.0)

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example ``loss``, ``ce``, ``kl`` (each ``(B,)``, nats), one z per example."""
        mu, logvar = self.encode(x)
        if self.deterministic:
            z, kl = mu, torch.zeros_like(mu[:, 0])
        else:
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            kl = gaussian_kl(mu, logvar)
        ce = F.cross_entropy(self.decoder(z), y, reduction="none")
        return {"loss": ce + self.hparams.beta * kl, "ce": ce, "kl": kl}

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """Class probabilities ``(B, num_classes)``: softmax averaged over S draws of z."""
        s = self.hparams.test_samples if num_samples is None else num_samples
        mu, logvar = self.encode(x)
        if s == 0 or self.deterministic:
            return F.softmax(self.decoder(mu), dim=1)
        z = mu + torch.randn(s, *mu.shape, device=mu.device, dtype=mu.dtype) * (0.5 * logvar).exp()
        return F.softmax(self.decoder(z), dim=-1).mean(0)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        if stage == "train" and self.augments:
            h = self.hparams
            if x.dim() != 4:
                raise ValueError(f"VIBClassifier: augment_* warp images (B, C, H, W); got a batch of shape "
                                 f"{tuple(x.shape)}: set augment_shift, augment_rotation and augment_scale to 0")
            x = random_affine(x, h.augment_rotation, h.augment_shift, h.augment_scale)
        terms = self.loss_terms(x, y)
        loss = terms["loss"].mean()
        if stage == "train":
            check_finite(loss, "training loss", self.global_step)
            self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.log_epoch_means(stage, terms)
        if stage != "train":
            acc = self.accuracy[stage]
            acc.update(self.predict_proba(x), y)
            self.log(f"{stage}/acc", acc, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        """Predicted labels ``(B,)`` from the S-sample averaged softmax."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.predict_proba(x).argmax(1)

    def configure_optimizers(self):
        h = self.hparams
        optimizer = torch.optim.Adam(self.parameters(), lr=h.lr, betas=(0.5, 0.999))
        if h.lr_schedule == "cosine":
            return warmup_cosine(optimizer, total_steps=budget_steps(self))
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=h.lr_decay_epochs, gamma=h.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
