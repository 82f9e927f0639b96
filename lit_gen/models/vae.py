"""Variational auto-encoder (Kingma & Welling 2014) with a convolutional encoder and decoder.

All losses are per image, summed over pixels, in **nats**. ``loss = recon + beta * kl``; with
``beta = 1`` it is the negative ELBO, an upper bound on −log p(x).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lit_gen.losses.gaussian import LOG_2PI, gaussian_kl, gaussian_log_prob
from lit_gen.models.base import StagedLossModule, budget_steps, check_lr_schedule, epoch_means, warmup_cosine
from lit_gen.nn.conv import ConvDecoder, ConvEncoder
from lit_gen.utils.checks import check_finite, check_image_shape
from lit_gen.utils.rng import image_keyed_noise

class VAE(StagedLossModule):
    """Convolutional VAE for ``in_channels × image_size × image_size`` images in [0, 1].

    Args:
        in_channels: image channels (1 for MNIST, 3 for CIFAR-10).
        image_size: image side in pixels; divisible by ``2 ** len(channels)``.
        latent_dim: size of z.
        channels: conv widths of the encoder (the decoder mirrors them).
        hidden: width of the fully connected layer on each side.
        likelihood: ``bernoulli`` (decoder outputs logits; best with binarised data) or
            ``gaussian`` (decoder outputs means, one learned global pixel std).
        beta: weight of the KL term in the training loss (1 = the ELBO).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        lr_schedule: ``constant``, or ``cosine``: the rate decays to 0 over the trainer's
            estimated optimizer steps (``max_epochs``/``max_steps``), per step. Annealing lets the
            last epochs settle into a lower ELBO than a constant rate at the same budget.

    Subclass and override :meth:`build_encoder` / :meth:`build_decoder` to swap networks; the
    encoder must map images to ``2 * latent_dim`` features (mean and log-variance), the decoder
    ``latent_dim`` codes to images.
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 32,
        channels: Sequence[int] = (32, 64),
        hidden: int = 256,
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
        beta: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        lr_schedule: Literal["constant", "cosine"] = "constant",
    ):
        super().__init__()
        check_lr_schedule(lr_schedule)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        self.save_hyperparameters()
        self.encoder = self.build_encoder()
        self.decoder = self.build_decoder()
        # one learned std for every pixel; only used by the Gaussian likelihood
        self.log_sigma = nn.Parameter(torch.zeros(()), requires_grad=likelihood == "gaussian")
        # sample-weighted means that sync across DDP ranks as (sum, count), not mean of means
        self.epoch_means = epoch_means(("loss", "nelbo", "recon", "kl"))

    # ----- networks: override these in a subclass to change the architecture -----
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.hparams.in_channels, self.hparams.image_size, self.hparams.image_size)

    def build_encoder(self) -> nn.Module:
        h = self.hparams
        return ConvEncoder(h.in_channels, h.image_size, 2 * h.latent_dim, h.channels, h.hidden)

    def build_decoder(self) -> nn.Module:
        h = self.hparams
        return ConvDecoder(h.latent_dim, h.in_channels, h.image_size, tuple(reversed(h.channels)), h.hidden)

    # ----- the model -----
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters: ``(B, C, H, W) → (mu, logvar)``, each ``(B, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output (Bernoulli logits or Gaussian means): ``(B, D) → (B, C, H, W)``."""
        return self.decoder(z)

    def mean_image(self, decoded: torch.Tensor) -> torch.Tensor:
        """Expected pixel values in [0, 1] from the decoder output."""
        if self.hparams.likelihood == "bernoulli":
            return torch.sigmoid(decoded)
        return decoded.clamp(0.0, 1.0)

    def reconstruction_nll(self, decoded: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log p(x | z) summed over pixels, nats; ``decoded`` may have extra leading dims."""
        if self.hparams.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(decoded, x.expand_as(decoded), reduction="none")
        else:
            var = (2 * self.log_sigma).exp()
            nll = 0.5 * ((x - decoded).pow(2) / var + LOG_2PI) + self.log_sigma
        return nll.flatten(start_dim=-3).sum(-1)

    def posterior_noise(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Standard normal noise for the reparameterisation, shaped like ``like`` ``(B, D)``.

        In training it is fresh noise. In evaluation it is a fixed function of each image
        (a row of a seeded noise bank picked by a hash of the pixels), so validation and test
        numbers do not depend on batch size, order or the number of DDP processes: a
        2-process run reports exactly the 1-process value.
        """
        if self.training:
            return torch.randn_like(like)
        return image_keyed_noise(x, like.shape[1:], distribution="normal", like=like, rows=4096)

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-image terms ``recon``, ``kl``, ``nelbo``, ``loss`` (each ``(B,)``, nats)."""
        mu, logvar = self.encode(x)
        z = mu + self.posterior_noise(x, mu) * (0.5 * logvar).exp()
        recon = self.reconstruction_nll(self.decode(z), x)
        kl = gaussian_kl(mu, logvar)
        return {"loss": recon + self.hparams.beta * kl, "nelbo": recon + kl, "recon": recon, "kl": kl}

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``n`` images from the prior, as expected pixel values: ``(n, C, H, W)`` in [0, 1]."""
        z = torch.randn(n, self.hparams.latent_dim, device=self.device) * temperature
        return self.mean_image(self.decode(z))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of ``x``: ``(B, C, H, W) → (B, C, H, W)`` in [0, 1]."""
        return self.mean_image(self.decode(self.encode(x)[0]))

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, num_samples: int = 200, chunk: int = 50) -> torch.Tensor:
        """Importance-sampled log p(x) per image (Burda et al. 2016), nats: ``(B,)``.

        ``log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log K`` with
        ``z_k ~ q(z|x)``; a lower bound that tightens as K grows (K = 1 is the ELBO).
        """
        mu, logvar = self.encode(x)
        std = (0.5 * logvar).exp()
        weights = []
        for start in range(0, num_samples, chunk):
            k = min(chunk, num_samples - start)
            z = mu + std * torch.randn(k, *mu.shape, device=mu.device, dtype=mu.dtype)  # (k, B, D)
            decoded = self.decode(z.flatten(0, 1)).unflatten(0, (k, x.shape[0]))
            log_px_z = -self.reconstruction_nll(decoded, x)
            log_pz = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
            log_qz = gaussian_log_prob(z, mu, logvar)
            weights.append(log_px_z + log_pz - log_qz)
        return torch.logsumexp(torch.cat(weights), dim=0) - math.log(num_samples)

    # ----- Lightning hooks -----
    def setup(self, stage: str) -> None:
        check_image_shape(self, self.image_shape)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        terms = self.loss_terms(x)
        loss = terms["loss"].mean()
        if stage == "train":
            check_finite(loss, "training loss", self.global_step)
            self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.log_epoch_means(stage, terms, prog_bar="nelbo")
        return loss

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        """Posterior means ``(B, latent_dim)``: the codes two-step clustering baselines use."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.encode(x)[0]

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr,
                                     weight_decay=self.hparams.weight_decay)
        if self.hparams.get("lr_schedule", "constant") == "constant":  # subclasses may not have it
            return optimizer
        return warmup_cosine(optimizer, total_steps=budget_steps(self))
