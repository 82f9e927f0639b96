"""Fit a tiny VAE on digits with N CPU processes (DDP, gloo), then validate; rank 0 writes the
logged ``val/nelbo`` and the final checkpoint. Used by tests/test_cli.py; Lightning relaunches
this script for the other ranks."""

import sys
from pathlib import Path

import lightning as L

from lit_gen.data import ImageDataModule
from lit_gen.models import VAE

if __name__ == "__main__":
    out, devices = Path(sys.argv[1]), int(sys.argv[2])
    L.seed_everything(0)
    model = VAE(latent_dim=4, channels=(8, 16), hidden=32)
    # 200 validation images / (2 ranks x 50) divide evenly: no padding by the sampler
    data = ImageDataModule(name="digits", val_size=200, batch_size=50)
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
                        max_steps=4, num_sanity_val_steps=0, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, default_root_dir=out)
    trainer.fit(model, datamodule=data)
    metrics = trainer.validate(model, datamodule=data)[0]
    trainer.save_checkpoint(out / "final.ckpt")
    if trainer.is_global_zero:
        (out / "val_nelbo.txt").write_text(repr(metrics["val/nelbo"]))
