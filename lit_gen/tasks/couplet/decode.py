"""Turn per-position log-probabilities into a lower line that obeys couplet rules.

Rules (each switchable in :class:`Rules`):

* ``no_same_char`` — position i never gets the upper line's character at i;
* ``copy_punct`` — punctuation is copied in place, and no punctuation appears elsewhere;
* ``align_repeats`` — positions holding the same upper character share one lower character,
  and positions with different upper characters get different lower characters (so a repeat
  in the upper line is mirrored, and the lower line has no repeat the upper line lacks).

With ``align_repeats`` this is an assignment problem (one distinct character per group of
equal upper characters, maximising the summed log-probability). We solve it greedily: groups
are served in order of their best score, each taking its best character still free. Exact
assignment (Hungarian) would cost more per line for a gain only where two groups want the same
character; greedy keeps decoding well above 1,000 lines/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lit_gen.tasks.couplet.text import is_punct, repeat_groups
from lit_gen.tasks.couplet.vocab import Vocab


@dataclass(frozen=True)
class Rules:
    no_same_char: bool = True
    copy_punct: bool = True
    align_repeats: bool = True

    @classmethod
    def none(cls) -> Rules:
        return cls(False, False, False)


def punct_mask(vocab: Vocab) -> np.ndarray:
    """``(V,)`` bool: which vocabulary entries are punctuation."""
    return np.array([len(t) == 1 and is_punct(t) for t in vocab.tokens])


def _pick(scores: np.ndarray, used: set[int], top_k: int, rng: np.random.Generator | None) -> int:
    """Best (or, with ``top_k > 0``, a sampled top-k) index of ``scores`` not in ``used``."""
    want = max(top_k, 1) + len(used)
    if want < scores.shape[0]:
        cand = np.argpartition(-scores, want)[:want]
    else:
        cand = np.arange(scores.shape[0])
    cand = cand[np.argsort(-scores[cand], kind="stable")]
    cand = [int(c) for c in cand if int(c) not in used and np.isfinite(scores[c])]
    if not cand:
        raise RuntimeError("no allowed character left; the vocabulary is too small for this line")
    if top_k <= 0:
        return cand[0]
    cand = np.array(cand[:top_k])
    p = np.exp(scores[cand] - scores[cand].max())
    return int(rng.choice(cand, p=p / p.sum()))


def decode_line(log_probs: np.ndarray, upper: str, vocab: Vocab, rules: Rules = Rules(),
                top_k: int = 0, temperature: float = 1.0, puncts: np.ndarray | None = None,
                rng: np.random.Generator | None = None) -> str:
    """The lower line for ``upper`` from ``log_probs`` ``(L, V)`` (L = len(upper)).

    ``top_k = 0`` is greedy; ``top_k > 0`` samples from the k best allowed characters of each
    group with ``softmax(log_probs / temperature)``.
    """
    n = len(upper)
    scores = np.array(log_probs[:n], dtype=np.float64, copy=True)
    if top_k > 0:
        scores /= temperature
        rng = rng or np.random.default_rng()
    scores[:, [vocab.pad_id, vocab.unk_id]] = -np.inf
    out: list[str | None] = [None] * n
    if rules.copy_punct:
        puncts = punct_mask(vocab) if puncts is None else puncts
        scores[:, puncts] = -np.inf
        for i, ch in enumerate(upper):
            if is_punct(ch):
                out[i] = ch
    if rules.no_same_char:
        for i, ch in enumerate(upper):
            if out[i] is None and ch in vocab.index:
                scores[i, vocab.index[ch]] = -np.inf
    free = [i for i in range(n) if out[i] is None]
    if rules.align_repeats:
        groups = [g for g in repeat_groups(upper) if out[g[0]] is None]
        groups += [[i] for i in free if not any(i in g for g in groups)]  # punctuation, rules off
    else:
        groups = [[i] for i in free]
    group_scores = [scores[g].sum(axis=0) for g in groups]
    order = sorted(range(len(groups)), key=lambda k: -group_scores[k].max())
    used: set[int] = set()
    for k in order:
        tok = _pick(group_scores[k], used if rules.align_repeats else set(), top_k, rng)
        used.add(tok)
        for i in groups[k]:
            out[i] = vocab.tokens[tok]
    return "".join(out)
