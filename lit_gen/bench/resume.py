"""Resuming: which runs of a plan are done (a result with the same configuration hash), and
where an interrupted fit continues (its epoch-end checkpoint in ``<work dir>/partial``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from lit_gen.bench.callbacks import PARTIAL_CHECKPOINT, PARTIAL_DIR, PARTIAL_STAMP
from lit_gen.bench.console import is_rank_zero, say
from lit_gen.bench.results import CorruptResultError, gained_metrics, measured_as_entry, read_result, run_path
from lit_gen.bench.suite import Entry


def existing_result(path: Path, config_hash: str, quiet: bool = False, entry: Entry | None = None,
                    root: Path | None = None) -> dict[str, Any] | None:
    """A trustworthy result with this hash, or None (stale, corrupt and missing are reported
    unless ``quiet``; given its ``entry`` and ``root``, a result that only lacks metrics the entry
    gained is reported as such)."""
    if not path.exists():
        return None
    tell = (lambda message: None) if quiet else say
    try:
        result = read_result(path)
    except CorruptResultError as err:
        tell(f"  ! {err}; recomputing")
        return None
    if result["config_hash"] != config_hash:
        if entry is not None and measured_as_entry(entry, result, root):
            tell(f"  ! {path} lacks {gained_metrics(entry, result)}, which its entry gained")
        else:
            tell(f"  ! {path} was made with another configuration (hash {result['config_hash']}); recomputing")
        return None
    return result


def plan_runs(entries: list[Entry], seeds: int | Sequence[int] | None,
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
    plan = plan_runs(entries, seeds, only)
    todo = []
    for entry, seed in plan:
        config_hash = entry.config_hash(root, seed, processes)
        path = run_path(suite_dir, entry.name, seed)
        if not resume or existing_result(path, config_hash, quiet, entry, root) is None:
            todo.append((entry, seed, config_hash, path))
    return plan, todo


def partial_stamp(partial: Path) -> str | None:
    """The training hash an epoch-end checkpoint folder was stamped with, or None."""
    stamp = partial / PARTIAL_STAMP
    return stamp.read_text().strip() if stamp.is_file() else None


def resume_checkpoint(partial: Path, stamps: tuple[str, ...], resume: bool) -> tuple[Path | None, int | None]:
    """The epoch-end checkpoint an interrupted fit of this training configuration left in
    ``partial`` and the epoch training resumes at, or ``(None, None)``.

    ``stamps`` are the hashes a resumable checkpoint may be stamped with (the training hash, and
    the full configuration hash that stamped checkpoints before training hashes existed). A
    checkpoint of another training configuration is not deleted but moved to ``partial-stale``
    (replacing an older one there), with a message: nothing a user trained is lost without a
    word. With ``resume`` off, or when the checkpoint is unreadable, it is deleted."""
    checkpoint, stamped = partial / f"{PARTIAL_CHECKPOINT}.ckpt", partial_stamp(partial)
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


def discard_partial(work_dir: Path) -> None:
    """Delete the epoch-end checkpoints of a run's fits (``work_dir/**/partial``): its result is written."""
    for partial in sorted(work_dir.glob(f"**/{PARTIAL_DIR}")):
        shutil.rmtree(partial, ignore_errors=True)
