"""GAN regularisers beyond R1/R2 (the reading list of issue #39), as pure functions, and the
registry through which :class:`lit_gen.models.GAN` adds them to its D or G loss.

- :func:`roth_penalty`: Roth et al. (2017), the gradient-norm penalty of the standard GAN
  weighted by (1 − D(x))² on real and D(x)² on fake images, D = σ(T); :func:`roth_weight`
  anneals its γ as γ·0.01^(t/T) (the authors' ``--annealing``).
- :func:`consistency_term`: CT-GAN (Wei et al. 2018), two dropout-perturbed critic passes on the
  same real images should agree in score and penultimate features.
- :func:`orthogonal_penalty`: BigGAN's orthogonal regularisation of G, β‖WWᵀ ⊙ (1 − I)‖²_F.
- :func:`truncated_noise`: BigGAN's truncation trick, z ~ ψ·N(0, I) truncated to [−2, 2].

A registered regulariser is ``fn(model, real, fake, critic, y) → scalar`` (a loss term to
minimise), listed in :data:`D_REGULARIZERS` or :data:`G_REGULARIZERS`; the model switches it
on from its own constructor options (``roth_gamma``, ``ct_weight``, ``g_ortho``)::

    @register_regularizer("my_reg", "d")
    def my_reg(model, real, fake, critic, y):
        return model.hparams.my_weight * critic(real).pow(2).mean()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Critic = Callable[[Tensor], Tensor]
#: name → fn(model, real, fake, critic, y) for the discriminator's / the generator's loss
D_REGULARIZERS: dict[str, Callable[..., Tensor]] = {}
G_REGULARIZERS: dict[str, Callable[..., Tensor]] = {}
#: the truncation threshold of :func:`truncated_noise` before scaling by ψ (BigGAN's samplers)
TRUNCATION_THRESHOLD = 2.0


def register_regularizer(name: str, network: Literal["d", "g"]):
    """Decorator: add ``fn`` to the discriminator's (``d``) or the generator's (``g``) registry."""
    table = {"d": D_REGULARIZERS, "g": G_REGULARIZERS}[network]

    def decorate(fn):
        if name in table:
            raise ValueError(f"GAN regulariser {name!r} is registered twice")
        table[name] = fn
        return fn

    return decorate


# ----- Roth et al. (2017) -----
def roth_weight(gamma: float, step: int, total: int | None, decay: float = 0.01) -> float:
    """γ_t = γ·decay^(t/T) when ``total`` T is given (annealing), else γ."""
    return gamma if total is None else gamma * decay ** (min(step, total) / total)


def roth_penalty(critic: Critic, real: Tensor, fake: Tensor, gamma: float) -> Tensor:
    """γ/2 · (E_real[(1 − σ(T(x)))² ‖∇ₓT(x)‖²] + E_fake[σ(T(x))² ‖∇ₓT(x)‖²]); differentiable
    (double backprop), the weights (1 − D)² and D² included, as in the authors' code."""
    terms = []
    for x, is_real in ((real, True), (fake, False)):
        x = x.detach().requires_grad_(True)
        s = critic(x)
        (grad,) = torch.autograd.grad(s.sum(), x, create_graph=True)
        d = torch.sigmoid(s)
        weight = (1 - d).pow(2) if is_real else d.pow(2)
        terms.append((weight * grad.flatten(1).pow(2).sum(1)).mean())
    return 0.5 * gamma * (terms[0] + terms[1])


# ----- CT-GAN (Wei et al. 2018) -----
def consistency_term(critic_features: Callable[[Tensor], tuple[Tensor, Tensor]], real: Tensor,
                     weight: float = 2.0, margin: float = 0.0, feature_weight: float = 0.1) -> Tensor:
    """λ₂ · E[max(0, d(D(x'), D(x'')) + 0.1·d(D_(x'), D_(x'')) − M')] with x', x'' two
    dropout-perturbed passes of D on the same real images; ``critic_features(x)`` returns the
    scores ``(B,)`` and the penultimate features ``(B, F)``. d is the squared difference of the
    scores and the mean squared difference of the features (the authors' code)."""
    s1, f1 = critic_features(real)
    s2, f2 = critic_features(real)
    d = (s1 - s2).pow(2) + feature_weight * (f1 - f2).pow(2).flatten(1).mean(1)
    return weight * F.relu(d - margin).mean()


# ----- BigGAN (Brock et al. 2019) -----
def orthogonal_penalty(module: nn.Module, beta: float) -> Tensor:
    """β Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F over the weights of ``module`` with 2 or more dimensions, each
    viewed as ``(shape[0], −1)`` (one row per filter of a Conv2d or Linear, as in the BigGAN code;
    one row per *input* channel of a ConvTranspose2d, whose weight is (in, out, k, k)); embeddings (the
    class embeddings, BigGAN's blacklist) and 1-d parameters (biases, norms) are left out."""
    skip = {id(m.weight) for m in module.modules() if isinstance(m, nn.Embedding)}
    total = None
    for p in module.parameters():
        if p.dim() < 2 or id(p) in skip:
            continue
        w = p.flatten(1)
        gram = w @ w.t()
        off = gram * (1 - torch.eye(gram.shape[0], device=w.device, dtype=w.dtype))
        term = off.pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("orthogonal_penalty: the module has no weight matrix")
    return beta * total


def check_truncation(psi: float) -> float:
    if not 0.0 < float(psi) <= 1.0:
        raise ValueError(f"truncation psi must be in (0, 1] (1 = truncated at ±{TRUNCATION_THRESHOLD:g} only, "
                         f"smaller = closer to the mode), got {psi}")
    return float(psi)


def truncated_noise(n: int, dim: int, psi: float, device=None, threshold: float = TRUNCATION_THRESHOLD) -> Tensor:
    """BigGAN's truncation trick: N(0, I) with every coordinate |z| > ``threshold`` drawn again
    until none is left, times ψ ∈ (0, 1]; so |z| ≤ ψ·threshold (BigGAN's samplers:
    ``psi * truncnorm(-2, 2)``)."""
    psi = check_truncation(psi)
    z = torch.randn(n, dim, device=device)
    outside = z.abs() > threshold
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), device=device)
        outside = z.abs() > threshold
    return psi * z


# ----- the registered ones: read their options from the model -----
@register_regularizer("roth", "d")
def _roth(model, real, fake, critic, y) -> Tensor:
    h = model.hparams
    horizon = h.roth_anneal_steps or h.g_steps
    gamma = roth_weight(h.roth_gamma, int(model.g_step), horizon if h.roth_anneal else None)
    return roth_penalty(critic, real, fake, gamma)


@register_regularizer("ct", "d")
def _ct(model, real, fake, critic, y) -> Tensor:
    h = model.hparams
    return consistency_term(lambda x: model.critic_features(x, y), real, h.ct_weight, h.ct_margin)


@register_regularizer("ortho", "g")
def _ortho(model, real, fake, critic, y) -> Tensor:
    return orthogonal_penalty(model.generator, model.hparams.g_ortho)
