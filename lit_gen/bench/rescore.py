"""Rescoring: give finished runs the metrics their entry gained, computed on the run's saved
weights (``final.ckpt`` in its work folder) without training again."""

from __future__ import annotations

import calendar
import inspect
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from lit_gen.bench.console import fmt_seconds, quiet_lightning, say
from lit_gen.bench.report import refresh_leaderboard
from lit_gen.bench.results import (CorruptResultError, gained_metrics, measured_as_entry, read_result, run_path,
                                   work_path, write_result)
from lit_gen.bench.resume import plan_runs
from lit_gen.bench.run import TIMESTAMP, build_cli, score, versions
from lit_gen.bench.suite import Entry


class RescoreError(RuntimeError):
    """A finished run cannot be given new metrics from its saved weights; the message says why."""


def _comparable(hparams: Any, from_data: tuple[str, ...] = ()) -> str:
    # the CLI's bookkeeping keys (_class_path, _instantiator) say how, not what, was built; keys a
    # class fills from the data at setup (its ``hparams_from_data``) are not settings
    kept = {k: v for k, v in dict(hparams or {}).items() if not str(k).startswith("_") and k not in from_data}
    return json.dumps(kept, sort_keys=True, default=str)


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


def _restore_callbacks(trainer, checkpoint: dict[str, Any]) -> None:
    """The callbacks' states saved with the weights, restored as a resumed fit restores them (a
    ``ModelCheckpoint``'s best checkpoint and score, a curve's points), so that metrics reading
    them (the couplet rows' ``weights: best_val_loss``, ``couplet_curve``) work from saved weights
    too. :func:`~lit_gen.bench.run.build_cli` gave the checkpoint callbacks the fit's folders, the
    only ones Lightning restores a ``ModelCheckpoint``'s best score into."""
    saved = checkpoint.get("callbacks") or {}
    for callback in trainer.callbacks:
        if callback.state_key in saved:
            callback.load_state_dict(saved[callback.state_key])


def rescore_one(entry: Entry, seed: int, root: Path, work_dir: Path, old: dict[str, Any]) -> dict[str, Any]:
    """Add the metrics that ``entry`` lists and result ``old`` lacks, computed on the run's saved
    weights (``work_dir/final.ckpt``) on one CPU device, without training again. The metrics
    already in ``old`` keep their values. :class:`RescoreError` if the run and its weights do not
    match the entry as defined now (see :func:`_check_trained_as_entry`)."""
    checkpoint_path = work_dir / "final.ckpt"
    _check_trained_as_entry(entry, root, old, checkpoint_path)
    new = gained_metrics(entry, old)
    with quiet_lightning():
        cli = build_cli(entry, seed, root, work_dir, 1, "cpu")
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        for what, built, saved, cls in (
                ("model", cli.model.hparams, checkpoint.get("hyper_parameters"), type(cli.model)),
                ("data", getattr(cli.datamodule, "hparams", {}), checkpoint.get("datamodule_hyper_parameters"),
                 type(cli.datamodule))):
            from_data = tuple(getattr(cls, "hparams_from_data", ()))
            if _comparable(built, from_data) != _comparable(_with_added_defaults(saved, built, cls), from_data):
                raise RescoreError(f"the {what} settings in {checkpoint_path} are not the entry's")
        cli.model.on_load_checkpoint(checkpoint)
        cli.model.load_state_dict(checkpoint["state_dict"])  # left in train mode, as after fit: metrics choose
        _restore_callbacks(cli.trainer, checkpoint)
        if cli.datamodule is not None:
            cli.datamodule.prepare_data()
            cli.datamodule.setup("fit")
        values, protocol, metric_seconds = score(entry, new, cli)
    devices = old.get("devices", 1)
    return {**old, "metrics": {**old["metrics"], **values}, "protocol": {**old["protocol"], **protocol},
            "metric_time_s": {**old.get("metric_time_s", {}), **metric_seconds},
            "config_hash": entry.config_hash(root, seed, devices),
            "rescored": [*old.get("rescored", []), {
                "metrics": new, "finished_at": time.strftime(TIMESTAMP, time.gmtime()), "versions": versions(),
                "torch_threads": torch.get_num_threads()}]}


def rescore_suite(suite: str, entries: Iterable[Entry], root: Path, out: Path,
                  seeds: int | Sequence[int] | None = None, command: str = "",
                  only: Iterable[str] | None = None, work: Path | None = None) -> tuple[list[dict[str, Any]], list[tuple[str, int, Exception]]]:
    """Give finished runs the metrics their entry lists now and their result lacks, from their
    saved weights, without training (:func:`rescore_one`). Runs that are up to date are
    skipped; runs without a result, or whose weights or settings do not match, are reported and
    left for a normal ``lit-gen bench``. Returns the leaderboard rows and the refused or failed runs."""
    entries = list(entries)
    suite_dir = out / suite
    plan = plan_runs(entries, seeds, only)
    failures, rows = [], None  # rows: the leaderboard as the last rescored run left it
    for i, (entry, seed) in enumerate(plan):
        rows = None
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
        say(f"{label}: adding {gained_metrics(entry, old)} from its saved weights")
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
            + f" ({fmt_seconds(time.perf_counter() - start)})")
        write_result(path, result)
        rows = refresh_leaderboard(suite, entries, suite_dir, root, command)
    if rows is None:  # the reports are not those of the last rescored run
        rows = refresh_leaderboard(suite, entries, suite_dir, root, command)
    if failures:
        say(f"{len(failures)} run(s) not rescored: " + ", ".join(f"{n} seed={s}" for n, s, _ in failures))
    return rows, failures
