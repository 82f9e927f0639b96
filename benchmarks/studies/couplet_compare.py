"""Which couplet writer is better, and is the difference more than noise?

    python benchmarks/studies/couplet_compare.py [--baseline couplet-conv-post] [--samples 1000] [CKPT ...]

Decodes the 4,000-pair test split with each model (greedy, structural rules on, as the bench
does), prints its character BLEU-4 (×100) and, against the baseline, a paired bootstrap over
test lines (``lit_gen.tasks.couplet.significance``): both 95 % intervals and the fraction of
resamples in which the model beats the baseline. Without checkpoints it takes the newest
checkpoint of every ``couplet-*`` run of the cpu bench (``final.ckpt``, else ``last.ckpt``);
each row says how many training steps its checkpoint had. Writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from couplet_speed import ROOT, default_checkpoints, entry_name

from lit_gen.utils.io import atomic_write_text
from lit_gen.tasks.couplet.data import read_pairs
from lit_gen.tasks.couplet.significance import corpus_stats, paired_bootstrap
from lit_gen.tasks.couplet.writer import CoupletWriter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="*", type=Path)
    ap.add_argument("--data", default=os.environ.get("LIT_GEN_DATA", "../shared/data"))
    ap.add_argument("--baseline", default="couplet-conv-post", help="entry name (or checkpoint path) to compare with")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cpu/couplet_compare.json")
    args = ap.parse_args()
    pairs = read_pairs(Path(args.data) / "couplet/test")
    uppers, golds = [u for u, _ in pairs], [g for _, g in pairs]
    stats, steps = {}, {}
    for ckpt in args.checkpoints or default_checkpoints():
        name = entry_name(ckpt)
        preds = CoupletWriter.from_checkpoint(ckpt).write(uppers, on_error="empty")
        stats[name] = corpus_stats(preds, golds)
        # compare like with like: the training steps behind each checkpoint are reported
        steps[name] = torch.load(ckpt, map_location="cpu", weights_only=False).get("global_step")
    if args.baseline not in stats:
        raise SystemExit(f"baseline {args.baseline!r} is not among {sorted(stats)}")
    rows = []
    for name, s in stats.items():
        row = {"model": name, "steps": steps[name], "baseline": args.baseline,
               "baseline_steps": steps[args.baseline], "lines": len(golds),
               **{k: round(v, 4) for k, v in paired_bootstrap(stats[args.baseline], s, args.samples).items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    atomic_write_text(args.out, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
