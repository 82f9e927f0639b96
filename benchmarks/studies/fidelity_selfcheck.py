"""Real-vs-real self-checks of the sample-quality metrics (no model involved).

    LIT_GEN_DATA=../shared/data python benchmarks/studies/fidelity_selfcheck.py --extractor classifier --n 10000
    LIT_GEN_DATA=../shared/data python benchmarks/studies/fidelity_selfcheck.py --extractor inception-ts --n 500

Prints FID/KID for (MNIST train, MNIST test) and (MNIST test, Fashion-MNIST test), the IS of
MNIST test images (classifier only), the protocol, and the wall time. Same code as the
``fidelity_selfcheck`` bench metric.
"""

from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace

from lit_gen.bench.metrics.fidelity import fidelity_selfcheck


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extractor", default="classifier", choices=["classifier", "inception", "inception-ts"])
    parser.add_argument("--n", type=int, default=10_000, help="images per set")
    parser.add_argument("--dataset", default="mnist", help="the classifier's training set")
    parser.add_argument("--cache", default=None, help="cache root (default $LIT_GEN_CACHE or ~/.cache/lit_gen)")
    args = parser.parse_args()
    is_sets = [] if args.extractor == "inception-ts" else [f"{args.dataset}:test"]
    start = time.perf_counter()
    result = fidelity_selfcheck(None, SimpleNamespace(name=args.dataset, image_size=28), None,
                                extractor=args.extractor, n=args.n, is_sets=is_sets, cache=args.cache)
    seconds = time.perf_counter() - start
    for name, value in result.values.items():
        print(f"{name:<55} {value:.6g}")
    print(f"wall time: {seconds:.1f} s")
    print(json.dumps(result.protocol, indent=1, default=str))


if __name__ == "__main__":
    main()
