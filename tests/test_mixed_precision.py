"""Mixed precision for every LightningModule: a few training steps with
``Trainer(precision="bf16-mixed")`` on CPU stay finite, and on one batch the training loss under
Lightning's bf16 autocast is within a stated tolerance of the fp32 loss with the same weights.

Tolerances (|bf16 − fp32| ≤ rtol·|fp32| + atol). bf16 keeps 8 significant bits, so one rounding
of the loss itself can move it by up to 0.2 % (2^-9):

* VAE, ClusterVAE, VIB, f-VAE, the tagger: rtol 2e-3, the loss closer than one bf16 rounding
  of it (measured: at most 4e-4).
* Glow (both variants): rtol 1e-5. Its bijections and log-determinants stay fp32
  (lit_gen.nn.flows), and after 3 steps its zero-initialised coupling networks, the only bf16
  part, still give outputs near 0. With the flow in bf16 the error was 3e-4 (measured: 1e-7).
* GAN, each objective (D and G loss): rtol 5e-3 + atol 2e-3. The losses are differences of
  critic scores near 0 (WGAN's G loss is about 0.008), so a relative bound alone would ask for
  more than bf16 scores give (measured: at most 4e-3 absolute on the hinge D loss of 2.0).
"""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.utils.data import DataLoader, TensorDataset

from lit_gen.data import ImageDataModule
from lit_gen.losses.gan import OBJECTIVES, grad_norm_penalty, interpolate
from lit_gen.models import FVAE, GAN, VAE, ClusterVAE, Glow, VIBClassifier
from lit_gen.tasks.couplet import CoupletTagger
from lit_gen.tasks.couplet.data import CoupletBatch

pytestmark = pytest.mark.usefixtures("one_thread")

TOKENS = ["<pad>", "<unk>", *"晚风摇树还挺夜雨敲花更香春眠秋梦山高水长日月星辰天地人云"]
OBJECTIVE_ARGS = {"wgan_div": {"points": "interpolate"}}


def _digits(image_size: int = 8) -> DataLoader:
    dm = ImageDataModule(name="digits", image_size=image_size, batch_size=32)
    dm.prepare_data()
    dm.setup("fit")
    return dm.train_dataloader()


def _vib_data() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 12, generator=g), torch.randint(0, 3, (128,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=32)


def _couplet_data() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    upper, lower = (torch.randint(2, len(TOKENS), (64, 7), generator=g) for _ in range(2))
    pairs = list(zip(upper, lower))
    return DataLoader(pairs, batch_size=16, collate_fn=lambda items: CoupletBatch(
        torch.stack([u for u, _ in items]), torch.stack([w for _, w in items]), [], [], []))


def _x(batch):
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _gan_losses(model: GAN, batch) -> torch.Tensor:
    """The discriminator's and the generator's loss on one batch, as one (2,) tensor."""
    real = _x(batch)
    fake = model.generator(model.noise(real.shape[0]))
    d_loss, _ = model.discriminator_loss(real, fake.detach())
    return torch.stack([d_loss.float(), model.generator_loss(real, fake).float()])


# name: (model factory, data factory, the training loss on a batch, rtol, atol)
CASES = {
    "vae": (lambda: VAE(image_size=8, latent_dim=4, channels=(8, 16), hidden=32), _digits,
            lambda m, b: m.loss_terms(_x(b))["loss"].mean(), 2e-3, 0.0),
    "cluster_vae": (lambda: ClusterVAE(image_size=8, latent_dim=3, num_clusters=4, channels=(4,), hidden=16,
                                       classifier_hidden=8), _digits,
                    lambda m, b: m.loss_terms(_x(b))["loss"].mean(), 2e-3, 0.0),
    "vib": (lambda: VIBClassifier(in_features=12, num_classes=3, bottleneck_dim=2, hidden=(8,), beta=1e-2),
            _vib_data, lambda m, b: m.loss_terms(*b)["loss"].mean(), 2e-3, 0.0),
    "glow": (lambda: Glow(in_channels=1, image_size=8, levels=2, steps=2, hidden=16, warmup_steps=1), _digits,
             lambda m, b: m.bits_per_dim(_x(b)).mean(), 1e-5, 0.0),
    "glow_logit_vd": (lambda: Glow(in_channels=1, image_size=8, levels=2, steps=2, hidden=16, warmup_steps=1,
                                   preprocess="logit", dequantization="variational"), _digits,
                      lambda m, b: m.bits_per_dim(_x(b)).mean(), 1e-5, 0.0),
    "fvae": (lambda: FVAE(in_channels=1, image_size=8, hidden=8, blocks=1, levels=2, steps=2, flow_hidden=8,
                          warmup_steps=1), _digits, lambda m, b: m.loss_terms(_x(b))["bpd"].mean(), 2e-3, 0.0),
    **{f"gan_{name}": (lambda name=name: GAN(objective=name, objective_args=OBJECTIVE_ARGS.get(name), latent_dim=8,
                                            g_width=4, d_width=4, n_critic=1),
                       lambda: _digits(28), _gan_losses, 5e-3, 2e-3) for name in sorted(OBJECTIVES)},
    "couplet_conv": (lambda: CoupletTagger(dim=32, depth=2, dilations=(1, 2), vocab=TOKENS), _couplet_data,
                     lambda m, b: F.cross_entropy(m(b.upper).flatten(0, 1), b.lower.flatten()), 2e-3, 0.0),
    "couplet_transformer": (lambda: CoupletTagger(backbone="transformer", dim=32, depth=2, vocab=TOKENS),
                            _couplet_data,
                            lambda m, b: F.cross_entropy(m(b.upper).flatten(0, 1), b.lower.flatten()), 2e-3, 0.0),
}


class _RecordLosses(L.Callback):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:  # manual optimisation (the GAN) returns nothing
            self.values.append(float(loss))


def _loss_on(model, loss_fn, batch, context) -> torch.Tensor:
    torch.manual_seed(1)  # the same noise, dropout and penalty points in both precisions
    with context:
        return loss_fn(model, batch).detach().float()


@pytest.mark.parametrize("name", sorted(CASES))
def test_bf16_mixed_steps_are_finite_and_close_to_fp32(name, tmp_path):
    make_model, make_data, loss_fn, rtol, atol = CASES[name]
    torch.manual_seed(0)
    model, data = make_model(), make_data()
    record = _RecordLosses()
    trainer = L.Trainer(accelerator="cpu", precision="bf16-mixed", max_steps=3, limit_val_batches=0,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[record], default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=data)
    assert trainer.global_step >= 3  # the GAN counts a D and a G step per batch
    assert all(math.isfinite(v) for v in record.values)
    assert all(torch.isfinite(p).all() for p in model.parameters()), "bf16 steps made a weight non-finite"

    batch = next(iter(data))
    fp32 = _loss_on(model, loss_fn, batch, torch.autocast("cpu", enabled=False))
    bf16 = _loss_on(model, loss_fn, batch, MixedPrecision("bf16-mixed", "cpu").forward_context())
    assert torch.isfinite(bf16).all()
    assert not torch.equal(bf16, fp32)  # autocast did change the computation
    assert (bf16 - fp32).abs().le(rtol * fp32.abs() + atol).all(), f"bf16 {bf16.tolist()} vs fp32 {fp32.tolist()}"


def _bf16():
    return MixedPrecision("bf16-mixed", "cpu").forward_context()


@pytest.mark.parametrize("name", ["glow", "glow_logit_vd", "fvae"])
def test_flow_bijections_and_log_determinants_stay_fp32_under_bf16(name):
    """Inside a bf16 step only the coupling/prior networks run in bf16: every flow layer's
    output and log-determinant (each layer returns ``(y, logdet)``) is fp32."""
    make_model, make_data, loss_fn, _, _ = CASES[name]
    torch.manual_seed(0)
    model, batch = make_model(), next(iter(make_data()))
    outputs: list[tuple[str, object]] = []
    for module in model.modules():
        module.register_forward_hook(lambda mod, args, out: outputs.append((type(mod).__name__, out)))
    with _bf16():
        loss_fn(model, batch)
    layers = [(n, out) for n, out in outputs
              if isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)]
    kinds = {n for n, _ in layers}
    assert {"InvConv1x1", "ActNorm", "Split"} <= kinds and kinds & {"AffineCoupling", "AdditiveCoupling"}, kinds
    if name == "glow_logit_vd":
        assert {"ConditionalAffineCoupling", "LogitTransform", "VariationalDequantizer"} <= kinds, kinds
    half = sorted({f"{n} {t.dtype}" for n, out in layers for t in out if t.dtype != torch.float32})
    assert not half, f"flow outputs or log-determinants not in fp32: {half}"
    assert any(n == "Conv2d" and out.dtype == torch.bfloat16 for n, out in outputs)  # autocast was on


@pytest.mark.parametrize("power, target", [(2.0, 1.0), (6.0, None), (2.0, None)], ids=["wgan_gp", "wgan_div", "r1"])
def test_gradient_penalties_are_fp32_under_bf16(power, target):
    """The penalties of WGAN-GP, WGAN-div and R1/R2 inside a bf16 step equal their fp32 values."""
    torch.manual_seed(0)
    model = GAN(latent_dim=8, g_width=4, d_width=4)
    real = next(iter(_digits(28)))[0]
    points = interpolate(real, model.generator(model.noise(real.shape[0])).detach())
    full = grad_norm_penalty(model.score, points, power, target)
    with _bf16():
        assert model.score(points).dtype == torch.bfloat16  # the critic itself runs in bf16 there
        mixed = grad_norm_penalty(model.score, points, power, target)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, full, rtol=1e-6, atol=0)
