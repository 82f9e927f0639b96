"""Benchmark metrics of the clustering and VIB families.

* ``clustering``: cluster ids from the model's ``predict_step`` (e.g. ClusterVAE) scored
  against the labels: ``acc`` (Hungarian), ``purity``, ``nmi``, ``ari``, fractions in [0, 1];
  also ``clusters_used`` (non-empty clusters) and ``largest_cluster`` (its share of the
  images), with every cluster's size in the protocol (``cluster_sizes``).
* ``kmeans`` / ``gmm``: the two-step baselines: posterior means ``model.encode(x)[0]`` of a
  trained (VAE-like) model clustered by scikit-learn's ``KMeans`` / ``GaussianMixture`` on the
  same split, then scored the same way (values ``kmeans_acc`` ... / ``gmm_acc`` ...).
* ``test_error``: classification error in **percent** of the model's ``predict_step`` (e.g.
  VIBClassifier, softmax averaged over its ``test_samples`` draws).
* ``test_error_at_mu``: the same error with the class read from the posterior mean alone,
  ``model.predict_proba(x, num_samples=0)`` (VIBClassifier's other evaluation), so one run
  reports both.

Every function takes ``(model, datamodule, trainer, **options)`` and returns a
:class:`~lit_gen.bench.registry.MetricResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torchmetrics.classification import MulticlassAccuracy

from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.metrics.clustering import clustering_metrics

SPLITS = ("test", "val")


def _batches(datamodule, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    datamodule.setup("test" if split == "test" else "fit")
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    for batch in loader:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(f"the {split} batches carry no labels; clustering scores need (x, y) batches")
        yield batch[0], batch[1]


@torch.no_grad()
def _collect(model, datamodule, split: str, fn: Callable[[torch.Tensor, int], torch.Tensor]):
    """Concatenate ``fn(x, batch_idx)`` and the labels over a split, model in eval mode."""
    was_training = model.training
    model.eval()
    outputs, labels = [], []
    try:
        for i, (x, y) in enumerate(_batches(datamodule, split)):
            outputs.append(fn(x.to(model.device), i).cpu())
            labels.append(y.cpu())
    finally:
        model.train(was_training)
    return torch.cat(outputs), torch.cat(labels)


def _score(preds: torch.Tensor, labels: torch.Tensor, num_clusters: int, prefix: str = "") -> dict[str, float]:
    num_classes = int(labels.max()) + 1
    metrics = clustering_metrics(max(num_clusters, int(preds.max()) + 1), num_classes)
    metrics.update(preds.long(), labels.long())
    return {f"{prefix}{name}": float(value) for name, value in metrics.compute().items()}


@register_metric("clustering")
def clustering(model, datamodule, trainer, split: str = "test") -> MetricResult:
    """Score the model's own cluster ids (``predict_step``) on ``split``."""
    preds, labels = _collect(model, datamodule, split, lambda x, i: model.predict_step((x,), i))
    if preds.is_floating_point() or preds.dim() != 1:
        raise TypeError(f"{type(model).__name__}.predict_step returns {tuple(preds.shape)} "
                        f"{preds.dtype} values, not cluster ids (B,); for a plain VAE use the "
                        "two-step metrics 'kmeans' / 'gmm'")
    k = int(getattr(model.hparams, "num_clusters", int(preds.max()) + 1))
    # the sizes make a collapse visible: ACC and purity alone do not say that 3 clusters hold every image
    sizes = torch.bincount(preds.long(), minlength=k)
    values = {**_score(preds, labels, k), "clusters_used": float((sizes > 0).sum()),
              "largest_cluster": float(sizes.max()) / len(preds)}
    return MetricResult(values,
                        {"split": split, "images": len(labels), "num_clusters": k,
                         "cluster_sizes": sizes.tolist(),
                         "cluster_of": "argmax p(y | z = mu(x))", "nmi_normalisation": "arithmetic"})


def _codes(model, datamodule, split: str):
    if not callable(getattr(model, "encode", None)):
        raise TypeError(f"{type(model).__name__} has no encode(x) -> (mu, logvar); the two-step "
                        "baselines cluster a VAE's posterior means")
    return _collect(model, datamodule, split, lambda x, i: model.encode(x)[0])


@register_metric("kmeans")
def kmeans(model, datamodule, trainer, num_clusters: int = 10, n_init: int = 10, seed: int = 0,
           split: str = "test") -> MetricResult:
    """Two-step baseline: K-Means (scikit-learn) on the posterior means of ``split``."""
    from sklearn.cluster import KMeans

    codes, labels = _codes(model, datamodule, split)
    preds = KMeans(num_clusters, n_init=n_init, random_state=seed).fit_predict(codes.double().numpy())
    return MetricResult(_score(torch.as_tensor(preds), labels, num_clusters, "kmeans_"),
                        {"split": split, "images": len(labels), "num_clusters": num_clusters,
                         "n_init": n_init, "seed": seed, "codes": "posterior means, fit and scored on the split"})


@register_metric("gmm")
def gmm(model, datamodule, trainer, num_clusters: int = 10, covariance_type: str = "diag",
        n_init: int = 1, seed: int = 0, split: str = "test") -> MetricResult:
    """Two-step baseline: a Gaussian mixture (scikit-learn) on the posterior means of ``split``."""
    from sklearn.mixture import GaussianMixture

    codes, labels = _codes(model, datamodule, split)
    mixture = GaussianMixture(num_clusters, covariance_type=covariance_type, n_init=n_init,
                              random_state=seed, reg_covar=1e-4)
    preds = mixture.fit_predict(codes.double().numpy())
    return MetricResult(_score(torch.as_tensor(preds), labels, num_clusters, "gmm_"),
                        {"split": split, "images": len(labels), "num_clusters": num_clusters,
                         "covariance_type": covariance_type, "n_init": n_init, "seed": seed})


@register_metric("test_error")
def test_error(model, datamodule, trainer, split: str = "test") -> MetricResult:
    """Classification error in percent of ``predict_step``'s labels on ``split``."""
    preds, labels = _collect(model, datamodule, split, lambda x, i: model.predict_step((x,), i))
    samples = getattr(getattr(model, "hparams", {}), "test_samples", None)
    return MetricResult({"test_error": _error_percent(preds, labels)},
                        {"split": split, "images": len(labels), "unit": "percent",
                         "test_samples": samples})


@register_metric("test_error_at_mu")
def test_error_at_mu(model, datamodule, trainer, split: str = "test") -> MetricResult:
    """Classification error in percent with z = mu: ``model.predict_proba(x, num_samples=0)``."""
    if not callable(getattr(model, "predict_proba", None)):
        raise ValueError(f"test_error_at_mu needs a model with predict_proba(x, num_samples) "
                         f"(e.g. VIBClassifier), got {type(model).__name__}")
    preds, labels = _collect(model, datamodule, split, lambda x, i: model.predict_proba(x, num_samples=0).argmax(1))
    return MetricResult({"test_error_at_mu": _error_percent(preds, labels)},
                        {"split": split, "images": len(labels), "unit": "percent", "test_samples": 0})


def _error_percent(preds: torch.Tensor, labels: torch.Tensor) -> float:
    accuracy = MulticlassAccuracy(int(max(labels.max(), preds.max())) + 1, average="micro")
    accuracy.update(preds, labels)
    return 100.0 * (1.0 - float(accuracy.compute()))
