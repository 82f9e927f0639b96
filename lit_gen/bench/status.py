"""``lit-gen bench status``: where each run of a suite stands, read from the results and work
folders without touching them.

A run is
- ``done``: a valid result made under the entry's current configuration;
- ``to rescore``: a result that lacks only metrics the entry gained (``lit-gen bench rescore``);
- ``running``: another worker holds its claim (:mod:`lit_gen.bench.claims`), and it still beats;
- ``partial``: an epoch-end checkpoint of an interrupted fit, stamped with the run's current
  training configuration, waits in its work folder; the next ``bench run`` continues from it (the
  detail says how far it got, and in which restart);
- ``stale``: a result made under another configuration (or on another number of devices); the
  next ``bench run`` trains it again;
- ``pending``: nothing yet.
A running run also shows its checkpoint's progress. Long suites run in pieces over days; this is
the one place that says what is left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lit_gen.bench.callbacks import PARTIAL_CHECKPOINT, PARTIAL_DIR
from lit_gen.bench.claims import STALE_AFTER_S, live_holder
from lit_gen.bench.console import fmt_seconds
from lit_gen.bench.resume import partial_stamp, plan_runs
from lit_gen.bench.results import (CorruptResultError, claim_path, gained_metrics, measured_as_entry, read_result,
                                   run_path, work_path)
from lit_gen.bench.suite import Entry

STATES = ("done", "to rescore", "running", "partial", "stale", "pending")


def checkpoint_progress(work_dir: Path, stamps: tuple[str, ...]) -> str | None:
    """How far the newest epoch-end checkpoint under ``work_dir`` that the next run would resume
    from (stamped with one of ``stamps``, as :func:`~lit_gen.bench.resume.resume_checkpoint`
    wants) got: its restart, epochs, optimiser steps and training seconds (the bench's throughput
    counter); None without one. Only the checkpoint's metadata is read (``mmap``)."""
    found = [p for p in work_dir.glob(f"**/{PARTIAL_DIR}/{PARTIAL_CHECKPOINT}.ckpt") if partial_stamp(p.parent) in stamps]
    if not found:
        return None
    newest = max(found, key=lambda p: p.stat().st_mtime)
    restart = next((part for part in newest.parts if part.startswith("restart=")), None)
    try:
        state = torch.load(newest, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # a kill while it was written: the next run trains from the start
        return f"unreadable checkpoint ({type(err).__name__})"
    seconds = (state.get("callbacks") or {}).get("ThroughputCallback", {}).get("seconds")
    text = (f"{restart}: " if restart else "") + f"{int(state['epoch']) + 1} epochs, {int(state['global_step']):,} optimiser steps"
    return text + (f", {fmt_seconds(float(seconds))} of training" if seconds is not None else "")


def _budget(entry: Entry) -> str:
    return ", ".join(f"{k} {v}" for k, v in entry.budget.items()) or "the config's own"


def run_status(entry: Entry, seed: int, root: Path, suite_dir: Path, work: Path | None = None,
               processes: int = 1) -> dict[str, Any]:
    """``{"entry", "seed", "state", "detail"}`` of one run (``state`` one of :data:`STATES`), as a
    ``bench run`` on ``processes`` processes would see it."""
    row = {"entry": entry.name, "seed": seed}
    path = run_path(suite_dir, entry.name, seed)
    config_hash = entry.config_hash(root, seed, processes)
    old = None
    if path.exists():
        try:
            old = read_result(path)
        except CorruptResultError:
            pass
    if old is not None and old["config_hash"] == config_hash:  # written before its claim is released
        return {**row, "state": "done", "detail": f"finished {old.get('finished_at', '?')}"}
    stamps = (entry.training_hash(root, seed, processes), config_hash)
    progress = checkpoint_progress(work_path(suite_dir, entry.name, seed, work), stamps)
    holder = live_holder(claim_path(suite_dir, entry.name, seed), STALE_AFTER_S)
    if holder is not None:
        where = f"{holder.get('host', '?')} pid {holder.get('pid', '?')} since {holder.get('claimed_at', '?')}"
        return {**row, "state": "running", "detail": where + (f"; last epoch end: {progress}" if progress else "")}
    if old is not None and measured_as_entry(entry, old, root):
        gained = gained_metrics(entry, old)
        if gained:
            return {**row, "state": "to rescore", "detail": f"lacks {', '.join(gained)}, which its entry gained"}
        devices = old.get("devices", 1)
        return {**row, "state": "stale", "detail": f"done on {devices} device(s); a run on {processes} trains it again"}
    if progress is not None:
        return {**row, "state": "partial", "detail": f"{progress} (budget: {_budget(entry)})"}
    if old is not None or path.exists():
        return {**row, "state": "stale", "detail": "result of another configuration (or unreadable)"}
    return {**row, "state": "pending", "detail": ""}


def suite_status(entries: list[Entry], root: Path, suite_dir: Path, seeds=None, only=None,
                 work: Path | None = None, processes: int = 1) -> list[dict[str, Any]]:
    """The status of every planned run, in the runner's order."""
    return [run_status(entry, seed, root, suite_dir, work, processes) for entry, seed in plan_runs(entries, seeds, only)]


def render_status(rows: list[dict[str, Any]]) -> str:
    """One line per run, then the count of each state."""
    width = max((len(r["entry"]) for r in rows), default=5)
    lines = [f"{r['entry']:<{width}}  seed {r['seed']:<3} {r['state']:<10}  {r['detail']}".rstrip() for r in rows]
    counts = {state: sum(r["state"] == state for r in rows) for state in STATES}
    lines.append(", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no runs")
    return "\n".join(lines)
