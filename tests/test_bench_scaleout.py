"""A suite spread over workers: `lit-gen bench plan` and the claims that keep two workers
sharing one results folder from training the same entry × seed."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from test_bench import ROOT, bench, make_suite

from lit_gen.bench.claims import read_claim, try_claim
from lit_gen.bench.cli import main


def test_plan_prints_the_pending_runs_in_order_as_runnable_commands(tmp_path, capsys, monkeypatch):
    suite, out = make_suite(tmp_path, names=("tiny-a", "tiny-b"), seeds=(0, 1), metrics=["nelbo"],
                            metric_options={}), tmp_path / "out"
    assert bench(suite, out, "--only", "tiny-a", "--seed", "0") == 0
    capsys.readouterr()
    assert bench(suite, out, "--work", str(tmp_path / "w"), command="plan") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [re.search(r"--only (\S+) --seed (\d)", line).groups() for line in lines] == [
        ("tiny-a", "1"), ("tiny-b", "0"), ("tiny-b", "1")]  # the finished run is left out
    argv = shlex.split(lines[0])
    assert argv[:3] == ["lit-gen", "bench", "run"] and argv[argv.index("--work") + 1] == str(tmp_path / "w")
    monkeypatch.chdir(tmp_path / "suites")  # the command holds absolute folders: it runs from anywhere
    assert main(argv[2:]) == 0
    assert json.loads((out / "mini/runs/tiny-a/seed=1.json").read_text())["seed"] == 1
    assert (tmp_path / "w/mini/tiny-a/seed=1/final.ckpt").is_file()
    plan_file = tmp_path / "plan.txt"
    assert bench(suite, out, "--file", str(plan_file), command="plan") == 0
    assert len(plan_file.read_text().splitlines()) == 2
    make_suite(tmp_path, names=("tiny-a", "tiny-b"), seeds=(0, 1), metrics=["nelbo"], metric_options={},
               budget={"max_epochs": 2})  # another configuration: its old results no longer count
    capsys.readouterr()
    assert bench(suite, out, command="plan") == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_a_live_claim_is_respected_and_a_dead_one_taken_over(tmp_path):
    path = tmp_path / "seed=0.claim"
    claim, holder = try_claim(path)
    assert claim is not None and holder is None
    again, holder = try_claim(path)  # this very process is alive: the claim stands
    assert again is None and holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    claim.release()
    assert not path.exists()

    path.write_text(json.dumps({"host": "elsewhere", "pid": 1}))  # another machine's worker
    assert try_claim(path, stale_after=600)[0] is None
    old = time.time() - 601
    os.utime(path, (old, old))  # ... whose heartbeat stopped 10 minutes ago
    claim, _ = try_claim(path, stale_after=600)
    assert claim is not None and read_claim(path)["pid"] == os.getpid()
    claim.release()

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a worker on this machine that was killed: no need to wait for the timeout
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": gone.pid}))
    claim, _ = try_claim(path, stale_after=600)
    assert claim is not None
    claim.release()


def test_heartbeat_keeps_a_long_run_claimed(tmp_path):
    path = tmp_path / "seed=0.claim"
    claim, _ = try_claim(path, heartbeat=0.01)
    old = time.time() - 601
    os.utime(path, (old, old))
    deadline = time.monotonic() + 30
    while read_claim(path)["age_s"] > 600 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert read_claim(path)["age_s"] < 600  # touched again by the heartbeat
    assert try_claim(path, stale_after=600)[0] is None
    claim.release()


def test_a_run_finished_after_the_list_was_made_is_not_trained_again(tmp_path, monkeypatch, capsys):
    """A worker lists its runs at the start; one that another worker finishes meanwhile (its claim
    already released) is found done once claimed, not trained a second time."""
    from lit_gen.bench import run

    suite, out = make_suite(tmp_path, metrics=["nelbo"], metric_options={}), tmp_path / "out"
    assert bench(suite, out) == 0
    result = out / "mini/runs/tiny-a/seed=0.json"
    before = result.read_text()
    listed_early = run.pending
    monkeypatch.setattr(run, "pending", lambda *a, **k: listed_early(*a[:4], False, *a[5:], **k))
    capsys.readouterr()
    assert bench(suite, out) == 0
    log = capsys.readouterr().out
    assert "0 already done, 1 to run" in log and "finished by another worker meanwhile" in log
    assert result.read_text() == before and "  = " not in log


def _trained(stdout: str) -> list[tuple[str, str]]:
    """(entry, seed) of every run a worker's log shows trained and scored."""
    done, current = [], None
    for line in stdout.splitlines():
        header = re.match(r"\[\d+/\d+\] (\S+) seed=(\d+)", line)
        if header:
            current = header.groups()
        elif line.startswith("  = ") and current:
            done.append(current)
    return done


def _board(out: Path) -> list[dict]:
    rows = json.loads((out / "mini/leaderboard.json").read_text())
    return [{k: v for k, v in row.items() if k not in ("wall_time_s", "throughput")} for row in rows]


def test_two_workers_share_a_suite_and_train_each_run_once(tmp_path):
    """Two `lit-gen bench` workers started together on one suite and one results folder (as on
    two machines) train each of its 4 runs exactly once between them, and the merged
    leaderboard equals one worker's alone, wall times aside."""
    suite = make_suite(tmp_path, names=("tiny-a", "tiny-b"), seeds=(0, 1), metrics=["nelbo"], metric_options={})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def worker(out: Path) -> subprocess.Popen:
        cmd = ["lit-gen", "bench", "--suite", str(suite), "--out", str(out), "--root", str(ROOT)]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                cwd=tmp_path)

    workers = [worker(tmp_path / "out"), worker(tmp_path / "out")]
    logs = [w.communicate(timeout=600) for w in workers]
    for w, (stdout, stderr) in zip(workers, logs):
        assert w.returncode == 0, stdout[-2000:] + stderr[-3000:]
    trained = Counter(run for stdout, _ in logs for run in _trained(stdout))
    expected = {(n, s) for n in ("tiny-a", "tiny-b") for s in ("0", "1")}
    assert set(trained) == expected and set(trained.values()) == {1}, trained
    for name, seed in expected:  # one Lightning log per run folder: no second fit started
        assert len(list((tmp_path / f"out/mini/work/{name}/seed={seed}/lightning_logs").iterdir())) == 1
    assert not list((tmp_path / "out/mini/runs").rglob("*.claim"))  # every claim released

    alone = worker(tmp_path / "alone")
    stdout, stderr = alone.communicate(timeout=600)
    assert alone.returncode == 0, stderr[-3000:]
    (tmp_path / "out/mini/leaderboard.json").unlink()  # rebuilt from whatever results the workers left
    assert bench(suite, tmp_path / "out", command="report") == 0
    assert _board(tmp_path / "out") == _board(tmp_path / "alone")
    print([_trained(stdout) for stdout, _ in logs])
