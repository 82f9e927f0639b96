"""GAN objectives: one discriminator loss and one generator loss per objective, plus regularisers.

Every loss is a pure function of the critic scores (``(B,)`` tensors, one score per image) and,
for the objectives that need them, the images themselves and a ``critic`` callable
``(B, C, H, W) → (B,)`` used for gradient penalties. All losses are means over the batch
(minimised; the discriminator's losses are the negatives of what the papers maximise).

Adding an objective is one pair of functions and one :func:`register_objective` call::

    def my_d(s_real, s_fake, *, real, fake, critic, margin: float = 1.0): ...
    def my_g(s_real, s_fake, *, real, fake, critic): ...
    register_objective("my_gan", my_d, my_g)

Extra keyword arguments (``margin``) are set from the model's ``objective_args``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

Critic = Callable[[Tensor], Tensor]
LossFn = Callable[..., Tensor]


@dataclass(frozen=True)
class Objective:
    """A named pair of losses; ``d_loss``/``g_loss`` take ``(s_real, s_fake, *, real, fake, critic, **args)``.

    ``g_uses_real_scores``: whether ``g_loss`` reads ``s_real``; when False the GAN module skips
    scoring the real batch in the generator step and passes ``s_real=None``.
    """

    name: str
    d_loss: LossFn
    g_loss: LossFn
    g_uses_real_scores: bool = True

    def arg_names(self) -> set[str]:
        """Keyword options the two functions accept (what ``objective_args`` may set)."""
        names = set()
        for fn in (self.d_loss, self.g_loss):
            names |= {p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind == p.KEYWORD_ONLY and p.name not in ("real", "fake", "critic")}
        return names

    def split_args(self, args: dict) -> tuple[dict, dict]:
        """``args`` divided into the ones each function takes; a clear error for unknown ones."""
        unknown = set(args) - self.arg_names()
        if unknown:
            raise ValueError(f"objective_args {sorted(unknown)} are not options of objective "
                             f"{self.name!r}; it takes {sorted(self.arg_names()) or 'none'}")

        def take(fn):
            accepted = inspect.signature(fn).parameters
            return {k: v for k, v in args.items() if k in accepted}

        return take(self.d_loss), take(self.g_loss)


OBJECTIVES: dict[str, Objective] = {}


def register_objective(name: str, d_loss: LossFn, g_loss: LossFn, g_uses_real_scores: bool = True) -> Objective:
    """Make ``name`` selectable as ``GAN(objective=name)``; pass ``g_uses_real_scores=False`` when
    ``g_loss`` ignores ``s_real`` (it saves a forward pass of D per generator step)."""
    if name in OBJECTIVES:
        raise ValueError(f"GAN objective {name!r} is registered twice")
    OBJECTIVES[name] = Objective(name, d_loss, g_loss, g_uses_real_scores)
    return OBJECTIVES[name]


def get_objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown GAN objective {name!r}; known: {', '.join(sorted(OBJECTIVES))}")
    return OBJECTIVES[name]


# ----- input-gradient penalties (double backprop: create_graph=True) -----
def input_grad(critic: Critic, x: Tensor) -> Tensor:
    """∇ₓ Σ critic(x), flattened per image: ``(B, C, H, W) → (B, C·H·W)``; differentiable."""
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.flatten(1)


def interpolate(real: Tensor, fake: Tensor) -> Tensor:
    """Points on random segments between paired real and fake images (WGAN-GP's x̂)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    return (eps * real.detach() + (1 - eps) * fake.detach())


def grad_norm_penalty(critic: Critic, x: Tensor, power: float, target: float | None = None) -> Tensor:
    """Mean over ``x`` of ``‖∇T(x)‖^power``, or of ``(‖∇T(x)‖ − target)^power`` when ``target`` is set.

    Always fp32, even inside a mixed-precision step: the critic is run again in fp32 for it. In
    bf16 the double backprop would round the input gradient to 8 bits, and ``(‖g‖ − 1)²`` of a
    norm near 1 (WGAN-GP) or ``‖g‖⁶`` (WGAN-div) would be mostly rounding error."""
    x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # float64 checks stay float64
    with torch.autocast(x.device.type, enabled=False):
        sq = input_grad(critic, x).pow(2).sum(1)
    if target is None:  # (‖g‖²)^(p/2): no sqrt, so no infinite gradient at g = 0
        return sq.pow(power / 2).mean()
    return (sq.add(1e-12).sqrt() - target).pow(power).mean()


def r1_penalty(critic: Critic, x: Tensor, gamma: float) -> Tensor:
    """R1/R2 (Mescheder et al. 2018): ``γ/2 · E‖∇T(x)‖²`` on real (R1) or fake (R2) images."""
    return 0.5 * gamma * grad_norm_penalty(critic, x, 2.0)


# ----- the objectives -----
def sgan_d(s_real, s_fake, *, real, fake, critic):
    """Standard GAN discriminator: −log σ(T(x_r)) − log(1 − σ(T(x_f)))."""
    return F.softplus(-s_real).mean() + F.softplus(s_fake).mean()


def sgan_g(s_real, s_fake, *, real, fake, critic):
    """Non-saturating generator loss −log σ(T(x_f))."""
    return F.softplus(-s_fake).mean()


def lsgan_d(s_real, s_fake, *, real, fake, critic):
    """Least squares GAN (Mao et al. 2017), a=0, b=c=1: ½(T_r − 1)² + ½T_f²."""
    return 0.5 * ((s_real - 1).pow(2).mean() + s_fake.pow(2).mean())


def lsgan_g(s_real, s_fake, *, real, fake, critic):
    return 0.5 * (s_fake - 1).pow(2).mean()


def hinge_d(s_real, s_fake, *, real, fake, critic):
    """Hinge loss (Lim & Ye 2017; SNGAN): max(0, 1 − T_r) + max(0, 1 + T_f)."""
    return F.relu(1 - s_real).mean() + F.relu(1 + s_fake).mean()


def hinge_g(s_real, s_fake, *, real, fake, critic):
    return -s_fake.mean()


def rsgan_d(s_real, s_fake, *, real, fake, critic):
    """Relativistic GAN (Jolicoeur-Martineau 2019), paired: −log σ(T_r − T_f)."""
    return F.softplus(-(s_real - s_fake)).mean()


def rsgan_g(s_real, s_fake, *, real, fake, critic):
    return F.softplus(-(s_fake - s_real)).mean()


def rasgan_d(s_real, s_fake, *, real, fake, critic):
    """Relativistic average GAN: each score against the mean score of the other side."""
    return F.softplus(-(s_real - s_fake.mean())).mean() + F.softplus(s_fake - s_real.mean()).mean()


def rasgan_g(s_real, s_fake, *, real, fake, critic):
    return F.softplus(-(s_fake - s_real.mean())).mean() + F.softplus(s_real - s_fake.mean()).mean()


def wgan_g(s_real, s_fake, *, real, fake, critic):
    """Wasserstein generator loss −E T(x_f) (shared by WGAN-GP and WGAN-div)."""
    return -s_fake.mean()


def wgan_gp_d(s_real, s_fake, *, real, fake, critic, gp_weight: float = 10.0):
    """WGAN-GP (Gulrajani et al. 2017): E T_f − E T_r + λ E(‖∇T(x̂)‖ − 1)² at interpolates x̂."""
    return s_fake.mean() - s_real.mean() + gp_weight * grad_norm_penalty(critic, interpolate(real, fake), 2.0, 1.0)


def wgan_div_d(s_real, s_fake, *, real, fake, critic, k: float = 2.0, p: float = 6.0,
               points: Literal["real_fake", "interpolate"] = "real_fake"):
    """WGAN-div (Wu et al. 2018): E T_f − E T_r + k E‖∇T‖^p, no Lipschitz constraint.

    ``points='real_fake'`` takes the penalty at the real and the fake images (half weight each,
    as in Su's reference code); ``'interpolate'`` at WGAN-GP's random interpolates.
    """
    if points == "real_fake":
        penalty = 0.5 * (grad_norm_penalty(critic, real, p) + grad_norm_penalty(critic, fake, p))
    elif points == "interpolate":
        penalty = grad_norm_penalty(critic, interpolate(real, fake), p)
    else:
        raise ValueError(f"wgan_div points must be 'real_fake' or 'interpolate', got {points!r}")
    return s_fake.mean() - s_real.mean() + k * penalty


def qp_distance(real: Tensor, fake: Tensor, distance: Literal["l1", "l2"]) -> Tensor:
    """Per-pair image distance for GAN-QP: mean |Δx| (``l1``) or RMS Δx (``l2``); ``(B,)``."""
    diff = (real - fake).flatten(1)
    if distance == "l1":
        return diff.abs().mean(1)
    if distance == "l2":
        return diff.pow(2).mean(1).sqrt()
    raise ValueError(f"gan_qp distance must be 'l1' or 'l2', got {distance!r}")


def gan_qp_d(s_real, s_fake, *, real, fake, critic, lam: float = 10.0,
             distance: Literal["l1", "l2"] = "l1"):
    """GAN-QP (Su 2018): the critic maximises E[ΔT − ΔT² / (2λ d(x_r, x_f))], ΔT = T_r − T_f.

    Its optimum for a pair is ΔT = λ·d(x_r, x_f): a quadratic penalty instead of a gradient one,
    so no double backprop.
    """
    delta = s_real - s_fake
    d = lam * qp_distance(real.detach(), fake.detach(), distance)
    return (-delta + 0.5 * delta.pow(2) / d.clamp_min(1e-8)).mean()


def gan_qp_g(s_real, s_fake, *, real, fake, critic):
    """GAN-QP generator: minimise E[T(x_r) − T(x_f)]."""
    return (s_real - s_fake).mean()


register_objective("sgan", sgan_d, sgan_g, g_uses_real_scores=False)
register_objective("lsgan", lsgan_d, lsgan_g, g_uses_real_scores=False)
register_objective("hinge", hinge_d, hinge_g, g_uses_real_scores=False)
register_objective("rsgan", rsgan_d, rsgan_g)
register_objective("rasgan", rasgan_d, rasgan_g)
register_objective("wgan_gp", wgan_gp_d, wgan_g, g_uses_real_scores=False)
register_objective("wgan_div", wgan_div_d, wgan_g, g_uses_real_scores=False)
register_objective("gan_qp", gan_qp_d, gan_qp_g)
