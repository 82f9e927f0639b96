"""Run suite entries: one fresh Lightning Trainer per entry × seed, metrics after training.

Under DDP (``devices > 1``) Lightning relaunches this same command for the other ranks, so
every rank walks the same list and takes the same skip/run decisions (they read the same result
files before the entry starts); only rank 0 writes files. Across machines (``num_nodes > 1``)
the same command is started once per node by the cluster (SLURM ``srun``, ``torchrun``, LSF,
Kubeflow, or by hand with MASTER_ADDR/MASTER_PORT/NODE_RANK), and Lightning's cluster
environment joins them; the results folder must then be one shared folder.
"""

from __future__ import annotations

import calendar
import contextlib
import inspect
import json
import logging
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gen.bench.registry import get_metric
from lit_gen.bench.claims import STALE_AFTER_S, try_claim
from lit_gen.bench.results import (CorruptResultError, aggregate, claim_path, read_result, run_path, work_path,
                                   write_leaderboard, write_result)
from lit_gen.bench.suite import Entry

TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"  # a result's finished_at, UTC
RESTART_SEED_STRIDE = 1000  # restart r of seed s trains with seed s + 1000 r; restart 0 is the plain run
PARTIAL_DIR = "partial"  # in a run's work dir: epoch-end checkpoints of a fit that has not been scored yet
PARTIAL_CHECKPOINT = "epoch-end"  # its checkpoint, overwritten at the end of every epoch


class ThroughputCallback(L.Callback):
    """Counts training samples (over all ranks) and the wall time of ``fit``.

    Both counts are saved in checkpoints, so a fit resumed from one reports the totals of all
    its pieces; ``resumed_at_epochs`` lists the epochs it was resumed at (``resuming_at``: this
    piece's, when it starts from a checkpoint).
    """

    def __init__(self, resuming_at: int | None = None) -> None:
        self.samples = 0
        self.start = self.seconds = 0.0
        self.earlier_seconds = 0.0  # wall time of the pieces before a resume
        self.resuming_at = resuming_at
        self.resumed_at_epochs: list[int] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        size = len(first) if hasattr(first, "__len__") else 1
        self.samples += size * trainer.world_size

    def on_fit_end(self, trainer, pl_module) -> None:
        self.seconds = self.earlier_seconds + time.perf_counter() - self.start

    def state_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "seconds": self.earlier_seconds + time.perf_counter() - self.start,
                "resumed_at_epochs": list(self.resumed_at_epochs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.samples, self.earlier_seconds = int(state_dict["samples"]), float(state_dict["seconds"])
        self.resumed_at_epochs = list(state_dict.get("resumed_at_epochs", []))
        if self.resuming_at is not None:
            self.resumed_at_epochs.append(self.resuming_at)


class EpochEndCheckpoint(ModelCheckpoint):
    """The newest epoch-end checkpoint of a bench fit, ``<dirpath>/epoch-end.ckpt`` (overwritten),
    with its own state key, apart from any ``ModelCheckpoint`` the config or Lightning adds."""

    def __init__(self, dirpath: Path) -> None:
        # save_top_k=1 without a monitor keeps just the newest epoch's checkpoint
        super().__init__(dirpath=dirpath, filename=PARTIAL_CHECKPOINT, save_top_k=1, every_n_epochs=1,
                         enable_version_counter=False)

    @property
    def state_key(self) -> str:
        return type(self).__qualname__


def is_rank_zero() -> bool:
    """Whether this process is global rank 0, known before any Trainer exists, from the
    variables of the launcher that started it."""
    if "RANK" in os.environ:  # torchrun (TorchElastic)
        return int(os.environ["RANK"]) == 0
    node = int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", 0)))
    # Lightning's own launcher; read before SLURM_PROCID (as Lightning does): a shell inside a
    # SLURM allocation passes SLURM_PROCID=0 to every process Lightning starts
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"]) == 0 and node == 0
    for name in ("SLURM_PROCID", "JSM_NAMESPACE_RANK"):  # srun, LSF's jsrun
        if name in os.environ:
            return int(os.environ[name]) == 0
    return node == 0  # by hand: MASTER_ADDR/MASTER_PORT/NODE_RANK


def say(message: str) -> None:
    if is_rank_zero():
        print(message, flush=True)


def _fmt_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def existing_result(path: Path, config_hash: str, quiet: bool = False) -> dict[str, Any] | None:
    """A trustworthy result with this hash, or None (stale, corrupt and missing are reported
    unless ``quiet``)."""
    if not path.exists():
        return None
    tell = (lambda message: None) if quiet else say
    try:
        result = read_result(path)
    except CorruptResultError as err:
        tell(f"  ! {err}; recomputing")
        return None
    if result["config_hash"] != config_hash:
        tell(f"  ! {path} was made with another configuration (hash {result['config_hash']}); recomputing")
        return None
    return result


@contextlib.contextmanager
def _quiet_lightning():
    """Keep the bench output readable: Lightning's info banners go to its log, not stdout."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*args parameter is intended.*")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        # the bench's epoch-end checkpoint folder holds its config stamp, and a resumed fit's
        # own logger folder is a new version: both are expected
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*dirpath has changed from.*")
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def _build_cli(entry: Entry, seed: int, root: Path, work_dir: Path, devices: int, accelerator: str,
               num_nodes: int = 1, strategy: str | None = None):
    """The entry's model, data module and trainer, as ``lit-gen fit`` would build them
    (``strategy``: the user's, over the entry's and the default ``ddp`` of a multi-process run)."""
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
    return LitGenCLI(args=args, run=False)


def _score(entry: Entry, names: Sequence[str], cli) -> tuple[dict[str, float], dict[str, Any], dict[str, float]]:
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


def _versions() -> dict[str, Any]:
    from lit_gen.utils.env import collect_env

    env = collect_env()
    return {k: env.get(k) for k in ("python", "torch", "lightning", "torchmetrics", "torch-fidelity", "lit-gen",
                                    "git_commit")}


def _resume_checkpoint(partial: Path, stamps: tuple[str, ...], resume: bool) -> tuple[Path | None, int | None]:
    """The epoch-end checkpoint an interrupted fit of this training configuration left in
    ``partial`` and the epoch training resumes at, or ``(None, None)``.

    ``stamps`` are the hashes a resumable checkpoint may be stamped with (the training hash, and
    the full configuration hash that stamped checkpoints before training hashes existed). A
    checkpoint of another training configuration is not deleted but moved to ``partial-stale``
    (replacing an older one there), with a message: nothing a user trained is lost without a
    word. With ``resume`` off, or when the checkpoint is unreadable, it is deleted."""
    checkpoint, stamp = partial / f"{PARTIAL_CHECKPOINT}.ckpt", partial / "config_hash"
    stamped = stamp.read_text().strip() if stamp.is_file() else None
    if resume and checkpoint.is_file() and stamped in stamps:
        try:  # a kill while it was being written leaves a truncated file (its zip directory is missing)
            # mmap: only the pickled metadata is read here; Lightning reads the tensors when it resumes
            saved_epoch = torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)["epoch"]
            return checkpoint, int(saved_epoch) + 1  # saved at the end of that epoch
        except Exception as err:
            say(f"  ! {checkpoint} is unreadable ({type(err).__name__}); training from the start")
    elif resume and checkpoint.is_file() and is_rank_zero():
        stale = partial.with_name(f"{PARTIAL_DIR}-stale")
        shutil.rmtree(stale, ignore_errors=True)
        partial.rename(stale)
        say(f"  ! {checkpoint} is from a fit of another training configuration (stamp {stamped}); "
            f"training from the start, and the old checkpoint is kept in {stale}")
        return None, None
    if partial.exists() and is_rank_zero():
        shutil.rmtree(partial)
    return None, None


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
    resume_from, resume_epoch = _resume_checkpoint(partial, stamps, resume)
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
        (partial / "config_hash").write_text(stamps[0] + "\n")
    extra.append(EpochEndCheckpoint(partial))
    cli = _build_cli(entry, seed, root, work_dir, devices, accelerator, num_nodes, strategy)
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


def _fit_with_restarts(entry: Entry, seed: int, root: Path, work_dir: Path, devices: int, accelerator: str,
                       config_hash: str = "", resume: bool = True, num_nodes: int = 1,
                       strategy: str | None = None):
    """``_fit`` once, or ``entry.restarts.n`` times keeping the best run by its monitor. Returns the
    kept run's (cli, curve), the training seconds and samples of all runs, and the restart record.

    Each restart's monitored value is kept beside its checkpoint, so an interrupted run resumes
    without retraining the restarts it had finished."""
    # checkpoints are stamped with the training hash; the full hash stamped them before it existed
    stamps = (entry.training_hash(root, seed, devices * num_nodes), config_hash)
    launch = {"num_nodes": num_nodes, "strategy": strategy}
    if entry.restarts is None:
        cli, throughput, curve = _fit(entry, seed, root, work_dir, devices, accelerator, stamps, resume, **launch)
        return (cli, curve, throughput.seconds, throughput.samples, None,
                [{"epoch": e} for e in throughput.resumed_at_epochs])
    sign = 1.0 if entry.restarts["mode"] == "min" else -1.0
    seeds, values, badness, seconds, samples, resumed = [], [], [], 0.0, 0, []
    for r in range(entry.restarts["n"]):
        seeds.append(seed + RESTART_SEED_STRIDE * r)
        say(f"  restart {r + 1}/{entry.restarts['n']} (seed {seeds[-1]})")
        restart_dir = work_dir / f"restart={r}"
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


def run_one(entry: Entry, seed: int, root: Path, work_dir: Path, devices: int, accelerator: str,
            config_hash: str, resume: bool = True, num_nodes: int = 1, strategy: str | None = None) -> dict[str, Any]:
    """Train ``entry`` with ``seed`` (``entry.restarts.n`` times if it has restarts, keeping the
    best by its label-free monitor), compute its metrics and return the result record.

    With ``resume``, a fit interrupted earlier continues from its last epoch-end checkpoint
    (see :func:`_fit`); the record's ``resumed`` lists where. ``devices`` is per node: the record
    counts all ``devices * num_nodes`` processes (its hash does too). The caller deletes the
    checkpoints (:func:`discard_partial`) once the record is written."""
    with _quiet_lightning():
        cli, curve, seconds, samples, restarts, resumed = _fit_with_restarts(
            entry, seed, root, work_dir, devices, accelerator, config_hash, resume, num_nodes, strategy)
        # the weights the metrics below score (a ModelCheckpoint's last.ckpt may be older);
        # `--rescore` loads them again to add metrics later
        cli.trainer.save_checkpoint(work_dir / "final.ckpt")
        values, protocol, metric_seconds = _score(entry, entry.metrics, cli)
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
        "versions": _versions(),
        "torch_threads": torch.get_num_threads(),
        **({"restarts": restarts} if restarts is not None else {}),
        **({"resumed": resumed} if resumed else {}),
        **({"curve": {"points": curve.history, "protocol": curve.last_result.protocol if curve.last_result else {}}}
           if curve is not None else {}),
    }


def discard_partial(work_dir: Path) -> None:
    """Delete the epoch-end checkpoints of a run's fits (``work_dir/**/partial``): its result is written."""
    for partial in sorted(work_dir.glob(f"**/{PARTIAL_DIR}")):
        shutil.rmtree(partial, ignore_errors=True)


class RescoreError(RuntimeError):
    """A finished run cannot be given new metrics from its saved weights; the message says why."""


def _comparable(hparams: Any) -> str:
    # the CLI's bookkeeping keys (_class_path, _instantiator) say how, not what, was built
    return json.dumps({k: v for k, v in dict(hparams or {}).items() if not str(k).startswith("_")},
                      sort_keys=True, default=str)


def _with_added_defaults(saved: Any, built: Any, cls: type) -> Any:
    """``saved`` hparams plus the constructor defaults of the arguments ``cls`` gained after they
    were saved (keys ``built`` has and ``saved`` lacks). A new argument's default keeps the old
    behaviour (the convention every added option follows), so a run saved before the argument
    existed was trained with that default; a built value other than the default still differs."""
    if not saved:
        return saved
    params = inspect.signature(cls.__init__).parameters
    added = {k: params[k].default for k in dict(built or {}).keys() - dict(saved).keys()
             if k in params and params[k].default is not inspect.Parameter.empty}
    return {**added, **dict(saved)}


def measured_as_entry(entry: Entry, result: dict[str, Any], root: Path) -> bool:
    """Whether ``result`` was trained as ``entry`` says now and measured with its current
    options, for the metrics the result has: its hash is the entry's, restricted to those."""
    part = entry.restricted_to(result.get("protocol", {}))
    if len(part.metrics) != len(result.get("protocol", {})):
        return False  # it measured something the entry no longer lists
    return result["config_hash"] == part.config_hash(root, result["seed"], result.get("devices", 1))


def _check_trained_as_entry(entry: Entry, root: Path, old: dict[str, Any], checkpoint_path: Path) -> None:
    """Raise :class:`RescoreError` unless ``old`` and its weights come from training ``entry`` as defined now."""
    if not measured_as_entry(entry, old, root):
        raise RescoreError("it was made under another configuration (the config, overrides, budget or "
                           "the options of a metric it has changed, or the entry dropped one of its metrics); "
                           "rerun it (--no-resume)")
    if not checkpoint_path.is_file():
        raise RescoreError(f"its weights {checkpoint_path} are gone")
    finished = calendar.timegm(time.strptime(old["finished_at"], TIMESTAMP))
    if checkpoint_path.stat().st_mtime > finished + 1:
        raise RescoreError(f"{checkpoint_path} is newer than the result: a later run of it did not finish")


def rescore_one(entry: Entry, seed: int, root: Path, work_dir: Path, old: dict[str, Any]) -> dict[str, Any]:
    """Add the metrics that ``entry`` lists and result ``old`` lacks, computed on the run's saved
    weights (``work_dir/final.ckpt``) on one CPU device, without training again. The metrics
    already in ``old`` keep their values. :class:`RescoreError` if the run and its weights do not
    match the entry as defined now (see :func:`_check_trained_as_entry`)."""
    checkpoint_path = work_dir / "final.ckpt"
    _check_trained_as_entry(entry, root, old, checkpoint_path)
    new = [n for n in entry.metrics if n not in old["protocol"]]
    with _quiet_lightning():
        cli = _build_cli(entry, seed, root, work_dir, 1, "cpu")
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        for what, built, saved, cls in (
                ("model", cli.model.hparams, checkpoint.get("hyper_parameters"), type(cli.model)),
                ("data", getattr(cli.datamodule, "hparams", {}), checkpoint.get("datamodule_hyper_parameters"),
                 type(cli.datamodule))):
            if _comparable(built) != _comparable(_with_added_defaults(saved, built, cls)):
                raise RescoreError(f"the {what} settings in {checkpoint_path} are not the entry's")
        cli.model.on_load_checkpoint(checkpoint)
        cli.model.load_state_dict(checkpoint["state_dict"])  # left in train mode, as after fit: metrics choose
        if cli.datamodule is not None:
            cli.datamodule.prepare_data()
            cli.datamodule.setup("fit")
        values, protocol, metric_seconds = _score(entry, new, cli)
    devices = old.get("devices", 1)
    return {**old, "metrics": {**old["metrics"], **values}, "protocol": {**old["protocol"], **protocol},
            "metric_time_s": {**old.get("metric_time_s", {}), **metric_seconds},
            "config_hash": entry.config_hash(root, seed, devices),
            "rescored": [*old.get("rescored", []), {
                "metrics": new, "finished_at": time.strftime(TIMESTAMP, time.gmtime()), "versions": _versions(),
                "torch_threads": torch.get_num_threads()}]}


def collect_results(entries: list[Entry], suite_dir: Path, root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every valid result on disk for ``entries`` that was trained and measured as the entry
    says now, for the metrics it has (:func:`measured_as_entry`; whatever the number of devices
    it ran on). Several `--only` invocations, even concurrent ones, therefore add up to one
    leaderboard, and a run that lacks a metric the entry gained still counts for its others."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        folder = suite_dir / "runs" / entry.name
        for path in sorted(folder.glob("seed=*.json")) if folder.is_dir() else []:
            try:
                result = read_result(path)
            except CorruptResultError:
                continue
            if measured_as_entry(entry, result, root):
                found.setdefault(entry.name, []).append(result)
    return found


def refresh_leaderboard(suite: str, entries: list[Entry], suite_dir: Path, root: Path,
                        command: str) -> list[dict[str, Any]]:
    rows = aggregate(entries, collect_results(entries, suite_dir, root))
    if is_rank_zero() and rows:
        write_leaderboard(suite_dir, suite, rows, command)
    return rows


def _plan(entries: list[Entry], seeds: int | Sequence[int] | None,
          only: Iterable[str] | None) -> list[tuple[Entry, int]]:
    """(entry, seed) pairs: the ``only`` entries (all if None) × ``seeds`` (None = each entry's
    own seeds; N = seeds 0..N-1; a list = exactly those seeds)."""
    selected = [e for e in entries if only is None or e.name in set(only)]
    if seeds is None:
        return [(e, s) for e in selected for s in e.seeds]
    chosen = list(range(seeds)) if isinstance(seeds, int) else list(dict.fromkeys(seeds))
    return [(e, s) for e in selected for s in chosen]


def pending(entries: list[Entry], root: Path, suite_dir: Path, processes: int = 1, resume: bool = True,
            seeds: int | Sequence[int] | None = None, only: Iterable[str] | None = None,
            quiet: bool = False) -> tuple[list[tuple[Entry, int]], list[tuple[Entry, int, str, Path]]]:
    """The planned (entry, seed) pairs, and those still to run, in the runner's order, with each
    one's config hash and result path: all of them without ``resume``, else those without a
    valid result of the same hash (for runs of ``processes`` processes in all)."""
    plan = _plan(entries, seeds, only)
    todo = []
    for entry, seed in plan:
        config_hash = entry.config_hash(root, seed, processes)
        path = run_path(suite_dir, entry.name, seed)
        if not resume or existing_result(path, config_hash, quiet) is None:
            todo.append((entry, seed, config_hash, path))
    return plan, todo


def run_suite(suite: str, entries: Iterable[Entry], root: Path, out: Path, devices: int = 1,
              accelerator: str = "cpu", resume: bool = True, seeds: int | Sequence[int] | None = None,
              command: str = "", only: Iterable[str] | None = None, work: Path | None = None,
              num_nodes: int = 1, strategy: str | None = None, claim_timeout: float = STALE_AFTER_S,
              ) -> tuple[list[dict[str, Any]], list[tuple[str, int, Exception]]]:
    """Run every entry × seed (only the ``only`` entries if given; skipping finished runs when
    ``resume``) and rewrite the leaderboard of the whole suite after each run.

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
    failures, elsewhere = [], 0
    started = time.perf_counter()
    for i, (entry, seed, config_hash, path) in enumerate(todo):
        elapsed = time.perf_counter() - started
        eta = f", ETA {_fmt_seconds(elapsed / i * (len(todo) - i))}" if i else ""
        say(f"[{i + 1}/{len(todo)}] {entry.name} seed={seed} (elapsed {_fmt_seconds(elapsed)}{eta})")
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
            work_dir = work_path(suite_dir, entry.name, seed, work)
            result = run_one(entry, seed, root, work_dir, devices, accelerator, config_hash, resume,
                             num_nodes, strategy)
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in result["metrics"].items())
            say(f"  = {metrics} ({_fmt_seconds(time.perf_counter() - run_start)})")
            if is_rank_zero():
                write_result(path, result)  # before the claim goes: a worker that claims next sees it
                discard_partial(work_dir)
                refresh_leaderboard(suite, entries, suite_dir, root, command)
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
    rows = refresh_leaderboard(suite, entries, suite_dir, root, command)
    if rows:
        say(f"leaderboard: {suite_dir / 'leaderboard.md'}")
    if elsewhere:
        say(f"{elsewhere} run(s) left to other workers (the leaderboard counts whatever results are there)")
    if failures:
        say(f"{len(failures)} run(s) failed: " + ", ".join(f"{n} seed={s}" for n, s, _ in failures))
    return rows, failures


def rescore_suite(suite: str, entries: Iterable[Entry], root: Path, out: Path,
                  seeds: int | Sequence[int] | None = None, command: str = "",
                  only: Iterable[str] | None = None, work: Path | None = None) -> tuple[list[dict[str, Any]], list[tuple[str, int, Exception]]]:
    """Give finished runs the metrics their entry lists now and their result lacks, from their
    saved weights, without training (:func:`rescore_one`). Runs that are up to date are
    skipped; runs without a result, or whose weights or settings do not match, are reported and
    left for a normal ``lit-gen bench``. Returns the leaderboard rows and the refused or failed runs."""
    entries = list(entries)
    suite_dir = out / suite
    plan = _plan(entries, seeds, only)
    failures = []
    for i, (entry, seed) in enumerate(plan):
        path = run_path(suite_dir, entry.name, seed)
        label = f"[{i + 1}/{len(plan)}] {entry.name} seed={seed}"
        try:
            old = read_result(path) if path.exists() else None
        except CorruptResultError as err:
            old, reason = None, str(err)
        else:
            reason = f"no result {path}"
        if old is None:
            say(f"{label}: not rescored: {reason}; run it with `lit-gen bench`")
            failures.append((entry.name, seed, RescoreError(reason)))
            continue
        if old["config_hash"] == entry.config_hash(root, seed, old.get("devices", 1)):
            say(f"{label}: up to date")
            continue
        say(f"{label}: adding {[n for n in entry.metrics if n not in old['protocol']]} from its saved weights")
        start = time.perf_counter()
        try:
            result = rescore_one(entry, seed, root, work_path(suite_dir, entry.name, seed, work), old)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # one refused run must not stop the others
            failures.append((entry.name, seed, err))
            say(f"  x not rescored: {type(err).__name__}: {err}")
            continue
        added = {k: v for k, v in result["metrics"].items() if k not in old["metrics"]}
        say("  = " + ", ".join(f"{k}={v:.4g}" for k, v in added.items())
            + f" ({_fmt_seconds(time.perf_counter() - start)})")
        write_result(path, result)
        refresh_leaderboard(suite, entries, suite_dir, root, command)
    rows = refresh_leaderboard(suite, entries, suite_dir, root, command)
    if failures:
        say(f"{len(failures)} run(s) not rescored: " + ", ".join(f"{n} seed={s}" for n, s, _ in failures))
    return rows, failures


def print_table(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        cells = ", ".join(f"{n}={s['mean']:.4g}±{s['std']:.2g} (n={s['n']})" for n, s in row["metrics"].items())
        say(f"{row['entry']:<32} {cells}")


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `lit-gen bench`")
