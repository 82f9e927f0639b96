"""A tiny GAN fits with 2 CPU processes (DDP, gloo): both ranks end with the same weights
(gradients of both networks are all-reduced under manual optimisation) and the same step count.
The strategy is ``ddp_find_unused_parameters_true``: each backward reaches only one network.

Run directly, this file is the training script (Lightning relaunches it for rank 1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def _fit(out: Path, devices: int) -> None:
    import lightning as L
    import torch

    from lit_gen.data import ImageDataModule
    from lit_gen.models import GAN

    L.seed_everything(0)
    model = GAN(objective="wgan_div", n_critic=2, g_steps=3, ema_decay=0.5,
                latent_dim=8, g_width=4, d_width=4)
    data = ImageDataModule(name="digits", batch_size=16)
    strategy = "ddp_find_unused_parameters_true" if devices > 1 else "auto"
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy=strategy,
                        max_epochs=5, num_sanity_val_steps=0, limit_val_batches=1, logger=False,
                        enable_progress_bar=False, enable_checkpointing=False, default_root_dir=out)
    trainer.fit(model, datamodule=data)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save({"g_step": int(model.g_step), "d_step": int(model.d_step), "weights": weights},
               out / f"rank{trainer.global_rank}.pt")


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.timeout(300)  # measured 33 s on 2 busy cores
def test_two_process_fit_keeps_ranks_in_sync(tmp_path):
    import torch

    from conftest import run_child

    cmd = [sys.executable, __file__, str(tmp_path), "2"]
    result = run_child(cmd, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert r0["g_step"] == r1["g_step"] == 3 and r0["d_step"] == r1["d_step"] == 6
    torch.testing.assert_close(r0["weights"], r1["weights"], rtol=0, atol=1e-6)


if __name__ == "__main__":
    _fit(Path(sys.argv[1]), int(sys.argv[2]))
