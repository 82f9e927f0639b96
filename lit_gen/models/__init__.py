"""LightningModules, one file per model family."""

from lit_gen.models.vae import VAE

__all__ = ["VAE"]
