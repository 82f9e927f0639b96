"""``TextCorpusDataModule``: raw training text and a segmented gold file for the lexicon task.

Training batches are lists of raw lines (``str``); test batches are pairs ``(raw_lines,
gold_words)``. Under DDP each rank reads every ``world_size``-th line itself (an iterable
dataset, so Lightning adds no ``DistributedSampler``, whose padding would count some lines
twice): each line is counted exactly once across ranks.

Local files go through :mod:`.io` (encodings, gzip, the PFR format, clear errors); ``hub`` names
a Hugging Face dataset loaded with ``datasets.load_dataset`` (its ``hub_column`` is the text).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import lightning as L
from torch.utils.data import DataLoader, IterableDataset

from lit_gen.tasks.lexicon.io import Format, raw_of, read_lines


class _Batches(IterableDataset):
    """Yields this rank's lines (every ``world``-th, so no rank is left without data when
    there are at least ``world`` lines) in batches of ``size``, made by ``make``."""

    def __init__(self, items: list, size: int, rank: int, world: int, make=lambda b: b):
        self.items, self.size, self.make = items[rank::world], size, make

    def __iter__(self) -> Iterator:
        return (self.make(self.items[i:i + self.size]) for i in range(0, len(self.items), self.size))


def _identity(batch):
    return batch


def _slice(spec: str | None) -> slice:
    if not spec:
        return slice(None)
    parts = [int(p) if p.strip() else None for p in spec.split(":")]
    if len(parts) != 2:
        raise ValueError(f"gold_lines must look like 'start:stop' (Python slice), got {spec!r}")
    return slice(*parts)


class TextCorpusDataModule(L.LightningDataModule):
    """Training text (raw, segmented or PFR files, or a hub data set) and a gold test file.

    Args:
        train_files: files whose text is counted (``.gz`` allowed).
        train_format: ``raw``, ``segmented`` (spaces removed) or ``pfr`` (tags and spaces removed),
            one for all files or one per file.
        gold_file: segmented file scored by ``test`` (its raw text is segmented and compared).
        gold_format: ``segmented`` or ``pfr``.
        gold_lines: ``"start:stop"`` slice of the gold lines (e.g. a dev split ``"-1900:"``).
        add_gold_text: also count the gold file's raw text (the literature's protocol).
        encoding: encoding of every file (``gb18030`` for GBK text).
        hub: a Hugging Face data set id to count instead of / besides files.
        hub_split, hub_column: which split and text column of ``hub``.
        batch_size: lines per batch.
        data_root: where relative paths are looked up (default ``$LIT_GEN_DATA``).
    """

    def __init__(
        self,
        train_files: Sequence[str] = (),
        train_format: Format | Sequence[Format] = "raw",
        gold_file: str | None = None,
        gold_format: Format = "segmented",
        gold_lines: str | None = None,
        add_gold_text: bool = True,
        encoding: str = "utf-8",
        hub: str | None = None,
        hub_split: str = "train",
        hub_column: str = "text",
        batch_size: int = 4096,
        data_root: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        formats = [train_format] * len(train_files) if isinstance(train_format, str) else list(train_format)
        if len(formats) != len(train_files):
            raise ValueError(f"train_format lists {len(formats)} formats for {len(train_files)} train_files")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.formats = formats
        self.train_lines: list[str] | None = None
        self.gold: list[list[str]] | None = None

    def load_gold(self) -> list[list[str]]:
        """The gold lines (lists of words), sliced by ``gold_lines``."""
        if self.gold is None:
            hp = self.hparams
            if hp.gold_file is None:
                raise ValueError("no gold_file configured: set data.gold_file to a segmented file")
            if hp.gold_format == "raw":
                raise ValueError("gold_format must be 'segmented' or 'pfr' (a gold file has word boundaries)")
            self.gold = read_lines(hp.gold_file, hp.gold_format, hp.encoding, hp.data_root)[_slice(hp.gold_lines)]
            if not self.gold:
                raise ValueError(f"gold file {hp.gold_file} (lines {hp.gold_lines or 'all'}) holds no words")
        return self.gold

    def load_train(self) -> list[str]:
        """All training lines (raw text), in a fixed order."""
        if self.train_lines is None:
            hp = self.hparams
            lines: list[str] = []
            for path, fmt in zip(hp.train_files, self.formats):
                lines += raw_of(read_lines(path, fmt, hp.encoding, hp.data_root))
            if hp.hub:
                import datasets

                lines += [t for t in datasets.load_dataset(hp.hub, split=hp.hub_split)[hp.hub_column] if t]
            if hp.add_gold_text and hp.gold_file:
                lines += raw_of(self.load_gold())
            if not any(ln.strip() for ln in lines):
                raise ValueError("the training corpus is empty: set data.train_files, data.hub or data.gold_file")
            self.train_lines = lines
        return self.train_lines

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Batches(self.load_train(), self.hparams.batch_size, *self._rank()), batch_size=None)

    def test_dataloader(self) -> DataLoader:
        batches = _Batches(self.load_gold(), self.hparams.batch_size, *self._rank(), make=lambda b: (raw_of(b), b))
        return DataLoader(batches, batch_size=None, collate_fn=_identity)
