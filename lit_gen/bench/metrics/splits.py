"""Walking a labelled split of a data module: shared by the clustering and classification metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

SPLITS = ("test", "val")


def labelled_batches(datamodule, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` batches of ``split`` (``test`` or ``val``); a clear error for unlabelled batches."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    datamodule.setup("test" if split == "test" else "fit")
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    for batch in loader:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(f"the {split} batches carry no labels; clustering scores need (x, y) batches")
        yield batch[0], batch[1]


@torch.no_grad()
def collect(model, datamodule, split: str, fn: Callable[[torch.Tensor, int], torch.Tensor]):
    """``fn(x, batch_idx)`` concatenated over a split ``(N, ...)`` and the labels ``(N,)``, on the
    CPU, with the model in eval mode (its training flag restored afterwards)."""
    was_training = model.training
    model.eval()
    outputs, labels = [], []
    try:
        for i, (x, y) in enumerate(labelled_batches(datamodule, split)):
            outputs.append(fn(x.to(model.device), i).cpu())
            labels.append(y.cpu())
    finally:
        model.train(was_training)
    return torch.cat(outputs), torch.cat(labels)
