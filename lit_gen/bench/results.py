"""The result store: one JSON per entry × seed, the folders a run works in, and the
leaderboard rows aggregated from the results (rendered by :mod:`lit_gen.bench.report`).

Layout under ``<out>/<suite>/``, spelled out here only (:func:`run_path`, :func:`work_path`)::

    runs/<entry>/seed=<s>.json     one run (written atomically: temp file + rename)
    runs/<entry>/seed=<s>.claim    while a worker trains it (lit_gen.bench.claims)
    leaderboard.md|csv|json        one row per entry, mean ± std over seeds
    leaderboard_<family>.png       one figure per model family (lit_gen.bench.report)
    headline.md                    one main metric per family × data set (headline.yaml)
    work/<entry>/seed=<s>/         Lightning logs, checkpoints, sample grids (not committed);
        restart=<r>/               one fit each, for entries with restarts
                                   ``lit-gen bench --work DIR`` moves them to DIR/<suite>/<entry>/seed=<s>

``leaderboard.json`` is a list of rows ``{"entry", "model", "dataset", "metrics": {name: {"mean",
"std", "n"}}, "reference", "wall_time_s", "throughput", "devices"}``.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from lit_gen.bench.suite import Entry
from lit_gen.utils.io import atomic_write_text


class CorruptResultError(ValueError):
    """A result file exists but cannot be trusted (truncated, not JSON, missing fields)."""


REQUIRED_FIELDS = ("entry", "seed", "config_hash", "metrics")


def _seed_name(seed: int | str) -> str:
    return f"seed={seed}"


def _restart_name(restart: int | str) -> str:
    return f"restart={restart}"


def run_path(suite_dir: Path, entry: str, seed: int) -> Path:
    """A run's result file, ``<suite_dir>/runs/<entry>/seed=<s>.json``."""
    return suite_dir / "runs" / entry / f"{_seed_name(seed)}.json"


def result_files(suite_dir: Path, entry: str) -> list[Path]:
    """Every result file of ``entry`` on disk (seed order as sorted names)."""
    pattern = run_path(suite_dir, entry, "*")
    return sorted(pattern.parent.glob(pattern.name))


def claim_path(suite_dir: Path, entry: str, seed: int) -> Path:
    """The claim of a run in progress (:mod:`lit_gen.bench.claims`), beside its result: in the
    results folder that workers on several machines share."""
    return run_path(suite_dir, entry, seed).with_suffix(".claim")


def work_path(suite_dir: Path, entry: str, seed: int | str, work: Path | None = None,
              restart: int | str | None = None) -> Path:
    """A run's work folder (logs, checkpoints): ``<suite_dir>/work/<entry>/seed=<s>``, or
    ``<work>/<suite>/<entry>/seed=<s>`` when a separate work folder is given (e.g. fast local
    disk while the results folder is shared); with ``restart``, the folder of that restart's
    fit inside it (``.../seed=<s>/restart=<r>``). ``"*"`` for seed or restart gives a glob pattern."""
    base = Path(work) / suite_dir.name if work is not None else suite_dir / "work"
    folder = base / entry / _seed_name(seed)
    return folder if restart is None else folder / _restart_name(restart)


def fit_folders(entry_work_dir: Path) -> list[Path]:
    """The folders under an entry's work folder (``.../work/<entry>``) that hold one fit's logs
    each: ``seed=<s>``, or its ``restart=<r>`` folders for entries with restarts."""
    found = []
    for seed_dir in sorted(entry_work_dir.glob(_seed_name("*"))):
        restarts = sorted(seed_dir.glob(_restart_name("*")))
        found += restarts or [seed_dir]
    return found


def read_result(path: Path) -> dict[str, Any]:
    """Load one run's result; :class:`CorruptResultError` if it is damaged or incomplete."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptResultError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(data, dict) or any(k not in data for k in REQUIRED_FIELDS):
        raise CorruptResultError(f"{path} lacks fields {[k for k in REQUIRED_FIELDS if k not in data]}")
    return data


def write_result(path: Path, result: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(result, indent=2, sort_keys=False, default=str) + "\n")


def measured_as_entry(entry: Entry, result: dict[str, Any], root: Path) -> bool:
    """Whether ``result`` was trained as ``entry`` says now and measured with its current
    options, for the metrics the result has: its hash is the entry's, restricted to those."""
    part = entry.restricted_to(result.get("protocol", {}))
    if len(part.metrics) != len(result.get("protocol", {})):
        return False  # it measured something the entry no longer lists
    return result["config_hash"] == part.config_hash(root, result["seed"], result.get("devices", 1))


def gained_metrics(entry: Entry, result: dict[str, Any]) -> list[str]:
    """The metrics ``entry`` lists that ``result`` has not measured (those it gained since the run)."""
    return [name for name in entry.metrics if name not in result.get("protocol", {})]


def collect_results(entries: list[Entry], suite_dir: Path, root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every valid result on disk for ``entries`` that was trained and measured as the entry
    says now, for the metrics it has (:func:`measured_as_entry`; whatever the number of devices
    it ran on). Several `--only` invocations, even concurrent ones, therefore add up to one
    leaderboard, and a run that lacks a metric the entry gained still counts for its others."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        for path in result_files(suite_dir, entry.name):
            try:
                result = read_result(path)
            except CorruptResultError:
                continue
            if measured_as_entry(entry, result, root):
                found.setdefault(entry.name, []).append(result)
    return found


def mean_std(values: list[float]) -> dict[str, float | int]:
    """``{"mean", "std", "n"}`` of the finite values (sample std, 0 for one value; NaN for none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return {"mean": statistics.fmean(finite), "std": std, "n": len(finite)}


def extractor_of(result: dict[str, Any], metric: str) -> tuple[str, float | None] | None:
    """The feature extractor's weights behind a feature ``metric`` (``fid[classifier]``, …) in one
    run: the first 8 hex digits of their digest and the classifier's test accuracy (None for
    extractors without one), as the metric's protocol records them; None when it does not say. A
    feature classifier trained again (another machine, another torch) has other weights, and
    values on other features are on another scale."""
    name, _, rest = metric.partition("[")
    extractor = rest.split("]")[0]
    for section in (result.get("protocol") or {}).values():
        if (isinstance(section, dict) and section.get("extractor") == extractor and "weights_sha256" in section
                and name in section.get("metrics", [name])):
            return section["weights_sha256"][:8], section.get("classifier_test_accuracy")
    return None


def aggregate(entries: list[Entry], results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Leaderboard rows in suite order from each entry's per-seed results."""
    rows = []
    for entry in entries:
        runs = results.get(entry.name, [])
        if not runs:
            continue
        names = sorted({name for run in runs for name in run["metrics"]})
        rows.append({
            "entry": entry.name,
            "suite_file": entry.source_file,
            "model": runs[0].get("model"),
            "dataset": runs[0].get("dataset"),
            "metrics": {n: mean_std([run["metrics"].get(n) for run in runs]) for n in names},
            "reference": entry.reference,
            "wall_time_s": statistics.fmean(r.get("wall_time_s", float("nan")) for r in runs),
            "throughput": statistics.fmean(r.get("throughput", float("nan")) for r in runs),
            "devices": runs[0].get("devices"),
            "seeds": sorted(r["seed"] for r in runs),
            # each metric's protocol from the first run that has it (runs may predate a metric)
            "protocol": {k: v for run in reversed(runs) for k, v in run.get("protocol", {}).items()},
            "curves": [{"seed": r["seed"], "points": r["curve"]["points"]} for r in runs if r.get("curve")],
            # feature metric -> the extractor weights (digest prefixes) its seeds were scored with
            "extractor_weights": {n: sorted({found[0] for run in runs if (found := extractor_of(run, n))})
                                  for n in names if "[" in n},
            **({"restarts": entry.restarts} if entry.restarts else {}),
        })
    return rows


def fmt(value: float) -> str:
    """A number with the digits a leaderboard shows: 4 decimals below 10, 2 below 1000."""
    if value is None or not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.2f}"
    if magnitude >= 0.01 or magnitude == 0:
        return f"{value:.4f}"
    return f"{value:.3g}"


def cell(stats: dict[str, float]) -> str:
    """``mean ± std`` of :func:`mean_std`'s stats (the mean alone for one value)."""
    text = fmt(stats["mean"])
    if stats["n"] > 1:
        text += f" ± {fmt(stats['std'])}"
    return text
