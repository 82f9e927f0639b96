"""Overhead of Lightning + our LightningModule against a plain PyTorch loop, same VAE steps.

    LIT_GEN_DATA=../shared/data python benchmarks/studies/overhead.py --steps 300 --repeats 3

Both loops train the same VAE (same init, data, batch size, optimizer) for ``--steps`` steps on
one device. The Lightning time runs from the first to the last training batch (a callback), so
it measures the per-step cost, not Trainer start-up; start-up is printed separately. Runs are
interleaved and the median of ``--repeats`` is used, because this machine's load varies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import lightning as L
import torch

from lit_gen.data import ImageDataModule
from lit_gen.models import VAE


class StepTimer(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self.seconds = time.perf_counter() - self.start


def plain_loop(data: ImageDataModule, steps: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=model.hparams.lr)
    model.train()
    batches = iter(data.train_dataloader())
    start = time.perf_counter()
    for _ in range(steps):
        x, _ = next(batches)
        loss = model.loss_terms(x)["loss"].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def lightning_loop(data: ImageDataModule, steps: int, seed: int) -> tuple[float, float]:
    torch.manual_seed(seed)
    model = VAE()
    timer = StepTimer()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps, limit_val_batches=0,
                        num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer])
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    return timer.seconds, time.perf_counter() - start - timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    name = "mnist" if os.environ.get("LIT_GEN_DATA") else "digits"
    data = ImageDataModule(name=name, batch_size=args.batch_size, binarize=True, val_size=1000)
    data.setup("fit")
    plain_loop(data, 20, 0)  # warm-up: allocator, kernels
    plain, light, startup = [], [], []
    for r in range(args.repeats):
        plain.append(plain_loop(data, args.steps, r))
        seconds, extra = lightning_loop(data, args.steps, r)
        light.append(seconds)
        startup.append(extra)
        print(f"repeat {r}: plain {plain[-1]:.2f}s, lightning {light[-1]:.2f}s (+{extra:.2f}s start-up/teardown)")
    ratio = statistics.median(light) / statistics.median(plain)
    print(f"data={name} steps={args.steps} batch={args.batch_size} threads={torch.get_num_threads()}")
    print(f"plain PyTorch: {statistics.median(plain):.2f}s  "
          f"({args.steps * args.batch_size / statistics.median(plain):.0f} samples/s)")
    print(f"Lightning:     {statistics.median(light):.2f}s  "
          f"({args.steps * args.batch_size / statistics.median(light):.0f} samples/s)")
    print(f"overhead ratio (Lightning / plain, median of {args.repeats}): {ratio:.3f}  (goal <= 1.05)")


if __name__ == "__main__":
    main()
