"""What the bench prints, and who prints it: rank 0 only, without Lightning's banners."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings


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


def fmt_seconds(seconds: float) -> str:
    """``1m05s``, or ``2h03m`` from an hour on."""
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@contextlib.contextmanager
def quiet_lightning():
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
