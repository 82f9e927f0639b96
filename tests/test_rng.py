"""utils.rng.image_keyed_noise reproduces, bit for bit, the three evaluation-noise formulas it
replaced (VAE, Glow, f-VAE: written out below as they were), so stored results stay current."""

from __future__ import annotations

import torch

from lit_gen.utils.rng import image_keyed_noise


def old_vae_noise(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``VAE.posterior_noise`` in evaluation, before the move."""
    bank_gen = torch.Generator().manual_seed(0)
    bank = torch.randn(4096, like.shape[1], generator=bank_gen).to(like)
    proj = torch.rand(x[0].numel(), generator=bank_gen, dtype=torch.float64).to(x.device)
    keys = (x.flatten(1).double() @ proj * 9973.0).floor().long() % bank.shape[0]
    return bank[keys]


def old_glow_noise(x: torch.Tensor, distribution: str = "uniform") -> torch.Tensor:
    """``lit_gen.models.glow.image_keyed_noise``, before the move."""
    gen = torch.Generator().manual_seed(0)
    draw = torch.rand if distribution == "uniform" else torch.randn
    bank = draw(1024, *x.shape[1:], generator=gen).to(x)
    proj = torch.rand(x[0].numel(), generator=gen, dtype=torch.float64).to(x.device)
    keys = (x.flatten(1).double() @ proj * 9973.0).floor().long() % bank.shape[0]
    return bank[keys]


def old_fvae_noise(y: torch.Tensor) -> torch.Tensor:
    """``FVAE.posterior_noise`` in evaluation, before the move."""
    gen = torch.Generator().manual_seed(1)
    bank = torch.randn(1024, *y.shape[1:], generator=gen).to(y)
    proj = torch.rand(y[0].numel(), generator=gen, dtype=torch.float64).to(y.device)
    return bank[(y.flatten(1).double() @ proj * 7919.0).floor().long() % bank.shape[0]]


def batch() -> torch.Tensor:
    """Six 1×8×8 images on the 1/255 grid, two of them equal (the same image, the same noise)."""
    x = torch.randint(256, (6, 1, 8, 8), generator=torch.Generator().manual_seed(3)).float() / 255
    x[4] = x[1]
    return x


def test_image_keyed_noise_reproduces_the_three_old_formulas():
    x = batch()
    like = torch.zeros(6, 5)
    assert torch.equal(image_keyed_noise(x, like.shape[1:], distribution="normal", like=like, rows=4096),
                       old_vae_noise(x, like))
    for distribution in ("uniform", "normal"):
        assert torch.equal(image_keyed_noise(x, x.shape[1:], distribution=distribution),
                           old_glow_noise(x, distribution))
    y = x + 0.5 / 256  # f-VAE keys on the dequantized images
    assert torch.equal(image_keyed_noise(y, y.shape[1:], distribution="normal", seed=1, hash_scale=7919.0),
                       old_fvae_noise(y))


def test_the_models_use_it_with_their_own_constants():
    from lit_gen.models import FVAE, VAE
    from lit_gen.nn.dequantization import keyed_dequantization_noise

    x = batch()
    vae = VAE(image_size=8, latent_dim=5, channels=(4,), hidden=8).eval()
    like = torch.zeros(6, 5)
    assert torch.equal(vae.posterior_noise(x, like), old_vae_noise(x, like))
    fvae = FVAE(image_size=8, hidden=4, blocks=1, levels=1, steps=1, flow_hidden=4).eval()
    assert torch.equal(fvae.posterior_noise(x), old_fvae_noise(x))
    assert torch.equal(keyed_dequantization_noise(x), old_glow_noise(x))
    assert torch.equal(keyed_dequantization_noise(x, "normal"), old_glow_noise(x, "normal"))
    noise = keyed_dequantization_noise(x)
    assert torch.equal(noise[1], noise[4]) and not torch.equal(noise[0], noise[1])
