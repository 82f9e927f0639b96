"""IntroVAE (issue #39): both losses against a hand computation on a 2-image batch with a stub
encoder and decoder, where the gradients go, a short fit, sample and reconstruct."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import nn

from lit_gen.data import ImageDataModule
from lit_gen.models.introvae import IntroVAE

X = [[1.0, 2.0], [0.5, -1.0]]           # two 1×1×2 images
A_MU, A_LV, V = [0.5, 0.25], [0.1, -0.2], [1.0, -1.0]
EPS, Z_P = [0.3, -0.7], [1.2, -0.4]
M, ALPHA, BETA = 0.05, 0.25, 0.5       # KLs of X_r, X_p: 0.061 and 0.045


class StubEncoder(nn.Module):
    """μ = a·x, log σ² = b·x (one code)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(A_MU))
        self.b = nn.Parameter(torch.tensor(A_LV))

    def forward(self, x):
        x = x.flatten(1)
        return (x @ self.a)[:, None], (x @ self.b)[:, None]


class StubDecoder(nn.Module):
    """x̂ = z·v."""

    def __init__(self):
        super().__init__()
        self.v = nn.Parameter(torch.tensor(V))

    def forward(self, z):
        return (z * self.v).view(-1, 1, 1, 2)


def dot(u, w):
    return sum(p * q for p, q in zip(u, w))


def kl(mu, lv):                          # one image, one code
    return 0.5 * (mu * mu + math.exp(lv) - 1 - lv)


def mean(values):
    return sum(values) / len(values)


def by_hand():
    mus, lvs = [dot(A_MU, x) for x in X], [dot(A_LV, x) for x in X]
    z_r = [mu + e * math.exp(0.5 * lv) for mu, lv, e in zip(mus, lvs, EPS)]
    x_r = [[z * v for v in V] for z in z_r]
    x_p = [[z * v for v in V] for z in Z_P]
    rec = mean([sum((a - b) ** 2 for a, b in zip(r, x)) for r, x in zip(x_r, X)])
    kl_real = mean([kl(mu, lv) for mu, lv in zip(mus, lvs)])
    kl_rec = mean([kl(dot(A_MU, x), dot(A_LV, x)) for x in x_r])
    kl_fake = mean([kl(dot(A_MU, x), dot(A_LV, x)) for x in x_p])
    loss_e = kl_real + ALPHA * (max(0.0, M - kl_rec) + max(0.0, M - kl_fake)) + BETA * rec
    loss_g = ALPHA * (kl_rec + kl_fake) + BETA * rec
    # ∂(β L_AE)/∂v_p = β · mean_i 2 (z_i v_p − x_ip) z_i: the only gradient of L_E into G
    grad_v = [BETA * mean([2 * (z * V[p] - x[p]) * z for z, x in zip(z_r, X)]) for p in range(2)]
    return loss_e, loss_g, grad_v, (kl_rec, kl_fake)


def stub_model():
    model = IntroVAE(latent_dim=1, m=M, alpha=ALPHA, beta=BETA)
    model.encoder, model.decoder = StubEncoder(), StubDecoder()
    return model


def test_losses_match_the_hand_computation():
    loss_e_ref, loss_g_ref, grad_v_ref, (kl_rec, kl_fake) = by_hand()
    assert kl_fake < M < kl_rec                  # one hinge active, one not: both cases covered
    model = stub_model()
    x = torch.tensor(X).view(2, 1, 1, 2)
    eps, z_p = torch.tensor(EPS)[:, None], torch.tensor(Z_P)[:, None]
    loss_e, z_r, stats = model.encoder_loss(x, eps, z_p)
    assert loss_e.item() == pytest.approx(loss_e_ref, rel=1e-6)
    assert stats["kl_rec"].item() == pytest.approx(kl_rec, rel=1e-6)
    # L_E reaches G only through β·L_AE: the margins see ng(X_r), ng(X_p) (checked with both
    # hinges active, m = 1)
    model.hparams.m = 1.0
    loss_e_both, _, _ = model.encoder_loss(x, eps, z_p)
    (grad_v,) = torch.autograd.grad(loss_e_both, model.decoder.v)
    assert grad_v.tolist() == pytest.approx(grad_v_ref, rel=1e-5)
    model.hparams.m = M
    loss_g = model.decoder_loss(x, z_r, z_p)
    assert loss_g.item() == pytest.approx(loss_g_ref, rel=1e-6)
    # L_G does not reach E through the codes Z_r (only through E's scoring of G's images)
    loss_g_fresh = model.decoder_loss(x, z_r.detach(), z_p)
    g1 = torch.autograd.grad(loss_g, model.encoder.a)[0]
    g2 = torch.autograd.grad(loss_g_fresh, model.encoder.a)[0]
    torch.testing.assert_close(g1, g2)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="m, alpha and beta must be >= 0"):
        IntroVAE(m=-1.0)
    with pytest.raises(ValueError, match="latent_dim"):
        IntroVAE(latent_dim=0)


def _params(module):
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def test_fit_sample_and_reconstruct(tmp_path):
    L.seed_everything(0)
    model = IntroVAE(latent_dim=4, channels=(4, 8), hidden=16, m=5.0, beta=0.5)
    e0, g0 = _params(model.encoder), _params(model.decoder)
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=3, limit_val_batches=1, logger=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        enable_checkpointing=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=ImageDataModule(name="digits", batch_size=16))
    assert not torch.equal(e0, _params(model.encoder)) and not torch.equal(g0, _params(model.decoder))
    assert {"train/loss_e", "train/loss_g", "train/kl_fake", "val/rec"} <= set(trainer.callback_metrics)
    x = model.sample(5)
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    real = torch.rand(3, 1, 28, 28)
    assert model.reconstruct(real).shape == (3, 1, 28, 28)
    torch.testing.assert_close(model.reconstruct(real), model.reconstruct(real))   # at μ: deterministic
    # the test split reports the same quantities as validation: the per-image mean, by hand
    data = ImageDataModule(name="digits", batch_size=16)
    logged = trainer.test(model, datamodule=data, verbose=False)[0]
    with torch.no_grad():
        errors = torch.cat([((model.reconstruct(x) - x) ** 2).flatten(1).sum(1) for x, _ in data.test_dataloader()])
    assert set(logged) == {"test/rec", "test/kl_real"}
    assert logged["test/rec"] == pytest.approx(errors.mean().item(), rel=1e-5)
