"""Clustering accuracy (Hungarian-matched) and purity as torchmetrics ``Metric``s.

Both keep one integer state, the ``(num_clusters, num_classes)`` contingency table, summed
across DDP ranks, so 2 processes give exactly the numbers of 1 process. NMI and ARI come from
``torchmetrics.clustering`` (:func:`clustering_metrics` bundles all four).

Why hand-written: torchmetrics' own ``ClusterAccuracy`` needs the optional
``torch_linear_assignment`` package and a square table (as many clusters as classes); here
the matching is scipy's ``linear_sum_assignment`` on a rectangular table, so K ≠ C works.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.clustering import AdjustedRandScore, NormalizedMutualInfoScore


class _ContingencyMetric(Metric):
    """Accumulates ``table[k, c]`` = number of samples put in cluster ``k`` with true class ``c``.

    Args:
        num_clusters: K, the number of cluster ids ``preds`` may take (``0 .. K-1``).
        num_classes: C, the number of true labels ``target`` may take (``0 .. C-1``).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    table: Tensor

    def __init__(self, num_clusters: int, num_classes: int | None = None, **kwargs):
        super().__init__(**kwargs)
        num_classes = num_clusters if num_classes is None else num_classes
        if num_clusters < 1 or num_classes < 1:
            raise ValueError(f"num_clusters and num_classes must be >= 1, got {num_clusters}, {num_classes}")
        self.num_clusters, self.num_classes = int(num_clusters), int(num_classes)
        self.add_state("table", default=torch.zeros(num_clusters, num_classes, dtype=torch.long),
                       dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """``preds``: cluster ids ``(N,)``; ``target``: class labels ``(N,)``; both integer."""
        preds, target = preds.reshape(-1).long(), target.reshape(-1).long()
        if preds.shape != target.shape:
            raise ValueError(f"preds has {preds.numel()} entries but target has {target.numel()}")
        if preds.numel() and (preds.min() < 0 or preds.max() >= self.num_clusters):
            raise ValueError(f"cluster ids must lie in [0, {self.num_clusters}), got "
                             f"[{int(preds.min())}, {int(preds.max())}]")
        if target.numel() and (target.min() < 0 or target.max() >= self.num_classes):
            raise ValueError(f"class labels must lie in [0, {self.num_classes}), got "
                             f"[{int(target.min())}, {int(target.max())}]")
        flat = preds * self.num_classes + target
        counts = torch.bincount(flat, minlength=self.num_clusters * self.num_classes)
        self.table += counts.view(self.num_clusters, self.num_classes)


class ClusterAccuracy(_ContingencyMetric):
    """Unsupervised accuracy: the best one-to-one map of clusters to classes (Hungarian).

    ``ACC = max_g (1/N) Σ_n 1[g(pred_n) = target_n]`` over injective maps ``g``. With K > C
    the extra clusters match no class and count as errors (as in DEC/VaDE's ``cluster_acc``);
    use :class:`ClusterPurity` for the many-to-one measure. Returns a fraction in [0, 1].
    """

    def matching(self) -> tuple[Tensor, Tensor]:
        """The best one-to-one map: cluster ``rows[i]`` is matched to class ``cols[i]`` (int64, on CPU)."""
        rows, cols = linear_sum_assignment(self.table.cpu().numpy(), maximize=True)
        return torch.as_tensor(rows), torch.as_tensor(cols)

    def compute(self) -> Tensor:
        table = self.table.cpu()
        rows, cols = self.matching()
        matched = table[rows, cols].sum()
        return (matched.double() / table.sum().clamp(min=1)).float()


class ClusterPurity(_ContingencyMetric):
    """Purity: each cluster votes for its majority class, ``(1/N) Σ_k max_c table[k, c]``.

    The measure of Su Jianlin's clustering-VAE post. Many-to-one, so it grows with K
    (K = N gives 1); compare it only at equal K. Returns a fraction in [0, 1].
    """

    def compute(self) -> Tensor:
        table = self.table
        return (table.max(dim=1).values.sum().double() / table.sum().clamp(min=1)).float()


def clustering_metrics(num_clusters: int, num_classes: int | None = None) -> MetricCollection:
    """``acc``, ``purity``, ``nmi`` (arithmetic normalisation, as scikit-learn) and ``ari``.

    Call ``update(preds, target)`` with cluster ids and labels, then ``compute()``.
    """
    return MetricCollection({
        "acc": ClusterAccuracy(num_clusters, num_classes),
        "purity": ClusterPurity(num_clusters, num_classes),
        "nmi": NormalizedMutualInfoScore(average_method="arithmetic"),
        "ari": AdjustedRandScore(),
    }, compute_groups=False)
