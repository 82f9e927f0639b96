"""Flow layers: exact inverses, log-determinants against brute-force Jacobians, actnorm init."""

from __future__ import annotations

import math

import pytest
import torch

from lit_gen.nn.dequantization import VariationalDequantizer
from lit_gen.nn.flows import (
    ActNorm, AdditiveCoupling, AffineCoupling, FlowStep, GlowFlow, InvConv1x1, LearnedTopPrior,
    LogitTransform, Split, Squeeze,
)


def _perturbed(layer: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """float64 copy with every parameter moved off its (often identity) initial value."""
    layer = layer.double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    if isinstance(layer, ActNorm):
        layer.initialized.fill_(True)
    for m in layer.modules():
        if isinstance(m, ActNorm):
            m.initialized.fill_(True)
    return layer.eval()


LAYERS = {
    "actnorm": lambda: ActNorm(4),
    "invconv": lambda: InvConv1x1(4, seed=3),
    "additive": lambda: AdditiveCoupling(4, hidden=8),
    "affine": lambda: AffineCoupling(4, hidden=8),
    "affine-odd": lambda: AffineCoupling(3, hidden=8),
    "squeeze": lambda: Squeeze(),
    "split": lambda: Split(4),
    "top-prior": lambda: LearnedTopPrior((4, 4, 4)),
    "step": lambda: FlowStep(4, hidden=8, coupling="affine"),
    "glow-2-levels": lambda: GlowFlow((1, 8, 8), levels=2, steps=2, hidden=8),
    "glow-additive": lambda: GlowFlow((2, 4, 4), levels=2, steps=1, hidden=8, coupling="additive"),
    "logit": lambda: LogitTransform(0.05),
    "logit-1e-6": lambda: LogitTransform(1e-6),
}
SHAPES = {"affine-odd": (3, 4, 4), "glow-2-levels": (1, 8, 8), "glow-additive": (2, 4, 4)}
# layers whose domain is pixels in [−½, ½) rather than all of R
PIXEL_DOMAIN = {"logit", "logit-1e-6"}


def _inputs(name: str, n: int, shape: tuple[int, ...]) -> torch.Tensor:
    if name in PIXEL_DOMAIN:
        return torch.rand(n, *shape, dtype=torch.float64) - 0.5
    return torch.randn(n, *shape, dtype=torch.float64)


@pytest.mark.parametrize("name", LAYERS)
def test_inverse_of_forward_is_identity(name):
    layer = _perturbed(LAYERS[name]())
    x = _inputs(name, 5, SHAPES.get(name, (4, 4, 4)))
    y, logdet = layer(x)
    assert logdet.shape == (5,)
    assert torch.allclose(layer.inverse(y), x, atol=1e-5, rtol=0)
    if not isinstance(layer, (Squeeze,)):
        assert not torch.allclose(y, x), "a perturbed layer should not be the identity"


@pytest.mark.parametrize("name", LAYERS)
def test_logdet_matches_bruteforce_jacobian(name):
    layer = _perturbed(LAYERS[name](), seed=1)
    shape = SHAPES.get(name, (4, 2, 2))
    if name == "top-prior":
        layer = _perturbed(LearnedTopPrior(shape), seed=1)
    x = _inputs(name, 2, shape)
    _, logdet = layer(x)
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda t: layer(t.view(1, *shape))[0].flatten(), x[i].flatten())
        sign, expected = torch.linalg.slogdet(jac)
        assert sign != 0
        assert logdet[i].item() == pytest.approx(expected.item(), abs=1e-8)


def test_actnorm_data_dependent_init_standardises_each_channel():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 5, 5) * torch.tensor([0.5, 2.0, 7.0]).view(1, 3, 1, 1) + torch.tensor([3.0, -1.0, 0.2]).view(1, 3, 1, 1)
    layer = ActNorm(3).train()
    y, _ = layer(x)
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    # initialised once: a second, differently scaled batch is not standardised
    y2, _ = layer(x * 3)
    assert not torch.allclose(y2.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=0.5)
    assert bool(layer.initialized)


def test_actnorm_init_survives_state_dict_round_trip():
    layer = ActNorm(2).train()
    layer(torch.randn(8, 2, 3, 3) * 5)
    fresh = ActNorm(2).train()
    fresh.load_state_dict(layer.state_dict())
    x = torch.randn(4, 2, 3, 3)
    assert torch.equal(fresh(x)[0], layer(x)[0])


def test_glow_flow_keeps_the_image_shape_and_rejects_bad_sizes():
    flow = GlowFlow((3, 8, 8), levels=3, steps=1, hidden=4)
    u, logdet = flow(torch.randn(2, 3, 8, 8))
    assert u.shape == (2, 3, 8, 8) and logdet.shape == (2,)
    with pytest.raises(ValueError, match="divisible by 2\\*\\*levels"):
        GlowFlow((1, 28, 28), levels=3)
    with pytest.raises(ValueError, match="coupling"):
        GlowFlow((1, 8, 8), coupling="spline")


def test_squeeze_moves_each_2x2_block_into_channels():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y, _ = Squeeze()(x)
    assert y.shape == (1, 4, 2, 2)
    # the top-left 2×2 block [[0, 1], [4, 5]] becomes the four channels of position (0, 0)
    assert y[0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]


@pytest.mark.parametrize("alpha", [0.05, 1e-6])
def test_logit_transform_values_and_range(alpha):
    # inverse and log-det are checked with the other layers above (LAYERS "logit", "logit-1e-6")
    layer = LogitTransform(alpha)
    x = torch.rand(3, 2, 2, 2, dtype=torch.float64) - 0.5
    y, _ = layer(x)
    assert torch.allclose(layer.inverse(y), x, atol=1e-10, rtol=0)
    p = alpha + (1 - 2 * alpha) * (x + 0.5)
    assert torch.allclose(y, torch.log(p / (1 - p)))
    # the ends of the pixel range stay finite
    ends, _ = layer(torch.tensor([[-0.5, 0.5]], dtype=torch.float64))
    assert torch.isfinite(ends).all()
    with pytest.raises(ValueError, match="alpha"):
        LogitTransform(0.5)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_variational_dequantizer_density_matches_bruteforce_jacobian(steps):
    """log q(u|x) = log N(ε) − log|det ∂u/∂ε|, with the Jacobian of the whole noise → u map."""
    shape = (1, 4, 4)
    deq = _perturbed(VariationalDequantizer(shape, hidden=8, steps=steps), seed=2)
    gen = torch.Generator().manual_seed(0)
    eps = torch.randn(2, *shape, generator=gen, dtype=torch.float64)
    x = torch.rand(2, *shape, generator=gen, dtype=torch.float64) - 0.5
    u, log_q = deq(eps, x)
    assert u.shape == eps.shape and log_q.shape == (2,)
    assert (u > 0).all() and (u < 1).all()
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda t: deq(t.view(1, *shape), x[i: i + 1])[0].flatten(),
                                                 eps[i].flatten())
        _, log_det = torch.linalg.slogdet(jac)
        log_normal = -0.5 * (eps[i].pow(2).sum() + eps[i].numel() * math.log(2 * math.pi))
        assert log_q[i].item() == pytest.approx((log_normal - log_det).item(), abs=1e-8)
    # q depends on the image: the same noise gives other u for another x
    assert not torch.allclose(deq(eps, x.flip(0))[0], u)


def test_variational_dequantizer_rejects_odd_sides():
    with pytest.raises(ValueError, match="even"):
        VariationalDequantizer((1, 5, 4))
