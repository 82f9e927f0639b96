"""Pictures for flow models: sample grids at several temperatures and an interpolation strip."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from torchvision.utils import save_image

from lit_gen.callbacks.images import ImageGridCallback
from lit_gen.utils.rng import seeded


class FlowPicturesCallback(L.Callback):
    """At the end of training (and every ``every_n_epochs`` epochs if set), write
    ``samples_T=<T>_<tag>.png`` for each temperature, using ``sample(n, temperature)``, and, for
    modules with ``interpolate(x_a, x_b, num)`` (f-VAE), ``interp_<tag>.png``: one row per pair of
    validation images, ``num`` images from the first to the second. Rank 0 only; files go to
    ``<log_dir>/images/``. Each sample grid uses the same seeded noise so temperatures compare.

    Args:
        temperatures: sampling temperatures T (prior std multipliers).
        num_samples: images per sample grid.
        nrow: images per grid row.
        num_interp: images per interpolation row (pairs = ``nrow``).
        every_n_epochs: 0 = only at the end of training.
        seed: seed of the sampling noise.
    """

    def __init__(self, temperatures: Sequence[float] = (0.5, 0.8, 1.0), num_samples: int = 64, nrow: int = 8,
                 num_interp: int = 10, every_n_epochs: int = 0, seed: int = 0):
        super().__init__()
        if num_samples < 1 or num_interp < 2 or every_n_epochs < 0:
            raise ValueError("need num_samples >= 1, num_interp >= 2, every_n_epochs >= 0")
        self.temperatures, self.num_samples, self.nrow = list(temperatures), num_samples, nrow
        self.num_interp, self.every_n_epochs, self.seed = num_interp, every_n_epochs, seed
        self._pairs: torch.Tensor | None = None

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if batch_idx == 0 and self._pairs is None and torch.is_tensor(x) and len(x) >= 2:
            self._pairs = x[: 2 * self.nrow].detach()

    def on_train_epoch_end(self, trainer, pl_module):
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.write(trainer, pl_module, f"epoch={trainer.current_epoch}")

    def on_train_end(self, trainer, pl_module):
        self.write(trainer, pl_module, "final")

    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str) -> list[Path]:
        """Write the pictures now; returns the files written (empty on other ranks)."""
        folder = ImageGridCallback.output_dir(trainer)  # collective under DDP: every rank calls it
        if not trainer.is_global_zero or not callable(getattr(pl_module, "sample", None)):
            return []
        os.makedirs(folder, exist_ok=True)
        written, was_training = [], pl_module.training
        pl_module.eval()
        try:
            for t in self.temperatures:
                with seeded(self.seed, pl_module.device):
                    images = pl_module.sample(self.num_samples, temperature=t)
                written.append(folder / f"samples_T={t:g}_{tag}.png")
                save_image(images.float().cpu(), written[-1], nrow=self.nrow)
            if callable(getattr(pl_module, "interpolate", None)) and self._pairs is not None:
                x = self._pairs.to(pl_module.device)
                half = len(x) // 2
                with seeded(self.seed, pl_module.device):
                    strip = pl_module.interpolate(x[:half], x[half: 2 * half], self.num_interp)
                written.append(folder / f"interp_{tag}.png")
                save_image(strip.flatten(0, 1).float().cpu(), written[-1], nrow=self.num_interp)
        finally:
            pl_module.train(was_training)
        return written
