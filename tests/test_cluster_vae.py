"""ClusterVAE: hand-computed loss, learning on a fixed batch, sampling, CLI fit, bench metrics."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.distributions import Normal

from lit_gen.bench.registry import get_metric
from lit_gen.bench.suite import load_suite
from lit_gen.cli import LitGenCLI
from lit_gen.data.augment import affine_warp, random_affine
from lit_gen.losses.clustering import nt_xent, self_label_loss
from lit_gen.models import ClusterVAE

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(image_size=8, latent_dim=3, num_clusters=4, channels=(4,), hidden=16, classifier_hidden=8)


def terms_with_their_noise(model: ClusterVAE, x: torch.Tensor):
    """``model.loss_terms(x)`` and the encoder's ``mu``, ``logvar`` and the ``z`` drawn inside it
    (the same noise, replayed), so a test can recompute every term by hand."""
    torch.manual_seed(1)
    terms = model.loss_terms(x)
    mu, logvar = model.encoder(x).chunk(2, dim=1)
    torch.manual_seed(1)
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    return terms, mu, logvar, z


def test_loss_matches_hand_computation():
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, recon_weight=2.5)
    x = torch.rand(2, 1, 8, 8)
    # every term from torch.distributions instead of the module's helpers
    terms, mu, logvar, z = terms_with_their_noise(model, x)
    x_hat = torch.sigmoid(model.decoder(z))
    recon = 0.5 * ((x - x_hat) ** 2).sum(dim=(1, 2, 3))
    p = torch.softmax(model.classifier(z), dim=1)                            # (2, K)
    log_q_zx = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)           # (2,)
    log_q_zy = torch.stack([Normal(model.means[k], 1.0).log_prob(z).sum(1) for k in range(4)], 1)
    latent = (p * (log_q_zx[:, None] - log_q_zy)).sum(1)
    cat = (p * (p.log() - math.log(0.25))).sum(1)
    torch.testing.assert_close(terms["recon"], recon)
    torch.testing.assert_close(terms["latent_kl"], latent)
    torch.testing.assert_close(terms["cat_kl"], cat)
    torch.testing.assert_close(terms["loss"], 2.5 * recon + latent + cat)
    torch.testing.assert_close(terms["nelbo"], recon + latent + cat)
    assert (terms["cat_kl"] >= 0).all() and (terms["cat_kl"] <= math.log(4) + 1e-6).all()


def test_augmentation_terms_match_hand_computation():
    torch.manual_seed(0)
    weights = dict(invariance_weight=0.5, consistency_weight=2.0, balance_weight=3.0, confidence_weight=0.25,
                   pair_mi_weight=0.125)
    x = torch.rand(2, 1, 8, 8)
    # a warp of zero range is the identity: the warped code equals the code, so the two
    # warp terms vanish; balance, confidence and the pair information I(y; y) = H(y) are left
    still = ClusterVAE(**TINY, **weights, augment_rotation=0, augment_shift=0, augment_scale=0)
    torch.manual_seed(1)
    terms = still.loss_terms(x)
    torch.testing.assert_close(terms["invariance"], torch.zeros(2))
    torch.testing.assert_close(terms["consistency"], torch.zeros(2))
    p = torch.softmax(still.classifier(still.encoder(x).chunk(2, dim=1)[0]), dim=1)
    marginal = p.mean(0)
    torch.testing.assert_close(terms["balance"], (marginal * marginal.log()).sum().expand(2))
    torch.testing.assert_close(terms["confidence"], -(p * p.log()).sum(1))
    joint = (p.t() @ p) / 2
    marg = joint.sum(1)
    mutual_info = (joint * (joint / (marg[:, None] * marg[None, :])).log()).sum()
    torch.testing.assert_close(terms["pair_mi"], -mutual_info.expand(2))
    torch.testing.assert_close(terms["loss"], 2.5 * terms["recon"] + terms["latent_kl"] + terms["cat_kl"]
                               + 3.0 * terms["balance"] + 0.25 * terms["confidence"] + 0.125 * terms["pair_mi"])
    # a one-pixel shift: the terms are the distances between the two codes and posteriors
    model = ClusterVAE(**TINY, **weights, augment_rotation=0, augment_shift=1, augment_scale=0)
    mu = model.encoder(x).chunk(2, dim=1)[0]
    p = torch.softmax(model.classifier(mu), dim=1)
    torch.manual_seed(1)
    # loss_terms draws z first (one randn_like) and then the warp from the global generator
    torch.randn(2, 3)
    expected_warp = random_affine(x, 0, 1, 0)
    torch.manual_seed(1)
    terms = model.loss_terms(x)
    assert not torch.equal(expected_warp, x)
    mu_w = model.encoder(expected_warp).chunk(2, dim=1)[0]
    p_w = torch.softmax(model.classifier(mu_w), dim=1)
    torch.testing.assert_close(terms["invariance"], (mu_w - mu).pow(2).sum(1))
    torch.testing.assert_close(terms["consistency"], (p * (p.log() - p_w.log())).sum(1))
    # the joint of the two sides, symmetrised, by hand for B = 2, K = 4
    joint = sum(torch.outer(p[b], p_w[b]) for b in range(2)) / 2
    joint = (joint + joint.t()) / 2
    mutual_info = sum(joint[i, j] * (joint[i, j] / (joint[i].sum() * joint[:, j].sum())).log()
                      for i in range(4) for j in range(4))
    torch.testing.assert_close(terms["pair_mi"], -mutual_info.expand(2))
    assert (terms["invariance"] > 0).all()
    torch.testing.assert_close(terms["nelbo"], terms["recon"] + terms["latent_kl"] + terms["cat_kl"])


def test_contrastive_term_is_nt_xent_by_hand():
    """NT-Xent of 2 images (4 codes): each code's partner against the 2 others, by hand."""
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
    t = 0.5
    codes = [v / v.norm() for v in (a[0], a[1], b[0], b[1])]
    partner = {0: 2, 1: 3, 2: 0, 3: 1}

    def loss(i: int) -> torch.Tensor:
        others = [j for j in range(4) if j != i]
        logits = torch.stack([codes[i] @ codes[j] / t for j in others])
        return -(codes[i] @ codes[partner[i]] / t - torch.logsumexp(logits, 0))

    expected = torch.stack([(loss(0) + loss(2)) / 2, (loss(1) + loss(3)) / 2])
    torch.testing.assert_close(nt_xent(a, b, t), expected)
    # identical views of well separated images: each partner is found with near certainty
    sharp = nt_xent(torch.eye(2), torch.eye(2), 0.05)
    assert (sharp < 1e-6).all()
    # in the module, with zero-range warps (identical views): the term and its weight in the loss
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, contrastive_weight=2.0, contrastive_temperature=t,
                       augment_rotation=0, augment_shift=0, augment_scale=0)
    x = torch.rand(3, 1, 8, 8)
    torch.manual_seed(1)
    terms = model.loss_terms(x)
    mu = model.encoder(x).chunk(2, dim=1)[0]
    torch.testing.assert_close(terms["contrastive"], nt_xent(mu, mu, t))
    torch.testing.assert_close(terms["loss"], 2.5 * terms["recon"] + terms["latent_kl"] + terms["cat_kl"]
                               + 2.0 * terms["contrastive"])
    # two_warps pairs the warp of the other terms with a second, independent warp
    model = ClusterVAE(**TINY, contrastive_weight=1.0, contrastive_temperature=t, contrastive_views="two_warps",
                       augment_rotation=0, augment_shift=1, augment_scale=0)
    torch.manual_seed(1)
    torch.randn(3, 3)  # loss_terms draws z first, then the first warp, then the second
    first, second = random_affine(x, 0, 1, 0), random_affine(x, 0, 1, 0)
    assert not torch.equal(first, second)
    torch.manual_seed(1)
    terms = model.loss_terms(x)
    mu_first, mu_second = (model.encoder(v).chunk(2, dim=1)[0] for v in (first, second))
    torch.testing.assert_close(terms["contrastive"], nt_xent(mu_second, mu_first, t))
    mu = model.encoder(x).chunk(2, dim=1)[0]
    torch.testing.assert_close(terms["invariance"], (mu_first - mu).pow(2).sum(1))  # the first warp's


def test_neighbour_term_by_hand_and_the_code_bank():
    """With neighbour_k = 1 the partner is the nearest bank code by cosine: the term is
    −log Σ_y p(y|mu(x)) p(y|c) for that code c, and the batch's codes then enter the bank."""
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, neighbour_weight=0.5, neighbour_k=1, neighbour_bank=4)
    x = torch.rand(2, 1, 8, 8)
    mu = model.encoder(x).chunk(2, dim=1)[0].detach()
    # empty bank: no partner yet, so the term is 0; the codes are stored
    model.train()
    terms = model.loss_terms(x)
    assert torch.equal(terms["neighbour"], torch.zeros(2))
    assert model.bank_filled == 2
    torch.testing.assert_close(model.code_bank[:2], mu)
    # a bank of 4 known codes: 2 long ones along -mu (far by cosine) and 2 short ones along mu
    bank = torch.cat([-3.0 * mu, 0.1 * mu])
    model.code_bank.copy_(bank)
    model.bank_filled, model.bank_next = 4, 0
    model.eval()  # evaluation reads the bank but does not write it
    terms = model.loss_terms(x)
    p = torch.softmax(model.classifier(mu), dim=1)
    q = torch.softmax(model.classifier(0.1 * mu), dim=1)           # image b's nearest code is 0.1·mu_b
    torch.testing.assert_close(terms["neighbour"], -(p * q).sum(1).log())
    torch.testing.assert_close(terms["loss"], 2.5 * terms["recon"] + terms["latent_kl"] + terms["cat_kl"]
                               + 0.5 * terms["neighbour"])
    assert torch.equal(model.code_bank, bank)
    # ring buffer: the oldest codes go first
    model.remember_codes(torch.full((3, 3), 7.0))
    assert model.bank_filled == 4 and model.bank_next == 3
    assert torch.equal(model.code_bank[:3], torch.full((3, 3), 7.0))
    assert torch.equal(model.code_bank[3], bank[3])
    model.remember_codes(torch.arange(15.0).view(5, 3))           # more codes than slots: the last 4 stay
    assert sorted(model.code_bank[:, 0].tolist()) == [3.0, 6.0, 9.0, 12.0]
    assert "code_bank" not in model.state_dict()


def test_self_label_term_by_hand():
    # 4 images, 3 clusters: images 0 and 1 are confident in cluster 0, image 2 in cluster 2, and
    # image 3 is not confident. Cluster weights: 3 confident images / (2 clusters × count).
    log_p = torch.tensor([[0.995, 0.003, 0.002], [0.991, 0.005, 0.004],
                          [0.001, 0.001, 0.998], [0.6, 0.3, 0.1]]).log()
    log_q = torch.log_softmax(torch.randn(4, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    term = self_label_loss(log_p, log_q, threshold=0.99)
    expected = torch.stack([0.75 * -log_q[0, 0], 0.75 * -log_q[1, 0], 1.5 * -log_q[2, 2], torch.tensor(0.0)])
    torch.testing.assert_close(term, expected)
    # nobody confident: all zeros, no division by zero
    assert torch.equal(self_label_loss(log_p, log_q, threshold=0.999), torch.zeros(4))
    # in the loss, with the weight, once clustering is on (no pre-training here)
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, self_label_weight=2.0, self_label_threshold=0.3)
    terms = model.loss_terms(torch.rand(3, 1, 8, 8))
    assert terms["self_label"].gt(0).any()
    torch.testing.assert_close(terms["loss"], 2.5 * terms["recon"] + terms["latent_kl"] + terms["cat_kl"]
                               + 2.0 * terms["self_label"])


def test_neighbour_warmup_ramps_the_weight_from_the_end_of_pretraining():
    class FakeLoop:
        batch_idx = 0

    class FakeTrainer:
        num_training_batches = 10
        fit_loop = type("FitLoop", (), {"epoch_loop": FakeLoop()})()
        current_epoch = 0

    model = ClusterVAE(**TINY, pretrain_epochs=1, neighbour_weight=0.4, neighbour_warmup=0.5)
    trainer = FakeTrainer()
    model._trainer = trainer
    model.train()
    scales = []
    for epoch, batch in [(0, 5), (1, 0), (1, 2), (1, 5), (1, 9), (2, 0)]:
        trainer.current_epoch, trainer.fit_loop.epoch_loop.batch_idx = epoch, batch
        scales.append(model.neighbour_scale())
    assert scales == pytest.approx([0.0, 0.0, 0.16, 0.4, 0.4, 0.4])
    model.eval()
    assert model.neighbour_scale() == 0.4


def test_vat_term_follows_the_hessian_power_iteration():
    # for a small probe, one power iteration turns the probe d into H d, H the Hessian at r = 0 of
    # KL(p(y|mu(x)) ‖ p(y|mu(x + r))): the adversarial direction is checked against that Hessian
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, vat_weight=1.5, vat_epsilon=0.7, vat_xi=1e-5).double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    torch.manual_seed(1)
    terms = model.loss_terms(x)
    torch.manual_seed(1)
    torch.randn(2, 3, dtype=torch.float64)            # loss_terms draws z's noise first, then the probe
    probe = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        p = torch.softmax(model.classifier(model.encoder(x).chunk(2, dim=1)[0]), dim=1)

    def kl_at(r):
        q = torch.softmax(model.classifier(model.encoder(x + r.view_as(x)).chunk(2, dim=1)[0]), dim=1)
        return (p * (p.log() - q.log())).sum()

    hessian = torch.autograd.functional.hessian(kl_at, torch.zeros(2 * 64, dtype=torch.float64))
    pushed = (hessian @ probe.flatten()).view(2, 64)
    r_adv = 0.7 * pushed / pushed.norm(dim=1, keepdim=True)
    with torch.no_grad():
        q = torch.softmax(model.classifier(model.encoder(x + r_adv.view_as(x)).chunk(2, dim=1)[0]), dim=1)
    expected = (p * (p.log() - q.log())).sum(1)
    torch.testing.assert_close(terms["vat"], expected, rtol=1e-4, atol=1e-10)
    assert (terms["vat"] > 0).all()
    torch.testing.assert_close(terms["loss"], 2.5 * terms["recon"] + terms["latent_kl"] + terms["cat_kl"]
                               + 1.5 * terms["vat"])
    # the adversarial direction moves the posterior more than a random one of the same norm
    with torch.no_grad():
        random_r = 0.7 * probe.flatten(1) / probe.flatten(1).norm(dim=1, keepdim=True)
        q_random = torch.softmax(model.classifier(model.encoder(x + random_r.view_as(x)).chunk(2, dim=1)[0]), 1)
    assert ((p * (p.log() - q_random.log())).sum(1) < terms["vat"]).all()
    model.eval()  # it needs input gradients: training only
    with torch.no_grad():
        assert torch.equal(model.loss_terms(x)["vat"], torch.zeros(2, dtype=torch.float64))


def test_random_affine_moves_pixels_exactly_and_checks_its_ranges():
    x = torch.rand(2, 1, 6, 6)
    shifted = affine_warp(x, torch.zeros(2), torch.ones(2), torch.tensor([[2.0, 0.0], [0.0, -1.0]]))
    expected = torch.zeros_like(x)
    expected[0, :, :, 2:] = x[0, :, :, :-2]   # two pixels right, zeros come in on the left
    expected[1, :, :-1] = x[1, :, 1:]        # one pixel up
    torch.testing.assert_close(shifted, expected)
    quarter = affine_warp(x, torch.full((2,), math.pi / 2), torch.ones(2), torch.zeros(2, 2))
    torch.testing.assert_close(quarter, torch.rot90(x, 1, dims=(2, 3)))
    torch.testing.assert_close(random_affine(x, 0, 0, 0), x)
    with pytest.raises(ValueError, match="scale"):
        random_affine(x, 10, 2, 1.5)
    # flip: always, and a coin per image that mirrors exactly the images it draws
    torch.testing.assert_close(random_affine(x, 0, 0, 0, flip=1.0), x.flip(-1))
    big = torch.rand(64, 1, 6, 6)
    gen = torch.Generator().manual_seed(3)
    mirrored = random_affine(big, 0, 0, 0, generator=gen, flip=0.5)
    torch.rand(64, generator=gen.manual_seed(3))          # the warp's draws: angle, scale, shift
    torch.rand(64, generator=gen)
    torch.rand(64, 2, generator=gen)
    coin = torch.rand(64, generator=gen) < 0.5
    assert 10 < int(coin.sum()) < 54
    torch.testing.assert_close(mirrored[coin], big[coin].flip(-1))
    torch.testing.assert_close(mirrored[~coin], big[~coin])
    with pytest.raises(ValueError, match="flip"):
        random_affine(x, flip=1.5)


def test_gaussian_classifier_is_the_mixture_posterior():
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, classifier="gaussian")
    assert model.classifier is None
    z = torch.randn(5, 3)
    dens = torch.stack([Normal(model.means[k], 1.0).log_prob(z).sum(1) for k in range(4)], 1)
    torch.testing.assert_close(torch.softmax(model.cluster_logits(z), 1), torch.softmax(dens, 1))


def test_learned_cluster_variances_enter_the_prior_the_classifier_and_sampling():
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, cluster_variance="learned", classifier="gaussian")
    assert "cluster_logvar" in dict(model.named_parameters())
    assert "cluster_logvar" not in ClusterVAE(**TINY).state_dict()  # 'unit' checkpoints keep their keys
    with torch.no_grad():
        model.cluster_logvar.copy_(torch.randn(4, 3))
    terms, mu, logvar, z = terms_with_their_noise(model, torch.rand(2, 1, 8, 8))
    std_y = (0.5 * model.cluster_logvar).exp().detach()
    log_q_zy = torch.stack([Normal(model.means[k], std_y[k]).log_prob(z).sum(1) for k in range(4)], 1)
    p = torch.softmax(log_q_zy, dim=1)  # the Gaussian classifier: the mixture's Bayes posterior
    log_q_zx = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
    torch.testing.assert_close(terms["latent_kl"], (p * (log_q_zx[:, None] - log_q_zy)).sum(1))
    # cluster 2's samples spread by its own σ: read the codes z by making the decoder the identity
    model.decode = lambda code: code
    model.mean_image = lambda decoded: decoded
    torch.manual_seed(2)
    codes = model.sample(20000, y=2)
    torch.testing.assert_close(codes.mean(0), model.means[2].detach(), atol=0.05 * float(std_y.max()), rtol=0)
    torch.testing.assert_close(codes.std(0), std_y[2], rtol=0.03, atol=0)


def test_kmeans_start_of_the_cluster_variances():
    model = ClusterVAE(**TINY, cluster_variance="learned")
    codes = torch.tensor([[0.0, 0, 0], [2, 0, 0], [10, 10, 10], [10, 12, 10]], dtype=torch.float64)
    posterior_vars = torch.full((4, 3), 0.5, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    logvars = model.cluster_log_variances(codes, posterior_vars, labels)
    # cluster 0: Var of (0, 2) = 1 on the first axis, 0 elsewhere, plus the posterior's 0.5
    torch.testing.assert_close(logvars[0], torch.tensor([1.5, 0.5, 0.5], dtype=torch.float64).log())
    torch.testing.assert_close(logvars[1], torch.tensor([0.5, 1.5, 0.5], dtype=torch.float64).log())
    torch.testing.assert_close(logvars[2:], torch.zeros(2, 3, dtype=torch.float64))  # empty: unchanged


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, likelihood="bernoulli")
    # four binary templates, each four times: a batch the model can memorise
    x = (torch.rand(4, 1, 8, 8) > 0.5).float().repeat(4, 1, 1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = model.loss_terms(x)["loss"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_sampling_and_prediction_shapes():
    torch.manual_seed(0)
    model = ClusterVAE(**TINY).eval()
    assert model.sample(5, y=2).shape == (5, 1, 8, 8)
    assert model.sample(3).shape == (3, 1, 8, 8)
    grid = model.cluster_grid(2)
    assert grid.shape == (8, 1, 8, 8) and 0 <= grid.min() and grid.max() <= 1
    # row k comes from cluster k: with temperature 0 the two images of a row are identical
    rows = model.cluster_grid(2, temperature=0.0)
    torch.testing.assert_close(rows[0], rows[1])
    ids = model.predict_step((torch.rand(6, 1, 8, 8), torch.zeros(6)), 0)
    assert ids.shape == (6,) and ids.dtype == torch.long and ids.min() >= 0 and ids.max() < 4
    with pytest.raises(ValueError, match="out of range"):
        model.sample(1, y=4)


@pytest.mark.parametrize("bad, match", [
    (dict(num_clusters=1), "num_clusters"),
    (dict(recon_weight=-1.0), "recon_weight"),
    (dict(init_means="kmeans"), "pretrain_epochs"),
    (dict(classifier="svm"), "classifier"),
    (dict(balance_weight=-1.0), "balance_weight"),
    (dict(consistency_weight=float("nan")), "consistency_weight"),
    (dict(confidence_weight=-0.5), "confidence_weight"),
    (dict(pair_mi_weight=float("inf")), "pair_mi_weight"),
    (dict(vat_weight=-1.0), "vat_weight"),
    (dict(vat_epsilon=0.0), "vat_epsilon"),
    (dict(contrastive_weight=-1.0), "contrastive_weight"),
    (dict(contrastive_temperature=0.0), "contrastive_temperature"),
    (dict(contrastive_views="three"), "contrastive_views"),
    (dict(cluster_variance="diag"), "cluster_variance"),
    (dict(neighbour_weight=-1.0), "neighbour_weight"),
    (dict(neighbour_k=0), "neighbour_k"),
    (dict(augment_flip=-0.1), "augment_flip"),
    (dict(neighbour_k=10, neighbour_bank=5), "neighbour_bank"),
    (dict(augment_scale=1.0), "augment_scale"),
    (dict(neighbour_warmup=-1.0), "neighbour_warmup"),
    (dict(self_label_weight=float("nan")), "self_label_weight"),
    (dict(self_label_threshold=1.0), "self_label_threshold"),
])
def test_bad_config_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        ClusterVAE(**{**TINY, **bad})


def test_cli_fit_pretrain_kmeans_grid_and_bench_metrics(tmp_path):
    """Fit through the CLI on the bundled digits (1 pre-train + 1 clustering epoch), with the
    Gaussian classifier on learned cluster variances."""
    args = [
        "--config", "configs/cluster_vae_small.yaml",
        "--data.name", "digits", "--data.batch_size", "64", "--data.image_size", "16",
        "--model.image_size", "16", "--model.channels", "[8]", "--model.hidden", "32",
        "--model.latent_dim", "4", "--model.pretrain_epochs", "1", "--model.init_means", "kmeans",
        "--model.init_samples", "500", "--model.classifier", "gaussian", "--model.cluster_variance", "learned",
        "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "5",
        "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path),
    ]
    cli = LitGenCLI(args=args, run=False)
    before = cli.model.means.detach().clone()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert not torch.allclose(before, cli.model.means)  # K-Means replaced the random means
    assert not torch.allclose(cli.model.cluster_logvar, torch.zeros(10, 4))  # and set the clusters' spreads
    assert cli.trainer.callback_metrics["val/acc"] > 0.1
    assert list((tmp_path).rglob("clusters_epoch=1.png"))
    result = get_metric("clustering")(cli.model, cli.datamodule, cli.trainer)
    assert set(result.values) == {"acc", "purity", "nmi", "ari", "clusters_used", "largest_cluster"}
    assert result.protocol["images"] == len(cli.datamodule.test_set)
    # the sizes are those of the predicted ids, so a collapse shows
    ids = torch.cat([cli.model.predict_step(b, 0) for b in cli.datamodule.test_dataloader()])
    assert result.protocol["cluster_sizes"] == torch.bincount(ids, minlength=10).tolist()
    assert result.values["clusters_used"] == (ids.bincount(minlength=10) > 0).sum()
    assert result.values["largest_cluster"] == pytest.approx(ids.bincount().max().item() / len(ids))
    assert 0.1 <= result.values["acc"] <= result.values["purity"] <= 1.0
    for name in ("kmeans", "gmm"):
        res = get_metric(name)(cli.model, cli.datamodule, cli.trainer, num_clusters=10)
        assert 0.1 <= res.values[f"{name}_acc"] <= res.values[f"{name}_purity"] <= 1.0


def test_clustering_metric_rejects_a_model_without_cluster_ids():
    from lit_gen.data import ImageDataModule
    from lit_gen.models import VAE

    vae = VAE(image_size=8, latent_dim=2, channels=(4,), hidden=8)
    with pytest.raises(TypeError, match="kmeans"):
        get_metric("clustering")(vae, ImageDataModule("digits", image_size=8), None)


def test_scan_config_is_the_measured_bench_entry():
    """configs/cluster_vae_scan.yaml is quoted with cluster-vae-scan-e12-mnist-r3n's numbers: one
    run of that entry must build the same model, data and length."""
    root = Path(__file__).resolve().parents[1]
    entry = next(e for e in load_suite("cpu", root) if e.name == "cluster-vae-scan-e12-mnist-r3n")
    bench = LitGenCLI(args=entry.cli_args(root, seed=0), run=False)
    config = LitGenCLI(args=["--config", str(root / "configs" / "cluster_vae_scan.yaml"), "--seed_everything=0"],
                       run=False)
    assert dict(config.model.hparams) == dict(bench.model.hparams)
    assert dict(config.datamodule.hparams) == dict(bench.datamodule.hparams)
    assert config.trainer.max_epochs == bench.trainer.max_epochs == 12
