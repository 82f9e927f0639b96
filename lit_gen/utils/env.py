"""``lit-gen env``: versions and devices, to paste into a bug report."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PACKAGES = ("lit-gen", "torch", "torchvision", "lightning", "torchmetrics", "torch-fidelity",
            "jsonargparse", "datasets", "scipy", "scikit-learn", "numpy")


def package_versions() -> dict[str, str | None]:
    """Installed version of each package lit-gen depends on (None if missing)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """The commit of the lit-gen checkout this code runs from, if it is one."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return commit + ("+dirty" if dirty else "")


def collect_env() -> dict[str, object]:
    """Everything ``lit-gen env`` prints, as a dict (also stored in benchmark results)."""
    import torch

    info: dict[str, object] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "LIT_GEN_DATA": os.environ.get("LIT_GEN_DATA"),
        "git_commit": git_commit(),
    }
    info.update(package_versions())
    return info


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="lit-gen env", description="Print versions of Python and lit-gen's dependencies, and devices.")


def main(argv: Sequence[str] = ()) -> int:
    build_parser().parse_args(list(argv))
    for key, value in collect_env().items():
        print(f"{key:<16} {value}")
    return 0
