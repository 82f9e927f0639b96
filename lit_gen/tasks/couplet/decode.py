"""Turn per-position log-probabilities into a lower line that obeys couplet rules.

Rules (each switchable in :class:`Rules`):

* ``no_same_char`` — position i never gets the upper line's character at i;
* ``copy_punct`` — punctuation is copied in place, and no punctuation appears elsewhere;
* ``align_repeats`` — positions holding the same upper character share one lower character,
  and positions with different upper characters get different lower characters (so a repeat
  in the upper line is mirrored, and the lower line has no repeat the upper line lacks);
* ``tone_ending`` (off by default) — 仄起平收: the lower line's last character takes the tone
  class opposite to the upper line's last character (:mod:`lit_gen.tasks.couplet.tones`).

With ``align_repeats`` this is an assignment problem (one distinct character per group of
equal upper characters, maximising the summed log-probability). We solve it greedily: groups
are served in order of their best score, each taking its best character still free. Exact
assignment (Hungarian) would cost more per line for a gain only where two groups want the same
character.

Beam search (``beam_width`` > 1) serves the groups in the same order but keeps the
``beam_width`` best partial assignments (summed log-probability), each extended by its
``beam_width`` best characters still free, so a group that would take a character another
group needs more can leave it. Width 1 is the greedy decoder, character for character.

Speed: masking and a top-k over the vocabulary run batched in torch; the per-line Python loop
then only sees each position's ``k = L + top_k + 2`` best characters (enough that a free one is
always left). A repeated group scores the union of its positions' candidates with the exact
summed log-probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lit_gen.tasks.couplet.text import is_punct, repeat_groups
from lit_gen.tasks.couplet.tones import LEVEL, OBLIQUE, last_toned_position, tone_class, wanted_ending
from lit_gen.tasks.couplet.vocab import Vocab


@dataclass(frozen=True)
class Rules:
    no_same_char: bool = True
    copy_punct: bool = True
    align_repeats: bool = True
    tone_ending: bool = False  # modern-Mandarin tones, so a style choice rather than a hard rule

    @classmethod
    def none(cls) -> Rules:
        return cls(False, False, False, False)


def tone_masks(vocab: Vocab) -> dict[str, torch.Tensor]:
    """``{"ping": (V,) bool, "ze": (V,) bool}``: which vocabulary entries have each tone class."""
    classes = [tone_class(t) if len(t) == 1 else None for t in vocab.tokens]
    return {c: torch.tensor([k == c for k in classes]) for c in (LEVEL, OBLIQUE)}


def punct_mask(vocab: Vocab) -> torch.Tensor:
    """``(V,)`` bool: which vocabulary entries are punctuation."""
    return torch.tensor([len(t) == 1 and is_punct(t) for t in vocab.tokens])


def _groups(upper: str, rules: Rules) -> tuple[list[list[int]], dict[int, str]]:
    """Position groups to assign (each gets one character) and the copied punctuation."""
    copied = {i: ch for i, ch in enumerate(upper) if rules.copy_punct and is_punct(ch)}
    if not rules.align_repeats:
        return [[i] for i in range(len(upper)) if i not in copied], copied
    groups = repeat_groups(upper)
    if not rules.copy_punct:  # punctuation positions are then ordinary, unrepeated positions
        groups += [[i] for i, ch in enumerate(upper) if is_punct(ch)]
    return groups, copied


def _choose(cands: np.ndarray, scores: np.ndarray, used: set[int], top_k: int,
            rng: np.random.Generator | None) -> int:
    """From candidates sorted best first, the best (or a sampled top-k) one not in ``used``."""
    free = [(c, s) for c, s in zip(cands.tolist(), scores.tolist()) if c not in used and s > -np.inf]
    if not free:
        raise RuntimeError("no allowed character left; the vocabulary is too small for this line")
    if top_k <= 0:
        return free[0][0]
    ids, s = zip(*free[:top_k])
    p = np.exp(np.array(s) - max(s))
    return int(rng.choice(ids, p=p / p.sum()))


def _greedy(cands: list[tuple[np.ndarray, np.ndarray]], order: list[int], distinct: bool, top_k: int,
            rng: np.random.Generator | None) -> list[int]:
    """Each group in ``order`` takes its best (or a sampled top-k) token still free; the tokens
    indexed like ``cands``."""
    tokens, used = [0] * len(cands), set()
    for g in order:
        tokens[g] = _choose(*cands[g], used if distinct else set(), top_k, rng)
        used.add(tokens[g])
    return tokens


def _beam(cands: list[tuple[np.ndarray, np.ndarray]], order: list[int], width: int, distinct: bool) -> list[int]:
    """Beam search over the groups in ``order``: the token of each group (indexed like ``cands``)
    in the best full assignment found keeping ``width`` partial ones; ``distinct``: no token twice.
    ``cands[g]``: (token ids, scores), best first."""
    beams: list[tuple[float, dict[int, int]]] = [(0.0, {})]
    for g in order:
        grown = []
        for score, chosen in beams:
            used = set(chosen.values()) if distinct else set()
            free = [(c, sc) for c, sc in zip(*(a.tolist() for a in cands[g])) if c not in used and sc > -np.inf]
            grown += [(score + sc, {**chosen, g: c}) for c, sc in free[:width]]
        if not grown:
            raise RuntimeError("no allowed character left; the vocabulary is too small for this line")
        grown.sort(key=lambda b: -b[0])  # stable: ties keep the greedy order
        beams = grown[:width]
    return [beams[0][1][g] for g in range(len(cands))]


def decode_batch(log_probs: torch.Tensor, uppers: list[str], upper_ids: torch.Tensor, vocab: Vocab,
                 rules: Rules = Rules(), top_k: int = 0, temperature: float = 1.0,
                 puncts: torch.Tensor | None = None, rng: np.random.Generator | None = None,
                 tones: dict[str, torch.Tensor] | None = None, beam_width: int = 1) -> list[str]:
    """Lower lines for ``uppers`` (B lines of one length L) from ``log_probs`` ``(B, L, V)``.

    ``upper_ids``: ``(B, L)`` their ids. ``top_k = 0`` is greedy; ``top_k > 0`` samples each
    group's character among its k best allowed ones with ``softmax(log_probs / temperature)``.
    ``beam_width`` > 1 (with ``top_k = 0``): beam search over the groups, see the module doc.
    ``puncts``/``tones``: precomputed :func:`punct_mask`/:func:`tone_masks` of ``vocab``.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    if beam_width > 1 and top_k > 0:
        raise ValueError(f"beam_width > 1 searches, top_k > 0 samples: use one, got beam_width={beam_width}, top_k={top_k}")
    b, n, v = log_probs.shape
    scores = log_probs.float() / (temperature if top_k > 0 else 1.0)
    scores[..., [vocab.pad_id, vocab.unk_id]] = -torch.inf
    if rules.copy_punct:
        scores[..., puncts if puncts is not None else punct_mask(vocab)] = -torch.inf
    if rules.no_same_char:
        scores.scatter_(2, upper_ids.unsqueeze(-1), -torch.inf)
    if rules.tone_ending:
        tones = tones if tones is not None else tone_masks(vocab)
        for row, upper in enumerate(uppers):
            want, last = wanted_ending(upper), last_toned_position(upper)
            if want is not None:
                scores[row, last, ~tones[want]] = -torch.inf
    k = min(v, n + max(top_k, beam_width, 1) + 1)  # a free candidate for every beam
    top_scores, top_ids = (t.numpy() for t in scores.topk(k, dim=-1))
    full = scores.numpy()
    if top_k > 0 and rng is None:
        rng = np.random.default_rng()
    out = []
    for row, upper in enumerate(uppers):
        groups, copied = _groups(upper, rules)
        cands = []
        for g in groups:
            if len(g) == 1:
                cands.append((top_ids[row, g[0]], top_scores[row, g[0]]))
            else:  # exact summed scores over the union of the members' candidates
                ids = np.unique(top_ids[row, g])
                s = full[row][np.ix_(g, ids)].sum(axis=0)
                order = np.argsort(-s, kind="stable")
                cands.append((ids[order], s[order]))
        line = [copied.get(i) for i in range(n)]
        order = sorted(range(len(groups)), key=lambda j: -cands[j][1][0])
        if beam_width > 1:
            tokens = _beam(cands, order, beam_width, rules.align_repeats)
        else:
            tokens = _greedy(cands, order, rules.align_repeats, top_k, rng)
        for gi, tok in enumerate(tokens):
            for i in groups[gi]:
                line[i] = vocab.tokens[tok]
        out.append("".join(line))
    return out


def decode_line(log_probs, upper: str, vocab: Vocab, rules: Rules = Rules(), top_k: int = 0,
                temperature: float = 1.0, rng: np.random.Generator | None = None, beam_width: int = 1) -> str:
    """One line: ``log_probs`` ``(L, V)`` (array or tensor) → the lower line (see :func:`decode_batch`)."""
    lp = torch.as_tensor(np.asarray(log_probs, dtype=np.float32)).unsqueeze(0)
    return decode_batch(lp, [upper], vocab.encode(upper).unsqueeze(0), vocab, rules, top_k, temperature, rng=rng,
                        beam_width=beam_width)[0]
