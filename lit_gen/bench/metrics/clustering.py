"""Benchmark metrics of the clustering family (the VIB's error rates are in
:mod:`lit_gen.bench.metrics.classification`).

* ``clustering``: cluster ids from the model's ``predict_step`` (e.g. ClusterVAE) scored
  against the labels: ``acc`` (Hungarian), ``purity``, ``nmi``, ``ari``, fractions in [0, 1];
  also ``clusters_used`` (non-empty clusters) and ``largest_cluster`` (its share of the
  images), with every cluster's size in the protocol (``cluster_sizes``).
* ``kmeans`` / ``gmm``: the two-step baselines: posterior means ``model.encode(x)[0]`` of a
  trained (VAE-like) model clustered by scikit-learn's ``KMeans`` / ``GaussianMixture`` on the
  same split, then scored the same way (values ``kmeans_acc`` ... / ``gmm_acc`` ...).

Every function takes ``(model, datamodule, trainer, **options)`` and returns a
:class:`~lit_gen.bench.registry.MetricResult`.
"""

from __future__ import annotations

import torch

from lit_gen.bench.metrics.splits import collect
from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.metrics.clustering import clustering_metrics


def _score(preds: torch.Tensor, labels: torch.Tensor, num_clusters: int, prefix: str = "") -> dict[str, float]:
    num_classes = int(labels.max()) + 1
    metrics = clustering_metrics(max(num_clusters, int(preds.max()) + 1), num_classes)
    metrics.update(preds.long(), labels.long())
    return {f"{prefix}{name}": float(value) for name, value in metrics.compute().items()}


@register_metric("clustering")
def clustering(model, datamodule, trainer, split: str = "test") -> MetricResult:
    """Score the model's own cluster ids (``predict_step``) on ``split``."""
    preds, labels = collect(model, datamodule, split, lambda x, i: model.predict_step((x,), i))
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
    return collect(model, datamodule, split, lambda x, i: model.encode(x)[0])


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
