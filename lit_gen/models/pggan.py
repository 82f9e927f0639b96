"""Progressive growing (Karras et al. 2018): the GAN module with PGGAN networks
(:mod:`lit_gen.nn.pggan`) trained at 8, then 16, then 32 px, each new resolution faded in.

The schedule is a function of the generator step t (so it resumes exactly from a checkpoint):
``pg_stable_steps`` at 8 px; then for 16 and 32 px, ``pg_fade_steps`` with α rising linearly
from 0 to 1, then ``pg_stable_steps`` at α = 1 (32 px stays until the end). Real images are
shown to D at the current resolution (2× average pooling), and during a fade as
(1 − α)·up(down(x)) + α·x, as in the paper. ``sample(n)`` returns full-size images (the current
resolution up-sampled by nearest neighbours), so the metrics see the data's size throughout.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gen.models.gan import GAN
from lit_gen.nn.pggan import PG_RESOLUTIONS, down, up


def pg_stage(step: int, stable: int, fade: int) -> tuple[int, float]:
    """(resolution, α) at generator step ``step``."""
    if step < stable:
        return PG_RESOLUTIONS[0], 1.0
    t = step - stable
    for resolution in PG_RESOLUTIONS[1:]:
        if t < fade:
            return resolution, t / fade
        t -= fade
        if resolution == PG_RESOLUTIONS[-1] or t < stable:
            return resolution, 1.0
        t -= stable
    raise AssertionError("unreachable")


class ProgressiveGAN(GAN):
    """:class:`GAN` (``arch='pggan'``, 32 px, unconditional) grown 8 → 16 → 32 px.

    Args:
        pg_stable_steps: generator steps at each resolution with α = 1 (32 px: until the end).
        pg_fade_steps: generator steps of each fade-in (α from 0 to 1).
        **kwargs: the :class:`GAN` options (objective, widths, learning rates, ...).
    """

    def __init__(self, pg_stable_steps: int = 2000, pg_fade_steps: int = 2000, **kwargs: Any):
        kwargs.setdefault("arch", "pggan")
        kwargs.setdefault("in_channels", 3)
        kwargs.setdefault("image_size", 32)
        if kwargs["arch"] != "pggan" or kwargs["image_size"] != 32:
            raise ValueError("ProgressiveGAN grows the PGGAN networks to 32 px: arch must be 'pggan' and image_size "
                             f"32, got {kwargs['arch']!r} and {kwargs['image_size']}")
        if kwargs.get("num_classes") is not None:
            raise ValueError("ProgressiveGAN is unconditional (num_classes must be None)")
        if pg_stable_steps < 1 or pg_fade_steps < 1:
            raise ValueError(f"pg_stable_steps and pg_fade_steps must be >= 1, got {pg_stable_steps}, {pg_fade_steps}")
        super().__init__(**kwargs)
        self.save_hyperparameters()

    def stage(self) -> tuple[int, float]:
        return pg_stage(int(self.g_step), self.hparams.pg_stable_steps, self.hparams.pg_fade_steps)

    def apply_stage(self) -> tuple[int, float]:
        """Set the (resolution, α) of the current step on G, D and the EMA copy of G."""
        resolution, alpha = self.stage()
        for net in (self.generator, self.discriminator, self.ema.module if self.ema is not None else None):
            if net is not None:
                net.set_stage(resolution, alpha)
        return resolution, alpha

    def _images(self, batch) -> Tensor:
        """Real images at the current resolution, faded in as (1 − α)·up(down(x)) + α·x."""
        x = super()._images(batch)
        resolution, alpha = self.apply_stage()
        while x.shape[-1] > resolution:
            x = down(x)
        if alpha < 1.0:
            x = (1 - alpha) * up(down(x)) + alpha * x
        return x

    @torch.no_grad()
    def sample(self, n: int, y=None, truncation: float | None = None, psi: float | None = None) -> Tensor:
        self.apply_stage()
        x = super().sample(n, y, truncation, psi)
        if x.shape[-1] != self.hparams.image_size:
            x = F.interpolate(x, size=self.hparams.image_size, mode="nearest")
        return x

    def validation_step(self, batch, batch_idx: int) -> None:
        """Mean critic scores of held-out real images and of samples, at the current resolution."""
        real = self._images(batch)
        self._log_mean("val_d_real", self.score(real), "val")
        with torch.no_grad():
            fake = self.sampler(self.noise(real.shape[0]))
        self._log_mean("val_d_fake", self.score(fake), "val")

    def training_step(self, batch, batch_idx: int) -> None:
        resolution, alpha = self.apply_stage()
        self.log("train/resolution", float(resolution), on_step=True, on_epoch=False)
        self.log("train/alpha", alpha, on_step=True, on_epoch=False)
        return super().training_step(batch, batch_idx)
