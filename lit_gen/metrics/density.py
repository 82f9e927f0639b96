"""Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
Generative Models"), computed in torch on the same features as FID/KID/precision/recall.

Each real feature ``r_i`` gets a radius ``rad_i``: the distance to its ``k``-th nearest other
real feature. Then, for ``N`` generated features ``f_j`` and ``M`` real ones,

* density  = 1/(k N) · Σ_j Σ_i [‖f_j − r_i‖ ≤ rad_i]  — how many real balls hold a sample, on
  average, scaled so samples distributed like the real ones give about 1 (it can exceed 1);
* coverage = 1/M · Σ_i [min_j ‖f_j − r_i‖ ≤ rad_i]    — the share of real balls holding a sample.

Unlike k-NN precision/recall, neither is inflated by generated outliers (the balls are built on
real features only), which is why the paper proposes them.
"""

from __future__ import annotations

import torch


def _chunked_cdist(a: torch.Tensor, b: torch.Tensor, chunk: int):
    """Yield ``(start, cdist(a[start:start+chunk], b))``: the full matrix never sits in memory."""
    for start in range(0, len(a), chunk):
        yield start, torch.cdist(a[start:start + chunk], b)


def knn_radii(real: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """``(M,)`` distance from each row of ``real`` ``(M, D)`` to its ``k``-th nearest other row."""
    if not 1 <= k < len(real):
        raise ValueError(f"nearest_k must be between 1 and the number of real features - 1 "
                         f"({len(real) - 1}), got {k}")
    # k + 1: the smallest distance of a point is 0, to itself
    return torch.cat([d.kthvalue(k + 1, dim=1).values for _, d in _chunked_cdist(real, real, chunk)])


def density_coverage(real: torch.Tensor, fake: torch.Tensor, nearest_k: int = 5,
                     chunk: int = 1024) -> dict[str, float]:
    """``{"density": ..., "coverage": ...}`` of ``fake`` ``(N, D)`` against ``real`` ``(M, D)``.

    Both are unitless; density ∈ [0, M/k], coverage ∈ [0, 1]. Distances are Euclidean, in float64
    so ties at the radius (the paper's ``≤``) do not depend on the summation order.
    """
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected features (M, D) and (N, D), got {tuple(real.shape)} and {tuple(fake.shape)}")
    real, fake = real.double(), fake.double()
    radii = knn_radii(real, nearest_k, chunk)
    inside = 0.0
    nearest = torch.full((len(real),), float("inf"), dtype=torch.float64)
    for _, d in _chunked_cdist(fake, real, chunk):  # d: (chunk, M)
        inside += float((d <= radii).sum())
        nearest = torch.minimum(nearest, d.min(dim=0).values)
    return {"density": inside / (nearest_k * len(fake)),
            "coverage": float((nearest <= radii).double().mean())}
