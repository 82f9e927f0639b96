"""Two bench entries, seed by seed: is their difference more than seed-to-seed noise?

``lit-gen bench compare A B --suite cpu --metric test_error`` reads the result files of both
entries (``runs/<entry>/seed=N.json``; the runs the leaderboard counts, i.e. those made under
the entry's current configuration), pairs them by seed, and prints each seed's values, both
means ± std, the mean paired difference, on how many seeds A is lower, and the p-value of an
exact sign-flip permutation test of "mean(A − B) = 0" (scipy's ``permutation_test``; with n
seeds it enumerates all 2^n sign patterns, so the smallest possible two-sided p is 2 / 2^n).

Why by seed: two entries run with the same seed share the data order and the initial weights'
random stream, so pairing removes part of the noise that separate means keep. Why a permutation
test: with 3–5 seeds a normal approximation means little; the exact test says how strong a
claim the seeds can carry at all (5 seeds that all agree give p = 0.0625).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import permutation_test

from lit_gen.bench.results import cell, extractor_of, mean_std


class CompareError(ValueError):
    """The two entries cannot be compared (no result files, no common seeds, metric missing)."""


@dataclass(frozen=True)
class PairedSeeds:
    """Values of one metric for entries ``a`` and ``b`` on the seeds both have."""

    metric: str
    entry_a: str
    entry_b: str
    seeds: list[int]
    a: list[float]
    b: list[float]
    only_a: list[int]  # seeds with a result for A only (left out of the pairing)
    only_b: list[int]

    @property
    def diffs(self) -> list[float]:
        return [x - y for x, y in zip(self.a, self.b)]

    @property
    def a_lower(self) -> int:
        return sum(d < 0 for d in self.diffs)

    @property
    def level(self) -> int:
        return sum(d == 0 for d in self.diffs)

    def p_value(self) -> float:
        """Two-sided exact sign-flip permutation p-value of mean(A − B) = 0 (1.0 for one seed)."""
        if len(self.seeds) < 2:
            return 1.0
        result = permutation_test((np.asarray(self.a), np.asarray(self.b)), _mean_difference,
                                  permutation_type="samples", alternative="two-sided",
                                  n_resamples=math.inf, vectorized=True)
        return float(result.pvalue)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def _seed_values(results: dict[str, list[dict[str, Any]]], entry: str, metric: str) -> dict[int, float]:
    if not results.get(entry):
        raise CompareError(f"no results for entry '{entry}' that match its current configuration")
    values = {}
    for result in results[entry]:
        where = f"'{entry}' seed {result['seed']}"
        if metric not in result["metrics"]:
            have = ", ".join(sorted(result["metrics"])) or "none"
            raise CompareError(f"{where} has no metric '{metric}' (it has: {have})")
        value = result["metrics"][metric]
        if value is None or not math.isfinite(value):
            raise CompareError(f"{where}: metric '{metric}' is {value}, not a finite number")
        values[int(result["seed"])] = float(value)
    return values


def paired_seeds(results: dict[str, list[dict[str, Any]]], entry_a: str, entry_b: str, metric: str) -> PairedSeeds:
    """Pair the runs of ``entry_a`` and ``entry_b`` by seed.

    ``results`` maps entry names to their result dicts (``runs/<entry>/seed=N.json``), as
    :func:`lit_gen.bench.results.collect_results` gives them: the runs the leaderboard counts.
    """
    a, b = _seed_values(results, entry_a, metric), _seed_values(results, entry_b, metric)
    common = sorted(set(a) & set(b))
    if not common:
        raise CompareError(f"'{entry_a}' (seeds {sorted(a)}) and '{entry_b}' (seeds {sorted(b)}) share no seed")
    return PairedSeeds(metric, entry_a, entry_b, common, [a[s] for s in common], [b[s] for s in common],
                       sorted(set(a) - set(b)), sorted(set(b) - set(a)))


def extractor_weights(results: dict[str, list[dict[str, Any]]], entry: str, metric: str) -> dict[int, str]:
    """Seed → the feature extractor's weights behind ``metric`` (``fid[classifier]`` etc.) in each
    run of ``entry``, as ``<digest[:8]>`` (with the classifier's test accuracy when it has one);
    seeds whose protocol does not say are left out (:func:`~lit_gen.bench.results.extractor_of`)."""
    found = {}
    for result in results.get(entry, []):
        extractor = extractor_of(result, metric)
        if extractor is not None:
            digest, accuracy = extractor
            found[int(result["seed"])] = digest + (f" (test accuracy {accuracy})" if accuracy is not None else "")
    return found


def weights_note(results: dict[str, list[dict[str, Any]]], paired: PairedSeeds) -> str | None:
    """A warning when the paired runs' values of a feature metric come from different extractor
    weights, naming them; None when they all share one (or the metric has no extractor)."""
    if "[" not in paired.metric:
        return None
    used: dict[str, dict[str, list[int]]] = {}  # weights → entry → seeds
    for entry in (paired.entry_a, paired.entry_b):
        for seed, weights in sorted(extractor_weights(results, entry, paired.metric).items()):
            if seed in paired.seeds:
                used.setdefault(weights, {}).setdefault(entry, []).append(seed)
    if len(used) < 2:
        return None
    listed = "; ".join(f"{weights}: " + ", ".join(f"{entry} seeds {seeds}" for entry, seeds in runs.items())
                       for weights, runs in used.items())
    return (f"warning: these values come from different feature extractor weights ({listed}), and values "
            "on different features are not comparable. Results finished before 2026-11-29 recorded the "
            "checkpoint file's digest instead of the weights', so one classifier can show two digests "
            "(with the same test accuracy).")


def render(paired: PairedSeeds, note: str | None = None) -> str:
    """The comparison as plain text (what ``lit-gen bench compare`` prints)."""
    means = cell(mean_std(paired.a)), cell(mean_std(paired.b))  # as the leaderboard writes them
    width = max(len(means[0]), len(means[1]), 8)
    lines = [f"{paired.metric}: A = {paired.entry_a}, B = {paired.entry_b}; {len(paired.seeds)} seeds paired",
             f"{'seed':>6}  {'A':>{width}}  {'B':>{width}}  {'A - B':>8}"]
    for seed, x, y, d in zip(paired.seeds, paired.a, paired.b, paired.diffs):
        lines.append(f"{seed:>6}  {x:>{width}.4f}  {y:>{width}.4f}  {d:>+8.4f}")
    lines.append(f"{'mean':>6}  {means[0]:>{width}}  {means[1]:>{width}}  "
                 f"{statistics.fmean(paired.diffs):>+8.4f}")
    mean_b = statistics.fmean(paired.b)
    if mean_b != 0:  # the suites' decision rules are written on this ratio
        lines.append(f"ratio of the means r = mean(A) / mean(B) = {statistics.fmean(paired.a) / mean_b:.4f}")
    n = len(paired.seeds)
    tail = f" ({paired.level} level)" if paired.level else ""
    lines.append(f"A is lower on {paired.a_lower} of {n} seeds{tail}")
    if n >= 2:
        lines.append(f"exact sign-flip permutation test, mean(A - B) = 0: p = {paired.p_value():.4f} "
                     f"(two-sided; the smallest p {n} seeds can give is {2 / 2 ** n:.4f})")
    for entry, seeds in ((paired.entry_a, paired.only_a), (paired.entry_b, paired.only_b)):
        if seeds:
            lines.append(f"left out: seeds {seeds} of '{entry}' (no partner)")
    if note:
        lines.append(note)
    return "\n".join(lines)
