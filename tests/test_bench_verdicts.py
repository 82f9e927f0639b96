"""Verdicts: a suite's decision rules (``verdicts.yaml``) applied to its results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lit_gen.bench.cli import main
from lit_gen.bench.suite import SuiteError, load_suite
from lit_gen.bench.verdicts import decide, load_verdicts, render_verdicts, verdicts_spec

ROOT = Path(__file__).resolve().parents[1]
RULE = [{"outcome": "better", "r_at_most": 0.90, "a_lower_on_at_least": 3},
        {"outcome": "not worse", "r_at_most": 1.10},
        {"outcome": "worse", "r_above": 1.10, "a_higher_on_at_least": 2},
        {"outcome": "inconclusive"}]


def runs(values: dict[int, float], metric: str = "fid") -> list[dict]:
    return [{"seed": seed, "metrics": {metric: value}} for seed, value in values.items()]


def paired(a: dict[int, float], b: dict[int, float], seeds=(0, 1, 2)) -> dict[str, str]:
    item = {"seeds": list(seeds), "paired": {"a": "a", "b": "b", "metric": "fid"}, "rule": RULE}
    return decide(item, {"a": runs(a), "b": runs(b)})


def test_paired_rule_takes_the_first_clause_that_holds():
    # r = 27 / 30 = 0.9 exactly and A lower on all three: "better" (r_at_most is inclusive)
    assert paired({0: 8.0, 1: 9.0, 2: 10.0}, {0: 9.0, 1: 10.0, 2: 11.0})["outcome"] == "better"
    # r = 0.9 but A higher on seed 2: not "better", still within 10 %
    assert paired({0: 7.0, 1: 9.0, 2: 11.0}, {0: 9.0, 1: 10.0, 2: 11.0 - 1e-9})["outcome"] == "not worse"
    # r = 33 / 30 = 1.1 exactly: "not worse" (r_above is strict)
    assert paired({0: 11.0, 1: 11.0, 2: 11.0}, {0: 10.0, 1: 10.0, 2: 10.0})["outcome"] == "not worse"
    # r = 36 / 30 = 1.2 carried by one seed (A higher on 1 of 3): inconclusive
    decided = paired({0: 9.0, 1: 9.0, 2: 18.0}, {0: 10.0, 1: 10.0, 2: 10.0})
    assert decided["outcome"] == "inconclusive"
    assert decided["measured"] == "12.00 vs 10.00, r = 1.200, A lower on 2 of 3"
    # r = 1.2 with A higher on 2 of 3: worse
    assert paired({0: 9.0, 1: 13.0, 2: 14.0}, {0: 10.0, 1: 10.0, 2: 10.0})["outcome"] == "worse"


def test_conditions_are_strict_or_inclusive_as_named():
    item = {"seeds": [0, 1, 2], "paired": {"a": "a", "b": "b", "metric": "fid"},
            "rule": [{"outcome": "above", "r_above": 1.1}, {"outcome": "below", "r_below": 1.1}, {"outcome": "equal"}]}
    at_11 = {"a": runs({0: 11.0, 1: 11.0, 2: 11.0}), "b": runs({0: 10.0, 1: 10.0, 2: 10.0})}  # r = 1.1
    assert decide(item, at_11)["outcome"] == "equal"


def test_paired_waits_for_every_seed_and_ignores_other_seeds():
    decided = paired({0: 1.0, 1: 1.0}, {0: 2.0, 1: 2.0, 2: 2.0})
    assert decided["outcome"] == "waiting for seeds" and decided["measured"] == "`a` lacks seed 2"
    decided = paired({0: 1.0, 1: float("nan"), 2: 1.0}, {})
    assert decided["measured"] == "`a` lacks seed 1 (nan); `b`: no run yet"
    # a seed outside the question's list (a 4th seed) does not enter the means
    assert paired({0: 1.0, 1: 1.0, 2: 1.0, 3: 100.0}, {0: 2.0, 1: 2.0, 2: 2.0, 3: 2.0})["measured"].startswith(
        "1.0000 vs 2.0000, r = 0.500")


def test_threshold_and_rises():
    results = {"x": runs({0: 0.96, 1: 0.94, 2: 0.96}, "acc"), "y": runs({0: 0.5, 1: 0.6, 2: 0.7}, "acc")}
    item = {"seeds": [0, 1, 2], "threshold": {"entries": ["x", "y"], "metric": "acc", "at_least": 0.95}}
    decided = decide(item, results)  # x: mean 0.9533 >= 0.95; y: 0.6
    assert decided["outcome"] == "met, not met" and decided["test"] == "mean acc ≥ 0.95"
    item["threshold"] = {"entries": ["y"], "metric": "acc", "at_most": 0.6}
    assert decide(item, results)["outcome"] == "met"  # 0.6 <= 0.6
    rising = {"z": [{"seed": s, "metrics": {"is@1": 2.0, "is@0.5": 2.5 + s, "is@0.2": 3.0 + s}} for s in (0, 1, 2)]}
    item = {"seeds": [0, 1, 2], "rises": {"entry": "z", "metrics": ["is@1", "is@0.5", "is@0.2"]}}
    assert decide(item, rising)["outcome"] == "met"
    rising["z"][0]["metrics"]["is@0.2"] = 2.0  # means 2, 3.5, 3.667: still rising
    assert decide(item, rising)["outcome"] == "met"
    rising["z"][0]["metrics"]["is@0.2"] = 1.5  # means 2, 3.5, 3.5: level is not rising
    assert decide(item, rising)["outcome"] == "not met"
    assert decide(item, {})["measured"] == "`z`: no run yet"


def test_render_lists_each_rule_once():
    items = [{"id": f"q{i}", "question": f"q{i}?", "written": "2026-12-08", "seeds": [0, 1, 2],
              "paired": {"a": "a", "b": "b", "metric": "fid"}, "rule": RULE} for i in (1, 2)]
    text = render_verdicts(items, {"a": runs({0: 1.0, 1: 1.0, 2: 1.0}), "b": runs({0: 2.0, 1: 2.0, 2: 2.0})}, "cpu")
    rows = [line for line in text.splitlines() if line.startswith("| q") and "question" not in line]
    assert len(rows) == 2 and all("| R1 |" in row and row.endswith("**better** |") for row in rows)
    assert text.count('- R1: "better" if r ≤ 0.9 and A lower on ≥ 3 seeds; "not worse" if r ≤ 1.1;') == 1


def write_suite(tmp_path: Path, verdicts: list) -> Path:
    folder = tmp_path / "suites" / "pair"
    folder.mkdir(parents=True)
    entry = {"config": "configs/vib.yaml", "overrides": {"data.name": "digits"}, "metrics": ["test_error"],
             "seeds": [0, 1, 2]}
    (folder / "vib.yaml").write_text(yaml.safe_dump([{"name": n, **entry} for n in ("a", "b")]))
    (folder / "verdicts.yaml").write_text(yaml.safe_dump(verdicts))
    return folder


QUESTION = {"id": "q", "question": "a vs b", "written": "2026-12-08",
            "paired": {"a": "a", "b": "b", "metric": "test_error"}, "rule": RULE}


@pytest.mark.parametrize("change, message", [
    ({"paired": {"a": "a", "b": "nope", "metric": "m"}}, r"names entries the suite does not have: \['nope'\]"),
    ({"rule": [{"outcome": "ok", "r_under": 1.0}]}, r"unknown conditions \['r_under'\]"),
    ({"rule": []}, "needs a rule"),
    ({"threshold": {"entries": ["a"], "metric": "m", "at_least": 1}}, "exactly one of"),
    ({"written": None, "question": None}, None),
    ({"paired": {"a": "a", "b": "b"}}, "paired must be"),
    ({"rule": [{"outcome": "ok", "r_at_most": "0.9"}]}, "r_at_most must be a number"),
    ({"rule": [{"outcome": "ok", "a_lower_on_at_least": 1.5}]}, "a_lower_on_at_least must be a count"),
    ({"seeds": [0, 0, 1]}, "distinct integers"),
    ({"paired": None, "threshold": {"entries": "a", "metric": "m", "at_least": 1}, "rule": None}, "threshold must be"),
])
def test_a_bad_verdicts_file_fails_when_the_suite_loads(tmp_path, change, message):
    item = {k: v for k, v in {**QUESTION, **change}.items() if v is not None}
    if message is None:  # missing written/question
        message = "with id, question and written"
    folder = write_suite(tmp_path, [item])
    with pytest.raises(SuiteError, match=message):
        load_suite(str(folder), ROOT)


def test_verdicts_file_is_not_an_entry_file_and_report_renders_it(tmp_path, capsys):
    folder = write_suite(tmp_path, [QUESTION])
    entries = {e.name: e for e in load_suite(str(folder), ROOT)}
    assert set(entries) == {"a", "b"}
    (folder / "verdicts.yaml").unlink()  # the hashes do not depend on the file
    assert {n: e.config_hash(ROOT, 0, 1) for n, e in entries.items()} == {
        e.name: e.config_hash(ROOT, 0, 1) for e in load_suite(str(folder), ROOT)}
    (folder / "verdicts.yaml").write_text(yaml.safe_dump([QUESTION]))
    for name, values in {"a": [1.0, 1.0, 1.0], "b": [2.0, 2.0, 2.0]}.items():
        for seed, value in enumerate(values):
            path = tmp_path / "out" / "pair" / "runs" / name / f"seed={seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"entry": name, "seed": seed, "config_hash": entries[name].config_hash(ROOT, seed, 1),
                                        "metrics": {"test_error": value}, "protocol": {"test_error": {}}}))
    assert main(["report", "--suite", str(folder), "--root", str(ROOT), "--out", str(tmp_path / "out")]) == 0
    assert "decision rules applied" in capsys.readouterr().out
    table = (tmp_path / "out" / "pair" / "verdicts.md").read_text()
    assert "| a vs b | 2026-12-08 | `a` vs `b`, test_error (0, 1, 2) | R1 | 1.0000 vs 2.0000, r = 0.500, A lower on 3 of 3 | **better** |" in table


def test_cpu_verdicts_load_against_the_cpu_suite():
    """Every question of the committed verdicts.yaml names entries the cpu suite has."""
    names = {e.name for e in load_suite("cpu", ROOT)}
    questions = load_verdicts(ROOT / "benchmarks/suites/cpu/verdicts.yaml", names)
    assert len({q["id"] for q in questions}) == len(questions) >= 20


def test_feature_metrics_scored_with_different_extractor_weights_are_not_compared():
    def scored(values: dict[int, tuple[float, str]]) -> list[dict]:
        return [{"seed": seed, "metrics": {"fid[classifier]": value},
                 "protocol": {"fid": {"extractor": "classifier", "metrics": ["fid"], "weights_sha256": digest * 64}}}
                for seed, (value, digest) in values.items()]

    item = {"seeds": [0, 1, 2], "paired": {"a": "a", "b": "b", "metric": "fid[classifier]"}, "rule": RULE}
    same = {"a": scored({0: (1.0, "a"), 1: (1.0, "a"), 2: (1.0, "a")}),
            "b": scored({0: (2.0, "a"), 1: (2.0, "a"), 2: (2.0, "a"), 3: (2.0, "b")})}  # seed 3 is not asked for
    assert decide(item, same)["outcome"] == "better"
    same["b"][2]["protocol"]["fid"]["weights_sha256"] = "c" * 64
    decided = decide(item, same)
    assert decided["outcome"] == "not comparable: different feature extractor weights"
    assert "`b` seed 2: cccccccc" in decided["measured"]


def test_zero_baseline_and_single_file_suites(tmp_path):
    decided = paired({0: 1.0, 1: 1.0, 2: 1.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert decided["outcome"] == "no ratio: mean(B) is 0"
    # a suite loaded from one of its files reads only the questions on that file's entries
    folder = write_suite(tmp_path, [QUESTION, {**QUESTION, "id": "other", "paired": {"a": "a", "b": "c", "metric": "m"}}])
    (folder / "more.yaml").write_text(yaml.safe_dump([{"name": "c", "config": "configs/vib.yaml", "metrics": ["m"]}]))
    assert [q["id"] for q in verdicts_spec(load_suite(str(folder / "vib.yaml"), ROOT), ROOT)] == ["q"]
    assert [q["id"] for q in verdicts_spec(load_suite(str(folder), ROOT), ROOT)] == ["q", "other"]
