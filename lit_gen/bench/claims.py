"""Claims: several bench workers (on one machine or many, one shared results folder) never train
the same entry × seed at once.

A worker about to train a run creates ``runs/<entry>/seed=<s>.claim`` beside the run's result
(in the results folder, which the workers share, not in the work folder, which may be local
disk) with exclusive creation, so of two workers only one gets it. The file holds who took it
(host, pid, time); a heartbeat thread touches it every ``heartbeat`` seconds while the run
trains, and it is deleted once the result is written or the run failed. A claim is stale, and
taken over, when it has not been touched for ``stale_after`` seconds (its worker was killed or
its machine died), or at once when it was taken on this host by a process that no longer runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

STALE_AFTER_S = 600.0  # no heartbeat for this long: the claiming worker is gone
HEARTBEAT_S = 30.0


def read_claim(path: Path) -> dict[str, Any] | None:
    """The claim's holder ``{host, pid, claimed_at, age_s}``, or None if there is no claim."""
    try:
        age = time.time() - path.stat().st_mtime
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        holder = {}  # caught between creation and the first write: a live claim all the same
    return {**holder, "age_s": age}


def _holder_is_gone(holder: dict[str, Any], stale_after: float) -> bool:
    if holder["age_s"] > stale_after:
        return True
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True  # killed on this machine: no need to wait for the timeout
        except PermissionError:
            pass  # alive, someone else's
    return False


def live_holder(path: Path, stale_after: float = STALE_AFTER_S) -> dict[str, Any] | None:
    """The holder of the claim at ``path`` if a live worker holds it, else None."""
    holder = read_claim(path)
    return None if holder is None or _holder_is_gone(holder, stale_after) else holder


class Claim:
    """A held claim: its heartbeat runs until :meth:`release`."""

    def __init__(self, path: Path, heartbeat: float) -> None:
        self.path, self._stop = path, threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat,), daemon=True)
        self._thread.start()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            with contextlib.suppress(OSError):  # a shared folder may hiccup; the next beat retries
                os.utime(self.path)

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)


def try_claim(path: Path, stale_after: float = STALE_AFTER_S, heartbeat: float = HEARTBEAT_S
              ) -> tuple[Claim | None, dict[str, Any] | None]:
    """Take the claim at ``path``: ``(Claim, None)``, or ``(None, holder)`` when another live
    worker holds it. A stale claim is first moved aside under a unique name (a rename that only
    one of several workers can win), then claimed afresh."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_claim(path)
            if holder is None:
                continue  # released meanwhile: try again
            if not _holder_is_gone(holder, stale_after):
                return None, holder
            aside = path.with_name(f".{path.name}.stale-{uuid.uuid4().hex}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue  # another worker moved it first
            moved = read_claim(aside)
            if moved is not None and not _holder_is_gone(moved, stale_after):
                # between our look and the rename a worker replaced the stale claim with its own:
                # put that one back (link fails rather than overwrite) and leave the run to it
                with contextlib.suppress(FileExistsError):
                    os.link(aside, path)
                aside.unlink(missing_ok=True)
                return None, moved
            aside.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(),
                       "claimed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, fh)
        return Claim(path, heartbeat), None
    return None, read_claim(path) or {}
