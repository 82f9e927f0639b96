"""Galleries of finished GAN bench runs: a fixed-z 8×8 sample grid per row (the final weights,
not cherry-picked: the first 64 draws of ``torch.manual_seed(--z-seed)``), and one figure of
classifier FID against training wall time per data set from the runs' ``curve`` points.

    python benchmarks/studies/gan_gallery.py --suite cpu --entries gan-wgan-gp-mnist-long gan-gan-qp-mnist-long

Reads ``benchmarks/results/<suite>/runs/<entry>/seed=S.json`` and the run's saved weights
(``<work>/<entry>/seed=S/final.ckpt``; ``--work`` when the work folder is elsewhere). Writes
``docs/images/gan/<entry>.png`` and ``docs/images/gan/fid_vs_time_<dataset>.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def sample_grid(checkpoint: Path, out: Path, z_seed: int) -> None:
    from torchvision.utils import save_image

    from lit_gen.models import GAN

    model = GAN.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    torch.manual_seed(z_seed)
    images = model.sample(64)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, out, nrow=8, padding=1, pad_value=1.0)


def fid_vs_time(curves: dict[str, list[list[dict]]], metric: str, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for i, (entry, runs) in enumerate(sorted(curves.items())):
        color = f"C{i}"
        for j, points in enumerate(runs):
            pts = [p for p in points if metric in p]
            ax.plot([p["train_seconds"] / 60 for p in pts], [p[metric] for p in pts], color=color, lw=1.2,
                    alpha=0.9, label=entry if j == 0 else None)
    ax.set_xlabel("training wall time (min, 2-core CPU shared with other runs)")
    ax.set_ylabel(metric)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="cpu")
    parser.add_argument("--entries", nargs="+", required=True)
    parser.add_argument("--seed", type=int, default=0, help="the run whose weights make the grid (default 0)")
    parser.add_argument("--z-seed", type=int, default=0, help="seed of the 64 latent draws (default 0)")
    parser.add_argument("--metric", default="fid[classifier]", help="curve metric (default fid[classifier])")
    parser.add_argument("--results", default=str(ROOT / "benchmarks/results"))
    parser.add_argument("--work", default=None, help="work folder (default <results>/<suite>/work)")
    parser.add_argument("--out", default=str(ROOT / "docs/images/gan"))
    args = parser.parse_args()
    runs_dir = Path(args.results) / args.suite / "runs"
    work = Path(args.work) if args.work else Path(args.results) / args.suite / "work"
    curves: dict[str, dict[str, list]] = {}
    for entry in args.entries:
        results = sorted((runs_dir / entry).glob("seed=*.json"))
        if not results:
            print(f"{entry}: no results, skipped")
            continue
        dataset = json.loads(results[0].read_text())["dataset"]
        curves.setdefault(dataset, {})[entry] = [json.loads(r.read_text()).get("curve", {}).get("points", [])
                                                 for r in results]
        checkpoint = work / entry / f"seed={args.seed}" / "final.ckpt"
        if checkpoint.is_file():
            sample_grid(checkpoint, Path(args.out) / f"{entry}.png", args.z_seed)
            print(f"{entry}: grid -> {Path(args.out) / f'{entry}.png'}")
        else:
            print(f"{entry}: no {checkpoint}, no grid")
    for dataset, by_entry in curves.items():
        out = Path(args.out) / f"fid_vs_time_{dataset}.png"
        fid_vs_time(by_entry, args.metric, out, f"{dataset}: {args.metric} of 2,000 samples during training")
        print(f"curves -> {out}")


if __name__ == "__main__":
    main()
