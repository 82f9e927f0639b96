"""Print the validation curves of a bench entry's runs, from their TensorBoard logs.

    python benchmarks/val_curves.py benchmarks/results/cpu/work/glow-logit-vd-mnist-4h val/bpd

For each ``seed=N`` folder (and ``restart=R`` inside it, for entries with restarts) it prints one
line per tag: ``step:value`` for every logged point, pieces of a resumed run joined
(:func:`lit_gen.bench.logs.logged_scalars`). These are the numbers the docs quote as
"validation curves"; ``tensorboard --logdir <folder>`` shows the same.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lit_gen.bench.logs import logged_scalars
from lit_gen.bench.results import fit_folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("entry_dir", type=Path, help="benchmarks/results/<suite>/work/<entry>")
    parser.add_argument("tags", nargs="*", default=["val/bpd"], help="scalar tags (default: val/bpd)")
    parser.add_argument("--digits", type=int, default=4, help="decimals printed (default 4)")
    args = parser.parse_args()
    runs = fit_folders(args.entry_dir)  # seed=N, or seed=N/restart=R for entries with restarts
    if not runs:
        parser.error(f"{args.entry_dir} holds no seed=N run folders")
    for run in runs:
        print(run.relative_to(args.entry_dir))
        for tag, points in logged_scalars(run, args.tags).items():
            curve = " ".join(f"{step}:{value:.{args.digits}f}" for step, value in points) or "(not logged)"
            print(f"  {tag} {curve}")


if __name__ == "__main__":
    main()
