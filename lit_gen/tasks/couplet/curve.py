"""``CoupletCurveCallback``: test BLEU-4 and character accuracy after every training epoch.

The curve is for reading how a run develops, never for choosing weights: the weights a bench
entry scores are chosen on the validation loss (``couplet_bleu``'s ``weights: best_val_loss``),
and each point also records the ``val/loss`` that selection saw. Decoding the 4,000 test pairs
takes a few seconds, once per epoch.

    trainer:
      callbacks:
        - class_path: lit_gen.tasks.couplet.curve.CoupletCurveCallback
          init_args: {every_n_epochs: 1}
"""

from __future__ import annotations

import lightning as L

from lit_gen.tasks.couplet.decode import Rules
from lit_gen.tasks.couplet.writer import CoupletWriter


class CoupletCurveCallback(L.Callback):
    """After every ``every_n_epochs``-th training epoch (rank 0), decode the data module's test
    split (the first ``limit`` pairs of the test set's order, which is by length, so the
    shortest lines; None = all) with the structural rules and ``beam_width``,
    append ``{epoch, step, bleu4, char_acc, val_loss}`` (scores ×100) to :attr:`points` and log
    ``curve/bleu4`` and ``curve/char_acc``."""

    def __init__(self, every_n_epochs: int = 1, limit: int | None = None, beam_width: int = 1):
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or None, got {limit}")
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        self.every_n_epochs, self.limit, self.beam_width = every_n_epochs, limit, beam_width
        self.points: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs or not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        if datamodule.test_set is None:
            datamodule.setup("test")
        pairs = datamodule.test_set.pairs[: self.limit]
        writer = CoupletWriter(pl_module, rules=Rules(), beam_width=self.beam_width)
        scores = writer.score(pairs)
        val_loss = trainer.callback_metrics.get("val/loss")
        point = {"epoch": trainer.current_epoch + 1, "step": trainer.global_step,
                 "bleu4": 100 * scores["bleu4"], "char_acc": 100 * scores["char_acc"],
                 "val_loss": float(val_loss) if val_loss is not None else None}
        self.points.append(point)
        pl_module.log("curve/bleu4", point["bleu4"], rank_zero_only=True)
        pl_module.log("curve/char_acc", point["char_acc"], rank_zero_only=True)

    def state_dict(self) -> dict:
        return {"points": self.points}  # a resumed run keeps the epochs it already measured

    def load_state_dict(self, state_dict: dict) -> None:
        self.points = list(state_dict.get("points", []))
