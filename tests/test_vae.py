"""VAE: loss against a hand computation, learning on a fixed batch, sampling, and the NLL bound."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lit_gen.losses.gaussian import gaussian_kl
from lit_gen.models import VAE
from lit_gen.utils.checks import DivergenceError


def test_kl_matches_closed_form_by_hand():
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    # KL = 0.5 * sum(mu^2 + var - 1 - log var) = 0.5 * (1 + 0 + 0 + (4 - 1 - log 4))
    assert gaussian_kl(mu, logvar).item() == pytest.approx(0.5 * (1 + 3 - math.log(4.0)))


def test_eval_loss_equals_hand_computation_on_two_images():
    torch.manual_seed(0)
    model = VAE(image_size=8, latent_dim=3, channels=(4, 8), hidden=16).eval()
    x = torch.rand(2, 1, 8, 8).round()
    terms = model.loss_terms(x)
    mu, logvar = model.encode(x)
    z = mu + model.posterior_noise(x, mu) * (0.5 * logvar).exp()
    logits = model.decode(z)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=(1, 2, 3))
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(terms["recon"], recon) and torch.allclose(terms["kl"], kl)
    assert torch.allclose(terms["nelbo"], recon + kl)
    # evaluation noise depends on the image only: batch composition does not change a value
    alone = model.loss_terms(x[1:])
    assert torch.allclose(alone["nelbo"], terms["nelbo"][1:])


def test_gaussian_likelihood_term():
    model = VAE(image_size=8, latent_dim=2, channels=(4,), hidden=8, likelihood="gaussian")
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.5))
    x, mean = torch.zeros(1, 1, 8, 8), torch.full((1, 1, 8, 8), 0.25)
    per_pixel = 0.5 * (0.25**2 / 0.25 + math.log(2 * math.pi)) + math.log(0.5)
    assert model.reconstruction_nll(mean, x).item() == pytest.approx(64 * per_pixel, rel=1e-5)


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = VAE(image_size=8, latent_dim=4, channels=(8, 16), hidden=32)
    prototypes = (torch.rand(4, 1, 8, 8) > 0.5).float()
    x = prototypes.repeat(4, 1, 1, 1)  # structure the VAE can learn quickly
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = model.loss_terms(x)["loss"].mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_sample_reconstruct_and_predict_shapes():
    model = VAE(in_channels=3, image_size=32, latent_dim=5).eval()
    assert model.sample(6).shape == (6, 3, 32, 32)
    x = torch.rand(4, 3, 32, 32)
    out = model.reconstruct(x)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
    assert model.predict_step((x, torch.zeros(4)), 0).shape == (4, 5)


def test_importance_sampled_bound_is_tighter_than_elbo():
    torch.manual_seed(0)
    model = VAE(image_size=8, latent_dim=2, channels=(4,), hidden=16).eval()
    x = (torch.rand(8, 1, 8, 8) > 0.5).float()
    elbo = -model.loss_terms(x)["nelbo"]
    torch.manual_seed(1)
    ll_1 = model.log_likelihood(x, num_samples=1)
    ll_500 = model.log_likelihood(x, num_samples=500, chunk=100)
    # both estimate the same log p(x) of each image: measured |ll_500 − ll_1| ≤ 0.54 nats here
    # (≤ 1.82 on seeds 0-3); a bound that forgot − log K would be log 500 = 6.2 nats high
    assert (ll_500 - ll_1).abs().max() < 2.0
    assert ll_500.mean() > elbo.mean()  # IWAE bound >= ELBO on average (measured +0.19 nats)


def test_linear_gaussian_vae_nll_converges_to_closed_form():
    """Linear-Gaussian decoder: p(x) = N(b, W W^T + s^2 I) and the posterior are closed form."""
    torch.manual_seed(0)
    d, k, s = 16, 2, 0.3  # 4x4 images, 2-d latent, pixel std

    class LinearVAE(VAE):
        def build_encoder(self):
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(d, 2 * k))

        def build_decoder(self):
            return torch.nn.Sequential(torch.nn.Linear(k, d), torch.nn.Unflatten(1, (1, 4, 4)))

    model = LinearVAE(image_size=4, latent_dim=k, likelihood="gaussian").double().eval()
    q, _ = torch.linalg.qr(torch.randn(d, k, dtype=torch.float64))
    c = torch.tensor([1.5, 0.7], dtype=torch.float64)
    w, b = q * c, 0.5 * torch.randn(d, dtype=torch.float64)  # orthogonal columns: diagonal posterior
    m_inv = 1.0 / (c**2 + s**2)
    gain = m_inv[:, None] * w.T  # posterior mean = M^-1 W^T (x - b), posterior var = s^2 M^-1
    encoder = model.encoder[1]
    with torch.no_grad():
        model.log_sigma.fill_(math.log(s))
        model.decoder[0].weight.copy_(w)
        model.decoder[0].bias.copy_(b)
        encoder.weight.zero_()
        encoder.weight[:k] = gain
        encoder.bias[:k] = -gain @ b
        encoder.bias[k:] = torch.log(s**2 * m_inv)
    exact = torch.distributions.MultivariateNormal(b, w @ w.T + s**2 * torch.eye(d, dtype=torch.float64))
    x = exact.sample((5,))
    images = x.view(5, 1, 4, 4)
    # exact posterior as proposal: every importance weight equals p(x), so K = 1 is exact
    assert torch.allclose(model.log_likelihood(images, num_samples=1), exact.log_prob(x), atol=1e-9)
    # a shifted, wider proposal: the estimate converges as K grows
    with torch.no_grad():
        encoder.bias[:k] += 0.15
        encoder.bias[k:] += 0.7
    est = model.log_likelihood(images, num_samples=5000, chunk=1000)
    assert torch.allclose(est, exact.log_prob(x), atol=0.05), (est, exact.log_prob(x))


def test_bad_config_and_divergence_guard():
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(latent_dim=0)
    with pytest.raises(ValueError, match="divisible"):
        VAE(image_size=30)
    model = VAE(image_size=8, latent_dim=2, channels=(4,), hidden=8)
    with torch.no_grad():
        model.decoder.body[0].weight.fill_(float("nan"))
    with pytest.raises(DivergenceError, match="step 0"):
        model._step((torch.rand(2, 1, 8, 8), None), "train")


def test_cosine_schedule_decays_the_rate_to_zero_over_the_budget(fit_learning_rates):
    from lit_gen.data import ImageDataModule

    with pytest.raises(ValueError, match="lr_schedule"):
        VAE(lr_schedule="linear")
    model = VAE(image_size=8, latent_dim=2, channels=(4,), hidden=8, lr=1e-3, lr_schedule="cosine")
    rates = fit_learning_rates(model, ImageDataModule("digits", batch_size=100, image_size=8), 2, 5)
    assert len(rates) == 10 and rates[0] == pytest.approx(1e-3)
    # cosine over 10 steps: lr_t = 1e-3 * (1 + cos(pi t / 10)) / 2
    assert rates == pytest.approx([1e-3 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(10)])
