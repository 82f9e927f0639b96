"""Couplet pairs (wb14123 format) as a LightningDataModule with equal-length batches.

Layout under ``root`` (default ``$LIT_GEN_DATA/couplet``)::

    train/in.txt[.gz]  train/out.txt[.gz]   upper / lower halves, one per line, chars space-separated
    test/in.txt[.gz]   test/out.txt[.gz]    the standard 4,000-pair test split

Files are read with ``datasets`` (its ``text`` builder, which also opens ``.gz``); online users
may instead give ``hub_id`` (a hub data set whose first two string columns are upper and lower).

Batches are :class:`CoupletBatch` tuples ``(upper (B, L) long, lower (B, L) long, upper_text
[str] * B, lower_text [str] * B, index [int] * B)`` where every pair in a batch has the same length L (bucketing), so no
padding or masks are needed: the tagger is a per-position classifier and a line of L characters
maps to L labels. Evaluation works on the texts, so a checkpoint's own vocabulary is always used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lit_gen.data.errors import CorruptDataError, DataNotFoundError
from lit_gen.tasks.couplet.text import normalize_line
from lit_gen.tasks.couplet.vocab import Vocab

Pairs = list[tuple[str, str]]


class CoupletBatch(NamedTuple):
    """One batch; a tuple so generic code reading ``batch[0]`` sees the ``(B, L)`` upper ids."""

    upper: torch.Tensor
    lower: torch.Tensor
    upper_text: list[str]
    lower_text: list[str]
    index: list[int]  # each pair's line number in its file (bucketing reorders them)


# ----- reading files -----
def _split_file(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.txt", f"{stem}.txt.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_lines(path: Path) -> list[str]:
    """Lines of a text file (``.gz`` is checked to really be gzip), whitespace removed."""
    import datasets

    if path.suffix == ".gz":
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                raise CorruptDataError(f"{path} ends in .gz but is not gzip data; "
                                       "re-download it or rename it to .txt if it is plain text")
    try:
        ds = datasets.load_dataset("text", data_files=str(path), split="train", keep_in_memory=True)
    except Exception as err:  # datasets wraps decoding errors in its own types
        raise CorruptDataError(f"cannot read {path} as UTF-8 text: {err}") from err
    # via Arrow: iterating ds["text"] row by row is ~40x slower on 735k lines
    return [normalize_line(t) for t in ds.data.column("text").to_pylist()]


def read_pairs(folder: Path) -> Pairs:
    """(upper, lower) pairs from ``folder/in.txt[.gz]`` and ``folder/out.txt[.gz]``."""
    src, tgt = _split_file(folder, "in"), _split_file(folder, "out")
    if src is None or tgt is None:
        raise DataNotFoundError(f"no in.txt[.gz] and out.txt[.gz] in {folder}")
    uppers, lowers = _read_lines(src), _read_lines(tgt)
    if len(uppers) != len(lowers):
        raise CorruptDataError(f"{src} has {len(uppers)} lines but {tgt} has {len(lowers)}; "
                               "the halves must be aligned line by line")
    return list(zip(uppers, lowers))


def _hub_pairs(hub_id: str, split: str) -> Pairs:
    import datasets

    try:
        ds = datasets.load_dataset(hub_id, split=split)
    except Exception as err:
        raise DataNotFoundError(
            f"could not load couplet data set {hub_id!r} (split {split!r}) from the hub: {err}. "
            "Offline? Set --data.root (or LIT_GEN_DATA) to a folder with train/ and test/ "
            "in the wb14123 format instead.") from err
    cols = [c for c, f in ds.features.items() if getattr(f, "dtype", None) == "string"][:2]
    if len(cols) != 2:
        raise CorruptDataError(f"hub data set {hub_id!r} needs two text columns (upper, lower); has {ds.features}")
    uppers, lowers = (ds.data.column(c).to_pylist() for c in cols)
    return [(normalize_line(a), normalize_line(b)) for a, b in zip(uppers, lowers)]


# ----- tensors and batching -----
class PairSet(Dataset):
    """Encoded pairs stored per length: bucket L holds ``(N_L, L)`` upper and lower id tensors.

    Global index ``i`` runs over buckets in increasing length. ``__getitems__`` gathers a whole
    batch at once (one tensor index instead of B Python calls).
    """

    def __init__(self, pairs: Pairs, vocab: Vocab, index: list[int] | None = None):
        by_len: dict[int, list[tuple[str, str]]] = {}
        lines: dict[int, list[int]] = {}
        for k, (up, low) in enumerate(pairs):
            by_len.setdefault(len(up), []).append((up, low))
            lines.setdefault(len(up), []).append(index[k] if index is not None else k)
        self.lengths = sorted(by_len)
        self.buckets = []
        for n in self.lengths:
            group = by_len[n]
            ids = torch.tensor([[vocab.index.get(c, 1) for c in up + low] for up, low in group])
            self.buckets.append((ids[:, :n].contiguous(), ids[:, n:].contiguous()))
        self.sizes = [len(by_len[n]) for n in self.lengths]
        self.offsets = np.cumsum([0, *self.sizes])
        self.pairs = [p for n in self.lengths for p in by_len[n]]  # same order as the indices
        self.lines = [k for n in self.lengths for k in lines[n]]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> CoupletBatch:
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> CoupletBatch:
        idx = np.asarray(indices)
        b = int(np.searchsorted(self.offsets, idx[0], side="right") - 1)
        if idx.min() < self.offsets[b] or idx.max() >= self.offsets[b + 1]:
            raise ValueError("a batch mixes lines of different lengths; use LengthBucketSampler")
        rows = torch.as_tensor(idx - self.offsets[b])
        up, low = self.buckets[b]
        texts = [self.pairs[i] for i in indices]
        return CoupletBatch(up[rows], low[rows], [u for u, _ in texts], [l for _, l in texts],
                            [self.lines[i] for i in indices])


def _identity(batch):
    return batch


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of indices from one length bucket each; shuffled per epoch when ``shuffle``.

    Under DDP each rank takes every ``world_size``-th batch; for training the list is padded by
    repetition so all ranks run the same number of steps. The sampler shards itself, so run DDP
    with ``trainer.use_distributed_sampler: false``.
    """

    def __init__(self, sizes: list[int], batch_size: int, shuffle: bool, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        self.sizes, self.batch_size, self.shuffle, self.seed = sizes, batch_size, shuffle, seed
        self.rank, self.world_size, self.epoch = rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng(self.seed + self.epoch)
        batches, start = [], 0
        for n in self.sizes:
            idx = np.arange(start, start + n)
            if self.shuffle:
                rng.shuffle(idx)
            batches += [idx[i:i + self.batch_size].tolist() for i in range(0, n, self.batch_size)]
            start += n
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.world_size > 1:
            if self.shuffle:  # training: equal step counts on every rank (DDP needs it)
                per_rank = -(-len(batches) // self.world_size)
                batches = (batches * 2)[:per_rank * self.world_size]
            batches = batches[self.rank::self.world_size]  # evaluation: each batch exactly once
        return batches

    def __iter__(self):
        # a generator: the order is drawn at the first batch, not when the iterator is made. On
        # resume Lightning makes the iterator before on_train_epoch_start sets the epoch.
        yield from self._batches()

    def __len__(self) -> int:
        n = sum(-(-s // self.batch_size) for s in self.sizes)
        if self.shuffle or self.world_size == 1:
            return -(-n // self.world_size)
        return len(range(self.rank, n, self.world_size))


class CoupletDataModule(L.LightningDataModule):
    """Chinese couplet pairs for per-position tagging.

    Args:
        root: folder with ``train/`` and ``test/`` (wb14123 format); default ``$LIT_GEN_DATA/couplet``.
        hub_id: a hub data set to use when ``root`` has no files (needs internet).
        min_count: characters seen fewer times in the training halves become ``<unk>`` (post: 2).
        max_length: training/validation pairs longer than this many characters are dropped
            (the post used 16; test lines are never dropped).
        val_size: pairs held out from train for validation (random, fixed by ``seed``).
        train_limit: use only this many training pairs (quick runs and tests); None = all.
        test_limit: use only the first this many test pairs; None = all 4,000.
        batch_size: pairs per training batch (each batch has one length).
        eval_batch_size: pairs per validation/test/predict batch.
        predict_file: upper lines to write in ``lit-gen predict``; default the test split's in.txt.
    """

    def __init__(self, root: str | None = None, hub_id: str | None = None, min_count: int = 2,
                 max_length: int = 16, val_size: int = 2000, train_limit: int | None = None,
                 test_limit: int | None = None, batch_size: int = 128, eval_batch_size: int = 512,
                 num_workers: int = 0, seed: int = 0, predict_file: str | None = None):
        super().__init__()
        if min_count < 1 or max_length < 1 or batch_size < 1 or val_size < 0:
            raise ValueError("min_count, max_length and batch_size must be >= 1 and val_size >= 0")
        self.save_hyperparameters()
        self.vocab: Vocab | None = None
        self.train_set = self.val_set = self.test_set = self.predict_set = None
        self.dropped: dict[str, int] = {}
        self.predict_lines = 0

    # ----- locating and reading -----
    @property
    def root(self) -> Path:
        if self.hparams.root:
            return Path(self.hparams.root).expanduser()
        env = os.environ.get("LIT_GEN_DATA")
        return Path(env) / "couplet" if env else Path("data/couplet")

    def _pairs(self, split: str) -> Pairs:
        folder = self.root / split
        if _split_file(folder, "in") is not None:
            return read_pairs(folder)
        if self.hparams.hub_id:
            return _hub_pairs(self.hparams.hub_id, split)
        raise DataNotFoundError(
            f"couplet {split} split not found: no in.txt[.gz]/out.txt[.gz] in {folder}. Set "
            "--data.root to the wb14123 folder (with train/ and test/), or LIT_GEN_DATA to the "
            "shared data folder, or --data.hub_id (online).")

    def _train_val(self) -> tuple[Pairs, Pairs]:
        h = self.hparams
        pairs = self._pairs("train")
        kept = [p for p in pairs if len(p[0]) == len(p[1]) and 0 < len(p[0]) <= h.max_length]
        self.dropped["train_unequal_or_long"] = len(pairs) - len(kept)
        order = np.random.default_rng(h.seed).permutation(len(kept))
        val = [kept[i] for i in order[:h.val_size]]
        train = [kept[i] for i in order[h.val_size:]]
        if h.train_limit is not None:
            train = train[:h.train_limit]
        return train, val

    def _model_vocab(self) -> Vocab | None:
        module = getattr(self.trainer, "lightning_module", None) if self.trainer else None
        return getattr(module, "vocab", None)

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        # A trained model (from a checkpoint) brings its own vocabulary; ids must match it.
        self.vocab = self.vocab or self._model_vocab()
        if stage in ("fit", "validate", None) or self.vocab is None:
            train, val = self._train_val()
            if self.vocab is None:
                self.vocab = Vocab.build((u + l for u, l in train), h.min_count)
            self.train_set, self.val_set = PairSet(train, self.vocab), PairSet(val, self.vocab)
        if stage in ("test", None):
            test = self._pairs("test")
            test = test[:h.test_limit] if h.test_limit is not None else test
            kept = [p for p in test if len(p[0]) == len(p[1]) and p[0]]
            self.dropped["test_unequal"] = len(test) - len(kept)
            self.test_set = PairSet(kept, self.vocab)
        if stage == "predict":
            if h.predict_file:
                uppers = [normalize_line(t) for t in _read_lines(Path(h.predict_file))]
            else:
                uppers = [u for u, _ in self._pairs("test")]
            self.predict_lines = len(uppers)  # empty lines are skipped but keep their place
            keep = [k for k, u in enumerate(uppers) if u]
            self.predict_set = PairSet([(uppers[k], uppers[k]) for k in keep], self.vocab, keep)

    # ----- loaders -----
    def _loader(self, data: PairSet, batch_size: int, shuffle: bool) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        sampler = LengthBucketSampler(data.sizes, batch_size, shuffle, self.hparams.seed, rank, world)
        # the epoch a resumed fit continues at (restored before the loaders are made): with worker
        # processes the loader draws indices as soon as its iterator exists, before the model's
        # on_train_epoch_start can set it
        sampler.set_epoch(trainer.current_epoch if trainer else 0)
        return DataLoader(data, batch_sampler=sampler, collate_fn=_identity,
                          num_workers=self.hparams.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.hparams.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self.hparams.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_set, self.hparams.eval_batch_size, shuffle=False)
