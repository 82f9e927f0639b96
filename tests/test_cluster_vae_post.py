"""ClusterVAE as the post's code has it: the two networks layer by layer, TensorFlow's 'same'
padding, Keras initialisation, zero class means, the closed-form KL, and the two configs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from lit_gen.cli import LitGenCLI
from lit_gen.models import ClusterVAE
from lit_gen.nn.post_cluster import SameConv2d, SameConvTranspose2d

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]

# (weight shape, bias shape) of every layer in order, read off vae_keras_cluster.py for MNIST
# (28×28×1, filters 16 doubled per layer, latent 20, intermediate_dim 256, 10 classes);
# PyTorch shapes: Conv2d (out, in, k, k), ConvTranspose2d (in, out, k, k), Linear (out, in)
SEP_LAYERS = [
    ((32, 1, 3, 3), (32,)), ((64, 32, 3, 3), (64,)),              # Conv2D 32, 64, 3×3 stride 2, relu
    ((20, 3136), (20,)), ((20, 3136), (20,)),                     # Dense z_mean, z_log_var on 7·7·64
    ((3136, 20), (3136,)),                                        # decoder Dense to 7·7·64, linear
    ((64, 64, 3, 3), (64,)), ((64, 32, 3, 3), (32,)),             # Conv2DTranspose 64, 32, stride 2, relu
    ((32, 1, 3, 3), (1,)),                                        # Conv2DTranspose 1, stride 1 (sigmoid)
    ((256, 20), (256,)), ((10, 256), (10,)),                      # classifier Dense 256 relu, Dense 10
]
DEC_LAYERS = [
    ((32, 1, 3, 3), (32,)), ((32, 32, 3, 3), (32,)),              # Conv2D 32 stride 2, Conv2D 32 stride 1
    ((64, 32, 3, 3), (64,)), ((64, 64, 3, 3), (64,)),             # Conv2D 64 stride 2, Conv2D 64 stride 1
    ((20, 3136), (20,)), ((20, 3136), (20,)),
    ((3136, 20), (3136,)),
    ((64, 64, 3, 3), (64,)), ((64, 64, 3, 3), (64,)),             # filters 64: stride 1, stride 2
    ((64, 32, 3, 3), (32,)), ((32, 32, 3, 3), (32,)),             # filters 32: stride 1 (64→32), stride 2
    ((32, 1, 3, 3), (1,)),
    ((256, 20), (256,)), ((10, 256), (10,)),
]
# trainable parameters by hand: encoder convs + two dense heads, decoder, classifier, the means
SEP_COUNT = (1 * 9 * 32 + 32) + (32 * 9 * 64 + 64) + 2 * (3136 * 20 + 20) \
    + (20 * 3136 + 3136) + (64 * 9 * 64 + 64) + (64 * 9 * 32 + 32) + (32 * 9 + 1) \
    + (20 * 256 + 256) + (256 * 10 + 10) + 10 * 20                                    # = 273,979
DEC_COUNT = SEP_COUNT + (32 * 9 * 32 + 32) + (64 * 9 * 64 + 64) \
    + (64 * 9 * 64 + 64) + (32 * 9 * 32 + 32)                                          # = 366,331


def layers(model: ClusterVAE) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("network, expected, count", [("post_sep", SEP_LAYERS, SEP_COUNT),
                                                      ("post_dec", DEC_LAYERS, DEC_COUNT)])
def test_the_posts_networks_layer_by_layer(network, expected, count):
    torch.manual_seed(0)
    model = ClusterVAE(network=network)
    found = layers(model)
    assert [(tuple(m.weight.shape), tuple(m.bias.shape)) for m in found] == expected
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == count
    assert count == {"post_sep": 273_979, "post_dec": 366_331}[network]
    activation = nn.ReLU if network == "post_sep" else nn.LeakyReLU
    convs = [m for m in model.encoder.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    assert convs and all(type(m) is activation for m in convs)
    assert not any(isinstance(m, (nn.ReLU, nn.LeakyReLU)) for m in model.decoder.stem.modules())
    assert model.decode(torch.zeros(2, 20)).shape == (2, 1, 28, 28)
    # Keras' initialisation: zero biases, Glorot-uniform kernels (inside the bound, and filling it)
    for m in found:
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert torch.all(m.bias == 0)
        assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.9 * bound


def test_same_padding_is_tensorflows():
    """TensorFlow pads a stride-2 'same' convolution of an even side after, not before: output
    pixel i reads input rows 2i .. 2i+2, so a dot on row 2 reaches outputs 0 and 1 (PyTorch's
    padding=1 would read rows 2i−1 .. 2i+1 and reach output 1 only)."""
    conv = SameConv2d(1, 1, 3, stride=2)
    nn.init.ones_(conv.weight), nn.init.zeros_(conv.bias)
    dot = torch.zeros(1, 1, 28, 28)
    dot[..., 2, 2] = 1.0
    out = conv(dot)
    assert out.shape == (1, 1, 14, 14)
    assert out[0, 0].nonzero().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    # the transpose scatters input pixel i to outputs 2i .. 2i+2 (cropped at the end)
    deconv = SameConvTranspose2d(1, 1, 3, stride=2)
    nn.init.ones_(deconv.weight), nn.init.zeros_(deconv.bias)
    dot = torch.zeros(1, 1, 7, 7)
    dot[..., 0, 0] = 1.0
    out = deconv(dot)
    assert out.shape == (1, 1, 14, 14)
    assert sorted(map(tuple, out[0, 0].nonzero().tolist())) == [(r, c) for r in range(3) for c in range(3)]
    assert SameConvTranspose2d(1, 1, 3, stride=1)(torch.zeros(1, 1, 14, 14)).shape == (1, 1, 14, 14)


@pytest.mark.parametrize("stride", [1, 2])
def test_same_layers_equal_explicit_pad_and_crop(stride):
    """The stride-1 layers let the convolution pad (and the transpose crop) in place of F.pad and
    a slice: values and gradients are those of the explicit TensorFlow padding."""
    torch.manual_seed(0)
    conv, deconv = SameConv2d(3, 4, 3, stride=stride), SameConvTranspose2d(3, 4, 3, stride=stride)
    x = torch.randn(2, 3, 14, 14, requires_grad=True)
    explicit = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (1, 1, 1, 1) if stride == 1 else (0, 1, 0, 1)), conv.weight, conv.bias, stride)
    full = torch.nn.functional.conv_transpose2d(x, deconv.weight, deconv.bias, stride)  # side (14-1)s + 3
    side = 14 * stride
    explicit_t = full[..., 1:1 + side, 1:1 + side] if stride == 1 else full[..., :side, :side]
    for layer, reference in ((conv, explicit), (deconv, explicit_t)):
        out = layer(x)
        assert out.shape == reference.shape
        torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-6)
        g = torch.randn_like(out)
        grads = torch.autograd.grad(out, (x, layer.weight), g)
        expected = torch.autograd.grad(reference, (x, layer.weight), g)
        for a, b in zip(grads, expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_zero_initialised_means_and_the_default_draw():
    torch.manual_seed(0)
    assert torch.equal(ClusterVAE(init_means="zeros").means, torch.zeros(10, 20))
    torch.manual_seed(0)
    assert ClusterVAE().means.abs().min() > 0  # the default stays N(0, I) draws


def test_analytic_kl_is_the_closed_form_per_cluster():
    torch.manual_seed(0)
    for variance in ("unit", "learned"):
        model = ClusterVAE(image_size=8, latent_dim=3, num_clusters=4, channels=(4,), hidden=16,
                           classifier_hidden=8, kl_estimator="analytic", cluster_variance=variance)
        with torch.no_grad():
            model.means.normal_()
            if variance == "learned":
                model.cluster_logvar.normal_(0, 0.5)
        x = torch.rand(2, 1, 8, 8)
        torch.manual_seed(1)
        terms = model.loss_terms(x)
        mu, logvar = model.encoder(x).chunk(2, dim=1)
        torch.manual_seed(1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        p = torch.softmax(model.classifier(z), dim=1)
        posterior = Normal(mu, (0.5 * logvar).exp())
        kls = torch.stack([kl_divergence(posterior, Normal(model.means[k], (0.5 * model.cluster_logvars()[k]).exp()))
                           .sum(1) for k in range(4)], 1)
        torch.testing.assert_close(terms["latent_kl"], (p * kls).sum(1))


@pytest.mark.parametrize("bad, match", [
    (dict(init_means="ones"), "init_means"),
    (dict(network="resnet"), "network"),
    (dict(kl_estimator="exact"), "kl_estimator"),
])
def test_unknown_post_options_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        ClusterVAE(**bad)


@pytest.mark.parametrize("config, network, weight, estimator", [
    ("cluster_vae_post.yaml", "post_dec", 2.5, "sample"),
    ("cluster_vae.yaml", "post_dec", 2.5, "sample"),  # the user-facing name of the December setting
    ("cluster_vae_post_sep.yaml", "post_sep", 5.0, "analytic"),
])
def test_post_configs_are_the_posts_setting(config, network, weight, estimator):
    cli = LitGenCLI(args=["--config", str(ROOT / "configs" / config), "--seed_everything=0"], run=False)
    h = cli.model.hparams
    assert (h.network, h.recon_weight, h.kl_estimator, h.init_means) == (network, weight, estimator, "zeros")
    assert (h.latent_dim, h.num_clusters, h.classifier_hidden, h.lr, h.lr_schedule) == (20, 10, 256, 1e-3, "constant")
    assert torch.equal(cli.model.means, torch.zeros(10, 20))
    assert cli.datamodule.batch_size == 100 and cli.datamodule.val_size == 0
    assert cli.trainer.max_epochs == 50
