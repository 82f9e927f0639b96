"""``lit-gen bench status``: every run's state read from the results and work folders."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import yaml

from lit_gen.bench.cli import main
from lit_gen.bench.results import claim_path, run_path, work_path
from lit_gen.bench.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
ENTRY = {"config": "configs/vib.yaml", "overrides": {"data.name": "digits"}, "seeds": [0, 1, 2]}


def test_status_tells_done_running_partial_stale_rescore_and_pending(tmp_path, capsys):
    folder = tmp_path / "suites" / "s"
    folder.mkdir(parents=True)
    (folder / "vib.yaml").write_text(yaml.safe_dump([
        {"name": "a", **ENTRY, "metrics": ["test_error"], "budget": {"max_epochs": 5}},
        {"name": "b", **ENTRY, "metrics": ["test_error", "param_count"]}]))
    entries = {e.name: e for e in load_suite(str(folder), ROOT)}
    suite_dir = tmp_path / "out" / "s"

    def result(entry, seed, config_hash):
        path = run_path(suite_dir, entry, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"entry": entry, "seed": seed, "config_hash": config_hash, "metrics": {"test_error": 1.0},
                                    "protocol": {"test_error": {}}, "finished_at": "2026-12-07T10:00:00Z"}))

    result("a", 0, entries["a"].config_hash(ROOT, 0, 1))                              # done
    partial = work_path(suite_dir, "a", 1) / "partial"
    partial.mkdir(parents=True)
    torch.save({"epoch": 2, "global_step": 1234, "callbacks": {"ThroughputCallback": {"seconds": 65.0}}},
               partial / "epoch-end.ckpt")                                              # partial, 3 epochs in
    (partial / "config_hash").write_text(entries["a"].training_hash(ROOT, 1, 1) + "\n")
    claim_path(suite_dir, "a", 2).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                                          "claimed_at": "2026-12-07T11:00:00Z"}))  # running
    result("b", 0, "0123456789abcdef")                                                 # stale
    result("b", 1, entries["b"].restricted_to(["test_error"]).config_hash(ROOT, 1, 1))  # to rescore
    assert main(["status", "--suite", str(folder), "--root", str(ROOT), "--out", str(tmp_path / "out")]) == 0
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        "a seed 0 done finished 2026-12-07T10:00:00Z",
        "a seed 1 partial 3 epochs, 1,234 optimiser steps, 1m05s of training (budget: max_epochs 5)",
        f"a seed 2 running {socket.gethostname()} pid {os.getpid()} since 2026-12-07T11:00:00Z",
        "b seed 0 stale result of another configuration (or unreadable)",
        "b seed 1 to rescore lacks param_count, which its entry gained",
        "b seed 2 pending",
        "1 done, 1 to rescore, 1 running, 1 partial, 1 stale, 1 pending"]
    # a checkpoint of another training configuration is set aside by the next run: not partial
    (partial / "config_hash").write_text("deadbeefdeadbeef\n")
    assert main(["status", "--suite", str(folder), "--root", str(ROOT), "--out", str(tmp_path / "out"),
                 "--only", "a", "--seed", "1"]) == 0
    assert capsys.readouterr().out.split() == ["a", "seed", "1", "pending", "1", "pending"]
    # a complete result made on 2 devices: the leaderboard counts it, a 1-process run trains it again
    result("b", 2, entries["b"].config_hash(ROOT, 2, 2))
    path = run_path(suite_dir, "b", 2)
    path.write_text(path.read_text().replace('"config_hash"', '"devices": 2, "config_hash"')
                    .replace('"protocol": {"test_error": {}}', '"protocol": {"test_error": {}, "param_count": {}}'))
    assert main(["status", "--suite", str(folder), "--root", str(ROOT), "--out", str(tmp_path / "out"),
                 "--only", "b", "--seed", "2"]) == 0
    assert "stale done on 2 device(s); a run on 1 trains it again" in " ".join(capsys.readouterr().out.split())
    # a claim whose process is gone is not a running run
    claim_path(suite_dir, "a", 2).write_text(json.dumps({"host": socket.gethostname(), "pid": 2 ** 22 + 12345}))
    assert main(["status", "--suite", str(folder), "--root", str(ROOT), "--out", str(tmp_path / "out"),
                 "--only", "a", "--seed", "2"]) == 0
    assert capsys.readouterr().out.split() == ["a", "seed", "2", "pending", "1", "pending"]


def test_progress_names_the_restart_of_the_newest_checkpoint(tmp_path):
    from lit_gen.bench.status import checkpoint_progress

    for restart, epoch in ((0, 9), (1, 1)):  # restart 0 finished its fit; restart 1 is the one in progress
        partial = tmp_path / f"restart={restart}" / "partial"
        partial.mkdir(parents=True)
        torch.save({"epoch": epoch, "global_step": 10 * (epoch + 1)}, partial / "epoch-end.ckpt")
        (partial / "config_hash").write_text("h\n")
        os.utime(partial / "epoch-end.ckpt", (1000 + restart, 1000 + restart))
    assert checkpoint_progress(tmp_path, ("h",)) == "restart=1: 2 epochs, 20 optimiser steps"
    assert checkpoint_progress(tmp_path, ("other",)) is None
