"""Picture callbacks draw seeded noise and leave the training run's random state untouched."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lit_gen.callbacks.clusters import ClusterGridCallback
from lit_gen.callbacks.images import ImageGridCallback
from lit_gen.models import VAE, ClusterVAE


@pytest.mark.parametrize("make", [
    lambda: (ClusterGridCallback(per_cluster=3, seed=5), ClusterVAE(image_size=8, latent_dim=3, num_clusters=3,
                                                                    channels=(4,), hidden=8)),
    lambda: (ImageGridCallback(num_samples=6, seed=5), VAE(image_size=8, latent_dim=3, channels=(4,), hidden=8)),
])
def test_grid_is_the_same_every_time_and_training_noise_is_not_moved(tmp_path, make):
    callback, model = make()
    trainer = L.Trainer(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    first = callback.write(trainer, model, tag="a")
    assert torch.equal(torch.get_rng_state(), state)  # the next training draw is the one it would have been
    second = callback.write(trainer, model, tag="b")
    first, second = (first[0], second[0]) if isinstance(first, list) else (first, second)
    assert first.read_bytes() == second.read_bytes()  # same noise every epoch: epochs compare
    model.sample(3)  # without the callback's guard, sampling does move the global state
    assert not torch.equal(torch.get_rng_state(), state)
