"""VIBClassifier: hand-computed loss, deterministic β = 0, test-time averaging, bench metric."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from lit_gen.bench.registry import get_metric
from lit_gen.cli import LitGenCLI
from lit_gen.models import VIBClassifier

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(in_features=12, num_classes=3, bottleneck_dim=2, hidden=(8,))


def test_loss_matches_hand_computation():
    torch.manual_seed(0)
    model = VIBClassifier(**TINY, beta=0.1)
    x, y = torch.randn(2, 12), torch.tensor([0, 2])
    torch.manual_seed(1)
    terms = model.loss_terms(x, y)
    mu, logvar = model.encoder(x).chunk(2, dim=1)
    std = (0.5 * logvar).exp()
    torch.manual_seed(1)
    z = mu + torch.randn_like(mu) * std
    logits = model.decoder(z)
    ce = -torch.log_softmax(logits, 1)[torch.arange(2), y]
    kl = kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(terms["ce"], ce)
    torch.testing.assert_close(terms["kl"], kl)
    torch.testing.assert_close(terms["loss"], ce + 0.1 * kl)


def test_softplus_scale_matches_alemis_parameterisation():
    """posterior_scale='softplus': σ = softplus(ρ − 5), KL and loss follow from that σ."""
    torch.manual_seed(0)
    model = VIBClassifier(**TINY, beta=0.1, posterior_scale="softplus")
    x, y = torch.randn(2, 12), torch.tensor([0, 2])
    mu_raw, rho = model.encoder(x).chunk(2, dim=1)
    sigma = F.softplus(rho - 5.0)
    mu, logvar = model.encode(x)
    torch.testing.assert_close(mu, mu_raw)
    torch.testing.assert_close((0.5 * logvar).exp(), sigma)
    assert (sigma < 0.02).all()  # a fresh encoder (ρ near 0) is nearly deterministic
    torch.manual_seed(1)
    terms = model.loss_terms(x, y)
    torch.manual_seed(1)
    z = mu + torch.randn_like(mu) * sigma
    ce = -torch.log_softmax(model.decoder(z), 1)[torch.arange(2), y]
    kl = kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(terms["loss"], ce + 0.1 * kl)
    # a very negative ρ floors σ at 1e-6 instead of giving log 0 = -inf
    with torch.no_grad():
        model.encoder.net[-1].bias[2:] = -200.0
    logvar = model.encode(x)[1]
    torch.testing.assert_close(logvar, torch.full_like(logvar, 2 * math.log(1e-6)))
    model.loss_terms(x, y)["loss"].sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_released_code_inputs_and_initialisation():
    """centre_inputs feeds 2x − 1; weight_init='glorot' gives Glorot-uniform weights, zero biases."""
    torch.manual_seed(0)
    model = VIBClassifier(in_features=784, bottleneck_dim=256, weight_init="glorot", centre_inputs=True)
    linears = [m for m in (*model.encoder.modules(), *model.decoder.modules()) if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(1024, 784), (1024, 1024), (512, 1024), (10, 256)]
    for m in linears:
        fan_out, fan_in = m.weight.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert m.weight.abs().max() <= bound
        # a uniform on [-b, b] has std b/√3; PyTorch's default (b = 1/√fan_in) would miss this
        assert abs(m.weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound
        assert (m.bias == 0).all()
    x = torch.rand(3, 1, 28, 28)
    plain = VIBClassifier(in_features=784, bottleneck_dim=256)
    plain.load_state_dict(model.state_dict())
    for got, want in zip(model.encode(x), plain.encode(2 * x - 1)):
        torch.testing.assert_close(got, want)


def test_beta_zero_is_the_deterministic_network():
    torch.manual_seed(0)
    model = VIBClassifier(**TINY, beta=0.0)
    x, y = torch.randn(4, 12), torch.tensor([0, 1, 2, 1])
    a, b = model.loss_terms(x, y), model.loss_terms(x, y)
    torch.testing.assert_close(a["loss"], b["loss"])  # no noise
    assert (a["kl"] == 0).all()
    mu = model.encode(x)[0]
    torch.testing.assert_close(a["ce"], F.cross_entropy(model.decoder(mu), y, reduction="none"))


def test_test_time_averaging():
    torch.manual_seed(0)
    model = VIBClassifier(**TINY, beta=1e-3, test_samples=12).eval()
    x = torch.randn(5, 12)
    mu, logvar = model.encode(x)
    torch.testing.assert_close(model.predict_proba(x, num_samples=0), torch.softmax(model.decoder(mu), 1))
    torch.manual_seed(3)
    probs = model.predict_proba(x)
    torch.manual_seed(3)
    z = mu + torch.randn(12, 5, 2) * (0.5 * logvar).exp()
    torch.testing.assert_close(probs, torch.softmax(model.decoder(z), -1).mean(0))
    torch.testing.assert_close(probs.sum(1), torch.ones(5))


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = VIBClassifier(**TINY, beta=1e-2)
    x, y = torch.randn(32, 12), torch.randint(0, 3, (32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        loss = model.loss_terms(x, y)["loss"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


@pytest.mark.parametrize("bad, match", [
    (dict(beta=-1e-3), "beta"), (dict(beta=float("nan")), "beta"),
    (dict(num_classes=1), "num_classes"), (dict(test_samples=-1), "test_samples"),
    (dict(posterior_scale="exp"), "posterior_scale"),
    (dict(dropout=1.0), "dropout"), (dict(dropout=-0.1), "dropout"), (dict(weight_init="he"), "weight_init"),
    (dict(augment_shift=-1.0), "augment_shift"), (dict(augment_scale=1.0), "augment_scale"),
])
def test_bad_config_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        VIBClassifier(**{**TINY, **bad})


def test_dropout_acts_in_training_only():
    torch.manual_seed(0)
    plain, dropped = VIBClassifier(**TINY), VIBClassifier(**TINY, dropout=0.5)
    # at 0 no dropout layer exists, so checkpoints and random streams of existing runs are unchanged
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    linears = [[m for m in model.modules() if isinstance(m, torch.nn.Linear)] for model in (plain, dropped)]
    for source, target in zip(*linears, strict=True):
        target.load_state_dict(source.state_dict())
    x = torch.randn(64, 12)
    dropped.eval(), plain.eval()
    torch.testing.assert_close(dropped.encode(x)[0], plain.encode(x)[0])       # evaluation: identity
    dropped.train()
    hidden = dropped.encoder.net[:4](x)                     # Flatten, Linear, ReLU, Dropout
    kept = hidden != 0
    relu = dropped.encoder.net[:3](x)
    torch.testing.assert_close(hidden[kept], 2.0 * relu[kept])                 # survivors scaled by 1/(1-p)
    assert 0.3 < (kept.sum() / (relu != 0).sum()).item() < 0.7


def test_augmentation_warps_training_images_only(monkeypatch):
    """Training batches are warped (each image its own way); validation batches reach the loss as given."""
    torch.manual_seed(0)
    model = VIBClassifier(**{**TINY, "in_features": 64}, augment_shift=2.0, augment_rotation=10.0)
    plain = VIBClassifier(**{**TINY, "in_features": 64})
    seen = []
    for m in (model, plain):
        monkeypatch.setattr(m, "loss_terms", lambda x, y, m=m: seen.append(x) or type(m).loss_terms(m, x, y))
        monkeypatch.setattr(m, "log", lambda *args, **kwargs: None)
    x = torch.zeros(4, 1, 8, 8)
    x[:, :, 3:5, 3:5] = 1.0                                    # the same centred square in every image
    y = torch.tensor([0, 1, 2, 0])
    model._step((x, y), "train")
    model._step((x, y), "val")
    plain._step((x, y), "train")
    warped, val_x, plain_x = seen
    assert warped.shape == x.shape and not torch.equal(warped, x)
    assert len({tuple(w.flatten().tolist()) for w in warped}) == 4     # one warp per image
    assert torch.equal(val_x, x) and torch.equal(plain_x, x)
    with pytest.raises(ValueError, match="augment_shift"):                # flat vectors cannot be warped
        model._step((x.flatten(1), y), "train")


def test_cli_fit_and_test_error_metric(tmp_path):
    args = [
        "--config", "configs/vib.yaml", "--data.name", "digits", "--data.batch_size", "64",
        "--model.hidden", "[64]", "--model.bottleneck_dim", "8", "--model.test_samples", "4",
        "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(tmp_path), "--seed_everything", "0",
    ]
    cli = LitGenCLI(args=args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    result = get_metric("test_error")(cli.model, cli.datamodule, cli.trainer)
    # recompute by hand from the same predictions
    cli.datamodule.setup("test")
    x, y = cli.datamodule.test_set.images.float() / 255, cli.datamodule.test_set.labels
    torch.manual_seed(0)
    errors = (cli.model.eval().predict_proba(x, num_samples=0).argmax(1) != y).float().mean() * 100
    assert result.protocol["unit"] == "percent" and result.protocol["images"] == len(y)
    assert result.values["test_error"] < 50  # 10 classes: chance is 90 %
    # sampled (4 draws) vs mean prediction: measured 1.68, 1.35, 1.01, 0.34 points on seeds 0-3
    assert abs(result.values["test_error"] - float(errors)) < 2.5
    at_mu = get_metric("test_error_at_mu")(cli.model, cli.datamodule, cli.trainer)
    assert at_mu.values["test_error_at_mu"] == pytest.approx(float(errors), abs=1e-4)
    assert at_mu.protocol["test_samples"] == 0
    with pytest.raises(ValueError, match="predict_proba"):
        get_metric("test_error_at_mu")(torch.nn.Linear(2, 2), cli.datamodule, cli.trainer)


def test_cosine_schedule_falls_to_zero_over_the_budget(fit_learning_rates):
    from lit_gen.data import ImageDataModule

    with pytest.raises(ValueError, match="lr_schedule"):
        VIBClassifier(lr_schedule="linear")
    model = VIBClassifier(in_features=64, bottleneck_dim=4, hidden=(16,), lr=1e-3, lr_schedule="cosine")
    rates = fit_learning_rates(model, ImageDataModule("digits", batch_size=50, image_size=8), 2, 4)
    # one rate per step, 8 steps: lr_t = 1e-3 * (1 + cos(pi t / 8)) / 2 (no step decay on top)
    assert rates == pytest.approx([1e-3 * (1 + math.cos(math.pi * t / 8)) / 2 for t in range(8)])
