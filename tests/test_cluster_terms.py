"""lit_gen.losses.clustering: the registry of ClusterVAE's optional terms, and a regression guard
that moving the terms out of the model kept every value bit for bit."""

from __future__ import annotations

import pytest
import torch

from lit_gen.losses.clustering import SUM_ORDER, TERMS, register_term, summed_order
from lit_gen.models import ClusterVAE

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"image_size": 8, "latent_dim": 3, "num_clusters": 4, "channels": (4,), "hidden": 16, "classifier_hidden": 8}
CASES = {
    "all_terms": {"invariance_weight": 0.5, "contrastive_weight": 0.3, "consistency_weight": 0.7,
                  "balance_weight": 0.2, "confidence_weight": 0.1, "pair_mi_weight": 0.4, "vat_weight": 0.6,
                  "neighbour_weight": 0.8, "neighbour_k": 2, "neighbour_bank": 16, "self_label_weight": 0.9,
                  "self_label_threshold": 0.3},
    "two_warps_learned": {"contrastive_weight": 1.0, "contrastive_views": "two_warps", "cluster_variance": "learned",
                          "classifier": "gaussian", "kl_estimator": "analytic", "self_label_weight": 0.5,
                          "self_label_threshold": 0.3, "pair_mi_weight": 0.3, "augment_flip": 0.5},
}
# Batch means of loss_terms over 3 Adam steps (lr 1e-2) on the seeded batch below: the losses of
# the 3 steps, then every term at the third step. Produced with the code of main at commit
# e6aaade (before the terms moved to lit_gen.losses.clustering) on CPU, torch 2.14; the third
# step depends on the gradients of the first two, so it checks the backward pass as well.
EXPECTED = {
    "all_terms": ([9.680354118347168, 10.026451110839844, 10.172480583190918], {
        "nelbo": 3.692760467529297, "recon": 2.5198395252227783, "latent_kl": 1.144600749015808,
        "cat_kl": 0.02832014299929142, "invariance": 0.0026830413844436407, "contrastive": 2.398832321166992,
        "consistency": 1.8045060642180033e-05, "balance": -1.3714531660079956, "confidence": 1.3714419603347778,
        "pair_mi": 8.55917221542768e-08, "vat": 6.528963422169909e-05, "neighbour": 1.3567118644714355,
        "self_label": 1.145216703414917}),
    "two_warps_learned": ([10.891280174255371, 10.782833099365234, 10.391201972961426], {
        "nelbo": 3.758148193359375, "recon": 2.5896005630493164, "latent_kl": 0.8684256672859192,
        "cat_kl": 0.3001222312450409, "invariance": 0.011214766651391983, "contrastive": 2.3981688022613525,
        "consistency": 0.0009878174168989062, "balance": -1.2041360139846802, "confidence": 1.2037376165390015,
        "pair_mi": -2.247215888928622e-07, "vat": 0.0, "neighbour": 0.0, "self_label": 0.7009679675102234}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_terms_are_bit_identical_to_the_code_before_the_move(case):
    torch.manual_seed(0)
    model = ClusterVAE(**TINY, **CASES[case]).train()
    x = torch.rand(6, 1, 8, 8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        terms = model.loss_terms(x)
        losses.append(terms["loss"].mean().item())
        opt.zero_grad()
        terms["loss"].mean().backward()
        opt.step()
    expected_losses, expected_terms = EXPECTED[case]
    assert losses == expected_losses  # exact: a changed sum or graph order shows in the last bits
    assert {name: value.mean().item() for name, value in terms.items() if name != "loss"} == expected_terms


def test_every_term_has_a_weight_and_a_place_in_the_sum():
    assert set(summed_order()) == set(TERMS) and set(SUM_ORDER) <= set(TERMS)
    args = ClusterVAE.__init__.__code__.co_varnames
    for name, term in TERMS.items():
        assert f"{name}_weight" in args
        assert set(term.option_names()) <= set(args), name  # options come from the hyperparameters


def test_a_name_registers_once():
    with pytest.raises(ValueError, match="registered twice"):
        register_term("vat", TERMS["vat"].fn, needs_clusters=True)


def _spread(b, *, spread_scale: float):
    """A user's term: spread_scale · ‖mu‖² per image (pulls codes towards 0)."""
    return spread_scale * b.mu.pow(2).sum(1)


class SpreadClusterVAE(ClusterVAE):
    def __init__(self, spread_weight: float = 0.0, spread_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)


def test_a_term_registered_outside_the_library_works_through_a_subclass():
    register_term("spread", _spread)
    try:
        ClusterVAE(**TINY)  # a plain model has no weight for the new term: it is off, and no error
        model = SpreadClusterVAE(spread_weight=2.0, spread_scale=0.5, **TINY)
        x = torch.rand(4, 1, 8, 8)
        torch.manual_seed(0)
        terms = model.loss_terms(x)
        torch.testing.assert_close(terms["spread"], 0.5 * model.encode(x)[0].pow(2).sum(1))
        model.hparams.spread_weight = 0.0  # the same draws without the term: the loss drops by 2 · spread
        torch.manual_seed(0)
        off = model.loss_terms(x)
        torch.testing.assert_close(terms["loss"] - off["loss"], 2.0 * terms["spread"])
    finally:
        TERMS.pop("spread")
