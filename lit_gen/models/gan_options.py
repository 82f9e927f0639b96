"""Checks of the GAN module's reading-list options (issue #39) and of class labels: one clear
``ValueError`` per bad value or combination, raised before any network is built or any label
reaches an embedding."""

from __future__ import annotations

import torch
from torch import Tensor


def check_reading_list_options(arch: str, objective: str, vdb: bool, g_steps: int | None, roth_gamma: float,
                               roth_anneal: bool, ct_weight: float, ct_margin: float, d_dropout: float,
                               num_classes: int | None, g_shared_dim: int, g_hierarchical: bool,
                               g_ortho: float, spectral_norm: bool = False, init: str = "torch",
                               roth_anneal_steps: int | None = None) -> None:
    if min(roth_gamma, ct_weight, ct_margin, g_ortho) < 0:
        raise ValueError("roth_gamma, ct_weight, ct_margin and g_ortho must be >= 0, got "
                         f"{roth_gamma}, {ct_weight}, {ct_margin}, {g_ortho}")
    if roth_gamma > 0 and objective != "sgan":
        raise ValueError(f"roth_gamma is the regulariser of the standard GAN (objective sgan): its weights "
                         f"(1 − D)² and D² read D = σ(T) as a probability; got objective {objective!r}")
    if roth_anneal and roth_gamma <= 0:
        raise ValueError("roth_anneal anneals roth_gamma: set roth_gamma > 0 too")
    if roth_anneal_steps is not None and (not roth_anneal or roth_anneal_steps < 1):
        raise ValueError(f"roth_anneal_steps is the horizon T of roth_anneal (γ·0.01^(t/T)): set roth_anneal "
                         f"true and T >= 1, got roth_anneal={roth_anneal}, roth_anneal_steps={roth_anneal_steps}")
    if roth_anneal and g_steps is None and roth_anneal_steps is None:
        raise ValueError("roth_anneal decays γ as γ·0.01^(t/T) over T generator steps: set roth_anneal_steps "
                         "(or g_steps, its default)")
    if not 0.0 <= d_dropout < 1.0:
        raise ValueError(f"d_dropout must be in [0, 1), got {d_dropout}")
    if d_dropout > 0 and arch not in ("dcgan", "stylegan"):
        raise ValueError(f"d_dropout is an option of the DCGAN discriminator (arch 'dcgan' or 'stylegan'), "
                         f"got arch={arch!r}")
    if ct_weight > 0 and d_dropout == 0:
        raise ValueError("ct_weight > 0 (CT-GAN) compares two dropout passes of D on the same images: set "
                         "d_dropout > 0 (the authors use 0.5), else both passes are equal and the term is 0")
    if ct_weight > 0 and vdb:
        raise ValueError("ct_weight (CT-GAN) cannot be combined with vdb: the VDB head has no penultimate "
                         "layer of the kind the consistency term compares")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2 or None (unconditional), got {num_classes!r}")
        if arch != "dcgan":
            raise ValueError(f"num_classes (conditional GAN) is built on arch='dcgan' only, got arch={arch!r}")
        if vdb:
            raise ValueError("num_classes (projection discriminator) cannot be combined with vdb")
    if arch == "pggan" and (spectral_norm or init != "torch"):
        raise ValueError("arch='pggan' has equalised-learning-rate layers (N(0, 1) weights scaled at run time): "
                         "spectral_norm and init schemes other than 'torch' do not apply to them")
    if g_shared_dim < 0:
        raise ValueError(f"g_shared_dim must be >= 0, got {g_shared_dim}")
    if (g_shared_dim > 0 or g_hierarchical) and num_classes is None:
        raise ValueError("g_shared_dim and g_hierarchical (BigGAN) are options of the conditional GAN: "
                         "set num_classes")
    if g_hierarchical and g_shared_dim == 0:
        raise ValueError("g_hierarchical feeds each G layer [shared embedding, z chunk]: set g_shared_dim > 0")


def check_labels(y: int | Tensor, num_classes: int, device=None) -> Tensor:
    """``y`` as int64 on ``device``; a clear error for labels outside [0, num_classes)."""
    y = torch.as_tensor(y, device=device)
    if y.is_floating_point() or y.is_complex():
        raise ValueError(f"class labels must be integers, got dtype {y.dtype}")
    bad = y[(y < 0) | (y >= num_classes)]
    if bad.numel():
        raise ValueError(f"class labels must be in [0, {num_classes}) (num_classes={num_classes}), got "
                         f"{sorted(set(bad.tolist()))[:5]}")
    return y.long()


def sample_labels(n: int, y: int | Tensor | None, num_classes: int | None, device=None) -> Tensor | None:
    """Labels of ``n`` samples: None (unconditional), uniform classes (``y`` None), all ``y``
    (an int) or ``y`` itself (a tensor of ``n`` labels)."""
    if num_classes is None:
        if y is not None:
            raise ValueError("sample(y=...) needs a class-conditional GAN (num_classes set); this one is unconditional")
        return None
    if y is None:
        return torch.randint(0, num_classes, (n,), device=device)
    y = check_labels(y, num_classes, device)
    if y.dim() == 0:
        return y.expand(n)
    if y.shape != (n,):
        raise ValueError(f"sample(n={n}, y=...) takes one int or {n} labels, got shape {tuple(y.shape)}")
    return y


def batch_labels(batch, num_classes: int | None, device=None) -> Tensor | None:
    """The labels of an ``(x, y)`` batch for a conditional GAN (checked), None for an unconditional one."""
    if num_classes is None:
        return None
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError("num_classes is set but the batches carry no labels; a conditional GAN needs "
                         "(images, labels) batches such as ImageDataModule's")
    return check_labels(batch[1], num_classes, device)
