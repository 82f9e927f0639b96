"""Two fits of a tiny VAE (lr > 0) with a FidelityCallback on N CPU processes (DDP, gloo):
epoch 0 with a ModelCheckpoint, then epoch 1 resumed from that checkpoint file with
``fit(ckpt_path=...)``. Every rank writes what it logged and its callback's curve to
``rank<R>.json``; rank 0 saves the weights after each fit. Used by
tests/test_fidelity_callback.py; Lightning relaunches this script for the other ranks.

    python fidelity_ddp.py OUT DEVICES CACHE EPOCHS
"""

import json
import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gen.callbacks import FidelityCallback
from lit_gen.data import ImageDataModule
from lit_gen.models import VAE

KEY = "fidelity/"


def fit(out: Path, devices: int, cache: str, epochs: int, max_epochs: int, ckpt_path: str | None):
    torch.set_num_threads(1)
    model = VAE(latent_dim=4, channels=(8, 16), hidden=32, lr=1e-2)  # lr > 0: the weights move
    fidelity = FidelityCallback(metrics=("fid", "is"), n_fake=200, n_real=200, cache=cache,
                                classifier_epochs=epochs)
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", save_top_k=-1)
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
                        max_epochs=max_epochs, limit_train_batches=2, limit_val_batches=1, logger=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=[fidelity, checkpoint], default_root_dir=out)
    trainer.fit(model, datamodule=ImageDataModule("digits", batch_size=32), ckpt_path=ckpt_path)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(KEY)}
    if trainer.is_global_zero:
        torch.save(model.state_dict(), out / f"weights-{max_epochs}.pt")
    return trainer.global_rank, {"logged": logged, "history": fidelity.history}


if __name__ == "__main__":
    out, devices, cache, epochs = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    L.seed_everything(0)
    rank, first = fit(out, devices, cache, epochs, max_epochs=1, ckpt_path=None)
    saved = sorted((out / "checkpoints").glob("*.ckpt"))
    _, resumed = fit(out, devices, cache, epochs, max_epochs=2, ckpt_path=str(saved[0]))
    (out / f"rank{rank}.json").write_text(json.dumps({"first": first, "resumed": resumed,
                                                      "checkpoint": saved[0].name}))
