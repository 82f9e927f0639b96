"""A Lightning callback for tests that kill and resume real fits (test_bench_kill.py).

A suite entry lists it in ``trainer.callbacks``; what it does is set by environment variables,
so the entry's configuration hash is the same for the killed run and its resumption:

- ``FIT_PROBE_DIR``: before the first training batch of the fit (after Lightning restored any
  checkpoint and every ``on_train_start``/``on_train_epoch_start`` hook ran, the module's too)
  save the state training starts from to ``<dir>/start.pt``: the model's and the optimizers'
  state dicts.
- ``FIT_PROBE_PAUSE_EPOCH=k``: at the start of epoch ``k`` (after epoch ``k − 1``'s epoch-end
  checkpoint is written), create ``<dir>/paused`` and sleep, so the test can SIGKILL the process
  at a known point (the resumption runs without this variable).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import lightning as L
import torch


class FitProbe(L.Callback):
    @staticmethod
    def _dir() -> Path | None:
        folder = os.environ.get("FIT_PROBE_DIR")
        return Path(folder) if folder else None

    def __init__(self) -> None:
        self.saved = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        folder = self._dir()
        if folder is None or self.saved:
            return
        self.saved = True
        state = {"epoch": trainer.current_epoch,
                 "state_dict": {k: v.detach().clone() for k, v in pl_module.state_dict().items()},
                 "optimizer_states": [opt.state_dict() for opt in trainer.optimizers]}
        torch.save(state, folder / "start.pt")

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        folder, pause = self._dir(), os.environ.get("FIT_PROBE_PAUSE_EPOCH")
        if folder is None or pause is None or trainer.current_epoch != int(pause):
            return
        (folder / "paused").write_text(str(os.getpid()))
        time.sleep(3600)  # the test kills the process here
