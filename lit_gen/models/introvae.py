"""IntroVAE (Huang et al. 2018): a VAE whose encoder is also the discriminator.

The encoder E gives q(z|x) = N(μ, σ²) and L_REG = KL(q(z|x) ‖ N(0, I)) (per image, summed over
codes, averaged over the batch). E learns to give real images a small KL and the decoder's
images — reconstructions X_r = G(Z_r) and samples X_p = G(Z_p), Z_p ~ N(0, I) — a KL of at least
the margin m; G learns to make E give its images a small KL (Algorithm 1 of the paper):

    L_E = L_REG(Z) + α·([m − L_REG(E(ng(X_r)))]⁺ + [m − L_REG(E(ng(X_p)))]⁺) + β·L_AE(X_r, X)
    L_G = α·(L_REG(E(X_r)) + L_REG(E(X_p))) + β·L_AE(X_r, X)

with ng(·) no gradient and L_AE the squared error summed over pixels, averaged over the batch
(the authors' ``reconstruction_loss``). One E step, then one G step per batch (manual
optimisation); G's step reuses the batch's codes Z_r (no gradient into E) and the updated E.
Images are in [0, 1]; the decoder has no output activation, ``sample``/``reconstruct`` clamp.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric

from lit_gen.losses.gaussian import gaussian_kl
from lit_gen.nn.conv import ConvDecoder, ConvEncoder
from lit_gen.utils.checks import check_finite, check_image_shape


def kl_to_prior(mu: Tensor, logvar: Tensor) -> Tensor:
    """L_REG: KL(N(μ, e^logvar) ‖ N(0, I)) summed over codes, averaged over the batch."""
    return gaussian_kl(mu, logvar).mean()


def reconstruction_error(x_r: Tensor, x: Tensor) -> Tensor:
    """L_AE: ‖x_r − x‖² summed over pixels, averaged over the batch."""
    return (x_r - x).pow(2).flatten(1).sum(1).mean()


class _Encoder(nn.Module):
    """Images → (μ, log σ²) of ``latent_dim`` codes."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)


class IntroVAE(L.LightningModule):
    """IntroVAE for ``in_channels × image_size × image_size`` images in [0, 1].

    Args:
        in_channels, image_size: image shape (side divisible by 4).
        latent_dim: size of z.
        channels, hidden: widths of the convolutional encoder (the decoder mirrors them).
        m: the margin on the KL of generated images (the paper: 120 for 512 codes at 256 px).
        alpha: weight of the adversarial KL terms (paper: 0.25).
        beta: weight of the reconstruction error (paper: 0.05 at 256 px; its scale grows with
            the number of pixels).
        lr_e, lr_g, betas: Adam settings of the encoder and the decoder.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, latent_dim: int = 32,
                 channels: Sequence[int] = (32, 64), hidden: int = 256, m: float = 120.0, alpha: float = 0.25,
                 beta: float = 0.05, lr_e: float = 2e-4, lr_g: float = 2e-4, betas: Sequence[float] = (0.9, 0.999)):
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if min(m, alpha, beta) < 0:
            raise ValueError(f"m, alpha and beta must be >= 0, got {m}, {alpha}, {beta}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.encoder = _Encoder(ConvEncoder(in_channels, image_size, 2 * latent_dim, channels, hidden))
        self.decoder = ConvDecoder(latent_dim, in_channels, image_size, tuple(reversed(channels)), hidden)
        self.epoch_means = nn.ModuleDict({name: MeanMetric() for name in
                                          ("loss_e", "loss_g", "rec", "kl_real", "kl_rec", "kl_fake")})

    # ----- the two losses (pure in the networks, the batch and the noise) -----
    def encoder_loss(self, x: Tensor, eps: Tensor, z_p: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """L_E for images ``x``, reparameterisation noise ``eps`` and prior codes ``z_p``; also
        returns Z_r = μ + σ·eps (with its graph) for the decoder's step."""
        a, b, m = self.hparams.alpha, self.hparams.beta, self.hparams.m
        mu, logvar = self.encoder(x)
        z_r = mu + eps * (0.5 * logvar).exp()
        x_r, x_p = self.decoder(z_r), self.decoder(z_p)
        rec = reconstruction_error(x_r, x)
        kl_real = kl_to_prior(mu, logvar)
        kl_rec = kl_to_prior(*self.encoder(x_r.detach()))
        kl_fake = kl_to_prior(*self.encoder(x_p.detach()))
        loss = kl_real + a * (F.relu(m - kl_rec) + F.relu(m - kl_fake)) + b * rec
        return loss, z_r, {"rec": rec, "kl_real": kl_real, "kl_rec": kl_rec, "kl_fake": kl_fake}

    def decoder_loss(self, x: Tensor, z_r: Tensor, z_p: Tensor) -> Tensor:
        """L_G for images ``x``, their codes ``z_r`` (no gradient into E) and prior codes ``z_p``."""
        a, b = self.hparams.alpha, self.hparams.beta
        x_r, x_p = self.decoder(z_r.detach()), self.decoder(z_p)
        return a * (kl_to_prior(*self.encoder(x_r)) + kl_to_prior(*self.encoder(x_p))) + b * reconstruction_error(x_r, x)

    # ----- generation -----
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.hparams.in_channels, self.hparams.image_size, self.hparams.image_size)

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """``n`` images ``(n, C, H, W)`` in [0, 1]: G(z), z ~ N(0, I)."""
        z = torch.randn(n, self.hparams.latent_dim, device=self.device)
        return self.decoder(z).clamp(0.0, 1.0)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, sample: bool = False) -> Tensor:
        """G(μ(x)) (or G(z), z ~ q(z|x), with ``sample``) of images in [0, 1], clamped to [0, 1]."""
        mu, logvar = self.encoder(x.to(self.device))
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return self.decoder(z).clamp(0.0, 1.0)

    # ----- Lightning hooks -----
    def setup(self, stage: str) -> None:
        check_image_shape(self, self.image_shape)

    def _log(self, name: str, value: Tensor, stage: str = "train") -> None:
        metric = self.epoch_means[name]
        metric.update(value.detach())
        self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True, prog_bar=name.startswith("loss"))

    def training_step(self, batch, batch_idx: int) -> None:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        opt_e, opt_g = self.optimizers()
        eps = torch.randn(x.shape[0], self.hparams.latent_dim, device=self.device)
        z_p = torch.randn_like(eps)

        self.toggle_optimizer(opt_e)                     # G frozen; gradients still reach E through G
        loss_e, z_r, stats = self.encoder_loss(x, eps, z_p)
        check_finite(loss_e, "IntroVAE encoder loss", self.global_step)
        opt_e.zero_grad(set_to_none=True)
        self.manual_backward(loss_e)
        opt_e.step()
        self.untoggle_optimizer(opt_e)

        self.toggle_optimizer(opt_g)                     # E (updated) frozen
        loss_g = self.decoder_loss(x, z_r, z_p)
        check_finite(loss_g, "IntroVAE decoder loss", self.global_step)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self._log("loss_e", loss_e)
        self._log("loss_g", loss_g)
        for name, value in stats.items():
            self._log(name, value)

    def _evaluate(self, batch, stage: str) -> None:
        """Mean squared reconstruction error per image (``rec``) and KL of q(z|x) to the prior
        (``kl_real``, nats), as epoch means (synced across processes by Lightning)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        self.log(f"{stage}/rec", reconstruction_error(self.reconstruct(x), x), on_step=False, on_epoch=True,
                 sync_dist=True)
        self.log(f"{stage}/kl_real", kl_to_prior(*self.encoder(x)), on_step=False, on_epoch=True, sync_dist=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self):
        h = self.hparams
        opt_e = torch.optim.Adam(self.encoder.parameters(), lr=h.lr_e, betas=tuple(h.betas))
        opt_g = torch.optim.Adam(self.decoder.parameters(), lr=h.lr_g, betas=tuple(h.betas))
        return [opt_e, opt_g]
