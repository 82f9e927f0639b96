"""GAN objectives against hand computations with a fixed linear critic T(x) = w·x.

A linear critic has the same gradient everywhere, so it cannot tell where a penalty is taken:
test_gan_penalties.py checks the penalty points with a quadratic critic."""

from __future__ import annotations

import math

import pytest
import torch

from lit_gen.losses.gan import OBJECTIVES, get_objective, qp_distance, r1_penalty, register_objective

W = [0.5, -1.0, 2.0]                       # ‖w‖² = 5.25
REAL = [[1.0, 0.0, 0.5], [0.2, -0.4, 0.0]]
FAKE = [[0.0, 1.0, -0.5], [0.6, 0.2, 0.1]]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


S_R = [dot(W, x) for x in REAL]             # 1.5, 0.5
S_F = [dot(W, x) for x in FAKE]             # -2.0, 0.3
NORM = math.sqrt(dot(W, W))


def mean(v):
    return sum(v) / len(v)


def softplus(v):
    return math.log1p(math.exp(v))


def losses(name, **args):
    """(d_loss, g_loss) of objective ``name`` on the fixed batch, images shaped (2, 1, 1, 3)."""
    w = torch.tensor(W, dtype=torch.float64)

    def critic(x):
        return x.flatten(1) @ w

    real = torch.tensor(REAL, dtype=torch.float64).view(2, 1, 1, 3)
    fake = torch.tensor(FAKE, dtype=torch.float64).view(2, 1, 1, 3)
    obj = get_objective(name)
    d_args, g_args = obj.split_args(args)
    s_r, s_f = critic(real), critic(fake)
    d = obj.d_loss(s_r, s_f, real=real, fake=fake, critic=critic, **d_args)
    g = obj.g_loss(s_r, s_f, real=real, fake=fake, critic=critic, **g_args)
    return d.item(), g.item()


def test_scores_of_the_fixed_batch():
    assert S_R == pytest.approx([1.5, 0.5]) and S_F == pytest.approx([-2.0, 0.3])


@pytest.mark.parametrize("name, d_ref, g_ref", [
    ("sgan", mean([softplus(-s) for s in S_R]) + mean([softplus(s) for s in S_F]),
     mean([softplus(-s) for s in S_F])),
    ("lsgan", 0.5 * (mean([(s - 1) ** 2 for s in S_R]) + mean([s ** 2 for s in S_F])),
     0.5 * mean([(s - 1) ** 2 for s in S_F])),
    ("hinge", mean([max(0, 1 - s) for s in S_R]) + mean([max(0, 1 + s) for s in S_F]), -mean(S_F)),
    ("rsgan", mean([softplus(-(r - f)) for r, f in zip(S_R, S_F)]),
     mean([softplus(-(f - r)) for r, f in zip(S_R, S_F)])),
    ("rasgan", mean([softplus(-(r - mean(S_F))) for r in S_R]) + mean([softplus(f - mean(S_R)) for f in S_F]),
     mean([softplus(-(f - mean(S_R))) for f in S_F]) + mean([softplus(r - mean(S_F)) for r in S_R])),
])
def test_score_only_objectives(name, d_ref, g_ref):
    d, g = losses(name)
    assert d == pytest.approx(d_ref, rel=1e-12)
    assert g == pytest.approx(g_ref, rel=1e-12)


def test_wgan_gp_penalty_of_a_linear_critic():
    # ∇T = w everywhere, so every interpolate gives (‖w‖ − 1)²
    d, g = losses("wgan_gp", gp_weight=10.0)
    assert d == pytest.approx(mean(S_F) - mean(S_R) + 10.0 * (NORM - 1) ** 2, rel=1e-9)
    assert g == pytest.approx(-mean(S_F))


@pytest.mark.parametrize("points", ["real_fake", "interpolate"])
@pytest.mark.parametrize("k, p", [(2.0, 6.0), (0.5, 2.0)])
def test_wgan_div_penalty_is_k_norm_w_to_the_p(points, k, p):
    d, g = losses("wgan_div", k=k, p=p, points=points)
    assert d == pytest.approx(mean(S_F) - mean(S_R) + k * 5.25 ** (p / 2), rel=1e-9)
    assert g == pytest.approx(-mean(S_F))


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_gan_qp_losses(distance):
    diffs = [[a - b for a, b in zip(r, f)] for r, f in zip(REAL, FAKE)]
    if distance == "l1":
        dist = [mean([abs(v) for v in row]) for row in diffs]
    else:
        dist = [math.sqrt(mean([v * v for v in row])) for row in diffs]
    delta = [r - f for r, f in zip(S_R, S_F)]
    d_ref = mean([-t + t * t / (2 * 10.0 * dd) for t, dd in zip(delta, dist)])
    d, g = losses("gan_qp", lam=10.0, distance=distance)
    assert d == pytest.approx(d_ref, rel=1e-12)
    assert g == pytest.approx(mean(delta), rel=1e-12)


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_gan_qp_optimal_critic_on_two_point_masses(distance):
    """Real = point mass at a, fake = at b (|a − b| = 0.8, 0.2, 0, 1.2): the best critic has
    T(a) − T(b) = λ·d(a, b), and the critic's value there is λ·d/2 (so the generator minimises
    a multiple of the distance)."""
    a = torch.tensor([[[[0.9, 0.1, 0.4, 0.7]]]], dtype=torch.float64).expand(8, 1, 1, 4)
    b = torch.tensor([[[[0.1, 0.3, 0.4, -0.5]]]], dtype=torch.float64).expand(8, 1, 1, 4)
    lam = 3.0
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)   # the critic's values at a and b
    obj = get_objective("gan_qp")
    opt = torch.optim.LBFGS([t], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = obj.d_loss(t[0].expand(8), t[1].expand(8), real=a, fake=b, critic=None, lam=lam, distance=distance)
        loss.backward()
        return loss

    opt.step(closure)
    dist = qp_distance(a[:1], b[:1], distance).item()
    assert dist == pytest.approx(0.55 if distance == "l1" else math.sqrt((0.64 + 0.04 + 0 + 1.44) / 4))
    assert (t[0] - t[1]).item() == pytest.approx(lam * dist, rel=1e-6)
    assert -closure().item() == pytest.approx(lam * dist / 2, rel=1e-6)


def test_r1_penalty_of_a_linear_critic():
    w = torch.tensor(W, dtype=torch.float64)
    x = torch.randn(5, 1, 1, 3, dtype=torch.float64)
    assert r1_penalty(lambda v: v.flatten(1) @ w, x, gamma=4.0).item() == pytest.approx(0.5 * 4.0 * 5.25)


def test_penalties_are_differentiable_in_the_critic():
    """Double backprop: the gradient of the WGAN-GP penalty w.r.t. w is λ·2(‖w‖ − 1)·w/‖w‖."""
    w = torch.tensor(W, dtype=torch.float64, requires_grad=True)
    real = torch.tensor(REAL, dtype=torch.float64).view(2, 1, 1, 3)
    fake = torch.tensor(FAKE, dtype=torch.float64).view(2, 1, 1, 3)
    critic = lambda x: x.flatten(1) @ w  # noqa: E731
    zeros = torch.zeros(2, dtype=torch.float64)
    get_objective("wgan_gp").d_loss(zeros, zeros, real=real, fake=fake, critic=critic).backward()
    expected = 10.0 * 2 * (NORM - 1) * torch.tensor(W, dtype=torch.float64) / NORM
    torch.testing.assert_close(w.grad, expected)


def test_bad_names_and_options_are_clear_errors():
    with pytest.raises(ValueError, match="unknown GAN objective 'wgan'.*gan_qp"):
        get_objective("wgan")
    with pytest.raises(ValueError, match=r"\['lambda'\].*gan_qp.*'distance', 'lam'"):
        get_objective("gan_qp").split_args({"lambda": 10})
    with pytest.raises(ValueError, match="points must be"):
        losses("wgan_div", points="middle")
    with pytest.raises(ValueError, match="distance must be"):
        losses("gan_qp", distance="l3")
    with pytest.raises(ValueError, match="registered twice"):
        register_objective("sgan", OBJECTIVES["sgan"].d_loss, OBJECTIVES["sgan"].g_loss)


def test_registry_lists_every_objective_of_the_issue():
    assert {"sgan", "lsgan", "hinge", "rsgan", "rasgan", "wgan_gp", "wgan_div", "gan_qp"} <= set(OBJECTIVES)
