"""Try a change to the ClusterVAE recipe: validation ACC after every epoch (never the test set).

The recipe is ``configs/cluster_vae_best.yaml`` on the cpu suite's network (conv 16, 32,
hidden 128, as in ``benchmarks/suites/cpu/clustering.yaml``); ``--set`` overrides its model
arguments. The score is ACC on the 5,000 images the data module holds out of train.

    OMP_NUM_THREADS=1 python benchmarks/studies/cluster_vae_search.py --set '{"pair_mi_weight": 20}' --seed 0

Prints, after each epoch, the validation ACC, the nearest-neighbour label agreement of the
codes (cosine) and the number of validation images per cluster
(an empty cluster shows as 0), and the final contingency table (rows: clusters, columns: classes).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import lightning as L
import torch
import yaml

from lit_gen.data import ImageDataModule
from lit_gen.metrics.clustering import ClusterAccuracy
from lit_gen.models import ClusterVAE

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "cluster_vae_best.yaml"
CPU_NETWORK = {"channels": [16, 32], "hidden": 128}


class ValidationAccuracy(L.Callback):
    """Scores ``predict_step``'s cluster ids on the validation split after each training epoch."""

    def __init__(self, num_clusters: int):
        self.num_clusters = num_clusters
        self.started = time.perf_counter()
        self.accuracy: ClusterAccuracy | None = None

    @torch.no_grad()
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.accuracy = ClusterAccuracy(self.num_clusters, self.num_clusters)
        sizes = torch.zeros(self.num_clusters, dtype=torch.long)
        codes, labels = [], []
        was_training = pl_module.training
        pl_module.eval()
        for batch in trainer.datamodule.val_dataloader():
            preds = pl_module.predict_step(batch, 0)
            self.accuracy.update(preds, batch[1])
            sizes += torch.bincount(preds, minlength=self.num_clusters)
            codes.append(pl_module.encode(batch[0])[0])
            labels.append(batch[1])
        pl_module.train(was_training)
        print(f"epoch {trainer.current_epoch} val_acc {float(self.accuracy.compute()):.4f} "
              f"nn_agree {nearest_neighbour_agreement(torch.cat(codes), torch.cat(labels)):.4f} "
              f"t={time.perf_counter() - self.started:.0f}s sizes={sizes.tolist()}", flush=True)


def nearest_neighbour_agreement(codes: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images whose nearest other code (cosine) has the same label: how far a
    neighbour-based term could carry a cluster within a class."""
    unit = torch.nn.functional.normalize(codes, dim=1)
    similarity = (unit @ unit.t()).fill_diagonal_(-2.0)
    return float((labels[similarity.argmax(1)] == labels).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="{}", help="JSON: ClusterVAE arguments changed from the recipe")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=8, help="the recipe's length (its cosine schedule spans it)")
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    ap.add_argument("--batch-size", type=int, default=100, help="images per step (the recipe: 100)")
    ap.add_argument("--data", default=os.environ.get("LIT_GEN_DATA", "../shared/data"))
    args = ap.parse_args()

    L.seed_everything(args.seed, verbose=False)
    recipe = yaml.safe_load(RECIPE.read_text())["model"]["init_args"]
    model = ClusterVAE(**{**recipe, **CPU_NETWORK, **json.loads(args.set)})
    data = ImageDataModule(name=args.dataset, root=str(Path(args.data) / args.dataset), batch_size=args.batch_size)
    report = ValidationAccuracy(model.hparams.num_clusters)
    trainer = L.Trainer(max_epochs=args.epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[report])
    trainer.fit(model, datamodule=data)
    print("final val_acc", round(float(report.accuracy.compute()), 4))
    print(report.accuracy.table.numpy())


if __name__ == "__main__":
    main()
