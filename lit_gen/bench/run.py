"""Run suite entries: one fresh Lightning Trainer per entry × seed, metrics after training.

Under DDP (``devices > 1``) Lightning relaunches this same command for the other ranks, so
every rank walks the same list and takes the same skip/run decisions (they read the same result
files before the entry starts); only rank 0 writes files. Across machines (``num_nodes > 1``)
the same command is started once per node by the cluster (SLURM ``srun``, ``torchrun``, LSF,
Kubeflow, or by hand with MASTER_ADDR/MASTER_PORT/NODE_RANK), and Lightning's cluster
environment joins them; the results folder must then be one shared folder.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gen.bench.callbacks import PARTIAL_DIR, PARTIAL_STAMP, EpochEndCheckpoint, ThroughputCallback
from lit_gen.bench.claims import STALE_AFTER_S, try_claim
from lit_gen.bench.console import fmt_seconds, is_rank_zero, quiet_lightning, say
from lit_gen.bench.registry import get_metric
from lit_gen.bench.report import refresh_leaderboard
from lit_gen.bench.results import (CorruptResultError, claim_path, gained_metrics, measured_as_entry, read_result,
                                   work_path, write_result)
from lit_gen.bench.resume import discard_partial, existing_result, pending, resume_checkpoint
from lit_gen.bench.suite import Entry

TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"  # a result's finished_at, UTC
RESTART_SEED_STRIDE = 1000  # restart r of seed s trains with seed s + 1000 r; restart 0 is the plain run


def build_cli(entry: Entry, seed: int, root: Path, work_dir: Path, devices: int, accelerator: str,
              num_nodes: int = 1, strategy: str | None = None):
    """The entry's model, data module and trainer, as ``lit-gen fit`` would build them
    (``strategy``: the user's, over the entry's and the default ``ddp`` of a multi-process run),
    its checkpoint callbacks saving in ``work_dir`` (:func:`_keep_checkpoint_folders`)."""
    from lit_gen.cli import LitGenCLI

    work_dir.mkdir(parents=True, exist_ok=True)
    args = entry.cli_args(root, seed) + [
        f"--trainer.default_root_dir={work_dir}", f"--trainer.devices={devices}",
        f"--trainer.accelerator={accelerator}", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", f"--trainer.num_nodes={num_nodes}",
    ]
    if strategy is not None:
        args.append(f"--trainer.strategy={strategy}")
    elif devices * num_nodes > 1 and "trainer.strategy" not in entry.overrides:
        args.append("--trainer.strategy=ddp")  # an entry may choose its own (e.g. GANs: ddp_find_unused_parameters_true)
    cli = LitGenCLI(args=args, run=False)
    _keep_checkpoint_folders(cli.trainer, work_dir)
    return cli


def _keep_checkpoint_folders(trainer: L.Trainer, work_dir: Path) -> None:
    """Give every ``ModelCheckpoint`` of the trainer without a ``dirpath`` a fixed folder in the
    run's work folder (``checkpoints``, ``checkpoints-1``, …) instead of the logger's version
    folder. A resumed piece gets a new logger version, and Lightning restores a checkpoint
    callback's best score and top-k only when its folder has not changed: otherwise the first
    validation after a resume (or a rescore) would count as the best whatever its value."""
    savers = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint) and c.dirpath is None]
    for i, saver in enumerate(savers):
        saver.dirpath = os.path.realpath(work_dir / ("checkpoints" if i == 0 else f"checkpoints-{i}"))


def score(entry: Entry, names: Sequence[str], cli) -> tuple[dict[str, float], dict[str, Any], dict[str, float]]:
    """Compute the metrics ``names`` of ``entry`` on the trained ``cli.model``: values, protocols, seconds."""
    values: dict[str, float] = {}
    protocol: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in names:
        start = time.perf_counter()
        result = get_metric(name)(cli.model, cli.datamodule, cli.trainer, **entry.metric_options.get(name, {}))
        seconds[name] = time.perf_counter() - start
        values.update({k: float(v) for k, v in result.values.items()})
        protocol[name] = result.protocol
    return values, protocol, seconds


def versions() -> dict[str, Any]:
    """The versions a result records (Python, torch, Lightning, ..., the git commit)."""
    from lit_gen.utils.env import collect_env

    env = collect_env()
    return {k: env.get(k) for k in ("python", "torch", "lightning", "torchmetrics", "torch-fidelity", "lit-gen",
                                    "git_commit")}


def _fit(entry: Entry, seed: int, root: Path, work_dir: Path, devices: int, accelerator: str,
         stamps: tuple[str, ...] = ("",), resume: bool = True, num_nodes: int = 1, strategy: str | None = None):
    """Train ``entry`` once with ``seed``: the CLI objects, the throughput callback and the curve
    callback (None without ``entry.curve``).

    The fit saves a checkpoint at the end of every epoch in ``work_dir/partial``, stamped with
    ``stamps[0]`` (the entry's training hash); if one from an interrupted fit stamped with any of
    ``stamps`` is there (and ``resume``), training continues from it: the epoch, optimiser,
    schedule, ``max_time`` clock and the sample/time counts carry on (the random streams start
    afresh, so a resumed run is not bit-identical to one piece).
    """
    partial = work_dir / PARTIAL_DIR
    resume_from, resume_epoch = resume_checkpoint(partial, stamps, resume)
    throughput = ThroughputCallback(resuming_at=resume_epoch)
    extra: list[L.Callback] = [throughput]
    curve = None
    if entry.curve is not None:
        from lit_gen.callbacks import FidelityCallback

        try:
            curve = FidelityCallback(**entry.curve)
        except TypeError as err:
            raise ValueError(f"entry {entry.name}: bad curve arguments {entry.curve}: {err}") from None
        extra.append(curve)
    if is_rank_zero():
        partial.mkdir(parents=True, exist_ok=True)
        (partial / PARTIAL_STAMP).write_text(stamps[0] + "\n")
    extra.append(EpochEndCheckpoint(partial))
    cli = build_cli(entry, seed, root, work_dir, devices, accelerator, num_nodes, strategy)
    cli.trainer.callbacks.extend(extra)
    if resume_from is not None:
        say(f"  resuming the interrupted fit at epoch {resume_epoch} from {resume_from}")
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=resume_from)
    return cli, throughput, curve


def _monitored(cli, entry: Entry, record: Path) -> float:
    """The restart criterion logged by the fit just finished, rank 0's value on every rank (so all
    ranks keep the same restart). It is written to ``record``; a fit resumed after it had
    finished logs nothing, and its value is read back from there."""
    monitor, logged = entry.restarts["monitor"], cli.trainer.callback_metrics
    if monitor not in logged and record.is_file():
        return float(json.loads(record.read_text())[monitor])
    if monitor not in logged:
        raise ValueError(f"entry {entry.name}: restarts.monitor {monitor!r} was not logged; "
                         f"logged: {sorted(logged)}")
    value = float(cli.trainer.strategy.broadcast(float(logged[monitor]), src=0))
    if is_rank_zero() and record.parent.is_dir():
        record.write_text(json.dumps({monitor: value}))
    return value


def _fit_with_restarts(entry: Entry, seed: int, root: Path, run_folder: Callable[..., Path], devices: int,
                       accelerator: str, config_hash: str = "", resume: bool = True, num_nodes: int = 1,
                       strategy: str | None = None):
    """``_fit`` once, or ``entry.restarts.n`` times keeping the best run by its monitor. Returns the
    kept run's (cli, curve), the training seconds and samples of all runs, and the restart record.

    ``run_folder()`` is the run's work folder, ``run_folder(restart=r)`` that of restart ``r``
    (:func:`~lit_gen.bench.results.work_path`). Each restart's monitored value is kept beside its checkpoint, so an interrupted run resumes
    without retraining the restarts it had finished."""
    # checkpoints are stamped with the training hash; the full hash stamped them before it existed
    stamps = (entry.training_hash(root, seed, devices * num_nodes), config_hash)
    launch = {"num_nodes": num_nodes, "strategy": strategy}
    if entry.restarts is None:
        cli, throughput, curve = _fit(entry, seed, root, run_folder(), devices, accelerator, stamps, resume, **launch)
        return (cli, curve, throughput.seconds, throughput.samples, None,
                [{"epoch": e} for e in throughput.resumed_at_epochs])
    sign = 1.0 if entry.restarts["mode"] == "min" else -1.0
    seeds, values, badness, seconds, samples, resumed = [], [], [], 0.0, 0, []
    for r in range(entry.restarts["n"]):
        seeds.append(seed + RESTART_SEED_STRIDE * r)
        say(f"  restart {r + 1}/{entry.restarts['n']} (seed {seeds[-1]})")
        restart_dir = run_folder(restart=r)
        cli, throughput, curve = _fit(entry, seeds[-1], root, restart_dir, devices, accelerator, stamps, resume, **launch)
        seconds, samples = seconds + throughput.seconds, samples + throughput.samples
        resumed += [{"restart": r, "epoch": e} for e in throughput.resumed_at_epochs]
        values.append(_monitored(cli, entry, restart_dir / PARTIAL_DIR / "monitored.json"))
        badness.append(sign * values[-1] if math.isfinite(values[-1]) else math.inf)
        best = min(range(len(badness)), key=badness.__getitem__)  # the first of equals
        if best == r:
            kept = (cli, curve)  # only the best run so far stays in memory
        say(f"    {entry.restarts['monitor']} = {values[-1]:.6g}" + (" (best so far)" if best == r else ""))
    return (*kept, seconds, samples, {**entry.restarts, "seeds": seeds, "values": values, "kept": best}, resumed)


def run_one(entry: Entry, seed: int, root: Path, suite_dir: Path, devices: int, accelerator: str,
            config_hash: str, resume: bool = True, num_nodes: int = 1, strategy: str | None = None,
            work: Path | None = None) -> dict[str, Any]:
    """Train ``entry`` with ``seed`` (``entry.restarts.n`` times if it has restarts, keeping the
    best by its label-free monitor), compute its metrics and return the result record.

    With ``resume``, a fit interrupted earlier continues from its last epoch-end checkpoint
    (see :func:`_fit`); the record's ``resumed`` lists where. ``devices`` is per node: the record
    counts all ``devices * num_nodes`` processes (its hash does too). It works in the run's
    folder under ``suite_dir`` (or ``work``, :func:`~lit_gen.bench.results.work_path`); the caller
    deletes the checkpoints (:func:`~lit_gen.bench.resume.discard_partial`) once the record is written."""
    run_folder = functools.partial(work_path, suite_dir, entry.name, seed, work)
    with quiet_lightning():
        cli, curve, seconds, samples, restarts, resumed = _fit_with_restarts(
            entry, seed, root, run_folder, devices, accelerator, config_hash, resume, num_nodes, strategy)
        # the weights the metrics below score (a ModelCheckpoint's last.ckpt may be older);
        # `--rescore` loads them again to add metrics later
        cli.trainer.save_checkpoint(run_folder() / "final.ckpt")
        values, protocol, metric_seconds = score(entry, entry.metrics, cli)
    data_hparams = dict(getattr(cli.datamodule, "hparams", {}) or {})
    return {
        "entry": entry.name,
        "suite_file": entry.source_file,
        "model": type(cli.model).__name__,
        "model_class": f"{type(cli.model).__module__}.{type(cli.model).__qualname__}",
        "dataset": data_hparams.get("name", type(cli.datamodule).__name__ if cli.datamodule else None),
        "seed": seed,
        "metrics": values,
        "protocol": protocol,
        "reference": entry.reference,
        "wall_time_s": seconds,
        "metric_time_s": metric_seconds,
        "train_samples": samples,
        "throughput": samples / seconds if seconds > 0 else float("nan"),
        "global_steps": cli.trainer.global_step,
        "epochs": cli.trainer.current_epoch,
        "devices": devices * num_nodes,  # processes in all: what the hash and the leaderboard count
        **({"num_nodes": num_nodes} if num_nodes > 1 else {}),
        **({"strategy": strategy} if strategy is not None else {}),
        "accelerator": accelerator,
        "parameters": sum(p.numel() for p in cli.model.parameters()),
        "config": entry.config,
        "overrides": entry.overrides,
        "budget": entry.budget,
        "config_hash": config_hash,
        "finished_at": time.strftime(TIMESTAMP, time.gmtime()),
        "versions": versions(),
        "torch_threads": torch.get_num_threads(),
        **({"restarts": restarts} if restarts is not None else {}),
        **({"resumed": resumed} if resumed else {}),
        **({"curve": {"points": curve.history, "protocol": curve.last_result.protocol if curve.last_result else {}}}
           if curve is not None else {}),
    }


def _added_metrics(entry: Entry, seed: int, root: Path, path: Path, work_dir: Path) -> dict[str, Any] | None:
    """The finished run at ``path`` given the metrics ``entry`` gained since, from its saved
    weights without training (what ``lit-gen bench rescore`` does), or None when it cannot be:
    no result, a result trained under other settings, or weights that are gone or not the
    entry's. A metric added to an entry then costs its computation, not the training again."""
    from lit_gen.bench.rescore import RescoreError, rescore_one  # rescore builds on this module

    try:
        old = read_result(path) if path.exists() else None
    except CorruptResultError:
        return None  # retrained; the runner's own check reports it
    if old is None or not measured_as_entry(entry, old, root) or not (work_dir / "final.ckpt").is_file():
        return None
    say(f"  + adding {gained_metrics(entry, old)} from its saved weights "
        f"{work_dir / 'final.ckpt'} (no training)")
    try:
        return rescore_one(entry, seed, root, work_dir, old)
    except RescoreError as err:
        say(f"  ! cannot add them ({err}); training it again")
        return None


def run_suite(suite: str, entries: Iterable[Entry], root: Path, out: Path, devices: int = 1,
              accelerator: str = "cpu", resume: bool = True, seeds: int | Sequence[int] | None = None,
              command: str = "", only: Iterable[str] | None = None, work: Path | None = None,
              num_nodes: int = 1, strategy: str | None = None, claim_timeout: float = STALE_AFTER_S,
              ) -> tuple[list[dict[str, Any]], list[tuple[str, int, Exception]]]:
    """Run every entry × seed (only the ``only`` entries if given; skipping finished runs when
    ``resume``) and rewrite the leaderboard of the whole suite after each run. With ``resume``, a
    finished one-process run whose entry gained metrics gets them from its saved weights without
    training (:func:`_added_metrics`).

    ``seeds``: None = each entry's own seeds; N = seeds 0..N-1; a list = exactly those seeds.
    ``work``: where the runs' work folders go (:func:`~lit_gen.bench.results.work_path`).
    ``devices`` per node × ``num_nodes``: the processes of each run (``strategy`` default ``ddp``).

    Returns the leaderboard rows and the failed runs. A failed run is reported and left without
    a result file, so the next invocation retries it; the remaining entries still run.

    One-process runs are claimed first (:mod:`lit_gen.bench.claims`): a run another worker is
    training is left to it, so workers on several machines can share one results folder. A
    multi-process run takes no claims (its ranks could not agree on skipping one): do not start
    other workers on a suite while it runs.
    """
    entries = list(entries)
    suite_dir = out / suite
    plan, todo = pending(entries, root, suite_dir, devices * num_nodes, resume, seeds, only)
    say(f"suite '{suite}': {len(plan)} runs, {len(plan) - len(todo)} already done, {len(todo)} to run "
        f"on {devices} {accelerator} device(s)" + (f" x {num_nodes} nodes" if num_nodes > 1 else "")
        + f" -> {suite_dir}")
    failures, elsewhere, rows = [], 0, None  # rows: the leaderboard as the last finished run left it
    started = time.perf_counter()
    for i, (entry, seed, config_hash, path) in enumerate(todo):
        rows = None  # whatever happens below, another worker may have added results meanwhile
        elapsed = time.perf_counter() - started
        eta = f", ETA {fmt_seconds(elapsed / i * (len(todo) - i))}" if i else ""
        say(f"[{i + 1}/{len(todo)}] {entry.name} seed={seed} (elapsed {fmt_seconds(elapsed)}{eta})")
        claim = None
        if devices * num_nodes == 1:
            claim, holder = try_claim(claim_path(suite_dir, entry.name, seed), stale_after=claim_timeout)
            if claim is None:
                elsewhere += 1
                say(f"  - claimed by {holder.get('host', '?')} pid {holder.get('pid', '?')} "
                    f"(heartbeat {holder.get('age_s', 0):.0f}s ago): left to that worker")
                continue
            if resume and existing_result(path, config_hash, quiet=True) is not None:
                claim.release()  # another worker finished it after this one made its list
                elsewhere += 1
                say("  - finished by another worker meanwhile")
                continue
        run_start = time.perf_counter()
        try:
            result = _added_metrics(entry, seed, root, path, work_path(suite_dir, entry.name, seed, work)) if (
                resume and devices * num_nodes == 1) else None
            if result is None:
                result = run_one(entry, seed, root, suite_dir, devices, accelerator, config_hash, resume,
                                 num_nodes, strategy, work)
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in result["metrics"].items())
            say(f"  = {metrics} ({fmt_seconds(time.perf_counter() - run_start)})")
            if is_rank_zero():
                write_result(path, result)  # before the claim goes: a worker that claims next sees it
                discard_partial(work_path(suite_dir, entry.name, seed, work))
                rows = refresh_leaderboard(suite, entries, suite_dir, root, command)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # one broken entry must not lose the rest of the suite
            failures.append((entry.name, seed, err))
            say(f"  x {entry.name} seed={seed} failed: {type(err).__name__}: {err}")
            if devices * num_nodes > 1:
                raise  # ranks would disagree about what comes next; stop them all
        finally:
            if claim is not None:
                claim.release()
    if rows is None:  # the reports are not those of the last run (none ran, it failed, or other ranks)
        rows = refresh_leaderboard(suite, entries, suite_dir, root, command)
    if rows:
        say(f"leaderboard: {suite_dir / 'leaderboard.md'}")
    if elsewhere:
        say(f"{elsewhere} run(s) left to other workers (the leaderboard counts whatever results are there)")
    if failures:
        say(f"{len(failures)} run(s) failed: " + ", ".join(f"{n} seed={s}" for n, s, _ in failures))
    return rows, failures
