"""Plumbing shared by the likelihood-style modules (VAE, ClusterVAE, VIB, Glow, f-VAE)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

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


def budget_steps(module: L.LightningModule) -> int:
    """The optimizer steps the trainer will take (``max_epochs``/``max_steps``); a clear error
    when the budget is open-ended (a schedule that ends at the last step needs one)."""
    steps = module.trainer.estimated_stepping_batches
    if not math.isfinite(steps):
        raise ValueError("lr_schedule='cosine' needs a finite budget: set trainer.max_epochs or max_steps")
    return int(steps)


def budget_progress(module: L.LightningModule) -> Callable[[int], float]:
    """``progress(step)``: the fraction of the trainer's budget used after ``step`` optimizer
    steps, for a schedule that must end with the run. Of the step budget (``max_epochs`` /
    ``max_steps``) and the ``max_time`` clock (Lightning's ``Timer``, which a resumed run carries
    over), whichever runs out first. The clock is rank 0's, broadcast, so DDP ranks agree on the
    learning rate. A clear error when neither budget is finite."""
    from lightning.pytorch.callbacks import Timer

    trainer = module.trainer
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer) and c.time_remaining() is not None), None)
    steps = trainer.estimated_stepping_batches
    if timer is None and not math.isfinite(steps):
        raise ValueError("lr_schedule='cosine' needs a finite budget: set trainer.max_epochs, max_steps or max_time")

    def progress(step: int) -> float:
        done = step / steps if math.isfinite(steps) else 0.0
        if timer is not None:
            elapsed = timer.time_elapsed()
            clock = elapsed / max(1e-9, elapsed + timer.time_remaining())
            done = max(done, float(trainer.strategy.broadcast(clock, src=0)))
        return done

    return progress


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int = 0,
                  total_steps: int | None = None, progress: Callable[[int], float] | None = None,
                  decay_start: float = 0.0) -> dict:
    """A per-step learning-rate schedule for Lightning: linear warm-up over ``warmup_steps``,
    then constant (``total_steps`` and ``progress`` None) or a half cosine from 1 to 0 at
    ``total_steps``, or as ``progress(step)`` (see :func:`budget_progress`) goes from 0 to 1.

    With ``decay_start`` in (0, 1) the rate stays at 1 until that fraction of the budget and the
    half cosine fills the rest (a warmup-stable-decay schedule, Hägele et al. 2024): a run can
    train at its full rate and still end annealed."""
    if not 0.0 <= decay_start < 1.0:
        raise ValueError(f"decay_start must be in [0, 1), got {decay_start}")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if progress is not None:
            done = progress(step)
        elif total_steps is None:
            return 1.0
        else:
            done = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        done = (done - decay_start) / (1.0 - decay_start)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, done))))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def check_lr_schedule(lr_schedule: str, lr_decay_start: float = 0.0) -> None:
    """Clear errors, at construction, for the ``lr_schedule`` (``constant`` or ``cosine``) and
    ``lr_decay_start`` arguments of the modules whose rate comes from :func:`warmup_cosine`."""
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    if not 0.0 <= lr_decay_start < 1.0:
        raise ValueError(f"lr_decay_start must be in [0, 1), got {lr_decay_start}")
    if lr_decay_start > 0 and lr_schedule != "cosine":
        raise ValueError(f"lr_decay_start={lr_decay_start} needs lr_schedule='cosine' (the constant rate never decays)")


def adam_with_linear_warmup(module: L.LightningModule, lr: float, warmup_steps: int, cosine: bool = False,
                            decay_start: float = 0.0) -> dict:
    """Adam whose learning rate rises linearly over ``warmup_steps`` optimizer steps (flows need
    it), then stays, or with ``cosine`` falls to 0 as the budget runs out (:func:`budget_progress`),
    from the fraction ``decay_start`` of the budget on (see :func:`warmup_cosine`)."""
    return warmup_cosine(torch.optim.Adam(module.parameters(), lr=lr), warmup_steps,
                         progress=budget_progress(module) if cosine else None, decay_start=decay_start)


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
