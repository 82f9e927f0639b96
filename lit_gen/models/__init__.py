"""LightningModules, one file per model family."""

from lit_gen.models.cluster_vae import ClusterVAE
from lit_gen.models.fvae import FVAE
from lit_gen.models.gan import GAN
from lit_gen.models.glow import Glow
from lit_gen.models.introvae import IntroVAE
from lit_gen.models.pggan import ProgressiveGAN
from lit_gen.models.vae import VAE
from lit_gen.models.vib import VIBClassifier

__all__ = ["ClusterVAE", "FVAE", "GAN", "Glow", "IntroVAE", "ProgressiveGAN", "VAE", "VIBClassifier"]
