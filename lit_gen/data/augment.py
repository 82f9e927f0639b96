"""Batched random affine warps of image tensors, on the images' own device.

Why hand-written: torchvision's ``RandomAffine`` draws one transform per call, so a batch
would share one warp (or need a Python loop per image). Here each image of a ``(B, C, H, W)``
batch gets its own rotation, scale and shift in one ``affine_grid``/``grid_sample`` call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def affine_warp(x: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Warp each image of ``x`` ``(B, C, H, W)`` about its centre; pixels from outside are 0.

    Args:
        angle: ``(B,)`` rotation in radians (counter-clockwise on screen).
        scale: ``(B,)`` zoom factors (> 1 enlarges the content).
        shift: ``(B, 2)`` translation in pixels, ``(right, down)``.

    Bilinear sampling: integer shifts at scale 1 and angle 0 move pixels exactly.
    """
    h, w = x.shape[-2:]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid maps output coordinates to input coordinates in [-1, 1] units, so the
    # inverse transform goes in: a content shift of +s pixels samples from -s.
    tx = -shift[:, 0].to(x.dtype) * 2 / w
    ty = -shift[:, 1].to(x.dtype) * 2 / h
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def check_warp_ranges(rotation: float, shift: float, scale: float, owner: str = "random_affine",
                      names: tuple[str, str, str, str] = ("rotation", "shift", "scale", "flip"),
                      flip: float = 0.0) -> None:
    """A clear ``ValueError`` unless ``rotation >= 0``, ``shift >= 0``, ``0 <= scale < 1`` and
    ``0 <= flip <= 1`` (``names`` are the caller's argument names, for the message)."""
    r, t, z, f = names
    if rotation < 0 or shift < 0 or not 0 <= scale < 1:
        raise ValueError(f"{owner}: need {r} >= 0, {t} >= 0 and 0 <= {z} < 1, got {rotation}, {shift}, {scale}")
    if not 0 <= flip <= 1:
        raise ValueError(f"{owner}: {f} is a probability in [0, 1], got {flip}")


def random_affine(x: torch.Tensor, rotation: float = 15.0, shift: float = 3.0, scale: float = 0.1,
                  generator: torch.Generator | None = None, flip: float = 0.0) -> torch.Tensor:
    """Each image of ``x`` ``(B, C, H, W)`` rotated by U(−rotation, rotation) degrees, zoomed by
    U(1 − scale, 1 + scale), shifted by U(−shift, shift) pixels on each axis, and then mirrored
    left-right with probability ``flip`` (for clothes, not digits: a mirrored 3 is no digit).

    With ``flip = 0`` no flip is drawn, so the random stream is that of the warp alone."""
    check_warp_ranges(rotation, shift, scale, flip=flip)
    b = x.shape[0]

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=x.device) * 2 - 1

    warped = affine_warp(x, uniform(b) * rotation * math.pi / 180, 1 + uniform(b) * scale, uniform(b, 2) * shift)
    if flip > 0:
        mirror = torch.rand(b, generator=generator, device=x.device) < flip
        warped = torch.where(mirror.view(b, *[1] * (x.dim() - 1)), warped.flip(-1), warped)
    return warped
