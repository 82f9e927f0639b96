"""`lit-gen bench`: end to end, result schema, resume after deletion / corruption / kill -9,
and a 2-process DDP entry that reports the 1-process value."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from lit_gen.bench.cli import main
from lit_gen.bench.registry import MetricResult, available_metrics, get_metric, register_metric
from lit_gen.bench.report import curve_panels, render_figures
from lit_gen.bench.suite import SuiteError, load_suite
from conftest import CLASSIFIER_EPOCHS, run_child

ROOT = Path(__file__).resolve().parents[1]
TINY_VAE = {
    "config": "configs/vae.yaml",
    "overrides": {"data.name": "digits", "data.batch_size": 50, "data.val_size": 200,
                  "model.latent_dim": 4, "model.channels": [8, 16], "model.hidden": 32,
                  "trainer.limit_train_batches": 3, "trainer.limit_val_batches": 1},
    "budget": {"max_epochs": 1},
    "metrics": ["nelbo", "nll"],
    "metric_options": {"nll": {"num_samples": 4, "limit": 40}},
}


def make_suite(tmp_path: Path, names=("tiny-a",), seeds=(0,), **extra) -> Path:
    folder = tmp_path / "suites" / "mini"
    folder.mkdir(parents=True, exist_ok=True)
    entries = [{"name": n, **TINY_VAE, "seeds": list(seeds), **extra} for n in names]
    (folder / "vae.yaml").write_text(yaml.safe_dump(entries))
    return folder


def bench(suite: Path, out: Path, *more: str, command: str = "run") -> int:
    """``lit-gen bench COMMAND --suite SUITE --out OUT ...`` in this process."""
    return main([command, "--suite", str(suite), "--out", str(out), "--root", str(ROOT), *more])


def test_quick_suite_loads_and_every_metric_is_registered():
    for suite in ("quick", "cpu", "gpu"):
        for entry in load_suite(suite, ROOT):
            for metric in entry.metrics:
                assert callable(get_metric(metric)), (suite, entry.name, metric)
    assert {"nll", "nelbo", "test"} <= set(available_metrics())


def test_an_entry_extends_another_suites_entry(tmp_path):
    """`extends: cpu/vae-mnist` (the gpu suite's mixed-precision rows): the cpu entry's fields,
    overrides merged, own keys replacing; the precision reaches the Trainer; clear errors."""
    from lit_gen.cli import LitGenCLI

    base = next(e for e in load_suite("cpu", ROOT) if e.name == "vae-mnist")
    mixed = next(e for e in load_suite("gpu", ROOT) if e.name == "vae-mnist-bf16")
    assert mixed.overrides == {**base.overrides, "trainer.precision": "bf16-mixed"}
    fields = ("config", "budget", "seeds", "metrics", "metric_options", "reference", "curve", "restarts")
    assert all(getattr(mixed, k) == getattr(base, k) for k in fields)
    assert mixed.config_hash(ROOT, 0, 1) != base.config_hash(ROOT, 0, 1)
    cli = LitGenCLI(args=mixed.cli_args(ROOT, 0) + ["--data.name=digits", "--trainer.accelerator=cpu",
                                                    f"--trainer.default_root_dir={tmp_path}"], run=False)
    assert cli.trainer.precision == "bf16-mixed"

    def suite(name: str, entries: list[dict], root: Path = ROOT) -> str:
        folder = root / "benchmarks/suites" / name if root != ROOT else tmp_path / "suites" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "e.yaml").write_text(yaml.safe_dump(entries))
        return str(folder) if root == ROOT else name

    short = load_suite(suite("short", [{"name": "s", "extends": "cpu/vae-mnist", "budget": {"max_epochs": 1},
                                        "overrides": {"model.latent_dim": 8}}]), ROOT)[0]
    assert short.budget == {"max_epochs": 1} and short.seeds == base.seeds
    assert short.overrides == {**base.overrides, "model.latent_dim": 8}
    same = load_suite(suite("same", [{"name": "vae-mnist", "extends": "cpu/vae-mnist"}]), ROOT)[0]
    assert same.config_hash(ROOT, 0, 1) == base.config_hash(ROOT, 0, 1)  # nothing changed: the same runs
    with pytest.raises(SuiteError, match="has no entry 'nope'"):
        load_suite(suite("bad", [{"name": "x", "extends": "cpu/nope"}]), ROOT)
    with pytest.raises(SuiteError, match="SUITE/ENTRY"):
        load_suite(suite("bad", [{"name": "x", "extends": "vae-mnist"}]), ROOT)
    other = tmp_path / "root"
    (other / "configs").mkdir(parents=True)
    (other / "configs/vae.yaml").write_text((ROOT / "configs/vae.yaml").read_text())
    suite("a", [{"name": "x", "extends": "b/y"}], other)
    suite("b", [{"name": "y", "extends": "a/x"}], other)
    with pytest.raises(SuiteError, match="in a circle"):
        load_suite("a", other)


def test_callback_override_reaches_the_trainer(tmp_path):
    """A suite entry can add a Lightning callback through `trainer.callbacks` (the VIB EMA rows):
    the list of class_path mappings survives the YAML flow-style CLI value."""
    from lightning.pytorch.callbacks import EMAWeightAveraging

    from lit_gen.cli import LitGenCLI

    entry = next(e for e in load_suite("cpu", ROOT) if e.name == "vib-beta1e-3-mnist-ema50")
    args = entry.cli_args(ROOT, seed=3) + ["--data.name=digits", f"--trainer.default_root_dir={tmp_path}",
                                            "--trainer.enable_progress_bar=false"]
    cli = LitGenCLI(args=args, run=False)
    averaging = [c for c in cli.trainer.callbacks if isinstance(c, EMAWeightAveraging)]
    assert len(averaging) == 1
    assert cli.trainer.max_epochs == 50 and cli.model.hparams.beta == pytest.approx(1e-3)


def test_run_writes_results_with_schema(tmp_path, capsys):
    suite = make_suite(tmp_path, reference={"nll": {"value": 90.0, "source": "a paper"}})
    assert bench(suite, tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "[1/1] tiny-a seed=0" in out and "nll=" in out
    run = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())
    for key in ("entry", "model", "dataset", "seed", "metrics", "protocol", "wall_time_s", "throughput",
                "devices", "config_hash", "versions"):
        assert key in run
    assert run["model"] == "VAE" and run["dataset"] == "digits" and run["devices"] == 1
    assert (tmp_path / "out/mini/work/tiny-a/seed=0/final.ckpt").is_file()  # the weights that were scored
    assert run["protocol"]["nll"]["n_images"] == 40 and run["protocol"]["nll"]["num_samples"] == 4
    assert set(run["versions"]) >= {"python", "torch", "lightning", "torchmetrics", "torch-fidelity", "lit-gen"}
    assert run["metrics"]["nll"] <= run["metrics"]["test_nelbo"] + 1.0  # IS bound below the ELBO's
    rows = json.loads((tmp_path / "out/mini/leaderboard.json").read_text())
    assert len(rows) == 1
    row = rows[0]
    assert set(row) == {"entry", "model", "dataset", "metrics", "reference", "wall_time_s", "throughput", "devices"}
    assert row["metrics"]["nll"] == {"mean": run["metrics"]["nll"], "std": 0.0, "n": 1}
    assert row["reference"]["nll"]["value"] == 90.0
    table = (tmp_path / "out/mini/leaderboard.md").read_text()
    assert "| tiny-a | VAE | digits | nll" in table and "90.0 (a paper)" in table
    assert (tmp_path / "out/mini/leaderboard.csv").read_text().startswith("entry,model,dataset,metric")
    assert (tmp_path / "out/mini/leaderboard_vae.png").stat().st_size > 1000  # the suite file vae.yaml


def test_resume_recomputes_only_missing_or_corrupt_runs(tmp_path, capsys):
    suite = make_suite(tmp_path, seeds=(0, 1))
    out = tmp_path / "out"
    assert bench(suite, out) == 0
    runs = out / "mini/runs/tiny-a"
    stamp = {p.name: json.loads(p.read_text())["finished_at"] + str(p.stat().st_mtime_ns) for p in runs.iterdir()}
    capsys.readouterr()

    (runs / "seed=1.json").unlink()
    assert bench(suite, out) == 0
    log = capsys.readouterr().out
    assert "1 already done, 1 to run" in log
    assert json.loads((runs / "seed=0.json").read_text())["finished_at"] + str((runs / "seed=0.json").stat().st_mtime_ns) == stamp["seed=0.json"]
    assert (runs / "seed=1.json").exists()

    text = (runs / "seed=0.json").read_text()
    (runs / "seed=0.json").write_text(text[: len(text) // 2])  # truncated
    assert bench(suite, out) == 0
    log = capsys.readouterr().out
    assert "not valid JSON" in log and "1 already done, 1 to run" in log
    json.loads((runs / "seed=0.json").read_text())

    leaderboard = json.loads((out / "mini/leaderboard.json").read_text())
    assert leaderboard[0]["metrics"]["nll"]["n"] == 2


def test_seed_option_runs_exactly_the_given_seeds(tmp_path, capsys):
    suite = make_suite(tmp_path, seeds=(0, 1, 2))
    out = tmp_path / "out"
    assert bench(suite, out, "--seed", "2") == 0
    assert "1 runs, 0 already done, 1 to run" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "mini/runs/tiny-a").iterdir()) == ["seed=2.json"]
    assert json.loads((out / "mini/runs/tiny-a/seed=2.json").read_text())["seed"] == 2
    with pytest.raises(SystemExit):  # --seeds N and --seed S are exclusive
        bench(suite, out, "--seed", "1", "--seeds", "2")
    assert bench(suite, out, "--seeds", "0") == 2
    assert "--seeds must be >= 1" in capsys.readouterr().err


def test_kill_minus_nine_loses_only_the_run_in_flight(tmp_path):
    suite = make_suite(tmp_path, names=("tiny-a", "tiny-b"))
    out = tmp_path / "out"
    cmd = ["lit-gen", "bench", "--suite", str(suite), "--out", str(out), "--root", str(ROOT)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = out / "mini/runs/tiny-a/seed=0.json"
    deadline = time.monotonic() + 100  # below the test's timeout; measured 17 s in all
    while not first.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists()
    before = first.read_text()
    assert not list((out / "mini/runs").rglob("*.tmp"))  # atomic writes leave no partial file behind
    assert bench(suite, out, "--only", "tiny-b") == 0
    assert first.read_text() == before  # the finished run was kept, not recomputed
    assert (out / "mini/runs/tiny-b/seed=0.json").exists()
    # an --only run still writes the leaderboard of the whole suite
    rows = json.loads((out / "mini/leaderboard.json").read_text())
    assert [r["entry"] for r in rows] == ["tiny-a", "tiny-b"]


def test_bad_suites_and_names_are_clear_errors(tmp_path, capsys):
    folder = tmp_path / "suites" / "bad"
    folder.mkdir(parents=True)
    (folder / "a.yaml").write_text(yaml.safe_dump([{"name": "x", "config": "configs/nope.yaml", "metrics": ["nll"]}]))
    with pytest.raises(SuiteError, match="nope.yaml does not exist"):
        load_suite(str(folder), ROOT)
    (folder / "a.yaml").write_text(yaml.safe_dump([{"name": "x", "config": "configs/vae.yaml", "metrics": ["nll"],
                                                    "budget": {"epochs": 3}}]))
    with pytest.raises(SuiteError, match="budget keys"):
        load_suite(str(folder), ROOT)
    assert main(["list", "--suite", "no-such-suite", "--root", str(ROOT)]) == 2
    assert "known suites" in capsys.readouterr().err
    with pytest.raises(KeyError, match="unknown benchmark metric 'nope'"):
        get_metric("nope")
    with pytest.raises(ValueError, match="registered twice"):
        register_metric("nll")(lambda *a, **k: MetricResult({}))


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.timeout(300)  # measured 34 s on 2 busy cores
def test_two_process_ddp_entry_matches_one_process(tmp_path):
    suite = make_suite(tmp_path, metrics=["nelbo"])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = ["lit-gen", "bench", "--suite", str(suite), "--out", str(out), "--root", str(ROOT), "--devices", "2"]
    result = run_child(cmd, timeout=240, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert result.stdout.count("[1/1] tiny-a seed=0") == 1  # progress printed by rank 0 only
    runs = list((out / "mini/runs").rglob("*.json"))
    assert len(runs) == 1
    ddp = json.loads(runs[0].read_text())
    assert ddp["devices"] == 2

    # the same trained weights scored by one process give the same number
    import lightning as L

    from lit_gen.data import ImageDataModule
    from lit_gen.models import VAE

    ckpt = next((out / "mini/work").rglob("*.ckpt"))
    model = VAE.load_from_checkpoint(ckpt)
    data = ImageDataModule(name="digits", batch_size=50, val_size=200, binarize=True)  # as configs/vae.yaml
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        default_root_dir=tmp_path)
    one = get_metric("nelbo")(model, data, trainer).values["test_nelbo"]
    assert one == pytest.approx(ddp["metrics"]["test_nelbo"], rel=1e-5)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.ddp
def test_two_node_run_matches_one_process_scoring(tmp_path, tmp_path_factory):
    """`--num_nodes 2` through Lightning's own cluster environment: the same command started
    twice with MASTER_ADDR/MASTER_PORT/NODE_RANK (as on two machines, here 1 process each, gloo)
    trains one run of world size 2; node 0 alone writes it. Its weights scored again by one
    process give the same numbers: counts exactly, classifier FID to 1e-6 relative."""
    from lit_gen.bench import run as bench_run

    cache = str(tmp_path_factory.getbasetemp() / "lit_gen_fidelity_cache")  # the fidelity tests' one
    fid = {"extractor": "classifier", "n_fake": 100, "n_real": 100, "classifier_epochs": 3, "cache": cache}
    suite = make_suite(tmp_path, metrics=["nelbo", "fid"], metric_options={"fid": fid})
    out = tmp_path / "out"
    cmd = ["lit-gen", "bench", "--suite", str(suite), "--out", str(out), "--root", str(ROOT), "--num_nodes", "2"]
    base = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "GROUP_RANK"):
        base.pop(name, None)  # only the variables a user sets by hand for two machines
    nodes = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                              env={**base, "NODE_RANK": str(rank)}) for rank in (0, 1)]
    logs = [node.communicate(timeout=600) for node in nodes]
    for node, (stdout, stderr) in zip(nodes, logs):
        assert node.returncode == 0, stdout[-2000:] + stderr[-3000:]
    assert "[1/1] tiny-a seed=0" in logs[0][0] and "tiny-a" not in logs[1][0]  # node 1 prints nothing
    run = json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())
    assert run["devices"] == 2 and run["num_nodes"] == 2
    assert run["global_steps"] == 3 and run["train_samples"] == 3 * 50 * 2  # both nodes trained each step

    entry = load_suite(str(suite), ROOT)[0]
    cli = bench_run.build_cli(entry, 0, ROOT, tmp_path / "one", 1, "cpu")
    cli.model.load_state_dict(torch.load(out / "mini/work/tiny-a/seed=0/final.ckpt", weights_only=False)["state_dict"])
    cli.datamodule.prepare_data()
    cli.datamodule.setup("fit")
    values, protocol, _ = bench_run.score(entry, entry.metrics, cli)
    assert protocol == run["protocol"]  # image and sample counts, extractor, split
    assert values.keys() == run["metrics"].keys()
    assert values["fid[classifier]"] == pytest.approx(run["metrics"]["fid[classifier]"], rel=1e-6)
    assert values["test_nelbo"] == pytest.approx(run["metrics"]["test_nelbo"], rel=1e-6)


def test_readme_embedding_replaces_only_the_marked_block(tmp_path):
    from lit_gen.bench.commands import embed_table

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- leaderboard:cpu -->\nold table\n<!-- /leaderboard:cpu -->\noutro\n")
    board = "# Leaderboard: suite `cpu`\n\nReproduce ...\n\n| entry |\n|---|\n| vae |\n\n## Protocol\n\n- x\n"
    embed_table(readme, "cpu", board)
    text = readme.read_text()
    assert text.startswith("intro\n<!-- leaderboard:cpu -->\nReproduce ...") and text.endswith("<!-- /leaderboard:cpu -->\noutro\n")
    assert "| vae |" in text and "old table" not in text and "Protocol" not in text


def test_curve_entry_records_fid_against_training_time(tmp_path, fidelity_cache, digits_extractor):
    # the session's digits classifier (conftest), trained once for every fidelity test
    curve = {"metrics": ["fid"], "n_fake": 100, "n_real": 100, "every_n_train_steps": 2,
             "classifier_epochs": CLASSIFIER_EPOCHS, "cache": fidelity_cache}
    suite = make_suite(tmp_path, curve=curve)
    plain = load_suite(str(make_suite(tmp_path / "plain")), ROOT)[0]
    with_curve = load_suite(str(suite), ROOT)[0]
    assert plain.config_hash(ROOT, 0, 1) != with_curve.config_hash(ROOT, 0, 1)
    assert bench(suite, tmp_path / "out") == 0
    run = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())
    points = run["curve"]["points"]
    # 3 training batches: measured after batch 2, then once at the end of the epoch (batch 3)
    assert [p["batches"] for p in points] == [2, 3]
    assert 0 < points[0]["train_seconds"] < points[1]["train_seconds"] < run["wall_time_s"]
    assert all(p["fid[classifier]"] > 0 for p in points)
    assert run["curve"]["protocol"]["n_fake"] == 100
    assert (tmp_path / "out/mini/leaderboard_vae.png").stat().st_size > 1000  # the suite file vae.yaml


def test_curves_of_two_data_sets_get_a_panel_each(tmp_path):
    def row(entry, dataset, fid):
        points = [{"train_seconds": 60.0 * (i + 1), "batches": 10 * (i + 1), "epoch": 0, "fid[classifier]": f}
                  for i, f in enumerate(fid)]
        return {"entry": entry, "dataset": dataset, "metrics": {"params": {"mean": 1.0, "std": 0.0, "n": 1}},
                "curves": [{"seed": 0, "points": points}]}

    rows = [row("glow-mnist", "mnist", [600.0, 400.0]), row("fvae-mnist", "mnist", [300.0, 270.0]),
            row("glow-cifar10", "cifar10", [12.0, 11.0])]
    assert curve_panels(rows) == [("fid[classifier]", "cifar10"), ("fid[classifier]", "mnist")]
    # rows without a suite file are family "other"; a figure per data set
    written = render_figures(rows, tmp_path)
    assert written == [tmp_path / "leaderboard_other_mnist.png", tmp_path / "leaderboard_other_cifar10.png"]
    assert all(path.stat().st_size > 1000 for path in written)


def test_bad_curve_value_is_a_suite_error(tmp_path):
    with pytest.raises(SuiteError, match="curve must be a mapping"):
        load_suite(str(make_suite(tmp_path, curve=[1, 2])), ROOT)


def test_rescore_adds_a_metric_from_the_saved_weights_without_training(tmp_path, capsys):
    """`--rescore` gives a finished run a metric its entry gained, from final.ckpt: the value equals
    a full run's, the old metric and the training record are kept, and nothing is trained."""
    suite = make_suite(tmp_path, metrics=["nelbo"], metric_options={})
    assert bench(suite, tmp_path / "out") == 0
    before = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())
    weights = tmp_path / "out/mini/work/tiny-a/seed=0/final.ckpt"
    saved_at = weights.stat().st_mtime_ns

    make_suite(tmp_path)  # the entry now also lists nll
    assert bench(suite, tmp_path / "out", command="report") == 0  # the old run still counts for nelbo
    row = json.loads((tmp_path / "out/mini/leaderboard.json").read_text())[0]
    assert row["metrics"]["test_nelbo"]["n"] == 1 and "nll" not in row["metrics"]
    assert bench(suite, tmp_path / "full") == 0  # reference: trained and scored in one go
    full = json.loads((tmp_path / "full/mini/runs/tiny-a/seed=0.json").read_text())
    capsys.readouterr()
    assert bench(suite, tmp_path / "out", command="rescore") == 0
    assert "adding ['nll'] from its saved weights" in capsys.readouterr().out
    after = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())
    assert after["metrics"]["nll"] == full["metrics"]["nll"]
    assert after["metrics"]["test_nelbo"] == before["metrics"]["test_nelbo"]
    assert after["wall_time_s"] == before["wall_time_s"] and weights.stat().st_mtime_ns == saved_at
    assert after["config_hash"] == full["config_hash"] and after["rescored"][0]["metrics"] == ["nll"]
    assert bench(suite, tmp_path / "out") == 0  # a normal run now finds it done
    assert "1 already done, 0 to run" in capsys.readouterr().out


def test_run_gives_a_finished_run_its_new_metric_without_training(tmp_path, capsys):
    """`lit-gen bench run` (what `plan` prints) on a finished run whose entry gained a metric adds
    it from final.ckpt as `rescore` does, instead of training an hour again; a run whose weights
    are gone is trained."""
    suite = make_suite(tmp_path, metrics=["nelbo"], metric_options={})
    assert bench(suite, tmp_path / "out", "--seed", "0", "1") == 0
    before = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())
    (tmp_path / "out/mini/work/tiny-a/seed=1/final.ckpt").unlink()
    make_suite(tmp_path)  # the entry now also lists nll
    assert bench(suite, tmp_path / "full") == 0
    full = json.loads((tmp_path / "full/mini/runs/tiny-a/seed=0.json").read_text())
    capsys.readouterr()
    assert bench(suite, tmp_path / "out", "--seed", "0", "1") == 0
    out = capsys.readouterr().out
    assert out.count("from its saved weights") == 1 and "no training" in out
    assert out.count("lacks ['nll'], which its entry gained") == 2 and "recomputing" not in out
    after = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())
    assert after["metrics"]["nll"] == full["metrics"]["nll"] and after["rescored"][0]["metrics"] == ["nll"]
    assert after["wall_time_s"] == before["wall_time_s"] and after["config_hash"] == full["config_hash"]
    retrained = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=1.json").read_text())
    assert "rescored" not in retrained and "nll" in retrained["metrics"]


def test_rescore_accepts_weights_saved_before_a_model_option_existed(tmp_path, capsys):
    """A checkpoint that lacks a constructor argument added later (its default keeps the old
    behaviour) is the entry's run; a saved value other than the entry's is still refused."""
    suite = make_suite(tmp_path, metrics=["nelbo"], metric_options={})
    assert bench(suite, tmp_path / "out") == 0
    weights = tmp_path / "out/mini/work/tiny-a/seed=0/final.ckpt"
    checkpoint = torch.load(weights, map_location="cpu", weights_only=False)
    assert checkpoint["hyper_parameters"]["lr"] == 1e-3  # the constructor default
    saved = dict(checkpoint["hyper_parameters"])
    del checkpoint["hyper_parameters"]["lr"]  # as if saved before VAE(lr) existed
    resave(checkpoint, weights)
    make_suite(tmp_path)  # the entry now also lists nll
    assert bench(suite, tmp_path / "out", command="rescore") == 0
    assert "nll" in json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())["metrics"]

    make_suite(tmp_path, metrics=["nelbo"], metric_options={})
    assert bench(suite, tmp_path / "out2") == 0
    weights = tmp_path / "out2/mini/work/tiny-a/seed=0/final.ckpt"
    checkpoint = torch.load(weights, map_location="cpu", weights_only=False)
    checkpoint["hyper_parameters"] = {**saved, "lr": 5e-4}  # trained at another rate
    resave(checkpoint, weights)
    make_suite(tmp_path)
    capsys.readouterr()
    assert bench(suite, tmp_path / "out2", command="rescore") == 1
    assert "model settings" in capsys.readouterr().out


def resave(checkpoint: dict, path: Path) -> None:
    """Rewrite a checkpoint keeping its time stamp (rescore refuses weights newer than the result)."""
    stamp = path.stat()
    torch.save(checkpoint, path)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_rescore_refuses_runs_trained_otherwise(tmp_path, capsys):
    """Weights trained under other settings, a missing result or missing weights are refused
    (exit 1, the result file untouched), never scored as if they were the entry's."""
    suite = make_suite(tmp_path, metrics=["nelbo"], metric_options={})
    assert bench(suite, tmp_path / "out") == 0
    result = tmp_path / "out/mini/runs/tiny-a/seed=0.json"
    text = result.read_text()
    make_suite(tmp_path, budget={"max_epochs": 2})
    assert bench(suite, tmp_path / "out", command="rescore") == 1
    assert "another configuration" in capsys.readouterr().out and result.read_text() == text

    make_suite(tmp_path)
    (tmp_path / "out/mini/work/tiny-a/seed=0/final.ckpt").unlink()
    assert bench(suite, tmp_path / "out", "--seed", "0", "1", command="rescore") == 1
    out = capsys.readouterr().out
    assert "final.ckpt are gone" in out and "seed=1: not rescored: no result" in out
    assert result.read_text() == text


def test_restarts_keep_the_run_with_the_lowest_monitor(tmp_path, capsys):
    """`restarts: {n: 2, monitor: val/loss}` trains seeds 0 and 1000 and scores the one whose
    val/loss is lower: its metric equals a plain run of that seed; time and samples count both."""
    suite = make_suite(tmp_path, metrics=["nelbo"], metric_options={}, restarts={"n": 2, "monitor": "val/loss"})
    assert bench(suite, tmp_path / "out") == 0
    assert "restart 2/2 (seed 1000)" in capsys.readouterr().out
    run = json.loads((tmp_path / "out/mini/runs/tiny-a/seed=0.json").read_text())
    record = run["restarts"]
    assert record["seeds"] == [0, 1000] and record["mode"] == "min" and len(record["values"]) == 2
    kept = record["kept"]
    assert record["values"][kept] == min(record["values"])
    assert record["values"][0] != record["values"][1]  # two different trainings

    plain = make_suite(tmp_path / "plain", metrics=["nelbo"], metric_options={}, seeds=[record["seeds"][kept]])
    assert bench(plain, tmp_path / "plain_out") == 0
    alone = json.loads(next((tmp_path / "plain_out/mini/runs/tiny-a").glob("seed=*.json")).read_text())
    assert run["metrics"]["test_nelbo"] == alone["metrics"]["test_nelbo"]
    assert run["train_samples"] == 2 * alone["train_samples"]  # the training of both restarts is counted
    table = (tmp_path / "out/mini/leaderboard.md").read_text()
    assert "best of 2 training runs by val/loss" in table

    other = make_suite(tmp_path / "other", metrics=["nelbo"], metric_options={}, restarts={"n": 2, "monitor": "val/nope"})
    assert bench(other, tmp_path / "other_out") == 1
    assert "restarts.monitor 'val/nope' was not logged" in capsys.readouterr().out


@pytest.mark.parametrize("restarts, message", [
    ({"n": 1, "monitor": "val/loss"}, "integer >= 2"),
    ({"n": 3}, "mapping with n, monitor"),
    ({"n": 3, "monitor": "val/loss", "mode": "lowest"}, "'min' or 'max'"),
    ({"n": 3, "monitor": "val/acc"}, "label-using"),
    ({"n": 3, "monitor": "test/nll"}, "label-using"),
])
def test_bad_restarts_are_suite_errors(tmp_path, restarts, message):
    with pytest.raises(SuiteError, match=message):
        load_suite(str(make_suite(tmp_path, restarts=restarts)), ROOT)


class _FailAtEpoch:
    """Wraps run.build_cli so the fit raises at the start of ``epoch`` (an interruption)."""

    def __init__(self, monkeypatch, epoch: int, seed: int | None = None):
        import lightning as L

        from lit_gen.bench import run

        original = run.build_cli

        class Interrupt(L.Callback):
            def on_train_epoch_start(self, trainer, pl_module):
                if trainer.current_epoch == epoch:
                    raise RuntimeError("interrupted for the test")

        def build(entry, run_seed, *args, **kwargs):
            cli = original(entry, run_seed, *args, **kwargs)
            if seed is None or run_seed == seed:
                cli.trainer.callbacks.append(Interrupt())
            return cli

        monkeypatch.setattr(run, "build_cli", build)


def test_interrupted_fit_resumes_from_its_last_epoch(tmp_path, monkeypatch, capsys):
    """A fit that dies in epoch 2 of 3 continues from the end of epoch 1 on the next bench: the
    run counts the samples of 3 epochs, records where it resumed, and its checkpoints go."""
    extra = {"budget": {"max_epochs": 3}}
    suite, out = make_suite(tmp_path, **extra), tmp_path / "out"
    partial = out / "mini/work/tiny-a/seed=0/partial"
    with monkeypatch.context() as patch:
        _FailAtEpoch(patch, epoch=2)
        assert bench(suite, out) == 1
    assert (partial / "epoch-end.ckpt").is_file() and not (out / "mini/runs/tiny-a/seed=0.json").exists()
    capsys.readouterr()
    assert bench(suite, out) == 0
    assert "resuming the interrupted fit" in capsys.readouterr().out
    run = json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())
    assert run["resumed"] == [{"epoch": 2}]
    assert run["epochs"] == 3 and run["global_steps"] == 9 and run["train_samples"] == 9 * 50
    assert not partial.exists()  # the result is written: its checkpoints are deleted

    fresh = make_suite(tmp_path / "fresh", **extra)
    assert bench(fresh, tmp_path / "fresh_out") == 0
    alone = json.loads((tmp_path / "fresh_out/mini/runs/tiny-a/seed=0.json").read_text())
    assert "resumed" not in alone and alone["train_samples"] == run["train_samples"]


def test_work_folder_outside_the_results_holds_checkpoints_and_resumes(tmp_path, monkeypatch, capsys):
    """`--work DIR` (or $LIT_GEN_BENCH_WORK) takes the checkpoints out of the results folder:
    an interrupted fit leaves them in DIR/<suite>/<entry>/seed=N, the rerun resumes from there,
    and --rescore finds the final weights there."""
    suite = make_suite(tmp_path, budget={"max_epochs": 3}, metrics=["nelbo"], metric_options={})
    out, work = tmp_path / "out", tmp_path / "w"
    monkeypatch.delenv("LIT_GEN_BENCH_WORK", raising=False)
    with monkeypatch.context() as patch:
        _FailAtEpoch(patch, epoch=2)
        assert bench(suite, out, "--work", str(work)) == 1
    assert (work / "mini/tiny-a/seed=0/partial/epoch-end.ckpt").is_file()
    assert not (out / "mini/work").exists()
    capsys.readouterr()
    monkeypatch.setenv("LIT_GEN_BENCH_WORK", str(work))  # the rerun names it by the variable only
    assert bench(suite, out) == 0
    assert "resuming the interrupted fit" in capsys.readouterr().out
    assert json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())["resumed"] == [{"epoch": 2}]
    assert (work / "mini/tiny-a/seed=0/final.ckpt").is_file() and not (work / "mini/tiny-a/seed=0/partial").exists()
    assert not (out / "mini/work").exists()
    make_suite(tmp_path, budget={"max_epochs": 3})  # the entry gains nll: rescored from DIR's weights
    assert bench(suite, out, command="rescore") == 0
    assert "nll" in json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())["metrics"]


def test_checkpoint_of_another_configuration_is_not_resumed(tmp_path, monkeypatch, capsys):
    suite, out = make_suite(tmp_path, budget={"max_epochs": 3}), tmp_path / "out"
    with monkeypatch.context() as patch:
        _FailAtEpoch(patch, epoch=2)
        assert bench(suite, out) == 1
    changed = make_suite(tmp_path, budget={"max_epochs": 2})  # same folder, new hash
    capsys.readouterr()
    assert bench(changed, out) == 0
    log = capsys.readouterr().out
    assert "resuming" not in log and "another training configuration" in log
    run = json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())
    assert "resumed" not in run and run["global_steps"] == 6
    # the other configuration's training is set aside with a message, not deleted
    stale = out / "mini/work/tiny-a/seed=0/partial-stale"
    assert str(stale) in log and (stale / "epoch-end.ckpt").is_file()


def test_new_metric_or_seed_keeps_the_training_in_progress(tmp_path, monkeypatch, capsys):
    """Metrics and the seeds list are not part of training: an entry that gains either while a
    fit is interrupted resumes that fit (its result hash changes, its training hash does not)."""
    suite, out = make_suite(tmp_path, budget={"max_epochs": 3}, metrics=["nelbo"]), tmp_path / "out"
    with monkeypatch.context() as patch:
        _FailAtEpoch(patch, epoch=2)
        assert bench(suite, out) == 1
    grown = make_suite(tmp_path, budget={"max_epochs": 3}, metrics=["nelbo", "nll"], seeds=(0, 1))
    capsys.readouterr()
    assert bench(grown, out, "--seed", "0") == 0
    assert "resuming the interrupted fit" in capsys.readouterr().out
    run = json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())
    assert run["resumed"] == [{"epoch": 2}] and {"test_nelbo", "nll"} <= set(run["metrics"])


def test_truncated_checkpoint_trains_from_the_start(tmp_path, monkeypatch, capsys):
    suite, out = make_suite(tmp_path, budget={"max_epochs": 3}), tmp_path / "out"
    with monkeypatch.context() as patch:
        _FailAtEpoch(patch, epoch=2)
        assert bench(suite, out) == 1
    checkpoint = out / "mini/work/tiny-a/seed=0/partial/epoch-end.ckpt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])  # killed while it was being written
    capsys.readouterr()
    assert bench(suite, out) == 0
    log = capsys.readouterr().out
    assert "is unreadable" in log and "resuming" not in log
    run = json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())
    assert "resumed" not in run and run["global_steps"] == 9


def test_restarts_resume_without_retraining_finished_restarts(tmp_path, monkeypatch, capsys):
    extra = {"metrics": ["nelbo"], "metric_options": {}, "restarts": {"n": 2, "monitor": "val/loss"}}
    suite, out = make_suite(tmp_path, **extra), tmp_path / "out"
    with monkeypatch.context() as patch:
        _FailAtEpoch(patch, epoch=0, seed=1000)  # restart 2 dies before it trains
        assert bench(suite, out) == 1
    capsys.readouterr()
    assert bench(suite, out) == 0
    assert "resuming the interrupted fit" in capsys.readouterr().out
    run = json.loads((out / "mini/runs/tiny-a/seed=0.json").read_text())
    assert run["resumed"] == [{"restart": 0, "epoch": 1}]  # restart 0 had finished its one epoch

    plain = make_suite(tmp_path / "plain", **extra)
    assert bench(plain, tmp_path / "plain_out") == 0
    alone = json.loads((tmp_path / "plain_out/mini/runs/tiny-a/seed=0.json").read_text())
    assert run["restarts"]["values"][0] == alone["restarts"]["values"][0]  # read back, not retrained
    assert run["train_samples"] == alone["train_samples"]
