"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one.

Every writer in the package goes through these two functions: result files, caches, lexicons,
couplet outputs, pictures. The data go to a temporary file in the target's folder (same file
system, so the rename is atomic), are flushed to disk (``fsync``), then renamed over the target.
On any error the temporary file is removed and the old target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it is fsynced and renamed to ``path``.

    For writers that want a file name rather than a handle (``torch.save``, ``savefig``,
    ``save_image``). ``suffix`` keeps the extension such writers look at (``".png"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str, newline: str | None = "\n") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically. ``newline="\\n"`` writes ``\\n`` line ends on
    every OS, so files committed from any machine compare equal."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline=newline) as fh:
        fh.write(text)


def atomic_write_lines(path: str | os.PathLike, lines: Any) -> None:
    """Write an iterable of strings (each without its line end) one per line, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(f"{line}\n" for line in lines)


def atomic_save(obj: Any, path: str | os.PathLike, save: Callable[[Any, IO[bytes] | Path], None] | None = None) -> None:
    """``torch.save(obj)`` (or ``save(obj, tmp_path)``) to ``path`` atomically."""
    if save is None:
        import torch

        save = torch.save
    with atomic_path(path) as tmp:
        save(obj, tmp)
