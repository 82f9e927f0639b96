"""Inference speed of the couplet writers, side by side, on the 4,000 upper lines of the test split.

    python benchmarks/studies/couplet_speed.py [--threads 2] [--repeat 3] [CKPT ...]

Without checkpoints, it times the models the ``cpu`` bench trained (the ``last.ckpt`` of each
``couplet-*`` run under ``benchmarks/results/cpu/work``). Speed depends on the architecture, not
on the weights, but the trained weights are what users run, so those are timed. Each model:
one warm-up pass, then the best of ``--repeat`` passes of ``CoupletWriter.write`` (encoding,
forward, log-softmax, constrained greedy decoding), batch 256, ``--threads`` torch threads.
Run it on an otherwise idle machine: the bench's own ``lines_per_s`` is measured while other
benchmark jobs share the cores. Prints one JSON line per model and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from lit_gen.tasks.couplet.data import read_pairs
from lit_gen.tasks.couplet.writer import CoupletWriter
from lit_gen.utils.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "benchmarks/results/cpu/work"


def entry_name(ckpt: Path) -> str:
    """The bench entry a checkpoint under the cpu work folder belongs to (else the path)."""
    path = ckpt.resolve()
    return path.relative_to(WORK).parts[0] if path.is_relative_to(WORK) else str(ckpt)


def default_checkpoints() -> list[Path]:
    newest: dict[str, Path] = {}  # each entry's latest run (a rerun adds a lightning_logs/version_N)
    # final.ckpt: the weights the bench scored; last.ckpt: the ModelCheckpoint's (older runs)
    for path in [*WORK.glob("couplet-*/seed=0/final.ckpt"),
                 *WORK.glob("couplet-*/seed=0/lightning_logs/version_*/checkpoints/last.ckpt")]:
        entry = path.parts[len(WORK.parts)]
        if entry not in newest or path.stat().st_mtime > newest[entry].stat().st_mtime:
            newest[entry] = path
    found = [newest[k] for k in sorted(newest)]
    if not found:
        raise SystemExit(f"no couplet checkpoints under {WORK}: run `lit-gen bench run --suite cpu --only "
                         "couplet-conv-post ...` first, or pass checkpoint paths")
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="*", type=Path)
    ap.add_argument("--data", default=os.environ.get("LIT_GEN_DATA", "../shared/data"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cpu/couplet_speed.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    uppers = [u for u, _ in read_pairs(Path(args.data) / "couplet/test")]
    rows = []
    for ckpt in args.checkpoints or default_checkpoints():
        writer = CoupletWriter.from_checkpoint(ckpt, batch_size=args.batch_size)
        writer.write(uppers[:args.batch_size])  # warm-up
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            writer.write(uppers)
            best = min(best, time.perf_counter() - start)
        name = entry_name(ckpt)
        rows.append({"model": name, "lines_per_s": round(len(uppers) / best, 1), "lines": len(uppers),
                     "threads": args.threads, "batch_size": args.batch_size, "repeats": args.repeat,
                     "load_average_1min": round(os.getloadavg()[0], 2)})
        print(json.dumps(rows[-1]), flush=True)
    atomic_write_text(args.out, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
