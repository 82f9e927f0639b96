"""Training objectives as small pure functions (see :mod:`lit_gen.losses.gan`)."""

from lit_gen.losses.gan import OBJECTIVES, Objective, get_objective, register_objective

__all__ = ["OBJECTIVES", "Objective", "get_objective", "register_objective"]
