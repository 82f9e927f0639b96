"""Diagonal Gaussians: KL divergences and log-densities, in nats.

``logvar`` is log σ² throughout. The flows' standard-normal base density,
:func:`lit_gen.nn.flows.standard_normal_logprob`, stays in :mod:`lit_gen.nn` (the networks under
this layer use it).
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) ‖ N(0, I)) per row, in nats. ``(B, D) → (B,)``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def gaussian_kl_between(mu: torch.Tensor, logvar: torch.Tensor, prior_mu: torch.Tensor,
                        prior_logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) ‖ N(prior_mu, exp(prior_logvar))) summed over the last dimension,
    closed form; the arguments broadcast. ``(..., D) → (...)``."""
    return 0.5 * (prior_logvar - logvar + (logvar.exp() + (mu - prior_mu).pow(2)) / prior_logvar.exp()
                  - 1.0).sum(-1)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension. ``(..., D) → (...)``."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)
