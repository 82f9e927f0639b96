"""``lit-gen bench --compare``: two entries' result files paired by seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_gen.bench.cli import main
from lit_gen.bench.compare import CompareError, paired_seeds


def write_runs(suite_dir: Path, entry: str, values: dict[int, float], metric: str = "test_error") -> None:
    folder = suite_dir / "runs" / entry
    folder.mkdir(parents=True, exist_ok=True)
    for seed, value in values.items():
        result = {"entry": entry, "seed": seed, "config_hash": "x", "metrics": {metric: value}}
        (folder / f"seed={seed}.json").write_text(json.dumps(result))


def test_pairs_by_seed_and_counts_the_seeds_where_a_is_lower(tmp_path):
    write_runs(tmp_path, "a", {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0, 7: 9.0})
    write_runs(tmp_path, "b", {0: 1.5, 1: 2.0, 2: 2.5, 3: 5.0, 5: 0.0})
    paired = paired_seeds(tmp_path, "a", "b", "test_error")
    assert paired.seeds == [0, 1, 2, 3]
    assert paired.diffs == [-0.5, 0.0, 0.5, -1.0]
    assert (paired.a_lower, paired.level) == (2, 1)
    assert (paired.only_a, paired.only_b) == ([7], [5])


def test_exact_sign_flip_p_value_matches_a_hand_count(tmp_path):
    # differences -1, -2, -3, -4, -5: every one of the 32 sign patterns but the two all-same-sign
    # ones has a smaller |mean|, so the two-sided p is 2 / 32
    write_runs(tmp_path, "a", {s: 10.0 - (s + 1) for s in range(5)})
    write_runs(tmp_path, "b", {s: 10.0 for s in range(5)})
    assert paired_seeds(tmp_path, "a", "b", "test_error").p_value() == pytest.approx(2 / 32)
    # differences -3, +1, -1 (sum -3): the sign patterns of (3, 1, 1) with |sum| >= 3 are
    # (+,+,+) 5, (+,+,-) 3, (+,-,+) 3 and their mirror images, 6 of 8
    write_runs(tmp_path, "c", {0: 0.0, 1: 4.0, 2: 3.0})
    write_runs(tmp_path, "d", {0: 3.0, 1: 3.0, 2: 4.0})
    assert paired_seeds(tmp_path, "c", "d", "test_error").p_value() == pytest.approx(6 / 8)


def test_cli_prints_the_table_and_the_test(tmp_path, capsys):
    suite = tmp_path / "results" / "mysuite"
    write_runs(suite, "a", {0: 0.5, 1: 0.6, 2: 0.7})
    write_runs(suite, "b", {0: 0.6, 1: 0.7, 2: 0.8})
    (tmp_path / "benchmarks" / "suites" / "mysuite").mkdir(parents=True)
    (tmp_path / "benchmarks" / "suites" / "mysuite" / "s.yaml").write_text("[]\n")
    code = main(["--suite", "mysuite", "--root", str(tmp_path), "--out", str(tmp_path / "results"),
                 "--compare", "a", "b", "--metric", "test_error"])
    out = capsys.readouterr().out
    assert code == 0
    assert "A is lower on 3 of 3 seeds" in out
    assert "p = 0.2500" in out
    assert "0.6000 ± 0.1000" in out


def test_bad_comparisons_are_clear_errors(tmp_path, capsys):
    write_runs(tmp_path, "a", {0: 1.0})
    write_runs(tmp_path, "b", {1: 1.0})
    with pytest.raises(CompareError, match="share no seed"):
        paired_seeds(tmp_path, "a", "b", "test_error")
    with pytest.raises(CompareError, match="no result files for entry 'nope'"):
        paired_seeds(tmp_path, "a", "nope", "test_error")
    with pytest.raises(CompareError, match="no metric 'fid'.*test_error"):
        paired_seeds(tmp_path, "a", "b", "fid")
    write_runs(tmp_path, "nan", {0: float("nan")})
    with pytest.raises(CompareError, match="not a finite number"):
        paired_seeds(tmp_path, "nan", "a", "test_error")
    (tmp_path / "benchmarks" / "suites" / "s").mkdir(parents=True)
    (tmp_path / "benchmarks" / "suites" / "s" / "s.yaml").write_text("[]\n")
    assert main(["--suite", "s", "--root", str(tmp_path), "--compare", "a", "b"]) == 2
    assert "--metric" in capsys.readouterr().err
