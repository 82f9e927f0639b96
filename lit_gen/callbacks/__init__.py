"""Lightning callbacks."""

from lit_gen.callbacks.clusters import ClusterGridCallback
from lit_gen.callbacks.fidelity import FidelityCallback
from lit_gen.callbacks.flows import FlowPicturesCallback
from lit_gen.callbacks.images import ImageGridCallback

__all__ = ["ClusterGridCallback", "FidelityCallback", "FlowPicturesCallback", "ImageGridCallback"]
