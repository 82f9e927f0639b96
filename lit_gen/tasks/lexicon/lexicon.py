"""The lexicon: words (atom strings) with counts and scores; TSV I/O; bits per character.

TSV columns: ``word  count  score  cohesion  left_entropy  right_entropy`` (a header line
first). ``score`` is what segmentation maximises the sum of (``log p(w)`` + word bonus for the
unigram methods, ``autonomy × length`` + bonus for ``nvbe``). ``cohesion`` is the word's PMI with its best split into two known parts, in nats (``nan``
for single atoms); the entropies are of the atom just left/right of the word's occurrences in
the segmented training text, in bits.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lit_gen.tasks.lexicon.segment import Segmenter, WordIndex
from lit_gen.tasks.lexicon.text import display, parse_display
from lit_gen.utils.io import atomic_write_text

HEADER = ("word", "count", "score", "cohesion", "left_entropy", "right_entropy")


@dataclass
class Lexicon:
    """Words with counts (how often each occurs in the segmented training text) and scores.

    All arrays have shape ``(W,)``, aligned with ``words``.
    """

    words: list[str]
    counts: np.ndarray
    score: np.ndarray = field(default=None)  # type: ignore[assignment]
    cohesion: np.ndarray = field(default=None)  # type: ignore[assignment]
    left_entropy: np.ndarray = field(default=None)  # type: ignore[assignment]
    right_entropy: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        n = len(self.words)
        for name in ("score", "cohesion", "left_entropy", "right_entropy"):
            if getattr(self, name) is None:
                setattr(self, name, np.full(n, np.nan))
        if len(self.counts) != n:
            raise ValueError(f"{n} words but {len(self.counts)} counts")

    def __len__(self) -> int:
        return len(self.words)

    def segmenter(self) -> Segmenter:
        """Maximises Σ score(w) (Σ log p(w) where scores are missing); an unknown single atom
        scores as the rarest/lowest-scored word."""
        if np.isnan(self.score).all():
            return Segmenter(self.words, self.counts)
        score = np.where(np.isnan(self.score), np.nanmin(self.score), self.score)
        return Segmenter.from_index(WordIndex(self.words, score, float(score.min()) - 1.0))

    def bits_per_char(self) -> float:
        """L = H / l: word entropy (bits) over mean word length (atoms), from the counts."""
        return bits_per_char(self.words, self.counts)

    def sorted(self) -> Lexicon:
        """Most frequent first (ties by word), for files people read."""
        order = sorted(range(len(self)), key=lambda i: (-int(self.counts[i]), self.words[i]))
        return Lexicon([self.words[i] for i in order], self.counts[order], self.score[order],
                       self.cohesion[order], self.left_entropy[order], self.right_entropy[order])

    def to_tsv(self) -> str:
        lex = self.sorted()
        rows = ["\t".join(HEADER)]
        for w, c, s, h, le, re_ in zip(lex.words, lex.counts.tolist(), lex.score.tolist(), lex.cohesion.tolist(),
                                       lex.left_entropy.tolist(), lex.right_entropy.tolist()):
            rows.append(f"{display(w)}\t{c}\t{s:.6g}\t{h:.4f}\t{le:.4f}\t{re_:.4f}")
        return "\n".join(rows) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_text(path, self.to_tsv())

    @staticmethod
    def load(path: str | os.PathLike) -> Lexicon:
        """Read a lexicon TSV (as written by :meth:`save`; extra columns optional)."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise ValueError(f"lexicon file {path} is not UTF-8: {err}") from None
        if lines and lines[0].split("\t")[0] == "word":
            lines = lines[1:]
        words, cols = [], [[], [], [], [], []]
        for number, line in enumerate(lines, start=2):
            parts = line.split("\t")
            try:
                words.append(parse_display(parts[0]))
                cols[0].append(int(parts[1]))
                for k in range(1, 5):
                    cols[k].append(float(parts[k + 1]) if len(parts) > k + 1 else math.nan)
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{number}: expected 'word<TAB>count[...]', got {line[:80]!r}") from None
        if not words:
            raise ValueError(f"lexicon file {path} holds no words")
        return Lexicon(words, np.array(cols[0]), *(np.array(c, dtype=np.float64) for c in cols[1:]))


def bits_per_char(words: list[str], counts: np.ndarray) -> float:
    """``L = H / l`` in bits per atom for a unigram model with these word counts."""
    counts = np.asarray(counts, dtype=np.float64)
    keep = counts > 0
    p = counts[keep] / counts[keep].sum()
    lens = np.fromiter((len(w) for w, k in zip(words, keep) if k), dtype=np.float64)
    return float(-(p * np.log2(p)).sum() / (p * lens).sum())
