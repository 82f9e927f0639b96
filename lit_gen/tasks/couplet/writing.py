"""Writing lower lines with a trained tagger: the engine of
:class:`~lit_gen.tasks.couplet.writer.CoupletWriter`.

It sits below both the model (whose test and predict steps write with it) and the writer API
(which adds loading a checkpoint), so neither imports the other's module in a cycle.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from lit_gen.tasks.couplet.decode import Rules, decode_batch, punct_mask, tone_masks
from lit_gen.tasks.couplet.metrics import CoupletScores
from lit_gen.tasks.couplet.text import CoupletInputError, check_line

log = logging.getLogger(__name__)


class LineWriter:
    """Writes lower lines with a trained :class:`~lit_gen.tasks.couplet.model.CoupletTagger` (or any
    model with its ``vocab``, ``hparams.max_chars`` and ``forward``: ids ``(B, L)`` → logits ``(B, L, V)``).

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

    @property
    def max_length(self) -> int:
        return int(self.model.hparams.max_chars)

    def score(self, pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
        """Write the lower line of each ``(upper, gold lower)`` pair and score them:
        :class:`~lit_gen.tasks.couplet.metrics.CoupletScores` values in [0, 1]. Upper lines the
        writer refuses count as empty lines (scored wrong), not as errors."""
        return self.score_written(pairs)[0]

    def score_written(self, pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, float], list[str]]:
        """:meth:`score`, and the lower lines it wrote (``""`` for refused upper lines)."""
        uppers, golds = [u for u, _ in pairs], [g for _, g in pairs]
        lines = self.write(uppers, on_error="empty")
        scores = CoupletScores()
        scores.update(uppers, lines, golds)
        return scores.compute(), lines

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
