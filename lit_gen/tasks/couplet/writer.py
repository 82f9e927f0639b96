"""``CoupletWriter``: the Python API of the couplet task.

    >>> writer = CoupletWriter.from_checkpoint("couplet.ckpt")
    >>> writer.write(["晚风摇树树还挺"])
    ['夜雨敲花花更香']            # whatever the trained model writes

Input lines may contain spaces (the wb14123 files do); they are removed. Lines that are empty,
longer than the model's ``max_chars`` or contain Latin letters/digits raise
:class:`CoupletInputError`; other characters outside the vocabulary are read as ``<unk>`` and
counted in :attr:`CoupletWriter.unknown` (the model still answers them).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from lit_gen.tasks.couplet.decode import Rules, decode_batch, punct_mask, tone_masks
from lit_gen.tasks.couplet.metrics import CoupletScores
from lit_gen.tasks.couplet.text import CoupletInputError, check_line
from lit_gen.utils.io import atomic_write_lines

log = logging.getLogger(__name__)


class CoupletWriter:
    """Writes lower lines with a trained :class:`~lit_gen.tasks.couplet.model.CoupletTagger`.

    Args:
        model: the trained tagger (put in eval mode while writing).
        rules: decoding constraints (:class:`Rules`; ``Rules.none()`` = plain argmax).
        top_k: 0 = greedy; k > 0 = sample among the k best allowed characters.
        temperature: softmax temperature for sampling.
        seed: random seed for sampling (None = fresh randomness).
        batch_size: lines per forward pass.
        beam_width: 1 = greedy; > 1 = beam search over the constrained assignment (keeps the
            ``beam_width`` best partial lines; needs ``top_k = 0``).
    """

    def __init__(self, model, rules: Rules = Rules(), top_k: int = 0, temperature: float = 1.0,
                 seed: int | None = None, batch_size: int = 256, beam_width: int = 1):
        if model.vocab is None:
            raise ValueError("the model has no vocabulary yet; train it or load a checkpoint")
        if top_k < 0 or temperature <= 0:
            raise ValueError(f"top_k must be >= 0 and temperature > 0, got {top_k}, {temperature}")
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1 (1 = greedy), got {beam_width}")
        if beam_width > 1 and top_k > 0:
            raise ValueError(f"beam_width > 1 needs top_k = 0 (beam search does not sample), got top_k={top_k}")
        self.model, self.rules, self.top_k, self.temperature = model, rules, top_k, temperature
        self.beam_width = beam_width
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.puncts = punct_mask(model.vocab)
        self.tones = tone_masks(model.vocab) if rules.tone_ending else None
        self.unknown: Counter[str] = Counter()
        #: why each refused line of the last ``write(..., on_error="empty")`` was refused
        #: (0-based index → reason)
        self.rejected: dict[int, str] = {}
        self._reported: set[str] = set()

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs) -> CoupletWriter:
        """Load a ``CoupletTagger`` checkpoint (``.ckpt`` from ``lit-gen fit``) on the CPU."""
        from lit_gen.tasks.couplet.model import CoupletTagger

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} not found; train one with "
                                    "`lit-gen fit --config configs/couplet/conv.yaml`")
        try:
            model = CoupletTagger.load_from_checkpoint(path, map_location="cpu")
        except Exception as err:
            raise ValueError(f"{path} is not a CoupletTagger checkpoint: {err}") from err
        return cls(model.eval(), **kwargs)

    @property
    def max_length(self) -> int:
        return int(self.model.hparams.max_chars)

    def score(self, pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
        """Write the lower line of each ``(upper, gold lower)`` pair and score them:
        :class:`~lit_gen.tasks.couplet.metrics.CoupletScores` values in [0, 1]. Upper lines the
        writer refuses count as empty lines (scored wrong), not as errors."""
        uppers, golds = [u for u, _ in pairs], [g for _, g in pairs]
        scores = CoupletScores()
        scores.update(uppers, self.write(uppers, on_error="empty"), golds)
        return scores.compute()

    def write(self, lines: str | Sequence[str], on_error: Literal["raise", "empty"] = "raise") -> list[str]:
        """Lower lines for ``lines`` (same order, each as long as its whitespace-free input).

        ``on_error="raise"`` raises :class:`CoupletInputError` naming the first bad line;
        ``"empty"`` returns ``""`` for bad lines instead (batch files) and records why in
        :attr:`rejected`.
        """
        if isinstance(lines, str):
            lines = [lines]
        vocab = self.model.vocab
        texts: list[str | None] = []
        self.rejected = {}
        for k, line in enumerate(lines):
            try:
                texts.append(check_line(line, self.max_length))
            except CoupletInputError as err:
                if on_error == "raise":
                    raise CoupletInputError(f"line {k + 1}: {err}") from None
                self.rejected[k] = str(err)
                texts.append(None)
        self.unknown = Counter(c for t in texts if t for c in t if c not in vocab)
        new = set(self.unknown) - self._reported  # warn once per character, not per call
        if new:
            self._reported |= new
            log.warning("%d characters are not in the vocabulary and were read as <unk>: %s",
                        sum(self.unknown.values()), "".join(self.unknown))
        out = [""] * len(texts)
        by_len: dict[int, list[int]] = {}
        for k, t in enumerate(texts):
            if t:
                by_len.setdefault(len(t), []).append(k)
        device = self.model.device
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for idx in by_len.values():
                    for start in range(0, len(idx), self.batch_size):
                        chunk = idx[start:start + self.batch_size]
                        ids = torch.stack([vocab.encode(texts[k]) for k in chunk])
                        logp = torch.log_softmax(self.model(ids.to(device)).float(), -1).cpu()
                        lowers = decode_batch(logp, [texts[k] for k in chunk], ids, vocab, self.rules,
                                              self.top_k, self.temperature, self.puncts, self.rng,
                                              self.tones, self.beam_width)
                        for k, low in zip(chunk, lowers):
                            out[k] = low
        finally:
            self.model.train(was_training)
        return out


class CoupletPredictionWriter(BasePredictionWriter):
    """Saves ``lit-gen predict`` output: one lower line per input line, in the input's order
    (written atomically; single device)::

        lit-gen predict --config configs/couplet/conv.yaml --ckpt_path M.ckpt \\
            --data.predict_file uppers.txt \\
            --trainer.callbacks+=lit_gen.tasks.couplet.CoupletPredictionWriter \\
            --trainer.callbacks.output=lowers.txt
    """

    def __init__(self, output: str = "couplet_predictions.txt"):
        super().__init__(write_interval="epoch")
        self.output = output

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        lowers = {k: lower for batch in predictions for k, _, lower in batch}
        n = max(getattr(trainer.datamodule, "predict_lines", 0), max(lowers, default=-1) + 1)
        atomic_write_lines(self.output, (lowers.get(k, "") for k in range(n)))
