"""Speed of one GAN generator iteration (n_critic D steps + 1 G step) on CPU, in one run:

- ``before``: the GAN module of an older commit (``--before REV``), trained by Lightning;
- ``after``: this tree's GAN module, trained by Lightning;
- ``plain``: a plain PyTorch loop over the same networks, data loader and loss code (no Trainer),
  the floor that Lightning's overhead is measured against;
- achieved GFLOP/s (FLOPs of one iteration counted by ``torch.utils.flop_counter``) against the
  machine's peak, measured here as the GFLOP/s of a large float32 matrix product.

    LIT_GEN_DATA=../shared/data python benchmarks/studies/gan_speed.py --data mnist --width 32 \
        --objectives sgan wgan_gp gan_qp --before b68e60c

Each variant runs in its own worker process (the before one imports the old package from a
``git archive`` of REV). The coordinator lets one worker at a time train ``--chunk`` generator
steps, round-robin, ``--rounds`` times, so load changes on a shared machine hit every variant
alike; the first round is warm-up. Times are medians over rounds, in ms per generator iteration.
Results go to ``benchmarks/results/cpu/gan_speed.json`` (one record per data set × objective).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHAPES = {"mnist": (1, 28, 64), "cifar10": (3, 32, 128)}  # channels, side, latent size


# ----- worker side -----
def FlopCount():
    """FLOPs of the aten ops run inside (torch.utils.flop_counter's formulas: matmuls and
    convolutions, forward and backward). ``FlopCounterMode`` itself cannot be used: its module
    hooks break ``autograd.grad``, which the gradient penalties call."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class _FlopCount(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                self.total += formula(*args, **kwargs, out_val=out)
            return out

    return _FlopCount()


def _model(args):
    from lit_gen.models import GAN

    channels, side, latent = SHAPES[args.data]
    kwargs = dict(in_channels=channels, image_size=side, latent_dim=latent, g_width=args.width, d_width=args.width,
                  objective=args.objective, n_critic=args.n_critic, lr_g=1e-4, lr_d=4e-4, betas_g=(0.5, 0.9),
                  betas_d=(0.5, 0.9), ema_decay=0.999)
    return GAN(**kwargs)


def _datamodule(args):
    from lit_gen.data import ImageDataModule

    return ImageDataModule(name=args.data, batch_size=args.batch_size)


def _wait_for_go() -> bool:
    line = sys.stdin.readline()
    return line.strip() == "go"


def _report(seconds: float, steps: int) -> None:
    print(json.dumps({"ms_per_iteration": 1e3 * seconds / steps}), flush=True)


def worker_lightning(args) -> None:
    import lightning as L
    from lightning.pytorch.loggers import TensorBoardLogger

    class Chunks(L.Callback):
        """Stops the clock every ``chunk`` generator steps and waits for the coordinator."""

        def on_train_start(self, trainer, pl_module):
            if not _wait_for_go():
                raise SystemExit(0)
            self.start, self.at = time.perf_counter(), 0

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            g = int(pl_module.g_step)
            if g > self.at and g % args.chunk == 0:
                self.at = g
                _report(time.perf_counter() - self.start, args.chunk)
                if not _wait_for_go():
                    trainer.should_stop = True
                self.start = time.perf_counter()

    L.seed_everything(0, verbose=False)
    model = _model(args)
    with tempfile.TemporaryDirectory() as logs:
        trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=10_000, limit_val_batches=0,
                            num_sanity_val_steps=0, logger=TensorBoardLogger(logs), enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, callbacks=[Chunks()])
        trainer.fit(model, datamodule=_datamodule(args))


def worker_plain(args) -> None:
    """The same networks, loss functions, optimisers and data loader, without the Trainer."""
    import torch

    torch.manual_seed(0)
    model = _model(args)
    dm = _datamodule(args)
    dm.setup("fit")
    model.setup("fit")  # what Lightning calls first: the channels-last conversion
    opt_g, opt_d = model.configure_optimizers()
    G, D = model.generator, model.discriminator

    def d_step(real):
        with torch.no_grad():
            fake = G(model.noise(real.shape[0]))
        loss, _ = model.discriminator_loss(real, fake)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()

    def g_step(real):
        D.requires_grad_(False)
        loss = model.generator_loss(real, G(model.noise(real.shape[0])))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        model.ema.update_parameters(G)

    def batches():
        while True:
            yield from dm.train_dataloader()

    data = batches()
    real = model._images(next(data))
    with FlopCount() as counter:
        for _ in range(args.n_critic):
            d_step(real)
        g_step(real)
    print(json.dumps({"gflop_per_iteration": counter.total / 1e9}), flush=True)
    while _wait_for_go():
        start = time.perf_counter()
        for _ in range(args.chunk):
            for _ in range(args.n_critic):
                real = model._images(next(data))
                d_step(real)
            g_step(real)  # the last D step's batch, as in GAN.training_step
        _report(time.perf_counter() - start, args.chunk)


# ----- coordinator side -----
def peak_gflops(threads: int, n: int = 2048, trials: int = 10) -> float:
    """GFLOP/s of an ``n × n`` float32 matrix product, the best of ``trials``: the practical peak
    of this CPU with ``threads`` threads (the best trial is the one least disturbed by load)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def _spawn(kind: str, pythonpath: Path, args, objective: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, __file__, "--worker", kind, "--data", args.data, "--width", str(args.width),
           "--objective", objective, "--n-critic", str(args.n_critic), "--batch-size", str(args.batch_size),
           "--chunk", str(args.chunk)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _read_json(proc: subprocess.Popen) -> dict:
    for line in proc.stdout:
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"worker {proc.args} ended without a result (exit code {proc.wait()})")


def measure(args, objective: str, before_tree: Path) -> dict:
    procs = {"before": _spawn("lightning", before_tree, args, objective),
             "after": _spawn("lightning", ROOT, args, objective),
             "plain": _spawn("plain", ROOT, args, objective)}
    gflop = _read_json(procs["plain"])["gflop_per_iteration"]
    times: dict[str, list[float]] = {k: [] for k in procs}
    try:
        for r in range(args.rounds + 1):
            for name, proc in procs.items():
                proc.stdin.write("go\n")
                proc.stdin.flush()
                ms = _read_json(proc)["ms_per_iteration"]
                if r > 0:  # round 0 warms up (allocator, oneDNN kernel choice)
                    times[name].append(ms)
            print(f"  round {r}: " + ", ".join(f"{k} {v[-1]:.1f} ms" for k, v in times.items() if v and r > 0),
                  flush=True)
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait(timeout=120)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"objective": objective, "ms_per_iteration": med, "rounds": times,
            "speedup_after_vs_before": med["before"] / med["after"],
            "overhead_after_vs_plain": med["after"] / med["plain"],
            "gflop_per_iteration": gflop, "gflops_after": gflop / (med["after"] / 1e3),
            "gflops_plain": gflop / (med["plain"] / 1e3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=sorted(SHAPES), default="mnist")
    parser.add_argument("--width", type=int, default=32, help="g_width = d_width (default 32)")
    parser.add_argument("--objectives", nargs="+", default=["sgan", "wgan_gp"])
    parser.add_argument("--n-critic", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per worker (default 2)")
    parser.add_argument("--chunk", type=int, default=50, help="generator steps per timed chunk (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="timed chunks per variant after warm-up (default 5)")
    parser.add_argument("--before", default="b68e60c", help="git revision of the 'before' code (default b68e60c)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/cpu/gan_speed.json"))
    # worker mode (internal)
    parser.add_argument("--worker", choices=["lightning", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--objective", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import warnings

        warnings.filterwarnings("ignore")
        (worker_lightning if args.worker == "lightning" else worker_plain)(args)
        return

    peak = peak_gflops(args.threads)
    print(f"peak (float32 matmul, {args.threads} threads): {peak:.0f} GFLOP/s", flush=True)
    records = []
    with tempfile.TemporaryDirectory() as before_tree:
        archive = subprocess.run(["git", "archive", args.before, "lit_gen"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", before_tree], input=archive, check=True)
        for objective in args.objectives:
            print(f"{args.data} width {args.width}, {objective}:", flush=True)
            rec = measure(args, objective, Path(before_tree))
            rec |= {"data": args.data, "width": args.width, "batch_size": args.batch_size, "n_critic": args.n_critic,
                    "threads": args.threads, "chunk": args.chunk, "before": args.before, "peak_gflops": peak,
                    "fraction_of_peak_after": rec["gflops_after"] / peak}
            m = rec["ms_per_iteration"]
            print(f"  before {m['before']:.1f} ms, after {m['after']:.1f} ms, plain {m['plain']:.1f} ms: "
                  f"{rec['speedup_after_vs_before']:.2f}x faster, {rec['overhead_after_vs_plain']:.3f}x the plain "
                  f"loop; {rec['gflops_after']:.0f} GFLOP/s = {100 * rec['fraction_of_peak_after']:.0f}% of peak",
                  flush=True)
            records.append(rec)

    from lit_gen.utils.io import atomic_write_text

    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else []
    keep = [r for r in old if (r["data"], r["width"], r["objective"]) not in
            {(r2["data"], r2["width"], r2["objective"]) for r2 in records}]
    atomic_write_text(out, json.dumps(keep + records, indent=1) + "\n")
    atomic_write_text(out.with_suffix(".md"), render(keep + records))
    print(f"-> {out}, {out.with_suffix('.md')}")


def render(records: list[dict]) -> str:
    """The records as a markdown table (what docs/gan.md links to)."""
    lines = ["# GAN iteration speed (`python benchmarks/studies/gan_speed.py`)", "",
             "ms per generator iteration (median over rounds); before = the Lightning step of commit "
             "`before`, after = this tree's, plain = a plain PyTorch loop of the same networks, data and loss code.",
             "", "| data | width | objective | threads | before | after | plain | after vs before | after / plain "
             "| GFLOP/iteration | GFLOP/s after | matmul peak | share of peak |", "|" + "---|" * 13]
    for r in records:
        m = r["ms_per_iteration"]
        lines.append(f"| {r['data']} | {r['width']} | {r['objective']} | {r['threads']} | {m['before']:.1f} | "
                     f"{m['after']:.1f} | {m['plain']:.1f} | {r['speedup_after_vs_before']:.2f}x | "
                     f"{r['overhead_after_vs_plain']:.3f} | {r['gflop_per_iteration']:.2f} | {r['gflops_after']:.0f} | "
                     f"{r['peak_gflops']:.0f} | {100 * r['fraction_of_peak_after']:.0f}% |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
