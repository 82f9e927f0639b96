"""Write a grid with one row per cluster (samples of ``sample(n, y=k)``) for clustering models."""

from __future__ import annotations

import os

import lightning as L
from torchvision.utils import save_image

from lit_gen.callbacks.images import ImageGridCallback, epoch_is_due
from lit_gen.utils.io import atomic_path
from lit_gen.utils.rng import seeded


class ClusterGridCallback(L.Callback):
    """Every ``every_n_epochs`` epochs, save ``<log_dir>/images/clusters_epoch=E.png``.

    Row k holds ``per_cluster`` images drawn from cluster k (the module's ``cluster_grid``, e.g.
    :meth:`lit_gen.models.ClusterVAE.cluster_grid`); other modules are left alone. Rank 0 only.
    The noise is drawn with ``seed`` (the same every epoch) and training's random state is left
    as it was (:func:`~lit_gen.utils.rng.seeded`).
    """

    def __init__(self, every_n_epochs: int = 1, per_cluster: int = 10, temperature: float = 1.0, seed: int = 0):
        super().__init__()
        if every_n_epochs < 1 or per_cluster < 1:
            raise ValueError("ClusterGridCallback: every_n_epochs and per_cluster must be >= 1")
        self.every_n_epochs, self.per_cluster, self.temperature = every_n_epochs, per_cluster, temperature
        self.seed = seed

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if epoch_is_due(trainer, self.every_n_epochs):
            self.write(trainer, pl_module, tag=f"epoch={trainer.current_epoch}")

    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str):
        """Write the grid now; returns its path (``None`` on other ranks or other modules)."""
        folder = ImageGridCallback.output_dir(trainer)  # collective under DDP: every rank calls it
        if not trainer.is_global_zero or not callable(getattr(pl_module, "cluster_grid", None)):
            return None
        os.makedirs(folder, exist_ok=True)
        path = folder / f"clusters_{tag}.png"
        was_training = pl_module.training
        pl_module.eval()
        try:
            with seeded(self.seed, pl_module.device):
                grid = pl_module.cluster_grid(self.per_cluster, self.temperature)
        finally:
            pl_module.train(was_training)
        with atomic_path(path, suffix=".png") as tmp:  # a viewer never sees half a file
            save_image(grid.float().cpu(), tmp, nrow=self.per_cluster)
        return path
