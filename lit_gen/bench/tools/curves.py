"""Print the validation curves of a bench entry's runs, from their TensorBoard logs.

    lit-gen bench curves benchmarks/results/cpu/work/glow-logit-vd-mnist-4h val/bpd

For each ``seed=N`` folder (and ``restart=R`` inside it, for entries with restarts) it prints one
line per tag: ``step:value`` for every logged point, pieces of a resumed run joined
(:func:`lit_gen.bench.logs.logged_scalars`). These are the numbers the docs quote as
"validation curves"; ``tensorboard --logdir <folder>`` shows the same.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("entry_dir", type=Path, help="the entry's work folder, benchmarks/results/<suite>/work/<entry>")
    parser.add_argument("tags", nargs="*", default=["val/bpd"], help="scalar tags (default: val/bpd)")
    parser.add_argument("--digits", type=int, default=4, help="decimals printed (default 4)")


def main(args: argparse.Namespace) -> int:
    from lit_gen.bench.logs import logged_scalars

    from lit_gen.bench.results import fit_folders

    runs = fit_folders(args.entry_dir)  # seed=N, or seed=N/restart=R for entries with restarts
    if not runs:
        print(f"lit-gen bench curves: {args.entry_dir} holds no seed=N run folders", file=sys.stderr)
        return 2
    for run in runs:
        print(run.relative_to(args.entry_dir))
        for tag, points in logged_scalars(run, args.tags).items():
            curve = " ".join(f"{step}:{value:.{args.digits}f}" for step, value in points) or "(not logged)"
            print(f"  {tag} {curve}")
    return 0
