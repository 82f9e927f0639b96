"""Per-position taggers for couplets: ``(B, L) ids → (B, L, V) logits`` (plain ``nn.Module``s).

* :class:`GatedConvTagger` — the "CNN + sequence labelling" couplet robot: embedding, dropout,
  a stack of gated residual 1-D convolutions, a per-position classifier.
* :class:`TransformerTagger` — a Transformer encoder (every position attends to the whole
  upper line) with the same input/output, for comparison.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class GatedConvBlock(nn.Module):
    """``out = x·σ(g) + h·σ(−g)`` with ``[h, g] = Conv1d(x)``: a highway gate between keeping the
    input and the new features. ``(B, C, L) → (B, C, L)``; "same" padding keeps L."""

    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the length, got {kernel_size}")
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size,
                              padding=dilation * (kernel_size - 1) // 2, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, g = self.conv(x).chunk(2, dim=1)
        # x·σ(g) + h·σ(−g) = h + (x − h)·σ(g): one sigmoid instead of two (σ(−g) = 1 − σ(g))
        return torch.addcmul(h, x - h, torch.sigmoid(g))


class GatedConvTagger(nn.Module):
    """Embedding(dim) → Dropout → ``depth`` gated conv blocks → Linear to the vocabulary.

    ``dilations`` (one per block, cycled) widens the receptive field: with kernel 3 and all
    dilations 1, six blocks see ±6 characters.
    """

    def __init__(self, vocab_size: int, dim: int = 128, depth: int = 6, kernel_size: int = 3,
                 dilations: tuple[int, ...] = (1,), dropout: float = 0.25):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[GatedConvBlock(dim, kernel_size, dilations[i % len(dilations)])
                                      for i in range(depth)])
        self.out = nn.Linear(dim, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embed(ids)).transpose(1, 2)  # (B, C, L) for Conv1d
        return self.out(self.blocks(x).transpose(1, 2))


class TransformerTagger(nn.Module):
    """Embedding + sinusoidal positions → pre-norm Transformer encoder → Linear to the vocabulary.

    Sinusoidal (not learned) positions so lines longer than any seen in training still work.
    """

    def __init__(self, vocab_size: int, dim: int = 256, depth: int = 4, heads: int = 4,
                 ff_mult: int = 4, dropout: float = 0.1, max_length: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        position = torch.arange(max_length).unsqueeze(1)
        freq = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_length, dim)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(position * freq), torch.cos(position * freq)
        self.register_buffer("positions", pe, persistent=False)
        layer = nn.TransformerEncoderLayer(dim, heads, ff_mult * dim, dropout, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim, vocab_size)
        self.scale = math.sqrt(dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.positions.shape[0]:
            raise ValueError(f"line of {ids.shape[1]} characters exceeds max_length {self.positions.shape[0]}")
        x = self.embed(ids) * self.scale + self.positions[: ids.shape[1]]
        return self.out(self.norm(self.encoder(self.dropout(x))))
