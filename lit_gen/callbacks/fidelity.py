"""Log FID/KID/IS of a generative model's samples every N epochs (or train steps) during ``fit``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import lightning as L

from lit_gen.callbacks.images import epoch_is_due
from lit_gen.metrics.extractors import resolve_extractor
from lit_gen.metrics.fidelity import FidelityResult, check_metric_names, compute_fidelity


class FidelityCallback(L.Callback):
    """Every ``every_n_epochs`` epochs (and after the last), log ``fidelity/fid[extractor]`` etc.

    With ``every_n_train_steps`` it also measures every that many training batches, and every
    measurement is appended to :attr:`history` as ``{"train_seconds", "batches", "epoch",
    <metric>: value}``: the metric against training time, the curve an equal-wall-clock
    comparison needs. ``train_seconds`` counts the wall time of ``fit`` minus the time spent in
    these measurements, so evaluating more often does not push the curve to the right.

    The module must have ``sample(n)`` returning ``(n, C, H, W)`` in [0, 1]; the reference
    images are ``split`` of the trainer's ``ImageDataModule`` (see
    :func:`lit_gen.metrics.fidelity.compute_fidelity` for the protocol).

    Under DDP, rank 0 draws all ``n_fake`` samples with the fixed ``seed`` and computes the
    metrics while the other ranks wait in a broadcast of the result, so every rank logs the same
    numbers and they equal a 1-process run. (Each rank sampling a share and gathering features
    would not be faster on CPU, and would make the samples depend on the world size.) Keep the
    Inception extractors' ``n_fake`` modest here: the other ranks wait for the whole computation.
    The ``classifier`` extractor is trained (once, cached) during ``setup`` on rank 0.

    Args:
        every_n_epochs: how often; the last epoch is always measured.
        metrics: any of ``fid``, ``kid``, ``is``, ``prc``.
        extractor: ``classifier``, ``inception`` or ``inception-ts``.
        n_fake / n_real: generated / reference images (``n_real`` None = the whole split).
        split: reference split of the data set (``test`` or ``train``).
        seed: sampling and subset seed (the same images are drawn every time, so epochs compare).
        cache: cache root (default ``$LIT_GEN_CACHE`` or ``~/.cache/lit_gen``).
        inception_weights: torch-fidelity InceptionV3 weights file (else ``LIT_GEN_INCEPTION_WEIGHTS``).
        prog_bar: show the first metric in the progress bar.
        every_n_train_steps: also measure every this many training batches (None: epochs only).
    """

    def __init__(self, every_n_epochs: int = 1, metrics: Sequence[str] = ("fid",),
                 extractor: str = "classifier", n_fake: int = 2000, n_real: int | None = 2000,
                 split: str = "test", seed: int = 0, cache: str | None = None,
                 inception_weights: str | None = None, classifier_epochs: int | None = None,
                 prog_bar: bool = False, every_n_train_steps: int | None = None):
        super().__init__()
        if every_n_epochs < 1 or n_fake < 2 or (n_real is not None and n_real < 2):
            raise ValueError("every_n_epochs must be >= 1 and n_fake/n_real >= 2")
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(f"every_n_train_steps must be >= 1 or None, got {every_n_train_steps}")
        self.every_n_train_steps = every_n_train_steps
        check_metric_names(metrics)
        self.every_n_epochs, self.metrics, self.extractor = every_n_epochs, list(metrics), extractor
        self.n_fake, self.n_real, self.split, self.seed = n_fake, n_real, split, seed
        self.cache, self.inception_weights = cache, inception_weights
        self.classifier_epochs, self.prog_bar = classifier_epochs, prog_bar
        self.last_result: FidelityResult | None = None  # rank 0 only
        self.history: list[dict[str, Any]] = []  # every rank (values are broadcast)
        self._fit_start = self._measure_seconds = 0.0
        self._batches = 0  # our own count: manual-optimisation modules step global_step per optimiser
        self._measured_at = -1  # batch count of the last measurement (no duplicate at epoch end)
        self._restored_seconds: float | None = None  # training seconds before a resume (load_state_dict)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if not callable(getattr(pl_module, "sample", None)):
            raise TypeError(f"FidelityCallback needs a module with sample(n); {type(pl_module).__name__} has none")
        dm = trainer.datamodule
        if getattr(dm, "name", None) is None:
            raise ValueError("FidelityCallback needs an ImageDataModule (the reference images come from it)")
        error = None
        if trainer.is_global_zero:  # train/find the classifier or weights once, before any epoch
            try:
                resolve_extractor(self.extractor, dataset=dm.name, image_size=dm.image_size,
                                  root=dm.root, use_hub=dm.use_hub, cache=self.cache,
                                  inception_weights=self.inception_weights,
                                  classifier_epochs=self.classifier_epochs)
            except Exception as err:  # every rank must hear of it, or the others wait forever
                error = f"{type(err).__name__}: {err}"
        self._raise_on_any_rank(trainer, error)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._measure_seconds = 0.0
        if self._restored_seconds is None:
            self._fit_start = time.perf_counter()
            self._batches, self._measured_at, self.history = 0, -1, []
        else:  # resumed from a checkpoint (restored before this hook): the curve carries on
            self._fit_start = time.perf_counter() - self._restored_seconds
            self._restored_seconds = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(extractor=self.extractor, metrics=self.metrics,
                                        every_n_epochs=self.every_n_epochs,
                                        every_n_train_steps=self.every_n_train_steps)

    def state_dict(self) -> dict[str, Any]:
        """The curve so far, so a fit resumed from a checkpoint continues it."""
        return {"history": [dict(point) for point in self.history], "batches": self._batches,
                "measured_at": self._measured_at,
                "train_seconds": time.perf_counter() - self._fit_start - self._measure_seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = [dict(point) for point in state_dict["history"]]
        self._batches, self._measured_at = int(state_dict["batches"]), int(state_dict["measured_at"])
        self._restored_seconds = float(state_dict["train_seconds"])

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        self._batches += 1
        if self.every_n_train_steps and self._batches % self.every_n_train_steps == 0:
            self._record(trainer, pl_module, on_epoch=False)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if epoch_is_due(trainer, self.every_n_epochs) and self._measured_at != self._batches:
            self._record(trainer, pl_module, on_epoch=True)

    def _record(self, trainer: L.Trainer, pl_module: L.LightningModule, on_epoch: bool) -> None:
        train_seconds = time.perf_counter() - self._fit_start - self._measure_seconds
        start = time.perf_counter()
        values = self.measure(trainer, pl_module)
        self._measure_seconds += time.perf_counter() - start
        self._measured_at = self._batches
        point = {"train_seconds": train_seconds, "batches": self._batches, "epoch": trainer.current_epoch}
        if hasattr(pl_module, "g_step"):  # a GAN: batches count D steps, the curve's x is G steps
            point["g_steps"] = int(pl_module.g_step)
        self.history.append({**point, **values})
        if not on_epoch:
            # straight to the loggers: a value logged with self.log in a batch hook would be
            # re-emitted at every later logging step until the next measurement
            if trainer.is_global_zero:
                for logger in trainer.loggers:
                    logger.log_metrics({f"fidelity/{k}": v for k, v in values.items()}, step=trainer.global_step)
            return
        for i, (name, value) in enumerate(values.items()):
            pl_module.log(f"fidelity/{name}", value, on_step=False, on_epoch=True,
                          prog_bar=self.prog_bar and i == 0, sync_dist=False)

    def measure(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        """Compute on rank 0 and broadcast: every rank returns the same ``{name: value}``."""
        values: dict[str, float] = {}
        error = None
        if trainer.is_global_zero:
            try:
                self.last_result = compute_fidelity(
                    pl_module, trainer.datamodule, self.metrics, self.extractor, self.n_fake,
                    self.n_real, self.split, self.seed, self.cache,
                    inception_weights=self.inception_weights,
                    classifier_epochs=self.classifier_epochs)
                values = self.last_result.values
            except Exception as err:
                error = f"{type(err).__name__}: {err}"
        self._raise_on_any_rank(trainer, error)
        return trainer.strategy.broadcast(values, src=0)

    @staticmethod
    def _raise_on_any_rank(trainer: L.Trainer, error: str | None) -> None:
        """Broadcast rank 0's error (or None) and raise it everywhere: no rank is left waiting."""
        error = trainer.strategy.broadcast(error, src=0)
        if error is not None:
            raise RuntimeError(f"FidelityCallback failed on rank 0: {error}")
