"""Lightning callbacks."""

from lit_gen.callbacks.images import ImageGridCallback

__all__ = ["ImageGridCallback"]
