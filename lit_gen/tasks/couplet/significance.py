"""Is one couplet writer's BLEU really higher than another's? Paired bootstrap (Koehn 2004).

Corpus BLEU-4 is a function of summed per-line statistics (clipped n-gram matches and n-gram
counts for n = 1..4, candidate and reference lengths). Resampling test lines with replacement and
recomputing both systems' BLEU on the *same* resampled lines gives the fraction of resamples in
which system B beats system A, and a percentile interval for each score. At the low BLEU of a
one-epoch CPU model (~1 on the 0–100 scale) a difference of a few tenths can be noise; this says.

torchmetrics' ``BLEUScore`` has no per-line statistics, hence these few lines; a test checks that
:func:`corpus_bleu` equals ``BLEUScore(n_gram=4)`` on the same character-tokenised lines.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

N = 4


def line_stats(pred: str, ref: str, n_gram: int = N) -> np.ndarray:
    """``(2 * n_gram + 2,)``: clipped matches for n = 1..N, candidate n-grams for n = 1..N,
    candidate length, reference length (characters are the tokens)."""
    out = np.zeros(2 * n_gram + 2)
    for n in range(1, n_gram + 1):
        cand = Counter(pred[i:i + n] for i in range(len(pred) - n + 1))
        refs = Counter(ref[i:i + n] for i in range(len(ref) - n + 1))
        out[n - 1] = sum(min(c, refs[g]) for g, c in cand.items())
        out[n_gram + n - 1] = max(0, len(pred) - n + 1)
    out[-2], out[-1] = len(pred), len(ref)
    return out


def corpus_stats(preds: Sequence[str], refs: Sequence[str], n_gram: int = N) -> np.ndarray:
    """``(lines, 2 * n_gram + 2)`` per-line statistics."""
    return np.stack([line_stats(p, r, n_gram) for p, r in zip(preds, refs, strict=True)])


def corpus_bleu(stats: np.ndarray, n_gram: int = N) -> float:
    """BLEU in [0, 1] from summed statistics ``(2 * n_gram + 2,)`` or per-line ``(lines, ...)``:
    geometric mean of the n-gram precisions times the brevity penalty (no smoothing, as
    torchmetrics' default)."""
    total = stats.sum(0) if stats.ndim == 2 else stats
    matches, counts = total[:n_gram], total[n_gram:2 * n_gram]
    if (matches == 0).any() or (counts == 0).any():
        return 0.0
    log_precision = np.log(matches / counts).mean()
    c, r = total[-2], total[-1]
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return float(brevity * math.exp(log_precision))


def paired_bootstrap(stats_a: np.ndarray, stats_b: np.ndarray, samples: int = 1000, seed: int = 0,
                     n_gram: int = N) -> dict[str, float]:
    """Resample lines ``samples`` times; BLEU ×100 of both systems, their 95 % percentile
    intervals, and ``b_wins``: the fraction of resamples where B's BLEU is higher than A's."""
    if stats_a.shape != stats_b.shape:
        raise ValueError(f"the systems must be scored on the same lines: {stats_a.shape} vs {stats_b.shape}")
    rng = np.random.default_rng(seed)
    lines = len(stats_a)
    a, b = np.empty(samples), np.empty(samples)
    for k in range(samples):
        idx = rng.integers(0, lines, lines)
        a[k], b[k] = corpus_bleu(stats_a[idx], n_gram), corpus_bleu(stats_b[idx], n_gram)
    return {"bleu_a": 100 * corpus_bleu(stats_a, n_gram), "bleu_b": 100 * corpus_bleu(stats_b, n_gram),
            "a_low": 100 * float(np.percentile(a, 2.5)), "a_high": 100 * float(np.percentile(a, 97.5)),
            "b_low": 100 * float(np.percentile(b, 2.5)), "b_high": 100 * float(np.percentile(b, 97.5)),
            "b_wins": float((b > a).mean()), "samples": samples}
