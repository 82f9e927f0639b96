"""Do two metrics of a leaderboard rank its entries the same way?

    lit-gen bench agreement --suite cpu --match cifar10 --metrics "fid[classifier]" "fid[inception-ts]"

Reads ``<out>/<suite>/leaderboard.json`` (what ``lit-gen bench run`` and ``report`` write), keeps
the entries whose name contains ``--match`` and that have both metrics, and prints each entry's
two means (with n, the seeds that have the value), both ranks, and Spearman's rho and Kendall's
tau of the two rankings (scipy.stats). The everyday question it answers: does the cheap
classifier-feature FID order the GAN objectives as the inception-feature FID does?
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default="cpu", help="suite whose leaderboard to read (default: cpu)")
    parser.add_argument("--out", default=None, help="results folder (default: benchmarks/results of the project root)")
    parser.add_argument("--root", default=None,
                        help="project root (default: the nearest folder at or above the current one that holds "
                             "benchmarks/suites)")
    parser.add_argument("--match", default="cifar10", help="keep entries whose name contains this (default: cifar10)")
    parser.add_argument("--metrics", nargs=2, default=["fid[classifier]", "fid[inception-ts]"],
                        help="the two leaderboard columns (default: fid[classifier] fid[inception-ts])")


def main(args: argparse.Namespace) -> int:
    from scipy.stats import kendalltau, rankdata, spearmanr

    from lit_gen.bench.commands import find_root

    root = Path(args.root) if args.root else find_root()
    out = Path(args.out) if args.out else root / "benchmarks" / "results"
    path = out / args.suite / "leaderboard.json"
    if not path.is_file():
        print(f"no leaderboard at {path}: run `lit-gen bench report --suite {args.suite}` first", file=sys.stderr)
        return 2
    first, second = args.metrics
    rows = [r for r in json.loads(path.read_text()) if args.match in r["entry"]
            and first in r["metrics"] and second in r["metrics"]]
    if len(rows) < 3:
        print(f"only {len(rows)} entries matching {args.match!r} have both {first} and {second}; "
              "need 3 to compare rankings", file=sys.stderr)
        return 2
    a = [r["metrics"][first]["mean"] for r in rows]
    b = [r["metrics"][second]["mean"] for r in rows]
    rank_a, rank_b = rankdata(a), rankdata(b)
    width = max(len(r["entry"]) for r in rows)
    print(f"{'entry':<{width}}  {first:>20} (n)  {second:>20} (n)  ranks")
    for r, x, y, ra, rb in sorted(zip(rows, a, b, rank_a, rank_b), key=lambda t: t[3]):
        na, nb = r["metrics"][first]["n"], r["metrics"][second]["n"]
        print(f"{r['entry']:<{width}}  {x:>20.2f} ({na})  {y:>20.1f} ({nb})  {ra:g} / {rb:g}")
    rho, tau = spearmanr(a, b).statistic, kendalltau(a, b).statistic
    print(f"{len(rows)} entries: Spearman rho {rho:.3f}, Kendall tau {tau:.3f}")
    return 0
