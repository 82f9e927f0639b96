"""Benchmark metrics of the couplet task (see :mod:`lit_gen.bench.registry`).

* ``couplet_bleu``: corpus BLEU-4 on characters (torchmetrics ``BLEUScore``, n_gram=4, one
  reference, lines tokenised as space-joined characters) and per-character accuracy, ×100.
* ``couplet_rules``: rule pass rates (%) of the decoded lines and of the gold lines.
* ``couplet_throughput``: lines/s of :meth:`CoupletWriter.write` (forward + constrained decoding).

* ``couplet_decoding``: greedy decoding against beam search on the same weights: BLEU-4 and
  character accuracy of each, and a paired bootstrap over the test lines
  (:func:`~lit_gen.tasks.couplet.significance.paired_bootstrap`) of the BLEU difference.
* ``couplet_curve``: the points of a :class:`~lit_gen.tasks.couplet.curve.CoupletCurveCallback`
  (test BLEU-4 and character accuracy after each epoch) in the protocol; values of the last one.

All decode the test split (4,000 pairs) greedily with the structural rules on (``rules``) and the
tone rule measured but not enforced (``tone: true`` enforces it), unless options say otherwise:
``beam_width`` > 1 decodes with beam search; ``weights: best_val_loss`` scores the weights of the
run's ``ModelCheckpoint`` on ``val/loss`` (its best checkpoint) instead of the final ones.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.tasks.couplet.decode import Rules
from lit_gen.tasks.couplet.significance import corpus_stats, paired_bootstrap
from lit_gen.tasks.couplet.writer import CoupletWriter


def _test_pairs(datamodule, limit: int | None) -> list[tuple[str, str]]:
    """The test pairs in the test set's order (by line length): ``limit`` takes the shortest."""
    if datamodule.test_set is None:
        datamodule.setup("test")
    pairs = datamodule.test_set.pairs
    return pairs[:limit] if limit is not None else pairs


# one slot: couplet_bleu, couplet_rules and couplet_decoding's greedy half read one decoding
_last: dict[tuple, tuple[dict[str, float], dict, list[str]]] = {}


WEIGHTS = ("final", "best_val_loss")
STRUCTURAL_RULES = "no_same_char, copy_punct, align_repeats"  # what Rules() enforces (the tone rule is optional)


def _selected(model, trainer, weights: str) -> tuple[torch.nn.Module, dict]:
    """The model to score and how it was chosen: as trained (``final``) or with the weights of the
    best ``val/loss`` checkpoint of the run's ``ModelCheckpoint`` (``best_val_loss``)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if weights == "final":
        return model, {}
    saver = next((c for c in getattr(trainer, "callbacks", []) if isinstance(c, ModelCheckpoint)
                  and c.monitor == "val/loss" and c.best_model_path), None)
    if saver is None:
        raise ValueError("weights: best_val_loss needs a ModelCheckpoint(monitor='val/loss') that saved a "
                         "checkpoint in the run (see configs/couplet/conv_5ep.yaml)")
    if not Path(saver.best_model_path).is_file():
        # the checkpoint callback deletes the old best as it saves a new one, just before the
        # epoch-end checkpoint: a run killed between the two resumes pointing at a deleted file
        raise FileNotFoundError(f"the best val/loss checkpoint {saver.best_model_path} is gone (the run was "
                                "killed between saving a new best and its epoch-end checkpoint); delete the "
                                "run's work folder and train the seed again")
    state = torch.load(saver.best_model_path, map_location="cpu", weights_only=False)
    best = copy.deepcopy(model).cpu()
    best.load_state_dict(state["state_dict"])
    score = saver.best_model_score  # None when restored from another folder (runs before 2026-12-07)
    # Lightning's checkpoint counts epochs from 0; the curve's points count epochs trained (from 1)
    epoch = state.get("epoch")
    return best, {"weights": weights, "val_loss": float(score) if score is not None else None,
                  "epoch": None if epoch is None else epoch + 1, "step": state.get("global_step")}


def _scores(model, datamodule, limit: int | None, rules: bool, tone: bool, beam_width: int = 1,
            trainer=None, weights: str = "final") -> tuple[dict[str, float], dict, list[str]]:
    """Decode the test split once per (model, step, options); the metrics below read it. Values,
    protocol and the written lower lines."""
    key = (id(model), getattr(model, "global_step", None), id(datamodule), limit, rules, tone, beam_width, weights)
    if key not in _last:
        _last.clear()
        scored, chosen = _selected(model, trainer, weights)
        values, protocol, lines = _compute_scores(scored, datamodule, limit, rules, tone, beam_width)
        _last[key] = values, {**protocol, **({"selected": chosen} if chosen else {})}, lines
    values, protocol, lines = _last[key]
    return dict(values), dict(protocol), list(lines)


def _compute_scores(model, datamodule, limit: int | None, rules: bool, tone: bool,
                    beam_width: int = 1) -> tuple[dict[str, float], dict, list[str]]:
    pairs = _test_pairs(datamodule, limit)
    writer = CoupletWriter(model.cpu(), rules=Rules(tone_ending=tone) if rules else Rules.none(),
                           beam_width=beam_width)
    values, lines = writer.score_written(pairs)
    protocol = {"split": "test", "pairs": len(pairs), "decoding": "greedy" if beam_width == 1 else f"beam {beam_width}",
                "rules": (STRUCTURAL_RULES + (", tone_ending" if tone else "")
                                     if rules else "none"), "unknown_chars": sum(writer.unknown.values())}
    return values, protocol, lines


@register_metric("couplet_bleu")
def couplet_bleu(model, datamodule, trainer, limit: int | None = None, rules: bool = True,
                 tone: bool = False, beam_width: int = 1, weights: str = "final") -> MetricResult:
    values, protocol, _ = _scores(model, datamodule, limit, rules, tone, beam_width, trainer, weights)
    protocol["bleu"] = "torchmetrics.text.BLEUScore(n_gram=4), corpus level, character tokens, 1 reference"
    return MetricResult({"bleu4": 100 * values["bleu4"], "char_acc": 100 * values["char_acc"]}, protocol)


@register_metric("couplet_rules")
def couplet_rules(model, datamodule, trainer, limit: int | None = None, rules: bool = True,
                  tone: bool = False, beam_width: int = 1, weights: str = "final") -> MetricResult:
    values, protocol, _ = _scores(model, datamodule, limit, rules, tone, beam_width, trainer, weights)
    return MetricResult({k: 100 * v for k, v in values.items() if "rule_" in k}, protocol)


@register_metric("couplet_decoding")
def couplet_decoding(model, datamodule, trainer, beam_width: int = 4, limit: int | None = None,
                     weights: str = "final", samples: int = 1000) -> MetricResult:
    """Greedy decoding and a beam of ``beam_width`` on the same weights and test lines, rules on.

    Values: ``bleu4@beam=1``, ``char_acc@beam=1``, ``bleu4@beam=W``, ``char_acc@beam=W`` (×100);
    ``beam_wins`` in [0, 1]: the fraction of ``samples`` bootstrap resamples of the test lines on which the
    beam's BLEU-4 is higher (0.5 = no difference). The protocol has both 95 % intervals and the
    number of lines the two decoders wrote differently."""
    if beam_width < 2:
        raise ValueError(f"couplet_decoding compares greedy decoding with a beam: beam_width must be >= 2, got {beam_width}")
    golds = [g for _, g in _test_pairs(datamodule, limit)]
    values: dict[str, float] = {}
    lines: dict[int, list[str]] = {}
    for width in (1, beam_width):  # greedy: the decoding couplet_bleu scored, if it ran first
        scores, decoded, lines[width] = _scores(model, datamodule, limit, True, False, width, trainer, weights)
        values[f"bleu4@beam={width}"] = 100 * scores["bleu4"]
        values[f"char_acc@beam={width}"] = 100 * scores["char_acc"]
    boot = paired_bootstrap(corpus_stats(lines[1], golds), corpus_stats(lines[beam_width], golds), samples)
    values["beam_wins"] = boot["b_wins"]
    protocol = {"split": "test", "pairs": len(golds), "beam_width": beam_width,
                "rules": STRUCTURAL_RULES,
                "lines_changed": sum(a != b for a, b in zip(lines[1], lines[beam_width])),
                "bootstrap": {"greedy_95": [boot["a_low"], boot["a_high"]],
                              "beam_95": [boot["b_low"], boot["b_high"]], "samples": samples},
                **({"selected": decoded["selected"]} if "selected" in decoded else {})}
    return MetricResult(values, protocol)


@register_metric("couplet_throughput")
def couplet_throughput(model, datamodule, trainer, limit: int | None = None, batch_size: int = 256,
                       repeats: int = 3) -> MetricResult:
    """Best of ``repeats`` timed passes over the test upper lines (first pass warms up)."""
    uppers = [u for u, _ in _test_pairs(datamodule, limit)]
    writer = CoupletWriter(model.cpu(), batch_size=batch_size)
    writer.write(uppers[:batch_size])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        writer.write(uppers)
        best = min(best, time.perf_counter() - start)
    return MetricResult({"lines_per_s": len(uppers) / best},
                        {"lines": len(uppers), "batch_size": batch_size, "repeats": repeats,
                         "torch_threads": torch.get_num_threads(), "device": "cpu",
                         "includes": "encoding, forward, log-softmax, constrained greedy decoding"})


@register_metric("couplet_curve")
def couplet_curve(model, datamodule, trainer) -> MetricResult:
    """The per-epoch test scores a ``CoupletCurveCallback`` recorded (protocol ``points``); the
    values are the last point's ``curve_bleu4`` and ``curve_char_acc`` (×100)."""
    from lit_gen.tasks.couplet.curve import CoupletCurveCallback

    callback = next((c for c in getattr(trainer, "callbacks", []) if isinstance(c, CoupletCurveCallback)), None)
    if callback is None or not callback.points:
        raise ValueError("couplet_curve needs a CoupletCurveCallback in the run's trainer callbacks that "
                         "measured at least one epoch (see configs/couplet/conv_5ep.yaml)")
    last = callback.points[-1]
    return MetricResult({"curve_bleu4": last["bleu4"], "curve_char_acc": last["char_acc"]},
                        {"points": callback.points, "split": "test", "beam_width": callback.beam_width,
                         "use": "reading only; weights are chosen on val/loss"})
