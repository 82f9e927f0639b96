"""``LexiconModule``: lexicon building as a Lightning ``fit``, segmentation scoring as ``test``.

``fit`` has nothing to optimise: each training step counts the n-grams of a batch of lines
(this rank's shard under DDP); at the end of training the counts of all ranks are summed
exactly (``all_gather_object`` of the count tables), every rank builds the same lexicon from
them (the cutting/EM passes run on each rank's own text, their word counts summed again), and
rank 0 writes ``<output_dir>/lexicon.tsv`` and ``stats.json``. ``test`` segments the gold file's
raw text and logs the SIGHAN scores (``test/F1`` ...), synced across ranks as metric states.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
import torch.distributed as dist

from lit_gen.tasks.lexicon.build import BuildConfig, build_lexicon, merged_tables
from lit_gen.tasks.lexicon.counting import NgramCounter
from lit_gen.tasks.lexicon.io import read_lines
from lit_gen.tasks.lexicon.lexicon import Lexicon, bits_per_char
from lit_gen.tasks.lexicon.scoring import LexiconScore, SighanScore
from lit_gen.utils.errors import LitGenConfigError
from lit_gen.utils.io import atomic_write_text

_D = BuildConfig()  # the defaults (chosen on the PFR dev split)


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` from every rank (a one-element list without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


class LexiconModule(L.LightningModule):
    """Minimum-entropy word discovery (see :class:`~lit_gen.tasks.lexicon.build.BuildConfig` for
    the arguments ``method`` ... ``measure_numerals`` and ``redundancy``; the defaults are the ones chosen on the PFR dev
    split, ``docs/lexicon.md``).

    Args:
        output_dir: where ``lexicon.tsv`` and ``stats.json`` are written at the end of fit.
        lexicon_path: a lexicon TSV to use instead of building one (for ``test`` only runs).
        training_words: word list defining OOV words in the test scores (``*_training_words.utf8``).
    """

    def __init__(
        self,
        method: Literal["bigram", "ngram", "nvbe"] = _D.method,
        max_n: int = _D.max_n,
        min_prob: float = _D.min_prob,
        min_pmi: float = _D.min_pmi,
        redundancy_pmi: float = _D.redundancy_pmi,
        min_count: int = _D.min_count,
        min_cohesion: Sequence[float] = _D.min_cohesion,
        em_iters: int = _D.em_iters,
        max_word_len: int = _D.max_word_len,
        word_bonus: float = _D.word_bonus,
        length_bonus: Sequence[float] = _D.length_bonus,
        min_word_pmi: float | None = _D.min_word_pmi,
        pmi_weight: float = _D.pmi_weight,
        number_units: str | None = _D.number_units,
        function_ratio: float | None = _D.function_ratio,
        function_penalty: float = _D.function_penalty,
        measure_numerals: int | None = _D.measure_numerals,
        output_dir: str | None = "lexicon_out",
        lexicon_path: str | None = None,
        training_words: str | None = None,
        redundancy: Literal["ours", "author"] = _D.redundancy,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.config = BuildConfig(method, max_n, min_prob, min_pmi, redundancy_pmi, min_count,
                                  tuple(min_cohesion), em_iters, max_word_len, word_bonus,
                                  tuple(length_bonus), min_word_pmi, pmi_weight, number_units,
                                  function_ratio, function_penalty, measure_numerals, redundancy)
        self.automatic_optimization = False
        # DistributedDataParallel refuses a module without trainable parameters; this one is
        # never used (no backward pass ever runs), it only lets `strategy: ddp` start.
        self.ddp_anchor = torch.nn.Parameter(torch.zeros(1))
        self.counter = NgramCounter(max_n)
        self.lexicon: Lexicon | None = Lexicon.load(lexicon_path) if lexicon_path else None
        self.stats: dict[str, float] = {}
        words = read_lines(training_words, "raw") if training_words else None
        self.sighan = SighanScore(training_words=words)
        self.types = LexiconScore()

    def configure_optimizers(self) -> None:
        return None  # counting has no parameters

    def training_step(self, batch: list[str], batch_idx: int) -> None:
        self.counter.update(batch)

    def on_train_start(self) -> None:
        self.counter = NgramCounter(self.config.max_n)  # a second fit starts from zero

    def on_train_end(self) -> None:
        tables = merged_tables(gather_objects, self.counter.tables())
        self.lexicon = build_lexicon(self.counter.codes(), tables, self.config, gather_objects)
        chars = tables[0]
        self.stats = {
            "atoms": int(chars.counts.sum()),
            "atom_types": len(chars),
            "words": len(self.lexicon),
            "L_chars_bits": bits_per_char(["x"] * len(chars), chars.counts),
            "L_lexicon_bits": self.lexicon.bits_per_char(),
        }
        if self.trainer.is_global_zero and self.hparams.output_dir:
            out = Path(self.hparams.output_dir)
            self.lexicon.save(out / "lexicon.tsv")
            atomic_write_text(out / "stats.json", json.dumps({**self.stats, "config": vars(self.config)},
                                                        indent=2, default=list) + "\n")

    def check_ready(self, stage: str, ckpt_path: str | None = None) -> None:
        """Called by ``lit-gen`` before ``stage`` runs: test/validate/predict need a lexicon, from
        ``lexicon_path`` or a checkpoint (``ckpt_path``); fail before any text is read."""
        if stage != "fit" and ckpt_path is None:
            self._require_lexicon()

    def _require_lexicon(self) -> None:
        if self.lexicon is None:
            out = Path(self.hparams.output_dir or "lexicon_out") / "lexicon.tsv"
            raise LitGenConfigError(
                "the lexicon module has no lexicon to segment with: model.lexicon_path is not set "
                "(and no checkpoint was given). Fix: build one first with `lit-gen fit --config "
                f"<same config>` (it writes {out}), then pass --model.lexicon_path {out}.")

    def on_test_start(self) -> None:
        self._require_lexicon()  # a checkpoint without a lexicon

    def segment(self, lines: Sequence[str]) -> list[list[str]]:
        self._require_lexicon()
        if getattr(self, "_segmenter_of", None) is not self.lexicon:
            self._segmenter, self._segmenter_of = self.lexicon.segmenter(), self.lexicon
        return self._segmenter.segment(lines)

    def test_step(self, batch: tuple[list[str], list[list[str]]], batch_idx: int) -> None:
        raw, gold = batch
        pred = self.segment(raw)
        self.sighan.update(pred, gold)
        self.types.update(pred, gold)

    def on_test_epoch_end(self) -> None:
        values = {**self.sighan.compute(), **self.types.compute()}
        self.log_dict({f"test/{k}": torch.tensor(v) for k, v in values.items()}, rank_zero_only=True)
        self.sighan.reset()
        self.types.reset()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.lexicon is not None:
            checkpoint["lexicon"] = {"words": self.lexicon.words, "counts": self.lexicon.counts.tolist()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "lexicon" in checkpoint:
            lex = checkpoint["lexicon"]
            self.lexicon = Lexicon(lex["words"], np.array(lex["counts"]))
