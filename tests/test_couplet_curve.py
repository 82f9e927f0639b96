"""The 5-epoch couplet rows: the per-epoch test curve and scoring the best val/loss weights."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_gen.cli import LitGenCLI
from lit_gen.tasks.couplet import CoupletWriter
from lit_gen.tasks.couplet.bench import couplet_bleu, couplet_curve, couplet_decoding
from lit_gen.tasks.couplet.curve import CoupletCurveCallback
from lit_gen.tasks.couplet.data import LengthBucketSampler
from test_couplet_data import LOWERS, UPPERS, write_split

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]


def tiny_couplets(tmp_path: Path) -> Path:
    """A data root with 210 training pairs (7 couplets × 30) and the 7 as the test split."""
    data = tmp_path / "data"
    write_split(data / "train", UPPERS * 30, LOWERS * 30)
    write_split(data / "test", UPPERS, LOWERS)
    return data


def test_curve_per_epoch_and_the_best_val_loss_weights(tmp_path):
    data = tiny_couplets(tmp_path)
    cli = LitGenCLI(args=["--config", str(ROOT / "configs/couplet/conv_5ep.yaml"), "--model.dim", "16",
                          "--model.depth", "1", "--model.lr", "0.03", f"--data.root={data}", "--data.val_size", "7",
                          "--trainer.max_epochs", "3", "--trainer.enable_progress_bar", "false",
                          "--trainer.logger", "false", f"--trainer.default_root_dir={tmp_path}"], run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    curve = couplet_curve(cli.model, cli.datamodule, cli.trainer)
    points = curve.protocol["points"]
    assert [p["epoch"] for p in points] == [1, 2, 3]
    assert all(0 <= p["bleu4"] <= 100 and 0 <= p["char_acc"] <= 100 and p["val_loss"] is not None for p in points)
    assert curve.values == {"curve_bleu4": points[-1]["bleu4"], "curve_char_acc": points[-1]["char_acc"]}
    # spoil the live weights: best_val_loss must score the checkpoint's, the default these
    torch.manual_seed(0)
    with torch.no_grad():
        for p in cli.model.parameters():
            p.add_(torch.randn_like(p))
    best = couplet_bleu(cli.model, cli.datamodule, cli.trainer, weights="best_val_loss")
    saved = torch.load(cli.trainer.checkpoint_callback.best_model_path, map_location="cpu", weights_only=False)
    reference = copy.deepcopy(cli.model)
    reference.load_state_dict(saved["state_dict"])
    expected = CoupletWriter(reference).score(cli.datamodule.test_set.pairs)
    assert best.values == {"bleu4": 100 * expected["bleu4"], "char_acc": 100 * expected["char_acc"]}
    chosen = best.protocol["selected"]
    # the greedy half of couplet_decoding is couplet_bleu on the same (best) weights
    both = couplet_decoding(cli.model, cli.datamodule, cli.trainer, weights="best_val_loss", beam_width=3, samples=20)
    assert (both.values["bleu4@beam=1"], both.values["char_acc@beam=1"]) == (best.values["bleu4"], best.values["char_acc"])
    assert both.protocol["selected"] == best.protocol["selected"] and 0 <= both.values["beam_wins"] <= 1
    # the checkpoint kept is the epoch with the lowest val/loss the curve saw
    assert chosen["val_loss"] == pytest.approx(min(p["val_loss"] for p in points))
    epoch_of_best = min(points, key=lambda p: p["val_loss"])["epoch"]
    assert chosen["epoch"] == epoch_of_best  # both count epochs trained, from 1
    final = couplet_bleu(cli.model, cli.datamodule, cli.trainer)
    assert "selected" not in final.protocol and final.protocol["decoding"] == "greedy"
    assert final.values != best.values
    with pytest.raises(ValueError, match="weights"):
        couplet_bleu(cli.model, cli.datamodule, cli.trainer, weights="last")
    Path(cli.trainer.checkpoint_callback.best_model_path).unlink()  # as after a kill between the two saves
    with pytest.raises(FileNotFoundError, match="best val/loss checkpoint .* is gone"):
        couplet_bleu(cli.model, cli.datamodule, cli.trainer, weights="best_val_loss", limit=3)


def test_curve_callback_settings_are_checked():
    for bad in (dict(every_n_epochs=0), dict(limit=0), dict(beam_width=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            CoupletCurveCallback(**bad)


class _BatchOrder(L.Callback):
    def __init__(self):
        self.epochs: list[list[list[int]]] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.epochs.append([])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.epochs[-1].append(list(batch.index))


def _ordered_fit(data: Path, folder: Path, epochs: int, ckpt_path: str | None = None, workers: int = 0):
    cli = LitGenCLI(args=["--config", str(ROOT / "configs/couplet/conv_5ep.yaml"), "--model.dim", "8",
                          "--data.num_workers", str(workers),
                          "--model.depth", "1", f"--data.root={data}", "--data.val_size", "7", "--data.batch_size", "8",
                          "--trainer.max_epochs", str(epochs), "--trainer.limit_val_batches", "0",
                          "--trainer.callbacks=[]", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
                          "--trainer.enable_checkpointing", "false", f"--trainer.default_root_dir={folder}"], run=False)
    order = _BatchOrder()
    cli.trainer.callbacks.append(order)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path)
    return cli, order.epochs


def test_each_epoch_draws_a_new_batch_order(tmp_path):
    """LengthBucketSampler is a batch sampler, whose epoch Lightning does not set: the model does."""
    data = tiny_couplets(tmp_path)
    cli, epochs = _ordered_fit(data, tmp_path / "a", 3)
    assert len(epochs) == 3 and all(sorted(sum(e, [])) == sorted(sum(epochs[0], [])) for e in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    assert cli.trainer.train_dataloader.batch_sampler.epoch == 2
    # a run resumed at epoch 2 draws epoch 2's order, as the uninterrupted run did: on resume
    # Lightning makes the batch iterator before the model sets the sampler's epoch
    first, _ = _ordered_fit(data, tmp_path / "b", 2)
    first.trainer.save_checkpoint(tmp_path / "two.ckpt")
    _, resumed = _ordered_fit(data, tmp_path / "c", 3, ckpt_path=str(tmp_path / "two.ckpt"))
    assert resumed == [epochs[2]]
    # a loader with worker processes draws its indices when its iterator is made
    _, resumed = _ordered_fit(data, tmp_path / "d", 3, ckpt_path=str(tmp_path / "two.ckpt"), workers=1)
    assert resumed == [epochs[2]]


def test_bucket_sampler_order_is_drawn_when_iteration_starts():
    """The epoch set between ``iter()`` and the first batch decides the order."""
    sampler = LengthBucketSampler([6, 10], 4, shuffle=True, seed=3)
    sampler.set_epoch(2)
    wanted = list(sampler)
    sampler.set_epoch(0)
    batches = iter(sampler)
    sampler.set_epoch(2)
    assert list(batches) == wanted != list(LengthBucketSampler([6, 10], 4, shuffle=True, seed=3))


def test_metrics_of_the_best_val_loss_weights_are_added_without_training(tmp_path, capsys):
    """A finished 5-epoch-style run that gains couplet metrics gets them from its saved state
    (`lit-gen bench rescore`): the best val/loss checkpoint and the curve come back with it."""
    import yaml

    from lit_gen.bench.cli import main

    data = tiny_couplets(tmp_path)
    entry = {"name": "couplet-tiny", "config": "configs/couplet/conv_5ep.yaml", "seeds": [0],
             "budget": {"max_epochs": 2},
             "overrides": {"model.dim": 8, "model.depth": 1, "data.root": str(data), "data.val_size": 7},
             "metrics": ["couplet_bleu"], "metric_options": {"couplet_bleu": {"weights": "best_val_loss"}}}
    folder = tmp_path / "suites" / "tiny"
    folder.mkdir(parents=True)

    def bench(command: str) -> int:
        (folder / "couplet.yaml").write_text(yaml.safe_dump([entry]))
        return main([command, "--suite", str(folder), "--out", str(tmp_path / "out"), "--root", str(ROOT)])

    assert bench("run") == 0
    entry["metrics"] = ["couplet_bleu", "couplet_rules", "couplet_curve"]
    entry["metric_options"]["couplet_rules"] = {"weights": "best_val_loss"}
    capsys.readouterr()
    assert bench("rescore") == 0, capsys.readouterr().out
    result = json.loads((tmp_path / "out/tiny/runs/couplet-tiny/seed=0.json").read_text())
    assert result["rescored"][0]["metrics"] == ["couplet_rules", "couplet_curve"]
    assert result["protocol"]["couplet_rules"]["selected"] == result["protocol"]["couplet_bleu"]["selected"]
    assert result["protocol"]["couplet_rules"]["selected"]["val_loss"] is not None
    assert [p["epoch"] for p in result["protocol"]["couplet_curve"]["points"]] == [1, 2]
