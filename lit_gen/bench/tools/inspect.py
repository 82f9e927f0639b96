"""Look inside a finished ClusterVAE bench entry: its restarts' last validation values and the
test contingency table of the run each seed kept.

    OMP_NUM_THREADS=1 lit-gen bench inspect benchmarks/results/cpu/work/cluster-vae-neighbour-warmup-mnist-r3n

For each ``seed=N`` folder it prints, per ``restart=R`` (entries with ``restarts``), the last
logged value of the validation scalars (TensorBoard logs of the run), then the test ACC and the
contingency table of ``final.ckpt`` (rows: clusters, in the order of the classes Hungarian
matching gives them; columns: classes 0..C-1), so that the off-diagonal cells name the
confusions. Validation ACC appears here to judge a restart choice after the fact; the bench never
reads it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SCALARS = ("val/loss", "val/nelbo", "val/balance", "val/neighbour", "val/acc")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("entry_dir", type=Path, help="the entry's work folder, benchmarks/results/<suite>/work/<entry>")
    parser.add_argument("--data", default=os.environ.get("LIT_GEN_DATA", "../shared/data"),
                        help="data root holding <name>/ (default: $LIT_GEN_DATA, else ../shared/data)")


def last_validation_values(run_dir: Path) -> dict[str, float]:
    """The last logged value of each of ``SCALARS`` found in ``run_dir``'s TensorBoard logs."""
    from lit_gen.bench.logs import logged_scalars

    return {tag: points[-1][1] for tag, points in logged_scalars(run_dir, SCALARS).items() if points}


def contingency_on_test_split(checkpoint: Path, data_root: str):
    """The :class:`~lit_gen.metrics.clustering.ClusterAccuracy` metric of ``checkpoint``'s
    cluster ids on its data set's test split."""
    import torch

    from lit_gen.data import ImageDataModule
    from lit_gen.metrics.clustering import ClusterAccuracy
    from lit_gen.models import ClusterVAE

    model = ClusterVAE.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    name = torch.load(checkpoint, map_location="cpu", weights_only=False)["datamodule_hyper_parameters"]["name"]
    data = ImageDataModule(name=name, root=str(Path(data_root) / name), batch_size=500)
    data.setup("test")
    k = model.hparams.num_clusters
    accuracy = ClusterAccuracy(k, k)
    with torch.no_grad():
        for x, y in data.test_dataloader():
            accuracy.update(model.predict_step((x, y), 0), y)
    return accuracy


def main(args: argparse.Namespace) -> int:
    seeds = sorted(args.entry_dir.glob("seed=*"))
    if not seeds:
        print(f"lit-gen bench inspect: no seed=N folders in {args.entry_dir}", file=sys.stderr)
        return 2
    for seed_dir in seeds:
        print(f"== {seed_dir.name}")
        for run_dir in sorted(seed_dir.glob("restart=*")):
            values = last_validation_values(run_dir)
            print(f"  {run_dir.name}: " + "  ".join(f"{tag} {value:.4f}" for tag, value in values.items()))
        checkpoint = seed_dir / "final.ckpt"
        if not checkpoint.exists():
            print("  no final.ckpt (the run has not finished)")
            continue
        accuracy = contingency_on_test_split(checkpoint, args.data)
        rows, cols = accuracy.matching()
        order = rows[cols.argsort()]
        print(f"  test ACC {float(accuracy.compute()):.4f}; contingency table (rows: clusters, columns: classes)")
        for row in accuracy.table[order].tolist():
            print("   " + " ".join(f"{n:5d}" for n in row))
    return 0
