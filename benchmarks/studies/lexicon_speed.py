"""Speed of the lexicon task, side by side with jieba (HMM off), on the PKU-protocol text.

    python benchmarks/studies/lexicon_speed.py [--data ../shared/data] [--repeat 3]

Times (best of ``--repeat``, wall clock, this machine): counting n-grams over the training text
(PFR-199801 raw + PKU test raw), building the lexicon with the default (PKU-tuned) settings,
then segmenting the same raw text with our segmenter and with ``jieba.lcut(HMM=False)``.
Prints JSON; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from lit_gen.tasks.lexicon.build import BuildConfig, build_lexicon
from lit_gen.tasks.lexicon.counting import NgramCounter
from lit_gen.tasks.lexicon.io import raw_of, read_lines


def best_of(repeat: int, fn):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("LIT_GEN_DATA", "../shared/data"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(args.data)
    lines = raw_of(read_lines(root / "pfr-199801/199801.txt.gz", "pfr")) + read_lines(root / "icwb2/testing/pku_test.utf8")
    chars = sum(map(len, lines))
    cfg = BuildConfig()

    def count():
        counter = NgramCounter(cfg.max_n)
        for i in range(0, len(lines), 4096):
            counter.update(lines[i:i + 4096])
        return counter, counter.tables()

    t_count, (counter, tables) = best_of(args.repeat, count)
    t_build, lexicon = best_of(args.repeat, lambda: build_lexicon(counter.codes(), tables, cfg))
    segmenter = lexicon.segmenter()
    t_ours, ours = best_of(args.repeat, lambda: segmenter.segment(lines))
    result = {"chars": chars, "count_s": round(t_count, 2), "build_s": round(t_build, 2),
              "count_plus_build_s": round(t_count + t_build, 2), "lexicon_words": len(lexicon),
              "ours_chars_per_s": round(chars / t_ours), "ours_words": sum(map(len, ours))}
    try:
        import jieba
    except ImportError:
        result["jieba"] = "not installed (pip install 'lit-gen[lexicon]')"
    else:
        jieba.setLogLevel(60)
        jieba.initialize()
        t_jieba, theirs = best_of(args.repeat, lambda: [jieba.lcut(ln, HMM=False) for ln in lines])
        result.update({"jieba_chars_per_s": round(chars / t_jieba), "jieba_words": sum(map(len, theirs)),
                       "speedup_vs_jieba": round(t_jieba / t_ours, 2)})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
