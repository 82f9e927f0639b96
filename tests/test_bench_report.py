"""The bench's result store layout, its report renderers (per-family figures, headline table,
README blocks) and the layering of the bench (models and metrics do not import it)."""

from __future__ import annotations

import ast
import json
import struct
from pathlib import Path

import pytest
import yaml

from lit_gen.bench.report import (FIGURE_DPI, MAX_HEIGHT_IN, MAX_PANELS, draw_headline_figure, embed_block,
                                  embed_headline, figure_plan, render_figures, render_headline)
from lit_gen.bench.results import aggregate, claim_path, fit_folders, result_files, run_path, work_path
from lit_gen.bench.suite import Entry, load_suite

ROOT = Path(__file__).resolve().parents[1]


def test_work_folder_layout(tmp_path):
    suite_dir = tmp_path / "results" / "cpu"
    assert run_path(suite_dir, "vae-mnist", 2) == suite_dir / "runs/vae-mnist/seed=2.json"
    assert claim_path(suite_dir, "vae-mnist", 2) == suite_dir / "runs/vae-mnist/seed=2.claim"
    assert work_path(suite_dir, "vae-mnist", 2) == suite_dir / "work/vae-mnist/seed=2"
    assert work_path(suite_dir, "vae-mnist", 2, restart=1) == suite_dir / "work/vae-mnist/seed=2/restart=1"
    # --work DIR: DIR/<suite>/<entry>/seed=N, the suite's name kept so suites do not mix
    assert work_path(suite_dir, "vae-mnist", 2, tmp_path / "scratch") == tmp_path / "scratch/cpu/vae-mnist/seed=2"


def test_result_files_and_fit_folders_follow_the_layout(tmp_path):
    suite_dir = tmp_path / "cpu"
    for seed in (1, 0):
        run_path(suite_dir, "a", seed).parent.mkdir(parents=True, exist_ok=True)
        run_path(suite_dir, "a", seed).write_text("{}")
    claim_path(suite_dir, "a", 2).write_text("{}")  # a claim is not a result
    assert result_files(suite_dir, "a") == [run_path(suite_dir, "a", 0), run_path(suite_dir, "a", 1)]
    for folder in (work_path(suite_dir, "a", 0), work_path(suite_dir, "a", 1, restart=0),
                   work_path(suite_dir, "a", 1, restart=1)):
        folder.mkdir(parents=True)
    assert fit_folders(suite_dir / "work" / "a") == [work_path(suite_dir, "a", 0), work_path(suite_dir, "a", 1, restart=0),
                                                    work_path(suite_dir, "a", 1, restart=1)]


def _entry(name: str, reference=None) -> Entry:
    return Entry(name=name, config="configs/vae.yaml", metrics=["nelbo"], reference=reference,
                 source_file="benchmarks/suites/x/vae.yaml")


def test_headline_shows_mean_std_over_seeds_and_the_reference():
    entries = [_entry("three", {"test_nelbo": {"value": 98.1, "source": "anchor"}}), _entry("one")]
    runs = {"three": [{"seed": s, "metrics": {"test_nelbo": v}} for s, v in enumerate([90.0, 92.0, 94.0])],
            "one": [{"seed": 0, "metrics": {"test_nelbo": 5.0}}]}
    spec = [{"family": "VAE", "data": "MNIST", "model": "conv VAE", "entry": "three", "metric": "test_nelbo"},
            {"family": "VAE", "data": "MNIST", "model": "tiny", "entry": "one", "metric": "test_nelbo",
             "reference": {"value": 4.0, "source": "given in the spec"}},
            {"family": "VAE", "data": "CIFAR-10", "model": "none", "entry": "missing", "metric": "test_nelbo"}]
    lines = render_headline(spec, aggregate(entries, runs)).splitlines()
    assert lines[0] == "| family | data | model (entry) | metric | ours: mean ± std (n seeds) | reference |"
    # mean (90 + 92 + 94) / 3 = 92; sample std sqrt((4 + 0 + 4) / 2) = 2
    assert lines[2] == "| VAE | MNIST | conv VAE (`three`) | test_nelbo | 92.00 ± 2.0000 (3 seeds) | 98.1 (anchor) |"
    assert lines[3] == "| VAE | MNIST | tiny (`one`) | test_nelbo | 5.0000 (1 seed) | 4.0 (given in the spec) |"
    assert lines[4] == "| VAE | CIFAR-10 | none (`missing`) | test_nelbo | no result yet | – |"


def test_headline_figure_has_a_panel_per_row_with_a_result(tmp_path, monkeypatch):
    import matplotlib.figure

    entries = [_entry(f"e{k}") for k in range(4)]
    runs = {f"e{k}": [{"seed": 0, "metrics": {"test_nelbo": float(k)}}] for k in range(3)}   # e3: no result
    spec = [{"family": "VAE", "data": "MNIST", "model": "m", "entry": f"e{k}", "metric": "test_nelbo"}
            for k in range(4)]
    drawn = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, path, **kw: (drawn.append([ax for ax in fig.axes if ax.axison]),
                                                 Path(path).write_bytes(b"png")))
    draw_headline_figure(spec, aggregate(entries, runs), tmp_path / "headline.png")
    assert [ax.get_title() for ax in drawn[0]] == ["VAE, MNIST: test_nelbo"] * 3
    assert (tmp_path / "headline.png").read_bytes() == b"png"


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk
    return width, height


def test_a_big_family_gets_figures_of_at_most_12_panels_that_fit_a_screen(tmp_path):
    """40 entries with 20 metrics each on two data sets (32 + 8): a figure per data set, the
    bigger one in parts, each
    with <= 12 panels and no taller than MAX_HEIGHT_IN at FIGURE_DPI."""
    metrics = {f"m{i}": {"mean": float(i), "std": 0.1, "n": 3} for i in range(20)}
    rows = [{"entry": f"gan-{k}", "suite_file": "benchmarks/suites/cpu/gan_long.yaml", "model": "GAN",
             "dataset": "mnist" if k < 32 else "cifar10", "metrics": metrics} for k in range(40)]
    rows.append({"entry": "vib", "suite_file": "benchmarks/suites/cpu/vib.yaml", "model": "VIB", "dataset": "mnist",
                 "metrics": {"test_error": {"mean": 1.0, "std": 0.0, "n": 1}}})
    plan = list(figure_plan(rows))
    assert all(len(curves) + len(names) <= MAX_PANELS for _, _, curves, names in plan)
    assert sum(len(chunk) for _, chunk, _, _ in plan) == len(rows)  # every entry drawn once
    written = render_figures(rows, tmp_path)
    names = sorted(p.name for p in written)
    assert names[-1] == "leaderboard_vib.png" and "leaderboard_gan_cifar10.png" in names
    assert any(n.startswith("leaderboard_gan_mnist_") for n in names)
    for path in written:
        assert _png_size(path)[1] <= MAX_HEIGHT_IN * FIGURE_DPI, path.name
    (tmp_path / "leaderboard.png").write_bytes(b"old")  # the old one-strip picture goes
    render_figures(rows[-1:], tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["leaderboard_vib.png"]


def test_readme_blocks_are_replaced_only_between_their_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- headline:cpu -->\nold\n<!-- /headline:cpu -->\noutro\n")
    assert not embed_headline(readme, tmp_path / "cpu")  # no headline.md yet
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu/headline.md").write_text("# Headline: suite `cpu`\n\n| family |\n|---|\n| VAE |\n")
    assert embed_headline(readme, tmp_path / "cpu")
    assert readme.read_text() == "intro\n<!-- headline:cpu -->\n| family |\n|---|\n| VAE |\n<!-- /headline:cpu -->\noutro\n"
    assert not embed_block(readme, "leaderboard:cpu", "x")  # no such block: the file is left alone
    assert "x\n" not in readme.read_text()


def test_cpu_headline_rows_name_committed_results():
    """Every row of the cpu headline spec names an entry of the suite (the loader skips the
    spec) and a metric its committed leaderboard row has."""
    spec = yaml.safe_load((ROOT / "benchmarks/suites/cpu/headline.yaml").read_text())
    names = {e.name for e in load_suite("cpu", ROOT)}
    board = {row["entry"]: row for row in json.loads((ROOT / "benchmarks/results/cpu/leaderboard.json").read_text())}
    for item in spec:
        assert item["entry"] in names and item["metric"] in board[item["entry"]]["metrics"], item
        assert {"family", "data", "model"} <= item.keys()


@pytest.mark.parametrize("layer", ["models", "metrics", "nn", "losses", "data", "utils"])
def test_lower_layers_do_not_import_the_bench(layer):
    for path in (ROOT / "lit_gen" / layer).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(m.startswith("lit_gen.bench") for m in modules), path


def test_leaderboard_names_the_extractor_weights_of_feature_metrics():
    from lit_gen.bench.report import render_markdown

    def run(seed, digest):
        return {"seed": seed, "metrics": {"fid[classifier]": 10.0 + seed, "nll": 1.0},
                "protocol": {"fid": {"extractor": "classifier", "metrics": ["fid"], "weights_sha256": digest * 64}}}

    entries = [_entry("same"), _entry("mixed")]
    rows = aggregate(entries, {"same": [run(0, "a"), run(1, "a")], "mixed": [run(0, "a"), run(1, "b")]})
    table = render_markdown("x", rows, "cmd")
    assert "| same | None | None | fid[classifier] ⟨aaaaaaaa⟩ | 10.50 ± 0.7071 | 2 |" in table
    assert "| mixed | None | None | fid[classifier] ⟨aaaaaaaa / bbbbbbbb⟩ (seeds on different digests: other weights, or a file digest recorded before 2026-11-29) |" in table
    assert "| | | | nll | 1.0000 ± 0.0000 | 2 |" in table  # not a feature metric
