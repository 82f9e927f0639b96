"""Renderers of a suite's results: ``leaderboard.md``/``.csv``/``.json``, one figure per model
family (``leaderboard_<family>.png``) and the headline table (``headline.md``, rows chosen in the
suite's ``headline.yaml``), the verdicts (``verdicts.md``, :mod:`lit_gen.bench.verdicts`), plus the
README blocks they fill.

Rows are :func:`lit_gen.bench.results.aggregate`'s: ``metrics`` maps each name to ``{"mean",
"std", "n"}`` over seeds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from lit_gen.bench.console import is_rank_zero, say
from lit_gen.bench.results import aggregate, cell, collect_results, fmt
from lit_gen.bench.suite import HEADLINE_FILE, Entry, SuiteError
from lit_gen.bench.verdicts import render_verdicts, verdicts_spec
from lit_gen.utils.io import atomic_path, atomic_write_text

Row = dict[str, Any]

# figures: one screen each (MAX_HEIGHT_IN x FIGURE_DPI = 1,100 px tall at most)
FIGURE_DPI = 110
MAX_HEIGHT_IN = 10.0
MAX_PANELS = 12
COLUMNS = 3
PANEL_WIDTH_IN = 5.0
ROW_BASE_IN = 0.9  # a row of panels: title, x ticks and label, margins
ENTRY_IN = 0.17  # one entry's line in a dot chart (7 pt labels)
MIN_ENTRY_LINES = 8  # a row is never flatter than this: room for a curve panel's legend
CURVE_AXES = ("train_seconds", "batches", "epoch")
PUBLIC_KEYS = ("entry", "model", "dataset", "metrics", "reference", "wall_time_s", "throughput", "devices")


def reference_text(reference: dict[str, Any] | None) -> str:
    """``value (source)`` of an entry's reference for one metric, or ``""``."""
    if not reference:
        return ""
    return f"{reference.get('value')} ({reference.get('source', '')})".strip()


def render_markdown(suite: str, rows: list[Row], command: str) -> str:
    lines = [f"# Leaderboard: suite `{suite}`", "",
             f"Reproduce with `{command}`. Each metric is mean ± std over seeds (n = seeds); "
             "`ref` is the published or anchor value the entry is compared with. A feature metric "
             "(`fid[classifier]`, …) names the first digits of its extractor's weights digest, ⟨…⟩: "
             "values compare only between rows with the same weights.", ""]
    lines += ["| entry | model | dataset | metric | value | n | ref | wall time (s) | samples/s | devices |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        first = True
        for name, stats in row["metrics"].items():
            head = (f"| {row['entry']} | {row['model']} | {row['dataset']} " if first else "| | | ")
            tail = (f"| {fmt(row['wall_time_s'])} | {fmt(row['throughput'])} | {row['devices']} |"
                    if first else "| | | |")
            ref = reference_text((row.get("reference") or {}).get(name))
            weights = (row.get("extractor_weights") or {}).get(name)
            label = name + (f" ⟨{' / '.join(weights)}⟩" if weights else "") + (
                " (seeds on different digests: other weights, or a file digest recorded before 2026-11-29)"
                if weights and len(weights) > 1 else "")
            lines.append(f"{head}| {label} | {cell(stats)} | {stats['n']} | {ref} {tail}")
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


def render_csv(rows: list[Row]) -> str:
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


def render_json(rows: list[Row]) -> str:
    return json.dumps([{k: row[k] for k in PUBLIC_KEYS} for row in rows], indent=2, default=str) + "\n"


def family_of(row: Row) -> str:
    """A row's model family: its suite file's name up to the first ``_`` (``gan_long.yaml`` ->
    ``gan``), else its model class (rows built without a suite file)."""
    stem = Path(row.get("suite_file") or "").stem or str(row.get("model") or "other")
    return stem.split("_")[0].lower()


def curve_panels(rows: list[Row]) -> list[tuple[str, str]]:
    """(curve metric, dataset) pairs, one line chart each: values of one metric on two data sets
    (MNIST FIDs in the hundreds, CIFAR-10 ones near ten) would flatten each other on one axis."""
    return sorted({(k, str(row.get("dataset"))) for row in rows for c in row.get("curves", [])
                   for p in c["points"] for k in p if k not in CURVE_AXES})


def main_metrics(rows: list[Row], room: int) -> list[str]:
    """At most ``room`` metrics of a family's rows, the ones at least a quarter of its entries
    have, most common first. Spreads (``kid_std`` ...) are left out: a panel's error bars are
    the seeds' std already."""
    counts = Counter(n for row in rows for n in row["metrics"] if not n.split("[")[0].endswith("_std"))
    common = sorted((n for n, c in counts.items() if 4 * c >= len(rows)), key=lambda n: (-counts[n], n))
    return common[:room]


def _groups(rows: list[Row], key) -> dict[str, list[Row]]:
    """``rows`` grouped by ``key(row)``, groups and rows in their first order."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def figure_plan(rows: list[Row]) -> Iterator[tuple[str, list[Row], list[tuple[str, str]], list[str]]]:
    """``(file stem, rows, curve panels, metric panels)`` of each figure: one per family
    (``leaderboard_vib``), one per family and data set when it has several (``leaderboard_gan_cifar10``:
    MNIST FIDs in the hundreds would flatten CIFAR-10 ones near ten), in numbered parts
    (``leaderboard_gan_mnist_1`` ...) when its entries would make it taller than ``MAX_HEIGHT_IN``."""
    for family, members in _groups(rows, family_of).items():
        curves = curve_panels(members)[:MAX_PANELS]
        names = main_metrics(members, MAX_PANELS - len(curves))
        if not curves and not names:
            continue
        panel_rows = math.ceil((len(curves) + len(names)) / COLUMNS)
        fit = max(1, int((MAX_HEIGHT_IN / panel_rows - ROW_BASE_IN) / ENTRY_IN))
        datasets = _groups(members, lambda row: str(row.get("dataset")))
        for dataset, same_data in datasets.items():
            stem = f"leaderboard_{family}" + (f"_{dataset.lower()}" if len(datasets) > 1 else "")
            parts = math.ceil(len(same_data) / fit)
            size = math.ceil(len(same_data) / parts)
            for i in range(parts):
                chunk = same_data[i * size:(i + 1) * size]
                kept_curves = [c for c in curves if c in curve_panels(chunk)]
                kept_names = [n for n in names if any(n in row["metrics"] for row in chunk)]
                yield stem + (f"_{i + 1}" if parts > 1 else ""), chunk, kept_curves, kept_names


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display on a server or in a worker)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_figure(rows: list[Row], curves: list[tuple[str, str]], names: list[str], path: Path) -> None:
    """Curve panels first (value against training minutes, a line per seed), then one dot chart
    per metric (entries on the y axis, mean ± std, the reference as a red cross)."""
    plt = _pyplot()
    panels = len(curves) + len(names)
    cols = min(COLUMNS, panels)
    nrows = math.ceil(panels / cols)
    height = nrows * (ROW_BASE_IN + ENTRY_IN * max(MIN_ENTRY_LINES, len(rows)))
    fig, axes = plt.subplots(nrows, cols, figsize=(PANEL_WIDTH_IN * cols, height), squeeze=False)
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
        ax.set_yticks(list(ys), [row["entry"] for row in have], fontsize=7)
        ax.set_title(name, fontsize=10)
        ax.locator_params(axis="x", nbins=5)  # six-digit tick labels (params) would run into each other
        ax.grid(axis="x", alpha=0.3)
    save_figure(fig, flat[panels:], path)


def save_figure(fig, spare_axes, path: Path) -> None:
    """Blank the grid's unused panels, lay out, and write the PNG atomically (a unique temporary
    name: two `--only` runs of one suite may write the picture at the same time); closes ``fig``."""
    for ax in spare_axes:
        ax.axis("off")
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=FIGURE_DPI)
    finally:
        _pyplot().close(fig)


def render_figures(rows: list[Row], folder: Path) -> list[Path]:
    """Write every figure of :func:`figure_plan` to ``folder`` and delete the figures of an
    earlier layout (``leaderboard.png``, parts that are gone); the paths written."""
    written = []
    for stem, chunk, curves, names in figure_plan(rows):
        written.append(folder / f"{stem}.png")
        draw_figure(chunk, curves, names, written[-1])
    for old in [folder / "leaderboard.png", *folder.glob("leaderboard_*.png")]:
        if old not in written:
            old.unlink(missing_ok=True)
    return written


def headline_spec(entries: list[Entry], root: Path) -> list[dict[str, Any]]:
    """The rows of the suite's ``headline.yaml`` (beside its entry files), or ``[]``: each
    ``{family, data, model, entry, metric}`` and optionally ``reference: {value, source}``
    (default: the entry's reference for that metric)."""
    if not entries:
        return []
    spec = (root / entries[0].source_file).parent / HEADLINE_FILE
    if not spec.is_file():
        return []
    return yaml.safe_load(spec.read_text(encoding="utf-8")) or []


def headline_reference(item: dict[str, Any], row: Row) -> dict[str, Any] | None:
    """A headline row's reference: its own ``reference``, else its entry's for that metric."""
    return item.get("reference") or (row.get("reference") or {}).get(item["metric"])


def render_headline(spec: list[dict[str, Any]], rows: list[Row]) -> str:
    """The headline table: one spec row each, with the entry's mean ± std over its seeds."""
    by_entry = {row["entry"]: row for row in rows}
    lines = ["| family | data | model (entry) | metric | ours: mean ± std (n seeds) | reference |",
             "|---|---|---|---|---|---|"]
    for item in spec:
        row = by_entry.get(item["entry"], {})
        stats = row.get("metrics", {}).get(item["metric"])
        ours = (f"{cell(stats)} ({stats['n']} seed{'s' if stats['n'] != 1 else ''})" if stats and stats["n"]
                else "no result yet")
        reference = headline_reference(item, row)
        lines.append(f"| {item['family']} | {item['data']} | {item['model']} (`{item['entry']}`) | "
                     f"{item['metric']} | {ours} | {reference_text(reference) or '–'} |")
    return "\n".join(lines) + "\n"


def draw_headline_figure(spec: list[dict[str, Any]], rows: list[Row], path: Path) -> None:
    """The headline table as one small panel per row (at most 12): our mean ± std over seeds and
    the reference (red cross) on one axis, so how far each family is from its paper shows at a
    glance. Rows without a result are left out."""
    plt = _pyplot()
    by_entry = {row["entry"]: row for row in rows}
    have = [(item, by_entry[item["entry"]]["metrics"][item["metric"]]) for item in spec[:MAX_PANELS]
            if item["metric"] in by_entry.get(item["entry"], {}).get("metrics", {})]
    if not have:
        return
    cols = min(COLUMNS, len(have))
    fig, axes = plt.subplots(math.ceil(len(have) / cols), cols, figsize=(PANEL_WIDTH_IN * cols, 1.6 * math.ceil(
        len(have) / cols)), squeeze=False)
    for ax, (item, stats) in zip(axes.flat, have):
        ax.errorbar([stats["mean"]], [1], xerr=[stats["std"]], fmt="o", capsize=3)
        reference = headline_reference(item, by_entry[item["entry"]])
        if reference and isinstance(reference.get("value"), (int, float)):
            ax.plot(reference["value"], 0, "rx", markersize=8)
        else:
            ax.text(0.5, 0.18, "no reference at this scale", transform=ax.transAxes, ha="center", fontsize=7,
                    color="0.4")
        ax.set_yticks([0, 1], ["reference", "ours"], fontsize=7)
        ax.set_ylim(-0.7, 1.7)
        ax.set_title(f"{item['family']}, {item['data']}: {item['metric']}", fontsize=9)
        ax.locator_params(axis="x", nbins=5)
        ax.grid(axis="x", alpha=0.3)
    save_figure(fig, list(axes.flat)[len(have):], path)


def embed_block(path: Path, name: str, body: str) -> bool:
    """Put ``body`` between the lines ``<!-- name -->`` and ``<!-- /name -->`` of ``path``;
    False (the file untouched) when it lacks them."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    before, opened, rest = path.read_text(encoding="utf-8").partition(start)
    _, closed, after = rest.partition(end)
    if not (opened and closed):
        return False
    atomic_write_text(path, f"{before}{start}\n{body.strip()}\n{end}{after}")
    return True


def embed_headline(readme: Path, suite_dir: Path) -> bool:
    """Copy ``<suite_dir>/headline.md``'s table into ``readme`` between ``<!-- headline:SUITE -->``
    and ``<!-- /headline:SUITE -->``; False when there is no table or no such block."""
    table = suite_dir / "headline.md"
    if not table.is_file():
        return False
    return embed_block(readme, f"headline:{suite_dir.name}", table.read_text(encoding="utf-8").split("\n", 2)[2])


def write_leaderboard(suite_dir: Path, suite: str, rows: list[Row], command: str,
                      headline: list[dict[str, Any]] = ()) -> None:
    """All of a suite's reports; ``headline.md`` only when the suite has a headline spec."""
    atomic_write_text(suite_dir / "leaderboard.md", render_markdown(suite, rows, command))
    atomic_write_text(suite_dir / "leaderboard.csv", render_csv(rows))
    atomic_write_text(suite_dir / "leaderboard.json", render_json(rows))
    render_figures(rows, suite_dir)
    if headline:
        atomic_write_text(suite_dir / "headline.md", f"# Headline: suite `{suite}`\n\n{render_headline(headline, rows)}")
        draw_headline_figure(headline, rows, suite_dir / "headline.png")


def refresh_leaderboard(suite: str, entries: list[Entry], suite_dir: Path, root: Path, command: str) -> list[Row]:
    """Rebuild every report of the suite from the results on disk (rank 0 writes); the rows."""
    results = collect_results(entries, suite_dir, root)
    rows = aggregate(entries, results)
    if is_rank_zero() and rows:
        write_leaderboard(suite_dir, suite, rows, command, headline_spec(entries, root))
        try:
            questions = verdicts_spec(entries, root)
        except SuiteError as err:  # after a run: the result is written, the leaderboard too
            say(f"  ! verdicts not rendered: {err}")
            questions = []
        if questions:
            atomic_write_text(suite_dir / "verdicts.md", render_verdicts(questions, results, suite))
        else:
            (suite_dir / "verdicts.md").unlink(missing_ok=True)
    return rows
