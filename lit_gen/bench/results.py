"""Result files: one JSON per entry × seed, and the leaderboard built from them.

Layout under ``<out>/<suite>/``::

    runs/<entry>/seed=<s>.json     one run (written atomically: temp file + rename)
    runs/<entry>/seed=<s>.claim    while a worker trains it (lit_gen.bench.claims)
    leaderboard.md|csv|json|png    one row per entry, mean ± std over seeds
    work/<entry>/seed=<s>/         Lightning logs, checkpoints, sample grids (not committed);
                                   ``lit-gen bench --work DIR`` moves them to DIR/<suite>/<entry>/seed=<s>

``leaderboard.json`` is a list of rows ``{"entry", "model", "dataset", "metrics": {name: {"mean",
"std", "n"}}, "reference", "wall_time_s", "throughput", "devices"}``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path
from typing import Any

from lit_gen.bench.suite import Entry
from lit_gen.utils.io import atomic_path, atomic_write_text


class CorruptResultError(ValueError):
    """A result file exists but cannot be trusted (truncated, not JSON, missing fields)."""


REQUIRED_FIELDS = ("entry", "seed", "config_hash", "metrics")


def run_path(suite_dir: Path, entry: str, seed: int) -> Path:
    return suite_dir / "runs" / entry / f"seed={seed}.json"


def claim_path(suite_dir: Path, entry: str, seed: int) -> Path:
    """The claim of a run in progress (:mod:`lit_gen.bench.claims`), beside its result: in the
    results folder that workers on several machines share."""
    return run_path(suite_dir, entry, seed).with_suffix(".claim")


def work_path(suite_dir: Path, entry: str, seed: int, work: Path | None = None) -> Path:
    """A run's work folder (logs, checkpoints): ``<suite_dir>/work/<entry>/seed=<s>``, or
    ``<work>/<suite>/<entry>/seed=<s>`` when a separate work folder is given (e.g. fast local
    disk while the results folder is shared)."""
    base = Path(work) / suite_dir.name if work is not None else suite_dir / "work"
    return base / entry / f"seed={seed}"


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


def _mean_std(values: list[float]) -> dict[str, float | int]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return {"mean": statistics.fmean(finite), "std": std, "n": len(finite)}


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
            "model": runs[0].get("model"),
            "dataset": runs[0].get("dataset"),
            "metrics": {n: _mean_std([run["metrics"].get(n) for run in runs]) for n in names},
            "reference": entry.reference,
            "wall_time_s": statistics.fmean(r.get("wall_time_s", float("nan")) for r in runs),
            "throughput": statistics.fmean(r.get("throughput", float("nan")) for r in runs),
            "devices": runs[0].get("devices"),
            "seeds": sorted(r["seed"] for r in runs),
            # each metric's protocol from the first run that has it (runs may predate a metric)
            "protocol": {k: v for run in reversed(runs) for k, v in run.get("protocol", {}).items()},
            "curves": [{"seed": r["seed"], "points": r["curve"]["points"]} for r in runs if r.get("curve")],
            **({"restarts": entry.restarts} if entry.restarts else {}),
        })
    return rows


def _fmt(value: float) -> str:
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


def _cell(stats: dict[str, float]) -> str:
    text = _fmt(stats["mean"])
    if stats["n"] > 1:
        text += f" ± {_fmt(stats['std'])}"
    return text


def _reference_text(row: dict[str, Any], name: str) -> str:
    ref = (row.get("reference") or {}).get(name)
    if not ref:
        return ""
    return f"{ref.get('value')} ({ref.get('source', '')})".strip()


def render_markdown(suite: str, rows: list[dict[str, Any]], command: str) -> str:
    lines = [f"# Leaderboard: suite `{suite}`", "",
             f"Reproduce with `{command}`. Each metric is mean ± std over seeds (n = seeds); "
             "`ref` is the published or anchor value the entry is compared with.", ""]
    lines += ["| entry | model | dataset | metric | value | n | ref | wall time (s) | samples/s | devices |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        first = True
        for name, stats in row["metrics"].items():
            head = (f"| {row['entry']} | {row['model']} | {row['dataset']} " if first else "| | | ")
            tail = (f"| {_fmt(row['wall_time_s'])} | {_fmt(row['throughput'])} | {row['devices']} |"
                    if first else "| | | |")
            lines.append(f"{head}| {name} | {_cell(stats)} | {stats['n']} | {_reference_text(row, name)} {tail}")
            first = False
    protocols = [(row["entry"], row["protocol"], row.get("restarts")) for row in rows
                 if row.get("protocol") or row.get("restarts")]
    if protocols:
        lines += ["", "## Protocol", ""]
        for entry, proto, restarts in protocols:
            parts = [f"{metric}: {json.dumps(p, sort_keys=True)}" for metric, p in proto.items()]
            if restarts:
                parts.insert(0, f"each seed the best of {restarts['n']} training runs by {restarts['monitor']} "
                                f"({restarts['mode']}; wall time counts all {restarts['n']})")
            lines.append(f"- **{entry}**: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def render_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["entry", "model", "dataset", "metric", "mean", "std", "n", "reference",
                     "reference_source", "wall_time_s", "throughput", "devices"])
    for row in rows:
        for name, stats in row["metrics"].items():
            ref = (row.get("reference") or {}).get(name) or {}
            writer.writerow([row["entry"], row["model"], row["dataset"], name, stats["mean"], stats["std"],
                             stats["n"], ref.get("value", ""), ref.get("source", ""), row["wall_time_s"],
                             row["throughput"], row["devices"]])
    return buffer.getvalue()


CURVE_AXES = ("train_seconds", "batches", "epoch")


def curve_panels(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(curve metric, dataset) pairs, one line chart each: values of one metric on two data sets
    (MNIST FIDs in the hundreds, CIFAR-10 ones near ten) would flatten each other on one axis."""
    return sorted({(k, str(row.get("dataset"))) for row in rows for c in row.get("curves", [])
                   for p in c["points"] for k in p if k not in CURVE_AXES})


def render_png(rows: list[dict[str, Any]], path: Path) -> None:
    """One dot chart per metric (entries on the y axis, mean ± std, reference as a red cross),
    then one line chart per curve metric (value against training minutes, a line per seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({n for row in rows for n in row["metrics"]})
    curves = curve_panels(rows)
    panels = len(curves) + len(names)
    if not panels:
        return
    cols = min(3, panels)
    nrows = math.ceil(panels / cols)
    # a panel lists only the entries that have its metric: each row of panels is as tall as its
    # longest list (a GAN metric has dozens of entries, a lexicon one a handful)
    lengths = [8] * len(curves) + [sum(name in row["metrics"] for row in rows) for name in names]
    heights = [0.8 + 0.3 * max(3, *lengths[r * cols:(r + 1) * cols]) for r in range(nrows)]
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    flat = list(axes.flat)
    for ax, (name, dataset) in zip(flat, curves):  # curves first: the picture's top row
        for i, row in enumerate(r for r in rows if r.get("curves") and str(r.get("dataset")) == dataset):
            for j, curve in enumerate(row["curves"]):
                points = [p for p in curve["points"] if name in p]
                ax.plot([p["train_seconds"] / 60 for p in points], [p[name] for p in points], "o-",
                        color=f"C{i}", alpha=0.8, markersize=3, label=row["entry"] if j == 0 else None)
        ax.set_xlabel("training time (min, measurements excluded)", fontsize=8)
        ax.set_title(f"{name} during training, {dataset}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax, name in zip(flat[len(curves):], names):
        have = [row for row in rows if name in row["metrics"]]
        ys = range(len(have))
        ax.errorbar([row["metrics"][name]["mean"] for row in have], ys,
                    xerr=[row["metrics"][name]["std"] for row in have], fmt="o", capsize=3)
        for y, row in zip(ys, have):
            ref = (row.get("reference") or {}).get(name)
            if ref and isinstance(ref.get("value"), (int, float)):
                ax.plot(ref["value"], y, "rx", markersize=8)
        ax.set_yticks(list(ys), [row["entry"] for row in have], fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    fig.tight_layout()
    # a unique temp name: two `--only` runs of one suite may write the picture at the same time
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)


def write_leaderboard(suite_dir: Path, suite: str, rows: list[dict[str, Any]], command: str) -> None:
    atomic_write_text(suite_dir / "leaderboard.md", render_markdown(suite, rows, command))
    atomic_write_text(suite_dir / "leaderboard.csv", render_csv(rows))
    public = [{k: row[k] for k in ("entry", "model", "dataset", "metrics", "reference", "wall_time_s",
                                   "throughput", "devices")} for row in rows]
    atomic_write_text(suite_dir / "leaderboard.json", json.dumps(public, indent=2, default=str) + "\n")
    render_png(rows, suite_dir / "leaderboard.png")
