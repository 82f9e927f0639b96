"""``lit-gen bench compare``: two entries' runs paired by seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lit_gen.bench.cli import main
from lit_gen.bench.compare import CompareError, paired_seeds, weights_note
from lit_gen.bench.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
ENTRY = {"config": "configs/vib.yaml", "overrides": {"data.name": "digits"}, "metrics": ["test_error"],
         "seeds": [0, 1, 2]}


def runs(values: dict[int, float], metric: str = "test_error") -> list[dict]:
    return [{"seed": seed, "metrics": {metric: value}} for seed, value in values.items()]


def test_pairs_by_seed_and_counts_the_seeds_where_a_is_lower():
    results = {"a": runs({0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0, 7: 9.0}), "b": runs({0: 1.5, 1: 2.0, 2: 2.5, 3: 5.0, 5: 0.0})}
    paired = paired_seeds(results, "a", "b", "test_error")
    assert paired.seeds == [0, 1, 2, 3]
    assert paired.diffs == [-0.5, 0.0, 0.5, -1.0]
    assert (paired.a_lower, paired.level) == (2, 1)
    assert (paired.only_a, paired.only_b) == ([7], [5])


def test_exact_sign_flip_p_value_matches_a_hand_count():
    # differences -1, -2, -3, -4, -5: of the 32 sign patterns only the two with one sign throughout
    # reach |mean| = 3, so the two-sided p is 2 / 32
    results = {"a": runs({s: 10.0 - (s + 1) for s in range(5)}), "b": runs({s: 10.0 for s in range(5)})}
    assert paired_seeds(results, "a", "b", "test_error").p_value() == pytest.approx(2 / 32)
    # differences -3, +1, -1 (sum -3): the sign patterns of (3, 1, 1) with |sum| >= 3 are
    # (+,+,+) 5, (+,+,-) 3, (+,-,+) 3 and their mirror images, 6 of 8
    results = {"c": runs({0: 0.0, 1: 4.0, 2: 3.0}), "d": runs({0: 3.0, 1: 3.0, 2: 4.0})}
    assert paired_seeds(results, "c", "d", "test_error").p_value() == pytest.approx(6 / 8)


def scored(values: dict[int, tuple[float, str]]) -> list[dict]:
    """Runs whose fid[classifier] came from the classifier with the given weights digest."""
    return [{"seed": seed, "metrics": {"fid[classifier]": value},
             "protocol": {"fid": {"extractor": "classifier", "metrics": ["fid", "kid"], "weights_sha256": digest * 8,
                                  "classifier_test_accuracy": 0.99},
                          "fid_second_extractor": {"extractor": "inception-ts", "metrics": ["fid"],
                                                   "weights_sha256": "f" * 64}}}
            for seed, (value, digest) in values.items()]


def test_a_warning_names_the_runs_scored_with_other_extractor_weights():
    same = {"a": scored({0: (50.0, "a"), 1: (51.0, "a")}), "b": scored({0: (55.0, "a"), 1: (56.0, "a")})}
    assert weights_note(same, paired_seeds(same, "a", "b", "fid[classifier]")) is None
    mixed = {"a": scored({0: (50.0, "a"), 1: (51.0, "a")}), "b": scored({0: (55.0, "b"), 1: (56.0, "a")})}
    note = weights_note(mixed, paired_seeds(mixed, "a", "b", "fid[classifier]"))
    assert "aaaaaaaa (test accuracy 0.99): a seeds [0, 1], b seeds [1]" in note
    assert "bbbbbbbb (test accuracy 0.99): b seeds [0]" in note and "not comparable" in note
    # seeds left out of the pairing do not count, and metrics without features have no note
    left_out = {"a": scored({0: (50.0, "a")}), "b": scored({0: (55.0, "a"), 1: (56.0, "b")})}
    assert weights_note(left_out, paired_seeds(left_out, "a", "b", "fid[classifier]")) is None
    plain = {"a": runs({0: 1.0}), "b": runs({0: 2.0})}
    assert weights_note(plain, paired_seeds(plain, "a", "b", "test_error")) is None


def write_suite_and_results(tmp_path: Path, values: dict[str, dict[int, float]]) -> Path:
    """A suite with entries ``a`` and ``b`` and result files stamped with their real hashes."""
    folder = tmp_path / "suites" / "pair"
    folder.mkdir(parents=True)
    (folder / "vib.yaml").write_text(yaml.safe_dump([{"name": name, **ENTRY} for name in ("a", "b")]))
    entries = {e.name: e for e in load_suite(str(folder), ROOT)}
    for name, by_seed in values.items():
        for seed, value in by_seed.items():
            path = tmp_path / "out" / "pair" / "runs" / name / f"seed={seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            result = {"entry": name, "seed": seed, "config_hash": entries[name].config_hash(ROOT, seed, 1),
                      "metrics": {"test_error": value}, "protocol": {"test_error": {}}}
            path.write_text(json.dumps(result))
    return folder


def compare(folder: Path, tmp_path: Path, *more: str) -> int:
    return main(["compare", *more, "--suite", str(folder), "--root", str(ROOT), "--out", str(tmp_path / "out")])


def test_cli_prints_the_table_and_the_test_for_the_runs_the_leaderboard_counts(tmp_path, capsys):
    folder = write_suite_and_results(tmp_path, {"a": {0: 0.5, 1: 0.6, 2: 0.7}, "b": {0: 0.6, 1: 0.7, 2: 0.8}})
    assert compare(folder, tmp_path, "a", "b", "--metric", "test_error") == 0
    out = capsys.readouterr().out
    assert "A is lower on 3 of 3 seeds" in out
    assert "p = 0.2500" in out
    assert "0.6000 ± 0.1000" in out
    assert "r = mean(A) / mean(B) = 0.8571" in out              # 0.6 / 0.7
    # a result made under another configuration is stale: left out, as the leaderboard leaves it out
    stale = tmp_path / "out" / "pair" / "runs" / "a" / "seed=2.json"
    stale.write_text(stale.read_text().replace('"config_hash": "', '"config_hash": "old'))
    assert compare(folder, tmp_path, "a", "b", "--metric", "test_error") == 0
    out = capsys.readouterr().out
    assert "2 seeds paired" in out and "left out: seeds [2] of 'b'" in out


def test_bad_comparisons_are_clear_errors(tmp_path, capsys):
    with pytest.raises(CompareError, match="share no seed"):
        paired_seeds({"a": runs({0: 1.0}), "b": runs({1: 1.0})}, "a", "b", "test_error")
    with pytest.raises(CompareError, match="no results for entry 'nope'"):
        paired_seeds({"a": runs({0: 1.0})}, "a", "nope", "test_error")
    with pytest.raises(CompareError, match="no metric 'fid'.*test_error"):
        paired_seeds({"a": runs({0: 1.0}), "b": runs({0: 1.0})}, "a", "b", "fid")
    with pytest.raises(CompareError, match="not a finite number"):
        paired_seeds({"a": runs({0: float("nan")}), "b": runs({0: 1.0})}, "a", "b", "test_error")
    folder = write_suite_and_results(tmp_path, {"a": {0: 1.0}})
    with pytest.raises(SystemExit):  # argparse: the metric is required
        compare(folder, tmp_path, "a", "b")
    assert "--metric" in capsys.readouterr().err
    assert compare(folder, tmp_path, "a", "zzz", "--metric", "test_error") == 2
    assert "no entries ['zzz']" in capsys.readouterr().err
    assert compare(folder, tmp_path, "a", "b", "--metric", "test_error") == 2
    assert "no results for entry 'b'" in capsys.readouterr().err
