"""Write PNG grids of samples and reconstructions into the run's log folder."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import torch
from torchvision.utils import save_image

from lit_gen.utils.rng import seeded


def epoch_is_due(trainer: L.Trainer, every_n_epochs: int) -> bool:
    """True at every ``every_n_epochs``-th epoch end, and always at the last one."""
    epoch = trainer.current_epoch
    last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
    return (epoch + 1) % every_n_epochs == 0 or last or trainer.should_stop


class ImageGridCallback(L.Callback):
    """Every ``every_n_epochs`` epochs, save ``samples_epoch=E.png`` and ``recon_epoch=E.png``.

    Uses the module's ``sample(n)`` and ``reconstruct(x)`` when it has them (modules without
    them are left alone). Reconstructions show the first validation images on the top rows and
    their reconstructions below. Files go to ``<log_dir>/images/`` (rank 0 only).

    Args:
        every_n_epochs: how often; the last epoch is always written.
        num_samples: images per grid.
        nrow: images per grid row.
        seed: seed of the sampling noise (the same every epoch; training's random state is left as it was).
    """

    def __init__(self, every_n_epochs: int = 1, num_samples: int = 64, nrow: int = 8, seed: int = 0):
        super().__init__()
        if every_n_epochs < 1 or num_samples < 1:
            raise ValueError("every_n_epochs and num_samples must be >= 1")
        self.every_n_epochs, self.num_samples, self.nrow, self.seed = every_n_epochs, num_samples, nrow, seed
        self._val_images: torch.Tensor | None = None

    @staticmethod
    def output_dir(trainer: L.Trainer) -> Path:
        root = trainer.log_dir or trainer.default_root_dir
        return Path(root) / "images"

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if batch_idx == 0 and self._val_images is None:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if torch.is_tensor(x) and x.dim() == 4:
                self._val_images = x[: self.num_samples // 2].detach()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if epoch_is_due(trainer, self.every_n_epochs):
            self.write(trainer, pl_module, tag=f"epoch={trainer.current_epoch}")

    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str) -> list[Path]:
        """Write the grids now; returns the files written (empty on ranks other than 0)."""
        folder = self.output_dir(trainer)  # a collective call under DDP: every rank takes it
        if not trainer.is_global_zero:
            return []
        os.makedirs(folder, exist_ok=True)
        written = []
        was_training = pl_module.training
        pl_module.eval()
        try:
            if callable(getattr(pl_module, "sample", None)):
                path = folder / f"samples_{tag}.png"
                with seeded(self.seed, pl_module.device):
                    images = pl_module.sample(self.num_samples)
                save_image(images.float().cpu(), path, nrow=self.nrow)
                written.append(path)
            if callable(getattr(pl_module, "reconstruct", None)) and self._val_images is not None:
                x = self._val_images.to(pl_module.device)
                with seeded(self.seed, pl_module.device):
                    recon = pl_module.reconstruct(x)
                grid = torch.cat([x, recon]).float().cpu()
                path = folder / f"recon_{tag}.png"
                save_image(grid, path, nrow=self.nrow)
                written.append(path)
        finally:
            pl_module.train(was_training)
        return written
