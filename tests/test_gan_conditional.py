"""Class-conditional GAN (issue #39): the projection head's decomposition, sample(n, y=k),
clear errors for unknown labels, BigGAN's shared embedding / hierarchical z / truncation in
the module, a short conditional fit on digits, and the class_accuracy bench metric."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
import yaml
from torch import nn

from lit_gen.bench.metrics.gan import gan_step_time
from lit_gen.bench.registry import get_metric
from lit_gen.data import ImageDataModule
from lit_gen.metrics.classifier import load_split
from lit_gen.models import GAN
from lit_gen.nn.gan_conditional import ConditionalBatchNorm2d, ConditionalDCGANGenerator, ProjectionHead

TINY = dict(latent_dim=8, g_width=4, d_width=4)


def test_projection_head_is_linear_part_plus_embedding_inner_product():
    head = ProjectionHead(2, 3)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, -2.0]]))
        head.linear.bias.fill_(0.5)
        head.embed.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
    h = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    y = torch.tensor([2, 0])
    # linear: 1 − 4 + .5 = −2.5, 3 + 2 + .5 = 5.5; ⟨e(y), φ⟩: 2 + 4 = 6, 3 + 0 = 3
    assert head(h, y).squeeze(1).tolist() == pytest.approx([3.5, 8.5])


def test_module_score_decomposes_into_the_projection():
    torch.manual_seed(0)
    model = GAN(num_classes=4, **TINY)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    y = torch.tensor([0, 3, 1])
    phi = model.discriminator.body(x)
    head = model.discriminator.head
    expected = head.linear(phi).squeeze(1) + (head.embed.weight[y] * phi).sum(1)
    torch.testing.assert_close(model.score(x, y), expected)
    # the label enters only through ⟨embed(y), φ(x)⟩
    diff = model.score(x, torch.tensor([2, 2, 2])) - model.score(x, y)
    torch.testing.assert_close(diff, ((head.embed.weight[2] - head.embed.weight[y]) * phi).sum(1))


class ClassOnly(nn.Module):
    """A generator whose image is tanh of the class embedding: the noise is ignored."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 28 * 28)

    def forward(self, z, y):
        return torch.tanh(self.embed(y)).view(-1, 1, 28, 28)


def test_sample_with_y_conditions_on_that_class():
    torch.manual_seed(0)
    model = GAN(num_classes=10, **TINY)
    model.generator = ClassOnly()
    image_of = [(torch.tanh(model.generator.embed.weight[k]).view(1, 28, 28) + 1) / 2 for k in range(10)]
    x = model.sample(5, y=3)
    for i in range(5):
        torch.testing.assert_close(x[i], image_of[3])
    x = model.sample(3, y=torch.tensor([7, 0, 7]))
    for i, k in enumerate([7, 0, 7]):
        torch.testing.assert_close(x[i], image_of[k])
    x = model.sample(200)                                          # random classes: more than one
    assert len({tuple(row.flatten()[:3].tolist()) for row in x}) > 1


def test_real_conditional_generator_reads_the_label():
    torch.manual_seed(0)
    model = GAN(num_classes=10, g_shared_dim=4, g_hierarchical=True, **TINY).eval()
    torch.manual_seed(1)
    a = model.sample(4, y=3)
    torch.manual_seed(1)
    b = model.sample(4, y=3)
    torch.manual_seed(1)
    c = model.sample(4, y=4)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_unknown_labels_are_clear_errors():
    model = GAN(num_classes=10, **TINY)
    for bad in (10, -1, torch.tensor([1, 12])):
        with pytest.raises(ValueError, match=r"class labels must be in \[0, 10\)"):
            model.sample(2, y=bad)
    with pytest.raises(ValueError, match="must be integers"):
        model.sample(2, y=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="takes one int or 2 labels"):
        model.sample(2, y=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 10\)"):
        model._labels((torch.zeros(2, 1, 28, 28), torch.tensor([3, 10])))
    with pytest.raises(ValueError, match="carry no labels"):
        model._labels(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="unconditional"):
        GAN(**TINY).sample(2, y=3)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        GAN(num_classes=1, **TINY)
    with pytest.raises(ValueError, match="set num_classes"):
        GAN(g_shared_dim=8, **TINY)


def test_conditional_batch_norm_takes_gain_and_shift_from_the_class():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        cbn.embed.weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0], [2.0, 3.0, 0.5, -1.0], [1.0, 1.0, 0.0, 0.0]]))
    x = torch.randn(4, 2, 3, 3)
    normed = cbn.bn(x)                                              # train mode: batch statistics
    out = cbn(x, torch.tensor([1, 0, 1, 2]))
    torch.testing.assert_close(out[0], normed[0] * torch.tensor([2.0, 3.0]).view(2, 1, 1)
                               + torch.tensor([0.5, -1.0]).view(2, 1, 1))
    torch.testing.assert_close(out[1], normed[1])


def test_hierarchical_z_gives_each_layer_its_own_chunk():
    g = ConditionalDCGANGenerator(latent_dim=10, image_size=28, width=4, num_classes=5, shared_dim=3,
                                  hierarchical=True)
    assert g.z_split == [4, 3, 3]                                   # stem + 2 conditional layers (28 px)
    z, y = torch.arange(20.0).view(2, 10), torch.tensor([1, 4])
    z0, conds = g.conditions(z, y)
    torch.testing.assert_close(z0, z[:, :4])
    e = g.shared(y)
    torch.testing.assert_close(conds[0], torch.cat([e, z[:, 4:7]], 1))
    torch.testing.assert_close(conds[1], torch.cat([e, z[:, 7:10]], 1))
    assert g(z, y).shape == (2, 1, 28, 28)


def test_truncated_samples_through_the_module():
    model = GAN(num_classes=10, **TINY)
    seen = []
    model.generator = ClassOnly()
    model.generator.forward = lambda z, y: (seen.append(z), torch.zeros(len(z), 1, 28, 28))[1]
    torch.manual_seed(0)
    model.sample(500, y=1, truncation=0.5)
    assert seen[0].abs().max() <= 1.0 and seen[0].abs().max() > 0.9
    with pytest.raises(ValueError, match=r"truncation psi must be in \(0, 1\]"):
        model.sample(2, truncation=1.5)


def test_conditional_fit_on_digits(tmp_path):
    L.seed_everything(0)
    model = GAN(num_classes=10, g_shared_dim=4, g_hierarchical=True, g_ortho=1e-4, objective="hinge",
                spectral_norm=True, g_steps=3, ema_decay=0.9, **TINY)
    trainer = L.Trainer(accelerator="cpu", max_epochs=5, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=1,
                        enable_checkpointing=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=ImageDataModule(name="digits", batch_size=16))
    assert int(model.g_step) == 3
    assert "val/d_real" in trainer.callback_metrics
    assert model.sample(4, y=2).shape == (4, 1, 28, 28)                # from the EMA generator
    data = ImageDataModule(name="digits", batch_size=8)
    data.setup("fit")
    assert gan_step_time(model, data, None, iterations=1, warmup=0).values["g_step_ms"] > 0


class _ClassImages:
    """A stand-in conditional model: sample(n, y=k) returns real digits of class (k + shift) % 10."""

    def __init__(self, shift: int):
        images, labels = load_split("digits", "train", image_size=28)
        self.by_class = [images[labels == k].float() / 255.0 for k in range(10)]
        self.shift, self.hparams, self.device = shift, SimpleNamespace(num_classes=10), torch.device("cpu")

    def sample(self, n, y):
        pool = self.by_class[(int(y) + self.shift) % 10]
        return pool[torch.randint(0, len(pool), (n,))]


def test_class_accuracy_metric(tmp_path_factory):
    cache = str(tmp_path_factory.getbasetemp() / "lit_gen_fidelity_cache")   # shared with test_fidelity
    data = SimpleNamespace(name="digits", image_size=28, root=None, use_hub=True)
    metric = get_metric("class_accuracy")
    right = metric(_ClassImages(0), data, None, n_per_class=40, cache=cache, classifier_epochs=3)
    wrong = metric(_ClassImages(1), data, None, n_per_class=40, cache=cache, classifier_epochs=3)
    assert right.values["class_accuracy[classifier]"] > 0.8
    assert wrong.values["class_accuracy[classifier]"] < 0.2
    # each class's samples against that class's real images: near for the right classes (≈ 7),
    # far for the shifted ones (≈ 200); a reference of all classes would put both near each other
    assert 10 * right.values["intra_fid[classifier]"] < wrong.values["intra_fid[classifier]"]
    assert right.protocol["n_per_class"] == 40 and len(right.protocol["intra_fid_per_class"]) == 10
    with pytest.raises(ValueError, match="no num_classes"):
        metric(GAN(**TINY), data, None, cache=cache)


READING_LIST = sorted((Path(__file__).resolve().parents[1] / "configs/gan/readinglist").glob("*.yaml"))


@pytest.mark.parametrize("config", READING_LIST, ids=lambda p: p.stem)
def test_reading_list_configs_build(config):
    spec = yaml.safe_load(config.read_text())
    module, _, name = spec["model"]["class_path"].rpartition(".")
    model = getattr(importlib.import_module(module), name)(**spec["model"]["init_args"])
    assert spec["data"]["init_args"]["name"] in config.name
    y = {"y": 3} if getattr(model.hparams, "num_classes", None) else {}
    assert model.sample(2, **y).shape == (2, *model.image_shape)


class _TruncationProbe:
    """A stand-in generator: real digits at ψ = 1, uniform noise below; records each call's keywords
    and whether it was in train mode (it starts in train mode, as a model does after fit)."""

    def __init__(self):
        images, _ = load_split("digits", "train", image_size=28)
        self.images, self.calls, self.device = images.float() / 255.0, [], torch.device("cpu")
        self.training, self.modes = True, []

    def eval(self):
        return self.train(False)

    def train(self, mode=True):
        self.training = mode
        return self

    def sample(self, n, **kwargs):
        self.calls.append(kwargs)
        self.modes.append(self.training)
        psi = next(iter(kwargs.values()))
        return self.images[torch.randint(0, len(self.images), (n,))] if psi == 1.0 else torch.rand(n, 1, 28, 28)


def test_truncation_curve_metric(tmp_path_factory):
    cache = str(tmp_path_factory.getbasetemp() / "lit_gen_fidelity_cache")   # shared with test_fidelity
    data = SimpleNamespace(name="digits", image_size=28, root=None, use_hub=True)
    metric, probe = get_metric("truncation_curve"), _TruncationProbe()
    result = metric(probe, data, None, psis=[1.0, 0.5], metrics=["fid"], n_fake=200, n_real=200, cache=cache,
                    classifier_epochs=3)
    assert set(result.values) == {"fid[classifier]@psi=1", "fid[classifier]@psi=0.5"}
    assert result.values["fid[classifier]@psi=0.5"] > 5 * result.values["fid[classifier]@psi=1"]
    assert {tuple(c.items()) for c in probe.calls} == {(("truncation", 1.0),), (("truncation", 0.5),)}
    assert result.protocol["psis"] == [1.0, 0.5] and result.protocol["kind"] == "truncation"
    assert probe.modes and not any(probe.modes) and probe.training  # sampled in eval mode, then restored
    probe.calls.clear()
    metric(probe, data, None, psis=[1.0], kind="psi", metrics=["fid"], n_fake=50, n_real=50, cache=cache,
           classifier_epochs=3)
    assert probe.calls and all(c == {"psi": 1.0} for c in probe.calls)     # StyleGAN's ψ in W
    with pytest.raises(ValueError, match=r"psi must be in \(0, 1\]"):
        metric(probe, data, None, psis=[0.0])
    with pytest.raises(ValueError, match="kind must be"):
        metric(probe, data, None, kind="w")
