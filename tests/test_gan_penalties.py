"""Gradient penalties taken at the right points, through ``GAN.discriminator_loss``.

A linear critic has the same input gradient everywhere, so a penalty taken at the wrong points
(real instead of fake, another ε, the wrong end of the segment) gives the same number. Here the
critic is T(x) = a/2·‖x‖², whose gradient a·x differs at every point: each penalty is
recomputed by hand (numpy, float64) at exactly the points the paper names.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lit_gen.models import GAN

A = 1.3  # the critic's one parameter: ∇T(x) = A·x, ‖∇T(x)‖ = A·‖x‖
SEED = 7


class HalfSquaredNorm(nn.Module):
    """Head of T(x) = a/2·‖h‖² on flattened features h = x: ``(B, D) → (B, 1)``."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(A, dtype=torch.float64))

    def forward(self, h):
        return (0.5 * self.a * h.pow(2).sum(1)).unsqueeze(1)


class QuadraticCritic(nn.Module):
    """The interface ``GAN.build_discriminator`` asks for: ``body``, ``feature_dim``, ``head``."""

    def __init__(self, feature_dim: int):
        super().__init__()
        self.body, self.feature_dim, self.head = nn.Flatten(), feature_dim, HalfSquaredNorm()


class QuadraticGAN(GAN):
    def build_discriminator(self):
        return QuadraticCritic(self.hparams.in_channels * self.hparams.image_size ** 2)


def batch():
    """Real and fake images in [−1, 1], each image scaled by its own factor so that the norms of
    real images, fakes and interpolates all differ (‖x‖ ≈ 16·scale on 784 pixels)."""
    g = torch.Generator().manual_seed(0)
    scale_r = torch.tensor([0.03, 0.06, 0.09, 0.12], dtype=torch.float64).view(4, 1, 1, 1)
    scale_f = torch.tensor([0.10, 0.07, 0.04, 0.01], dtype=torch.float64).view(4, 1, 1, 1)
    real = (torch.rand(4, 1, 28, 28, generator=g, dtype=torch.float64) * 2 - 1) * scale_r
    fake = torch.rand(4, 1, 28, 28, generator=g, dtype=torch.float64) * scale_f
    return real, fake


def d_loss(objective, objective_args=None, **regularisers):
    """``discriminator_loss`` of the real module with the quadratic critic, RNG seeded at SEED."""
    model = QuadraticGAN(objective=objective, objective_args=objective_args, latent_dim=8, g_width=4,
                         d_width=4, **regularisers).double()
    real, fake = batch()
    torch.manual_seed(SEED)
    loss, _ = model.discriminator_loss(real, fake)
    return loss, model.discriminator.head.a


def hand_inputs():
    """numpy copies of the batch, each image's norm, and the WGAN-GP interpolates x̂ = ε·real +
    (1 − ε)·fake with ε drawn as ``interpolate`` draws it (one torch.rand per image, after the
    same seed, the first draw of the step)."""
    real, fake = batch()
    torch.manual_seed(SEED)
    eps = torch.rand(4, 1, 1, 1, dtype=torch.float64).numpy().reshape(4, 1)
    r, f = real.numpy().reshape(4, -1), fake.numpy().reshape(4, -1)
    return r, f, eps * r + (1 - eps) * f


def norm(x):
    return np.sqrt((x ** 2).sum(1))


def wasserstein(r, f):
    """E T(fake) − E T(real) with T = A/2‖x‖²."""
    return (0.5 * A * norm(f) ** 2).mean() - (0.5 * A * norm(r) ** 2).mean()


def test_the_three_point_sets_differ():
    # the hand computations below only discriminate if real, fake and x̂ have different norms
    r, f, x_hat = hand_inputs()
    for a, b in [(r, f), (r, x_hat), (f, x_hat)]:
        assert np.abs(norm(a) - norm(b)).min() > 0.1


def test_wgan_gp_penalty_at_the_interpolates():
    r, f, x_hat = hand_inputs()
    loss, a = d_loss("wgan_gp", {"gp_weight": 10.0})
    expected = wasserstein(r, f) + 10.0 * ((A * norm(x_hat) - 1) ** 2).mean()
    # rel 1e-10: the code takes ‖g‖ as sqrt(‖g‖² + 1e-12) (measured off by 1.3e-12)
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    # double backprop reaches the critic's parameter through the penalty at the same points:
    # d/da [a/2 (E‖f‖² − E‖r‖²) + λ E(a‖x̂‖ − 1)²]
    loss.backward()
    grad = 0.5 * ((norm(f) ** 2).mean() - (norm(r) ** 2).mean()) \
        + 10.0 * (2 * (A * norm(x_hat) - 1) * norm(x_hat)).mean()
    assert a.grad.item() == pytest.approx(grad, rel=1e-10)


@pytest.mark.parametrize("k, p", [(2.0, 6.0), (0.5, 2.0)])
def test_wgan_div_penalty_at_real_and_fake(k, p):
    r, f, _ = hand_inputs()
    loss, _ = d_loss("wgan_div", {"k": k, "p": p, "points": "real_fake"})
    penalty = 0.5 * ((A * norm(r)) ** p).mean() + 0.5 * ((A * norm(f)) ** p).mean()
    assert loss.item() == pytest.approx(wasserstein(r, f) + k * penalty, rel=1e-12)


@pytest.mark.parametrize("k, p", [(2.0, 6.0), (0.5, 2.0)])
def test_wgan_div_penalty_at_the_interpolates(k, p):
    r, f, x_hat = hand_inputs()
    loss, _ = d_loss("wgan_div", {"k": k, "p": p, "points": "interpolate"})
    assert loss.item() == pytest.approx(wasserstein(r, f) + k * ((A * norm(x_hat)) ** p).mean(), rel=1e-12)


def softplus(v):
    return np.logaddexp(0.0, v)


@pytest.mark.parametrize("which", ["r1", "r2"])
def test_r1_on_real_and_r2_on_fake(which):
    """γ/2·E‖∇T‖² on the real images (R1) or on the fakes (R2), added to the SGAN loss."""
    r, f, _ = hand_inputs()
    loss, _ = d_loss("sgan", **{f"{which}_gamma": 4.0})
    at = r if which == "r1" else f
    s_r, s_f = 0.5 * A * norm(r) ** 2, 0.5 * A * norm(f) ** 2
    expected = softplus(-s_r).mean() + softplus(s_f).mean() + 0.5 * 4.0 * ((A * norm(at)) ** 2).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
