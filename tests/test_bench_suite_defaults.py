"""A suite file's ``defaults`` block: the entries it gives are the spelled-out entries, hash for hash."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import yaml

from test_bench import ROOT, TINY_VAE

from lit_gen.bench.suite import SuiteError, load_suite

SHARED = {"overrides": TINY_VAE["overrides"], "budget": {"max_epochs": 1}, "seeds": [0, 1],
          "metrics": ["nelbo", "nll"], "metric_options": {"nll": {"num_samples": 4, "limit": 40},
                                                          "unused": {"n": 1}}}
SPELLED_OUT = [
    {"name": "plain", "config": "configs/vae.yaml", **SHARED,
     "metric_options": {"nll": {"num_samples": 4, "limit": 40}}},
    {"name": "wider", "config": "configs/vae.yaml", "overrides": {**TINY_VAE["overrides"], "model.hidden": 64},
     "budget": {"max_epochs": 2}, "seeds": [0, 1], "metrics": ["nelbo"], "metric_options": {}},
    {"name": "more-samples", "config": "configs/vae.yaml", **SHARED, "metric_options": {"nll": {"num_samples": 8}}},
]
WITH_DEFAULTS = {"defaults": {"config": "configs/vae.yaml", **SHARED}, "entries": [
    {"name": "plain"},
    {"name": "wider", "overrides": {"model.hidden": 64}, "budget": {"max_epochs": 2}, "metrics": ["nelbo"]},
    {"name": "more-samples", "metric_options": {"nll": {"num_samples": 8}}},
]}


def load(tmp_path, name: str, content) -> list:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "vae.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    return load_suite(str(folder), ROOT)


def test_defaults_resolve_to_the_spelled_out_entries_and_hashes(tmp_path):
    spelled, defaulted = load(tmp_path, "spelled", SPELLED_OUT), load(tmp_path, "defaulted", WITH_DEFAULTS)
    assert len(spelled) == len(defaulted) == 3
    for a, b in zip(spelled, defaulted):
        assert {**asdict(a), "source_file": ""} == {**asdict(b), "source_file": ""}
        assert a.cli_args(ROOT, 0) == b.cli_args(ROOT, 0)  # overrides in the same order
        for seed in a.seeds:
            assert a.config_hash(ROOT, seed, 1) == b.config_hash(ROOT, seed, 1)
            assert a.training_hash(ROOT, seed, 1) == b.training_hash(ROOT, seed, 1)


def test_an_extending_entry_ignores_the_defaults(tmp_path):
    base = next(e for e in load_suite("cpu", ROOT) if e.name == "vae-mnist")
    entries = load(tmp_path, "ext", {"defaults": {"budget": {"max_epochs": 1}},
                                     "entries": [{"name": "again", "extends": "cpu/vae-mnist"}]})
    assert entries[0].budget == base.budget


@pytest.mark.parametrize("content, message", [
    ({"defaults": {"name": "x"}, "entries": []}, "defaults must be a mapping of entry keys"),
    ({"defaults": {}, "entries": {}}, "mapping of 'defaults' and 'entries'"),
    ({"entries": []}, "mapping of 'defaults' and 'entries'"),
])
def test_malformed_defaults_are_suite_errors(tmp_path, content, message):
    with pytest.raises(SuiteError, match=message):
        load(tmp_path, "bad", content)
