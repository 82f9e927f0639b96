"""Where lit-gen caches derived artefacts (trained feature classifiers, reference features).

Default ``~/.cache/lit_gen``; override with the ``LIT_GEN_CACHE`` environment variable or a
``cache_dir`` argument/config value. Everything in it can be deleted: it is rebuilt on demand.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch


def cache_dir(override: str | os.PathLike | None = None, sub: str = "") -> Path:
    """``override`` or ``$LIT_GEN_CACHE`` or ``~/.cache/lit_gen``, plus ``sub``; created."""
    root = override or os.environ.get("LIT_GEN_CACHE") or Path.home() / ".cache" / "lit_gen"
    path = Path(root).expanduser() / sub
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create the lit-gen cache folder {path} ({err}); set LIT_GEN_CACHE "
                      "or the cache_dir option to a writable folder") from None
    return path


def tensor_digest(*tensors: torch.Tensor, extra: str = "") -> str:
    """sha256 (hex) of the tensors' bytes (and shapes/dtypes) plus ``extra``: a content key."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}:{t.dtype};".encode())
        # flattened first: a 0-d tensor (a BatchNorm step counter) cannot be viewed as bytes
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    h.update(extra.encode())
    return h.hexdigest()


_FILE_DIGESTS: dict[tuple[str, int, float], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file, memoised on (path, size, mtime) so big weights hash once."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime)
    if key not in _FILE_DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _FILE_DIGESTS[key] = h.hexdigest()
    return _FILE_DIGESTS[key]


