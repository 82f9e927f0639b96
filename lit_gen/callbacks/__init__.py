"""Lightning callbacks."""

from lit_gen.callbacks.fidelity import FidelityCallback
from lit_gen.callbacks.images import ImageGridCallback

__all__ = ["FidelityCallback", "ImageGridCallback"]
