"""Choose lexicon hyper-parameters on a PFR dev split (never on a test set).

Protocol: the lexicon is built on the raw PFR-199801 text + the raw PKU test text (the
literature's unsupervised setting: all raw text is available); each setting is scored on the
*last* ``--dev-lines`` lines of the PFR gold (PKU standard). The PKU test gold is not read.

    python benchmarks/studies/lexicon_tune.py --grid '{"min_count": [5, 10, 20]}' [--base '{...}']

Prints one JSON line per setting (dev P/R/F1, lexicon size, L, build seconds).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

from lit_gen.tasks.lexicon.build import BuildConfig, build_lexicon
from lit_gen.tasks.lexicon.counting import NgramCounter
from lit_gen.tasks.lexicon.io import raw_of, read_lines
from lit_gen.tasks.lexicon.scoring import SighanScore


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("LIT_GEN_DATA", "../shared/data"))
    ap.add_argument("--dev-lines", type=int, default=2000)
    ap.add_argument("--base", default="{}", help="JSON: BuildConfig fields fixed for every setting")
    ap.add_argument("--grid", default="{}", help="JSON: BuildConfig field -> list of values")
    args = ap.parse_args()
    root = Path(args.data)
    pfr = read_lines(root / "pfr-199801/199801.txt.gz", "pfr")
    test_raw = read_lines(root / "icwb2/testing/pku_test.utf8", "raw")
    dev = pfr[-args.dev_lines:]
    base, grid = json.loads(args.base), json.loads(args.grid)
    max_n = max([base.get("max_n", 4), *grid.get("max_n", [])])
    start = time.perf_counter()
    counter = NgramCounter(max_n)
    lines = raw_of(pfr) + test_raw
    for i in range(0, len(lines), 4096):
        counter.update(lines[i:i + 4096])
    tables, codes = counter.tables(), counter.codes()
    print(json.dumps({"count_seconds": round(time.perf_counter() - start, 2), "atoms": int(tables[0].counts.sum())}))
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        cfg = BuildConfig(**{**base, **dict(zip(keys, values))})
        t0 = time.perf_counter()
        lex = build_lexicon(codes, tables[:cfg.max_n], cfg)
        build = time.perf_counter() - t0
        metric = SighanScore()
        metric.update(lex.segmenter().segment(raw_of(dev)), dev)
        scores = {k: round(v, 4) for k, v in metric.compute().items()}
        print(json.dumps({**dict(zip(keys, values)), **scores, "words": len(lex),
                          "L_bits": round(lex.bits_per_char(), 3), "build_s": round(build, 1)}), flush=True)


if __name__ == "__main__":
    main()
