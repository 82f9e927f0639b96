"""``lit-gen eval``: FID, KID, IS, precision/recall and density/coverage of an image set.

    lit-gen eval samples/ --reference mnist:test                # a folder of PNG/JPG
    lit-gen eval samples.npz --reference cifar10:test --extractor inception-ts
    lit-gen eval model.ckpt --n 10000 --out eval.json           # sampled; reference from the ckpt
    lit-gen eval a/ --against b/ --classifier-dataset mnist     # two image sets

Prints one JSON record ``{"metrics": {...}, "protocol": {...}}`` (the shape of a bench metric);
``--out FILE`` also writes it (atomically).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from lit_gen.metrics.evaluate import EVAL_METRICS, REFERENCE_DATASETS
from lit_gen.metrics.extractors import EXTRACTORS


def _optional_int(value: str) -> int | None:
    return None if value.lower() in ("none", "all") else int(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lit-gen eval",
        description="Score generated images against a data set split (--reference) or a second "
                    "image set (--against). Prints a JSON record of values and protocol.")
    p.add_argument("source", help="generated images: a folder of PNG/JPG files (subfolders too), an "
                                  ".npy/.npz array (uint8 NCHW/NHWC, or float in [0, 1]), or a "
                                  "lit-gen .ckpt whose model has sample(n)")
    p.add_argument("--n", type=int, default=None,
                   help="images: a checkpoint's samples to draw (required for a .ckpt); for a "
                        "folder/array a seeded random subset of that many (default: all)")
    p.add_argument("--reference", default=None, metavar="DATASET[:SPLIT]",
                   help=f"reference split, DATASET one of {', '.join(REFERENCE_DATASETS)}, SPLIT "
                        "train|test (default test; for a checkpoint, default its data set's test split)")
    p.add_argument("--against", default=None, metavar="PATH",
                   help="compare with a second folder/array instead of a data set split (default: none)")
    p.add_argument("--n-real", type=_optional_int, default=None, metavar="N",
                   help="reference images: a seeded random subset of N (default all: the whole split)")
    p.add_argument("--metrics", nargs="+", default=list(EVAL_METRICS), choices=EVAL_METRICS,
                   help="metrics to compute; dc = density and coverage (default: all)")
    p.add_argument("--extractor", default="classifier", choices=EXTRACTORS,
                   help="feature network: classifier (trained once on the data set and cached; "
                        "fast on CPU, comparable on one data set only), inception (torch-fidelity's "
                        "InceptionV3), inception-ts (TorchScript Inception, no IS) (default: classifier)")
    p.add_argument("--image-size", type=int, default=None, metavar="PIXELS",
                   help="side every image set is resized to (default: the checkpoint's data size, "
                        "else the source images' own side)")
    p.add_argument("--classifier-dataset", default=None, choices=REFERENCE_DATASETS,
                   help="data set the classifier extractor is trained on (default: the reference's; "
                        "needed with --against)")
    p.add_argument("--classifier-epochs", type=int, default=None,
                   help="training epochs of the classifier extractor (default: its recipe's)")
    p.add_argument("--inception-weights", default=None, metavar="FILE",
                   help="torch-fidelity InceptionV3 weights for --extractor inception "
                        "(default: $LIT_GEN_INCEPTION_WEIGHTS or the torch hub cache)")
    p.add_argument("--nearest-k", type=int, default=5,
                   help="k of density/coverage's k-nearest-neighbour radii (default: 5)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID: number of random subsets (default: 100)")
    p.add_argument("--kid-subset-size", type=int, default=1000,
                   help="KID: images per subset, capped at the set sizes (default: 1000)")
    p.add_argument("--isc-splits", type=int, default=10, help="Inception Score: number of splits (default: 10)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of sampling, subsets and torch-fidelity's RNG (default: 0)")
    p.add_argument("--root", default=None, metavar="DIR",
                   help="folder holding the reference data set's files (default: $LIT_GEN_DATA/<name>)")
    p.add_argument("--no-hub", action="store_true",
                   help="never download the reference data set from the hub (default: allowed)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="cache of classifiers and reference features (default: $LIT_GEN_CACHE or ~/.cache/lit_gen)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per feature-extractor batch (default: 500 classifier, 8 inception)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write the JSON record here, atomically (default: print only)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lit_gen.metrics.evaluate import evaluate
    from lit_gen.utils.io import atomic_write_text

    result = evaluate(
        args.source, n=args.n, reference=args.reference, against=args.against, metrics=args.metrics,
        extractor=args.extractor, n_real=args.n_real, seed=args.seed, image_size=args.image_size,
        classifier_dataset=args.classifier_dataset, root=args.root, use_hub=not args.no_hub,
        cache=args.cache, batch_size=args.batch_size, inception_weights=args.inception_weights,
        classifier_epochs=args.classifier_epochs, kid_subset_size=args.kid_subset_size,
        kid_subsets=args.kid_subsets, isc_splits=args.isc_splits, nearest_k=args.nearest_k)
    text = json.dumps({"metrics": result.values, "protocol": result.protocol}, indent=2, default=str) + "\n"
    if args.out:
        atomic_write_text(Path(args.out), text)
    print(text, end="")
    return 0
