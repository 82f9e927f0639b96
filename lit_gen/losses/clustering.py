"""The clustering VAE's optional loss terms, as a registry (see :class:`lit_gen.models.ClusterVAE`).

Each term is a function of a :class:`ClusterBatch` returning nats per image ``(B,)``; the model
adds ``<name>_weight · term`` to its loss and logs every term. Adding a term is one function and
one :func:`register_term` call (plus the ``<name>_weight`` argument on the model)::

    def my_term(b: ClusterBatch, *, my_option: float = 1.0) -> Tensor: ...
    register_term("my_term", my_term, needs_warp=True, needs_clusters=True)

Keyword-only arguments are filled from the model's hyperparameters of the same name.
``needs_warp``: the term reads ``b.mu_warped``; ``needs_clusters``: it reads ``b.log_p`` (so it
is off while pre-training). A term with ``logged_free=True`` is cheap: it is computed whenever
its inputs are at hand, even at weight 0, so the logs show it.

Terms are computed in registration order, which fixes the order of their random draws (the
second warp, the neighbour pick, the VAT probe); the loss adds them in :data:`SUM_ORDER`. Both
orders are the ones the stored results were trained with: changing either changes the numbers.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class ClusterBatch:
    """What the terms read, for ``B`` images ``x`` ``(B, C, H, W)`` with codes ``mu`` ``(B, D)``.

    ``mu_warped`` ``(B, D)``: the code of a random warp of each image (``None`` when no term that
    is on needs it); ``clusters``: whether the cluster posteriors ``log_p`` = log p(y | mu(x)) and
    ``log_p_warped`` = log p(y | mu(a(x))) ``(B, K)`` may be used (computed on first use).
    ``code_bank`` ``(N, D)``: recent training codes (``N`` may be 0). ``cluster_logits``: codes
    ``(N, D) → (N, K)``; ``code``: images → their codes ``mu`` (with gradients); ``warped_code``:
    images → the codes of a fresh random warp of each.
    """

    x: Tensor
    mu: Tensor
    mu_warped: Tensor | None
    clusters: bool
    code_bank: Tensor
    cluster_logits: Callable[[Tensor], Tensor]
    code: Callable[[Tensor], Tensor]
    warped_code: Callable[[Tensor], Tensor]
    training: bool

    @cached_property
    def log_p(self) -> Tensor:
        return F.log_softmax(self.cluster_logits(self.mu), dim=1)

    @cached_property
    def log_p_warped(self) -> Tensor:
        return F.log_softmax(self.cluster_logits(self.mu_warped), dim=1)

    def provides(self, term: Term) -> bool:
        """Whether the inputs ``term`` reads are at hand."""
        return (self.mu_warped is not None or not term.needs_warp) and (self.clusters or not term.needs_clusters)


@dataclass(frozen=True)
class Term:
    """A registered term: its function and the inputs it reads (see the module docstring)."""

    name: str
    fn: Callable[..., Tensor]
    needs_warp: bool = False
    needs_clusters: bool = False
    logged_free: bool = False

    def option_names(self) -> list[str]:
        """The hyperparameters ``fn`` takes (its keyword-only arguments)."""
        return [p.name for p in inspect.signature(self.fn).parameters.values() if p.kind == p.KEYWORD_ONLY]


TERMS: dict[str, Term] = {}

#: the order the loss adds the weighted terms in (float sums round in order)
SUM_ORDER = ("invariance", "contrastive", "consistency", "balance", "confidence", "pair_mi", "vat", "neighbour",
             "self_label")


def register_term(name: str, fn: Callable[..., Tensor], *, needs_warp: bool = False, needs_clusters: bool = False,
                  logged_free: bool = False) -> Term:
    """Make ``name`` a term of :class:`~lit_gen.models.ClusterVAE`, weighted by ``<name>_weight``."""
    if name in TERMS:
        raise ValueError(f"clustering term {name!r} is registered twice")
    TERMS[name] = Term(name, fn, needs_warp, needs_clusters, logged_free)
    return TERMS[name]


def summed_order() -> list[str]:
    """Every registered term, in the order the loss adds them."""
    return [*SUM_ORDER, *(name for name in TERMS if name not in SUM_ORDER)]


def compute_terms(b: ClusterBatch, on: Collection[str], options: Mapping[str, Any]) -> dict[str, Tensor]:
    """Every term ``(B,)`` in nats, by name (in :func:`summed_order`): the terms ``on``, and the
    ``logged_free`` ones whose inputs ``b`` provides; zeros for the others. ``options`` holds the
    terms' keyword arguments (the model's hyperparameters)."""
    terms = dict.fromkeys(summed_order(), torch.zeros_like(b.mu[:, 0]))
    for t in TERMS.values():
        if t.name in on or (t.logged_free and b.provides(t)):
            # the posteriors are made where the stored results' code made them: autograd adds
            # gradients in the order their nodes were created, so this order is in the numbers
            if t.needs_clusters:
                _ = b.log_p
                if t.needs_warp:
                    _ = b.log_p_warped
            terms[t.name] = t.fn(b, **{name: options[name] for name in t.option_names()})
    return terms


# ----- building blocks (pure functions of log-probabilities and codes) -----
def categorical_kl(log_p: Tensor, log_q: Tensor) -> Tensor:
    """KL(p ‖ q) in nats per row ``(B,)`` of two ``(B, K)`` log-probability tables."""
    return (log_p.exp() * (log_p - log_q)).sum(1)


def negative_marginal_entropy(log_p: Tensor) -> Tensor:
    """−H(mean_b p(y|·)) in nats, a scalar, from ``log_p`` ``(B, K)``; minimal (−log K) when
    the clusters are used evenly."""
    marginal = log_p.exp().mean(0)
    return (marginal * marginal.clamp_min(1e-12).log()).sum()


def pair_mutual_information(log_p: Tensor, log_q: Tensor) -> Tensor:
    """I(y; y') in nats, a scalar, of the symmetrised joint ``mean_b p_b q_bᵀ`` ``(K, K)``
    of two ``(B, K)`` log-posteriors (an image and its warp)."""
    joint = log_p.exp().t() @ log_q.exp() / log_p.shape[0]
    joint = ((joint + joint.t()) / 2).clamp_min(1e-12)
    row, col = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    return (joint * (joint.log() - row.log() - col.log())).sum()


def nt_xent(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    """NT-Xent loss in nats per pair ``(B,)`` of two views ``a``, ``b`` ``(B, D)`` of a batch.

    Each of the 2B codes must pick its partner (row b of the other view) out of the other
    2B − 1 by cosine similarity / ``temperature``; the two directions are averaged.
    """
    n = a.shape[0]
    codes = F.normalize(torch.cat([a, b]), dim=1)
    logits = codes @ codes.t() / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=a.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(a.device)
    per_code = F.cross_entropy(logits, partner, reduction="none")
    return (per_code[:n] + per_code[n:]) / 2


def self_label_loss(log_p: Tensor, log_q: Tensor, threshold: float) -> Tensor:
    """Per image ``(B,)``: ``w_c · CE(log_q, c)`` where ``c = argmax log_p`` if ``max p >= threshold``,
    else 0. ``log_p`` (targets, no gradient) and ``log_q`` (trained) are ``(B, K)``. ``w_c`` =
    (confident images) / (clusters among them × confident images in c), so each cluster present
    among the confident images weighs the same and the weights average to 1 over them."""
    confidence, label = log_p.detach().max(1)
    confident = confidence >= math.log(threshold)
    count = torch.bincount(label[confident], minlength=log_p.shape[1]).to(log_q.dtype)
    present = (count > 0).sum().clamp_min(1)
    weight = confident.sum() / (present * count.clamp_min(1))                   # (K,)
    ce = F.nll_loss(log_q, label, reduction="none")
    return torch.where(confident, weight[label] * ce, torch.zeros_like(ce))


# ----- the terms, in the order they are computed -----
def invariance(b: ClusterBatch) -> Tensor:
    """``‖mu(a(x)) − mu(x)‖²``, ``a`` a random affine warp (:func:`lit_gen.data.augment.random_affine`):
    the code of an image should not move when the digit is shifted or tilted a little."""
    return (b.mu_warped - b.mu).pow(2).sum(1)


def contrastive(b: ClusterBatch, *, contrastive_temperature: float, contrastive_views: str) -> Tensor:
    """NT-Xent (SimCLR, Chen et al. 2020) between the codes of ``x`` (or, with ``two_warps``, of a
    second, independent warp) and of its warp: ``cos(mu(x), mu(a(x))) / τ`` must beat the
    similarities to every other image of the batch (and its warp). Where ``invariance`` only
    pulls the two codes together, this also pushes different images apart, so the codes of a
    class gather while the classes separate."""
    other = b.warped_code(b.x) if contrastive_views == "two_warps" else b.mu
    return nt_xent(other, b.mu_warped, contrastive_temperature)


def neighbour(b: ClusterBatch, *, neighbour_k: int) -> Tensor:
    """``−log Σ_y p(y|mu(x)) p(y|c)``, ``c`` drawn uniformly from the ``neighbour_k`` bank codes
    with the highest cosine similarity to ``mu(x)`` (SCAN's neighbour consistency, Van Gansbeke
    et al. 2020, with a memory bank instead of a mined data set): images whose codes are close
    should share a cluster, which reaches past the warps to other images of a class. The bank
    holds detached codes, so the gradient reaches the encoder through ``x`` only and the
    classifier through both sides. Zeros until the bank holds ``neighbour_k`` codes."""
    if len(b.code_bank) < neighbour_k:
        return torch.zeros_like(b.mu[:, 0])
    similarity = F.normalize(b.mu.detach(), dim=1) @ F.normalize(b.code_bank, dim=1).t()    # (B, N)
    nearest = similarity.topk(neighbour_k, dim=1).indices                                   # (B, k)
    pick = nearest.gather(1, torch.randint(neighbour_k, (len(b.mu), 1), device=b.mu.device)).squeeze(1)
    log_q = F.log_softmax(b.cluster_logits(b.code_bank[pick]), dim=1)
    return -torch.logsumexp(b.log_p + log_q, dim=1)


def vat(b: ClusterBatch, *, vat_epsilon: float, vat_xi: float) -> Tensor:
    """``KL(p ‖ p(y|mu(x + r_adv)))`` (VAT, Miyato et al. 2018; IMSAT, Hu et al. 2017), ``p`` =
    p(y|mu(x)) held fixed; ``r_adv`` (L2 norm ``vat_epsilon`` per image, pixel units) follows the
    gradient of the same KL at a random probe of norm ``vat_xi``: one power iteration towards the
    direction in which the cluster posterior is most sensitive. Where warps ask for invariance
    to chosen moves, VAT asks for smoothness in every direction. Zeros outside training (it
    needs input gradients)."""
    if not (b.training and torch.is_grad_enabled()):
        return torch.zeros_like(b.mu[:, 0])
    target = b.log_p.detach()

    def per_image_unit(v: Tensor) -> Tensor:
        return v / v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (v.dim() - 1))

    def log_probs(images: Tensor) -> Tensor:
        return F.log_softmax(b.cluster_logits(b.code(images)), dim=1)

    probe = (vat_xi * per_image_unit(torch.randn_like(b.x))).requires_grad_(True)
    kl = categorical_kl(target, log_probs(b.x + probe)).sum()
    (direction,) = torch.autograd.grad(kl, probe)
    return categorical_kl(target, log_probs(b.x + vat_epsilon * per_image_unit(direction)))


def balance(b: ClusterBatch) -> Tensor:
    """``−H(mean_batch p(y|mu(x)))`` (IMSAT's marginal entropy): keeps every cluster in use. A
    batch value, repeated per image."""
    return torch.zeros_like(b.mu[:, 0]) + negative_marginal_entropy(b.log_p)


def confidence(b: ClusterBatch) -> Tensor:
    """``H(p(y|mu(x)))``, the per-image cluster entropy: with ``balance`` it makes IMSAT's mutual
    information ``H(Y) − H(Y|X)``, confident assignments spread over all clusters."""
    return -(b.log_p.exp() * b.log_p).sum(1)


def consistency(b: ClusterBatch) -> Tensor:
    """``KL(p(y|mu(x)) ‖ p(y|mu(a(x))))``, the first side held fixed: the cluster should not
    change under the warp."""
    return categorical_kl(b.log_p.detach(), b.log_p_warped)


def pair_mi(b: ClusterBatch) -> Tensor:
    """``−I(y; y')`` between the clusters of an image and of its warp, from the batch's
    symmetrised joint (IIC, Ji et al. 2019). Maximising it asks for the same, confident cluster
    on both sides and for evenly used clusters at once. A batch value, repeated per image."""
    return torch.zeros_like(b.mu[:, 0]) - pair_mutual_information(b.log_p, b.log_p_warped)


def self_label(b: ClusterBatch, *, self_label_threshold: float) -> Tensor:
    """SCAN's self-labelling (Van Gansbeke et al. 2020): images whose largest p(y|mu(x)) is >=
    ``self_label_threshold`` take that cluster as a hard label, and their warp is trained on it
    by cross-entropy, each cluster weighted by the inverse of its share of the confident images
    (so large clusters do not swallow small ones; :func:`self_label_loss`). Others add 0."""
    return self_label_loss(b.log_p.detach(), b.log_p_warped, self_label_threshold)


register_term("invariance", invariance, needs_warp=True, logged_free=True)
register_term("contrastive", contrastive, needs_warp=True)
register_term("neighbour", neighbour, needs_clusters=True)
register_term("vat", vat, needs_clusters=True)
register_term("balance", balance, needs_clusters=True, logged_free=True)
register_term("confidence", confidence, needs_clusters=True, logged_free=True)
register_term("consistency", consistency, needs_warp=True, needs_clusters=True, logged_free=True)
register_term("pair_mi", pair_mi, needs_warp=True, needs_clusters=True, logged_free=True)
register_term("self_label", self_label, needs_warp=True, needs_clusters=True)
