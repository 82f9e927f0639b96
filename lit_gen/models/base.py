"""Plumbing shared by the likelihood-style modules (VAE, ClusterVAE, VIB, Glow, f-VAE)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric

STAGES = ("train", "val", "test")


def epoch_means(names: Iterable[str], stages: Iterable[str] = STAGES) -> nn.ModuleDict:
    """One ``MeanMetric`` per ``<stage>_<name>``: sample-weighted epoch means that sync across
    DDP ranks as (sum, count), so N processes report the 1-process value."""
    names = list(names)
    return nn.ModuleDict({f"{stage}_{name}": MeanMetric() for stage in stages for name in names})


def adam_with_linear_warmup(module: L.LightningModule, lr: float, warmup_steps: int) -> dict:
    """Adam whose learning rate rises linearly over ``warmup_steps`` optimizer steps (flows need it)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    warmup = max(1, warmup_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class StagedLossModule(L.LightningModule):
    """A module whose train/val/test steps are one ``_step(batch, stage)``.

    Subclasses set ``self.epoch_means = epoch_means(...)`` and implement ``_step``, calling
    :meth:`log_epoch_means` with their per-sample loss terms.
    """

    def _step(self, batch, stage: str) -> torch.Tensor:
        raise NotImplementedError

    def log_epoch_means(self, stage: str, terms: Mapping[str, torch.Tensor], prog_bar: str | None = None) -> None:
        """Accumulate per-sample ``terms`` (each ``(B,)``) and log them as ``<stage>/<name>``."""
        for name, values in terms.items():
            metric = self.epoch_means[f"{stage}_{name}"]
            metric.update(values.detach())
            self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True,
                     prog_bar=stage == "val" and name == prog_bar)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")
