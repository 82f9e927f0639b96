"""Lightning callbacks the bench adds to every fit: sample/time counts and the epoch-end
checkpoint an interrupted fit resumes from (:mod:`lit_gen.bench.resume`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

PARTIAL_DIR = "partial"  # in a run's work dir: epoch-end checkpoints of a fit that has not been scored yet
PARTIAL_CHECKPOINT = "epoch-end"  # its checkpoint, overwritten at the end of every epoch
PARTIAL_STAMP = "config_hash"  # beside it: the training hash of the fit that wrote it


class ThroughputCallback(L.Callback):
    """Counts training samples (over all ranks) and the wall time of ``fit``.

    Both counts are saved in checkpoints, so a fit resumed from one reports the totals of all
    its pieces; ``resumed_at_epochs`` lists the epochs it was resumed at (``resuming_at``: this
    piece's, when it starts from a checkpoint).
    """

    def __init__(self, resuming_at: int | None = None) -> None:
        self.samples = 0
        self.start = self.seconds = 0.0
        self.earlier_seconds = 0.0  # wall time of the pieces before a resume
        self.resuming_at = resuming_at
        self.resumed_at_epochs: list[int] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        size = len(first) if hasattr(first, "__len__") else 1
        self.samples += size * trainer.world_size

    def on_fit_end(self, trainer, pl_module) -> None:
        self.seconds = self.earlier_seconds + time.perf_counter() - self.start

    def state_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "seconds": self.earlier_seconds + time.perf_counter() - self.start,
                "resumed_at_epochs": list(self.resumed_at_epochs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.samples, self.earlier_seconds = int(state_dict["samples"]), float(state_dict["seconds"])
        self.resumed_at_epochs = list(state_dict.get("resumed_at_epochs", []))
        if self.resuming_at is not None:
            self.resumed_at_epochs.append(self.resuming_at)


class EpochEndCheckpoint(ModelCheckpoint):
    """The newest epoch-end checkpoint of a bench fit, ``<dirpath>/epoch-end.ckpt`` (overwritten),
    with its own state key, apart from any ``ModelCheckpoint`` the config or Lightning adds."""

    def __init__(self, dirpath: Path) -> None:
        # save_top_k=1 without a monitor keeps just the newest epoch's checkpoint
        super().__init__(dirpath=dirpath, filename=PARTIAL_CHECKPOINT, save_top_k=1, every_n_epochs=1,
                         enable_version_counter=False)

    @property
    def state_key(self) -> str:
        return type(self).__qualname__
