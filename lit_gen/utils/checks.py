"""Checks that turn silent failures (NaN losses, mismatched shapes) into clear errors."""

from __future__ import annotations

import lightning as L
import torch


class DivergenceError(FloatingPointError):
    """A loss became NaN or infinite; training stops and the last checkpoint is kept."""


def check_finite(value: torch.Tensor, what: str, step: int) -> None:
    """Raise :class:`DivergenceError` naming ``what`` and ``step`` if ``value`` is not finite."""
    if not torch.isfinite(value).all():
        raise DivergenceError(
            f"{what} is {value.detach().flatten()[:4].tolist()} (not finite) at step {step}; "
            "training stopped. The last saved checkpoint is untouched. Lower the learning rate, "
            "check the input range, or resume from that checkpoint with --ckpt_path."
        )


def check_image_shape(module: L.LightningModule, expected: tuple[int, int, int]) -> None:
    """Compare the model's ``(C, H, W)`` with the attached datamodule's, if it reports one."""
    trainer = module._trainer
    datamodule = getattr(trainer, "datamodule", None) if trainer is not None else None
    try:
        shape = getattr(datamodule, "image_shape", None)
    except RuntimeError:  # a folder data set reports its shape only after setup
        return
    shape = tuple(shape) if shape is not None else None
    if shape is not None and shape != tuple(expected):
        c, s = shape[0], shape[-1]
        raise ValueError(
            f"{type(module).__name__} is built for images of shape {tuple(expected)} but the data "
            f"gives {shape}; set --model.in_channels {c} --model.image_size {s} "
            f"(or --data.image_size {expected[-1]})."
        )
