"""``CoupletTagger``: a couplet lower line as per-position labels of the upper line.

A lower line has the upper line's length and answers it character by character, so the task
is sequence labelling: ``(B, L)`` upper ids → ``(B, L, V)`` logits, trained with per-position
cross-entropy against the lower ids (no padding: batches hold one length).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric

from lit_gen.models.base import budget_steps, check_lr_schedule, warmup_cosine
from lit_gen.nn.couplet import GatedConvTagger, TransformerTagger
from lit_gen.tasks.couplet.data import CoupletBatch
from lit_gen.tasks.couplet.metrics import CoupletScores
from lit_gen.tasks.couplet.vocab import Vocab
from lit_gen.tasks.couplet.writing import LineWriter
from lit_gen.utils.checks import check_finite


class CoupletTagger(L.LightningModule):
    """Per-position tagger with a gated-CNN (default, the post's model) or Transformer backbone.

    Args:
        backbone: ``conv`` (gated residual Conv1D blocks) or ``transformer`` (encoder).
        dim: embedding / channel width (post: 128).
        depth: number of blocks / encoder layers (post: 6).
        kernel_size: conv kernel (post: 3); conv only.
        dilations: per-block conv dilations, cycled (post: all 1); conv only.
        heads, ff_mult: attention heads and feed-forward width multiple; transformer only.
        dropout: after the embedding (post: 0.25) and, for the transformer, inside layers.
        max_chars: longest line the model accepts (writer limit; transformer positions).
        lr, weight_decay: AdamW settings. warmup_steps: linear learning-rate warm-up.
        label_smoothing: cross-entropy label smoothing.
        vocab: the character list; filled from the data module at setup and saved in the
            checkpoint (leave unset when training).
        lr_schedule: ``constant`` (the post) or ``cosine``: after the warm-up the rate follows a
            half cosine to 0 at the trainer's last step (``max_epochs``/``max_steps``), so a fixed
            budget ends in a low-rate phase that settles the weights.
    """

    #: hyper-parameters filled from the data at setup, not given by a config: rescoring a saved
    #: run (``lit-gen bench rescore``) does not compare them with a freshly built model's
    hparams_from_data: ClassVar[tuple[str, ...]] = ("vocab",)

    def __init__(
        self,
        backbone: Literal["conv", "transformer"] = "conv",
        dim: int = 128,
        depth: int = 6,
        kernel_size: int = 3,
        dilations: Sequence[int] = (1,),
        heads: int = 4,
        ff_mult: int = 4,
        dropout: float = 0.25,
        max_chars: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        label_smoothing: float = 0.0,
        vocab: list[str] | None = None,
        lr_schedule: Literal["constant", "cosine"] = "constant",
    ):
        super().__init__()
        if backbone not in ("conv", "transformer"):
            raise ValueError(f"backbone must be 'conv' or 'transformer', got {backbone!r}")
        check_lr_schedule(lr_schedule)
        if dim < 1 or depth < 1:
            raise ValueError(f"dim and depth must be >= 1, got {dim}, {depth}")
        self.save_hyperparameters()
        self.vocab: Vocab | None = None
        self.net: torch.nn.Module | None = None
        if vocab is not None:
            self._build(Vocab(vocab))
        self.means = torch.nn.ModuleDict({f"{s}_{n}": MeanMetric() for s in ("train", "val")
                                          for n in ("loss", "acc")})
        self.test_scores = CoupletScores()
        self._writer = None

    def _build(self, vocab: Vocab) -> None:
        h = self.hparams
        self.vocab = vocab
        self.hparams["vocab"] = vocab.tokens  # saved in the checkpoint with the weights
        if h.backbone == "conv":
            self.net = GatedConvTagger(len(vocab), h.dim, h.depth, h.kernel_size, tuple(h.dilations), h.dropout)
        else:
            self.net = TransformerTagger(len(vocab), h.dim, h.depth, h.heads, h.ff_mult, h.dropout, h.max_chars)
        self._writer = None

    def setup(self, stage: str) -> None:
        if self.vocab is None:
            dm = getattr(self.trainer, "datamodule", None)
            if getattr(dm, "vocab", None) is None:
                raise RuntimeError("CoupletTagger needs a vocabulary: train it with CoupletDataModule "
                                   "(or load a checkpoint, which stores one)")
            self._build(dm.vocab)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # `lit-gen test/predict --ckpt_path`: the model was built from the data's vocabulary
        # before the checkpoint was read; switch to the checkpoint's so the weights fit.
        tokens = checkpoint.get("hyper_parameters", {}).get("vocab")
        if tokens is not None and (self.vocab is None or self.vocab.tokens != list(tokens)):
            self._build(Vocab(tokens))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` upper ids → ``(B, L, V)`` logits for the lower line."""
        return self.net(ids)

    # ----- training -----
    def _loss(self, batch: CoupletBatch, stage: str) -> torch.Tensor:
        logits = self(batch.upper)
        target = batch.lower
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(),
                               label_smoothing=self.hparams.label_smoothing if stage == "train" else 0.0)
        acc = (logits.argmax(-1) == target).float().mean()
        weight = target.numel()
        for name, value in (("loss", loss), ("acc", acc)):
            metric = self.means[f"{stage}_{name}"]
            metric.update(value.detach(), weight)  # weighted by characters, so batches of any length average right
            self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True, prog_bar=stage == "val")
        return loss

    def on_train_epoch_start(self) -> None:
        # Lightning gives each epoch's number to a loader's sampler, not to a batch sampler such
        # as CoupletDataModule's LengthBucketSampler: without this every epoch repeats one order
        sampler = getattr(self.trainer.train_dataloader, "batch_sampler", None)
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(self.current_epoch)

    def training_step(self, batch: CoupletBatch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch, "train")
        check_finite(loss, "training loss", self.global_step)
        self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: CoupletBatch, batch_idx: int) -> None:
        self._loss(batch, "val")

    # ----- evaluation on texts (always with this model's own vocabulary) -----
    @property
    def writer(self):
        if self._writer is None:
            self._writer = LineWriter(self)
        return self._writer

    def test_step(self, batch: CoupletBatch, batch_idx: int) -> None:
        preds = self.writer.write(batch.upper_text, on_error="empty")  # a bad line scores as wrong
        self.test_scores.update(batch.upper_text, preds, batch.lower_text)

    def on_test_epoch_end(self) -> None:
        for name, value in self.test_scores.compute().items():
            self.log(f"test/{name}", value, sync_dist=False)  # already synced by the metrics
        self.test_scores.reset()

    def predict_step(self, batch: CoupletBatch, batch_idx: int) -> list[tuple[int, str, str]]:
        """``[(line_number, upper, lower), ...]`` written with the default rules (greedy); add
        :class:`~lit_gen.tasks.couplet.writer.CoupletPredictionWriter` to save them in file order."""
        return list(zip(batch.index, batch.upper_text, self.writer.write(batch.upper_text, on_error="empty")))

    def configure_optimizers(self):
        h = self.hparams
        opt = torch.optim.AdamW(self.parameters(), lr=h.lr, weight_decay=h.weight_decay)
        cosine = h.get("lr_schedule", "constant") == "cosine"  # older checkpoints lack the key
        if h.warmup_steps <= 0 and not cosine:
            return opt
        return warmup_cosine(opt, h.warmup_steps, budget_steps(self) if cosine else None)
