"""Character vocabulary: ids 0 = ``<pad>``, 1 = ``<unk>``, then characters by descending count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

PAD, UNK = "<pad>", "<unk>"


class Vocab:
    """A fixed list of tokens. Build one from text with :meth:`build`; save it as :attr:`tokens`."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {tokens[:2]}")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        if len(self.index) != len(tokens):
            raise ValueError("the vocabulary has duplicate tokens")

    pad_id, unk_id = 0, 1

    @classmethod
    def build(cls, lines: Iterable[str], min_count: int = 2) -> Vocab:
        """Characters seen at least ``min_count`` times in ``lines`` (whitespace ignored)."""
        counts = Counter()
        for line in lines:
            counts.update(line)
        counts.pop(" ", None)
        kept = sorted((c for c, n in counts.items() if n >= min_count and not c.isspace()),
                      key=lambda c: (-counts[c], c))
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, ch: str) -> bool:
        return ch in self.index

    def encode(self, chars: str) -> torch.Tensor:
        """``str`` of L characters → ``(L,)`` int64 ids; unknown characters → ``unk_id``."""
        get = self.index.get
        return torch.tensor([get(c, self.unk_id) for c in chars], dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.tokens[i] for i in ids)
