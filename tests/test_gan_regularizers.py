"""Reading-list regularisers (issue #39) against hand computations: Roth et al.'s penalty on the
critic T(x) = ½‖x‖², its annealing, CT-GAN's consistency term with controlled dropout masks,
BigGAN's orthogonal regulariser on a tiny weight and its truncated noise."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lit_gen.losses.gan import get_objective
from lit_gen.losses.gan_regularizers import (consistency_term, orthogonal_penalty, roth_penalty, roth_weight,
                                             truncated_noise)
from lit_gen.models import GAN

REAL = [[1.0, 0.0, 0.5], [0.2, -0.4, 0.0]]
FAKE = [[0.0, 1.0, -0.5], [0.6, 0.2, 0.1]]
TINY = dict(latent_dim=8, g_width=4, d_width=4)


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def sq(x):
    return sum(v * v for v in x)


def half_sq_norm(x):
    """The tiny critic T(x) = ½‖x‖² per image: ∇T(x) = x, so ‖∇T‖² = ‖x‖²."""
    return 0.5 * x.flatten(1).pow(2).sum(1)


def as_images(rows):
    return torch.tensor(rows, dtype=torch.float64).view(len(rows), 1, 1, 3)


# ----- Roth et al. (2017) -----
def test_roth_penalty_equals_the_hand_computation():
    gamma = 2.0
    real_terms = [(1 - sigmoid(0.5 * sq(x))) ** 2 * sq(x) for x in REAL]   # (1 − D)²‖∇T‖² on real
    fake_terms = [sigmoid(0.5 * sq(x)) ** 2 * sq(x) for x in FAKE]         # D²‖∇T‖² on fake
    expected = gamma / 2 * (sum(real_terms) / 2 + sum(fake_terms) / 2)
    assert expected == pytest.approx(0.0985 + 0.3275, abs=1e-4)            # real + fake means, γ/2 = 1
    got = roth_penalty(half_sq_norm, as_images(REAL), as_images(FAKE), gamma)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_roth_penalty_is_differentiable_in_the_critic():
    """Double backprop: the penalty of T(x) = a·½‖x‖² moves with a (its gradient by finite
    differences)."""
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    real, fake = as_images(REAL), as_images(FAKE)
    value = roth_penalty(lambda x: a * half_sq_norm(x), real, fake, 1.0)
    (grad,) = torch.autograd.grad(value, a)
    eps = 1e-6
    hi = roth_penalty(lambda x: (a.detach() + eps) * half_sq_norm(x), real, fake, 1.0).item()
    lo = roth_penalty(lambda x: (a.detach() - eps) * half_sq_norm(x), real, fake, 1.0).item()
    assert grad.item() == pytest.approx((hi - lo) / (2 * eps), rel=1e-5)
    assert grad.item() != 0


def test_roth_annealing_is_gamma_times_0_01_to_the_t_over_T():
    assert roth_weight(2.0, 0, 100) == pytest.approx(2.0)
    assert roth_weight(2.0, 50, 100) == pytest.approx(0.2)
    assert roth_weight(2.0, 100, 100) == pytest.approx(0.02)
    assert roth_weight(2.0, 70, None) == 2.0                       # no annealing


def test_roth_composes_with_sgan_in_the_module():
    torch.manual_seed(0)
    model = GAN(objective="sgan", roth_gamma=2.0, roth_anneal=True, g_steps=10, **TINY)
    model.g_step.fill_(5)                                          # γ_t = 2·0.01^0.5 = 0.2
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        fake = model.generator(model.noise(4))
    loss, stats = model.discriminator_loss(real, fake)
    s_real, s_fake = model.score(real), model.score(fake)
    sgan = get_objective("sgan").d_loss(s_real, s_fake, real=real, fake=fake, critic=model.score)
    roth = roth_penalty(model.score, real, fake, 0.2)
    assert stats["roth"].item() == pytest.approx(roth.item(), rel=1e-5)
    assert loss.item() == pytest.approx((sgan + roth).item(), rel=1e-5)


def test_roth_anneal_steps_sets_the_horizon_apart_from_the_run_length():
    """A time-budgeted run (g_steps far away) anneals over roth_anneal_steps, then holds 0.01·γ."""
    torch.manual_seed(0)
    model = GAN(objective="sgan", roth_gamma=2.0, roth_anneal=True, roth_anneal_steps=10, g_steps=1_000_000, **TINY)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        fake = model.generator(model.noise(4))
    for step, gamma in ((5, 0.2), (10, 0.02), (500, 0.02)):        # 2·0.01^(5/10) = 0.2
        model.g_step.fill_(step)
        _, stats = model.discriminator_loss(real, fake)
        assert stats["roth"].item() == pytest.approx(roth_penalty(model.score, real, fake, gamma).item(), rel=1e-5)


def test_roth_options_are_checked():
    with pytest.raises(ValueError, match="objective sgan"):
        GAN(objective="wgan_gp", roth_gamma=1.0)
    with pytest.raises(ValueError, match="set roth_anneal_steps"):
        GAN(roth_gamma=1.0, roth_anneal=True)
    with pytest.raises(ValueError, match="horizon T of roth_anneal"):
        GAN(roth_gamma=1.0, roth_anneal_steps=100)
    with pytest.raises(ValueError, match="horizon T of roth_anneal"):
        GAN(roth_gamma=1.0, roth_anneal=True, roth_anneal_steps=0)
    with pytest.raises(ValueError, match="per-sample gradient penalty"):
        GAN(roth_gamma=1.0, d_norm="batch")


# ----- CT-GAN (Wei et al. 2018) -----
W = [0.5, -1.0, 2.0]
MASKS = [[[1, 0, 1], [1, 1, 0]], [[1, 1, 0], [0, 1, 1]]]      # dropout keep-masks of pass 1, pass 2


def test_consistency_term_with_controlled_dropout_masks():
    """A stub critic: features D_(x) = x ⊙ m / (1 − p) with the given masks (inverted dropout,
    p = ½), score D(x) = w·D_(x)."""
    masks = iter(MASKS)
    w = torch.tensor(W, dtype=torch.float64)

    def critic_features(x):
        f = x.flatten(1) * torch.tensor(next(masks), dtype=torch.float64) / 0.5
        return f @ w, f

    margin, weight = 0.2, 2.0
    per_image = []
    for x, m1, m2 in zip(REAL, *MASKS):
        f1 = [v * m / 0.5 for v, m in zip(x, m1)]
        f2 = [v * m / 0.5 for v, m in zip(x, m2)]
        d_score = (sum(a * b for a, b in zip(W, f1)) - sum(a * b for a, b in zip(W, f2))) ** 2
        d_feat = sum((a - b) ** 2 for a, b in zip(f1, f2)) / 3
        per_image.append(max(0.0, d_score + 0.1 * d_feat - margin))
    expected = weight * sum(per_image) / 2
    # image 1: f1 = (2, 0, 1), f2 = (2, 0, 0): d = 4 + 0.1·1/3; image 2: f1 = (.4, −.8, 0),
    # f2 = (0, −.8, 0): d = 0.04 + 0.1·0.16/3, under the margin → 0
    assert expected == pytest.approx(2 * (4 + 0.1 / 3 - 0.2) / 2)
    got = consistency_term(critic_features, as_images(REAL), weight=weight, margin=margin)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_discriminator_dropout_is_off_by_default_and_feeds_the_consistency_term():
    torch.manual_seed(0)
    plain = GAN(**TINY)
    assert not any(isinstance(m, nn.Dropout) for m in plain.discriminator.modules())
    dropped = GAN(objective="wgan_gp", ct_weight=2.0, d_dropout=0.5, **TINY)
    body = list(dropped.discriminator.body)
    assert [type(m).__name__ for m in body] == ["Conv2d", "LeakyReLU", "Dropout"] * 2 + ["Flatten"]
    assert dropped.discriminator.body[2].p == 0.5
    # d_dropout = 0 keeps the layout and the state-dict keys of the existing checkpoints
    assert list(plain.discriminator.state_dict()) == ["body.0.weight", "body.0.bias", "body.2.weight",
                                                      "body.2.bias", "head.weight", "head.bias"]
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    (s1, f1), (s2, f2) = dropped.critic_features(x), dropped.critic_features(x)
    assert not torch.equal(f1, f2)                                 # two dropout masks
    real, fake = x, torch.rand(4, 1, 28, 28) * 2 - 1
    assert dropped.discriminator_loss(real, fake)[1]["ct"] > 0
    dropped.eval()                                                 # no dropout: both passes agree
    assert dropped.discriminator_loss(real, fake)[1]["ct"] == 0


def test_consistency_options_are_checked():
    with pytest.raises(ValueError, match="set d_dropout > 0"):
        GAN(ct_weight=2.0)
    with pytest.raises(ValueError, match=r"d_dropout must be in \[0, 1\)"):
        GAN(d_dropout=1.0)
    with pytest.raises(ValueError, match="option of the DCGAN discriminator"):
        GAN(arch="resnet", image_size=32, in_channels=3, d_dropout=0.5)


# ----- BigGAN (Brock et al. 2019) -----
def test_orthogonal_penalty_equals_the_hand_computation():
    """W = [[1, 2], [3, 4], [0, 1]]: the row Gram W Wᵀ has off-diagonal entries 11, 2 and 4
    (each twice), so ‖W Wᵀ ⊙ (1 − I)‖²_F = 2·(121 + 4 + 16) = 282. A conv weight (2, 1, 1, 2)
    [[5, 0]], [[0, 1]] has orthogonal rows: 0. Biases and embeddings are left out."""
    net = nn.Sequential(nn.Linear(2, 3), nn.Conv2d(1, 2, (1, 2)), nn.Embedding(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]]))
        net[1].weight.copy_(torch.tensor([[[[5.0, 0.0]]], [[[0.0, 1.0]]]]))
        net[2].weight.fill_(7.0)
    assert orthogonal_penalty(net, 1e-4).item() == pytest.approx(1e-4 * 282)
    # its gradient is 4β(WWᵀ ⊙ (1 − I))W: twice what the BigGAN code adds (2β(...)W)
    orthogonal_penalty(net, 1e-4).backward()
    w = net[0].weight.detach()
    off = (w @ w.t()) * (1 - torch.eye(3))
    torch.testing.assert_close(net[0].weight.grad, 4e-4 * off @ w)


def test_truncated_noise_stays_within_psi_times_the_threshold():
    torch.manual_seed(0)
    for psi in (1.0, 0.5, 0.04):
        z = truncated_noise(4000, 16, psi)
        assert z.abs().max() <= 2.0 * psi
        assert z.abs().max() > 1.9 * psi                          # truncated, not squashed
    assert truncated_noise(5, 3, 1.0).shape == (5, 3)
    for psi in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match=r"truncation psi must be in \(0, 1\]"):
            truncated_noise(5, 3, psi)


def test_roth_and_ct_in_a_fit_are_logged(tmp_path):
    import lightning as L

    from lit_gen.data import ImageDataModule

    L.seed_everything(0)
    model = GAN(objective="sgan", roth_gamma=1.0, roth_anneal=True, ct_weight=2.0, d_dropout=0.5, g_steps=2, **TINY)
    trainer = L.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        enable_checkpointing=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=ImageDataModule(name="digits", batch_size=8))
    assert int(model.g_step) == 2
    assert trainer.callback_metrics["train/roth"] > 0 and trainer.callback_metrics["train/ct"] > 0


def test_ortho_is_added_to_the_generator_loss():
    torch.manual_seed(0)
    model = GAN(num_classes=10, g_shared_dim=4, g_ortho=1e-3, **TINY)
    y = torch.tensor([0, 3, 3, 9])
    real, fake = torch.rand(4, 1, 28, 28) * 2 - 1, model.generate(model.noise(4), y)
    loss = model.generator_loss(real, fake, y=y)
    sgan = torch.nn.functional.softplus(-model.score(fake, y)).mean()       # non-saturating G loss
    assert loss.item() == pytest.approx((sgan + orthogonal_penalty(model.generator, 1e-3)).item(), rel=1e-6)
    assert orthogonal_penalty(model.generator, 1e-3).item() > 1e-6 * abs(sgan.item())   # not negligible
