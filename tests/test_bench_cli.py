"""`lit-gen bench SUBCOMMAND`: each subcommand's arguments reach its handler, the deprecated
flag forms still dispatch (with a note), and the run-folder tools work on tiny fixtures."""

from __future__ import annotations

import json

import pytest
from lightning.pytorch.loggers import TensorBoardLogger

from test_bench import ROOT, make_suite

from lit_gen.bench import commands
from lit_gen.bench.cli import SUITE_COMMANDS, main


@pytest.fixture
def calls(monkeypatch):
    """Every suite handler replaced by one that records ``(subcommand, args)``."""
    seen = []
    for name, spec in SUITE_COMMANDS.items():
        monkeypatch.setattr(commands, spec.handler, lambda args, name=name: seen.append((name, args)) or 0)
    return seen


@pytest.mark.parametrize("argv, command, option, value", [
    (["run", "--only", "a", "--seed", "1", "2"], "run", "seed", [1, 2]),
    (["plan", "--file", "p.txt", "--no-resume"], "plan", "plan_file", "p.txt"),
    (["report", "--readme", "R.md", "--devices", "2"], "report", "readme", "R.md"),
    (["rescore", "--only", "a", "--seeds", "3"], "rescore", "seeds", 3),
    (["compare", "a", "b", "--metric", "fid"], "compare", "compare", ["a", "b"]),
    (["list", "--suite", "cpu"], "list", "suite", "cpu"),
])
def test_each_subcommand_reaches_its_handler(calls, capsys, argv, command, option, value):
    assert main(argv) == 0
    assert [name for name, _ in calls] == [command] and getattr(calls[0][1], option) == value
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv, command, spelling", [
    (["--list"], "list", "list"), (["--report", "--readme", "R.md"], "report", "report"),
    (["--rescore", "--seed", "0"], "rescore", "rescore"),
    (["--compare", "a", "b", "--metric", "fid"], "compare", "compare"),
    (["--plan"], "plan", "plan"), (["--plan-file", "p"], "plan", "plan --file"),
])
def test_the_old_flags_still_work_and_name_the_subcommand(calls, capsys, argv, command, spelling):
    assert main(["--suite", "cpu", *argv]) == 0
    assert [name for name, _ in calls] == [command]
    flag = argv[0]
    assert capsys.readouterr().err == f"note: `lit-gen bench {flag}` is deprecated; use `lit-gen bench {spelling}`\n"


def test_without_a_subcommand_it_runs_without_a_note(calls, capsys):
    assert main(["--suite", "cpu", "--only", "x", "--seed", "0"]) == 0
    assert calls[0][0] == "run" and calls[0][1].only == ["x"] and calls[0][1].seed == [0]
    assert capsys.readouterr().err == ""


def test_a_subcommand_refuses_options_it_does_not_take(capsys):
    with pytest.raises(SystemExit):  # rescore computes on one CPU: no --devices
        main(["rescore", "--devices", "2"])
    with pytest.raises(SystemExit):  # compare needs its metric
        main(["compare", "a", "b"])
    assert main(["--rescore", "--devices", "2"]) == 2  # the flag form takes it, and refuses it
    assert "one CPU device" in capsys.readouterr().err


def test_list_and_plan_on_a_tiny_suite(tmp_path, capsys):
    suite = make_suite(tmp_path, names=("tiny-a", "tiny-b"))
    assert main(["list", "--suite", str(suite), "--root", str(ROOT), "--only", "tiny-b"]) == 0
    listed = capsys.readouterr().out
    assert "tiny-b" in listed and "tiny-a" not in listed
    assert main(["plan", "--suite", str(suite), "--root", str(ROOT), "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("lit-gen bench run --suite ") for line in lines)
    assert main(["list", "--suite", str(suite), "--root", str(ROOT), "--only", "nope"]) == 2
    assert "no entries ['nope']" in capsys.readouterr().err


def test_curves_prints_each_runs_logged_points(tmp_path, capsys):
    for seed, points in ((0, [(10, 1.5), (20, 1.25)]), (1, [(10, 1.75)])):
        logger = TensorBoardLogger(tmp_path / f"seed={seed}", name="lightning_logs", version=0)
        for step, value in points:
            logger.log_metrics({"val/bpd": value}, step=step)
        logger.finalize("success")
    assert main(["curves", str(tmp_path), "val/bpd", "val/fid", "--digits", "2"]) == 0
    out = capsys.readouterr().out
    assert "seed=0\n  val/bpd 10:1.50 20:1.25\n  val/fid (not logged)\nseed=1\n  val/bpd 10:1.75" in out
    assert main(["curves", str(tmp_path / "seed=0")]) == 2
    assert "no seed=N run folders" in capsys.readouterr().err


def test_inspect_lists_restarts_and_says_when_a_run_has_not_finished(tmp_path, capsys):
    logger = TensorBoardLogger(tmp_path / "seed=0/restart=1", name="lightning_logs", version=0)
    logger.log_metrics({"val/loss": 2.0, "val/acc": 0.5}, step=5)
    logger.finalize("success")
    assert main(["inspect", str(tmp_path), "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "== seed=0\n  restart=1: val/loss 2.0000  val/acc 0.5000\n  no final.ckpt" in out
    assert main(["inspect", str(tmp_path / "seed=0")]) == 2


def test_agreement_ranks_two_metrics_of_a_leaderboard(tmp_path, capsys):
    """Ranks by hand, and a perfectly reversed order gives tau -1."""
    rows = [{"entry": f"gan-{name}-cifar10", "metrics": {"fid[classifier]": {"mean": a, "std": 0, "n": 3},
                                                         "fid[inception-ts]": {"mean": b, "std": 0, "n": 2}}}
            for name, a, b in (("a", 10.0, 300.0), ("b", 20.0, 200.0), ("c", 30.0, 100.0))]
    rows.append({"entry": "vae-mnist", "metrics": {"fid[classifier]": {"mean": 1.0, "std": 0, "n": 1}}})
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu/leaderboard.json").write_text(json.dumps(rows))
    assert main(["agreement", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "gan-a-cifar10" in out and "1 / 3" in out and "vae-mnist" not in out
    assert "3 entries: Spearman rho -1.000, Kendall tau -1.000" in out
    assert main(["agreement", "--out", str(tmp_path), "--match", "mnist"]) == 2
    assert main(["agreement", "--out", str(tmp_path), "--suite", "gpu"]) == 2
    assert "lit-gen bench report --suite gpu" in capsys.readouterr().err
