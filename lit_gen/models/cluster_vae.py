"""One-step clustering VAE (Su Jianlin, "变分自编码器(四):一步到位的聚类方案", 2018).

Generative model: ``y ~ Uniform(K)``, ``z | y ~ N(μ_y, I)``, ``x | z ~ p(x|z)`` (the decoder).
Inference: ``z ~ p(z|x) = N(mu(x), diag σ²(x))`` (the encoder) and ``y ~ p(y|z)`` (a
classifier on z). The loss per image, in nats, is

    recon_weight · (−log q(x|z)) + Σ_y p(y|z) [log p(z|x) − log q(z|y)] + KL(p(y|z) ‖ Uniform(K))

with one reparameterised z. With ``recon_weight = 1`` it is the negative ELBO of the model
(reported as ``nelbo``), so the clusters come out of one training run, not a K-Means step.
The cluster of an image is ``argmax_y p(y | z = mu(x))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lit_gen.data.augment import check_warp_ranges, random_affine
from lit_gen.losses.clustering import TERMS as CLUSTER_TERMS
from lit_gen.losses.clustering import ClusterBatch, compute_terms, summed_order
from lit_gen.losses.gaussian import gaussian_kl, gaussian_kl_between, gaussian_log_prob
from lit_gen.metrics.clustering import ClusterAccuracy, ClusterPurity
from lit_gen.models.base import epoch_means
from lit_gen.models.vae import VAE
from lit_gen.nn.post_cluster import PostDecoder, PostEncoder, post_classifier


class ClusterVAE(VAE):
    """Clustering VAE for ``in_channels × image_size × image_size`` images in [0, 1].

    Args:
        in_channels, image_size, channels, hidden: the convolutional encoder/decoder, as in
            :class:`~lit_gen.models.VAE` (``network='conv'``). The post's networks use
            ``channels`` as their conv widths (the post: 32, 64) and have no ``hidden`` layer.
        latent_dim: size of z (the post: 20).
        num_clusters: K, the number of categories y (>= 2; the post: 10).
        likelihood: ``mse`` (the post: ``0.5·‖x − sigmoid(decoder)‖²``, a unit-variance
            Gaussian without its constant), ``bernoulli`` (decoder logits, cross-entropy) or
            ``gaussian`` (one learned pixel std).
        recon_weight: weight of the reconstruction term (the post: 5 in its September 2018 code,
            2.5 in the revised code).
        classifier: ``mlp`` (the post: z → ``classifier_hidden`` ReLU → K softmax) or
            ``gaussian`` (p(y|z) ∝ q(z|y) = N(z; μ_y, I), or N(z; μ_y, diag σ_y²) with learned
            variances: the Bayes posterior of the prior mixture; no extra parameters, so it
            cannot disagree with the means).
        classifier_hidden: width of the ``mlp`` classifier's hidden layer (the post: 256).
        network: ``conv`` (ours: :class:`~lit_gen.nn.ConvEncoder`/``ConvDecoder``, 4×4 LeakyReLU
            convolutions and a ``hidden``-unit dense layer on each side), or the post's own
            encoder, decoder and p(y|z), Keras-initialised (:mod:`lit_gen.nn.post_cluster`):
            ``post_sep`` (September 2018: 3×3 stride-2 ReLU convolutions) or ``post_dec`` (the
            revision: LeakyReLU(0.2), each stride-2 convolution paired with a stride-1 one).
        kl_estimator: how ``latent_kl`` is computed: ``sample`` (the single-z estimate
            Σ_y p(y|z)[log p(z|x) − log q(z|y)]; the revised post's, up to a constant) or
            ``analytic`` (the September post's Σ_y p(y|z) KL(N(mu, σ²) ‖ q(z|y)), closed form).
        cluster_variance: ``unit`` (the post: ``q(z|y) = N(μ_y, I)``) or ``learned`` (VaDE,
            Jiang et al. 2017: ``q(z|y) = N(μ_y, diag σ_y²)`` with a learned log-variance per
            cluster and dimension, so a tight cluster (the 1s) and a broad one (the 8s) each get
            their own spread; with ``init_means='kmeans'`` they start at the K-Means clusters'
            per-dimension variances).
        pretrain_epochs: first epochs trained as a plain VAE (prior N(0, I), same weight),
            ignoring y; 0 = the post's one-step training.
        init_means: ``random`` (N(0, I) draws), ``zeros`` (the post: its Keras layer has
            ``initializer='zeros'``) or ``kmeans`` (K-Means centres of the training codes after
            pre-training, from a random start; needs ``pretrain_epochs >= 1``).
        init_samples: training images encoded for the K-Means initialisation.
        invariance_weight, contrastive_weight, consistency_weight, neighbour_weight,
        self_label_weight, balance_weight, confidence_weight, pair_mi_weight, vat_weight: weights
            of the optional terms of :mod:`lit_gen.losses.clustering` (0 = off, the post), whose
            docstrings say what each asks: ``invariance`` (the code should not move under a small
            random warp ``a``), ``contrastive`` (NT-Xent, SimCLR), ``consistency`` (the cluster
            should not change under the warp), ``neighbour`` (SCAN, with a bank of the last
            ``neighbour_bank`` training codes), ``self_label`` (SCAN's self-labelling),
            ``balance`` and ``confidence`` (IMSAT's mutual information), ``pair_mi`` (IIC) and
            ``vat`` (virtual adversarial training; in training only, logged as 0 elsewhere).
        contrastive_temperature: τ of the NT-Xent loss (> 0).
        contrastive_views: the two views the NT-Xent loss pairs: ``image_and_warp`` (``x`` and
            the warp ``a(x)`` the other terms use) or ``two_warps`` (``a(x)`` and a second,
            independent warp ``a'(x)``, as SimCLR's two augmented views; one more encoder pass).
        neighbour_k, neighbour_bank: neighbours drawn from (>= 1) and bank size (>= neighbour_k).
        neighbour_warmup: epochs (may be fractional) over which the neighbour term's weight rises
            linearly from 0 to ``neighbour_weight`` once clustering starts. At the start the
            classifier is untrained, so the term would reward any agreement between neighbours,
            merged clusters included, and then hold the merge. 0 = full weight at once.
        self_label_threshold: confidence in (0, 1) above which an image is self-labelled.
        vat_epsilon, vat_xi: the adversarial and the probing perturbation's L2 norm per image,
            in pixel units (pixels in [0, 1]).
        augment_rotation, augment_shift, augment_scale: the warp's ranges, in degrees, pixels
            and relative zoom.
        augment_flip: probability that the warp also mirrors the image left-right (0 = never;
            for clothes, not digits).
        lr, weight_decay: Adam.
        lr_schedule: ``constant`` or ``cosine`` (see :class:`~lit_gen.models.VAE`).
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 20,
        num_clusters: int = 10,
        channels: Sequence[int] = (32, 64),
        hidden: int = 256,
        likelihood: Literal["mse", "bernoulli", "gaussian"] = "mse",
        recon_weight: float = 2.5,
        classifier: Literal["mlp", "gaussian"] = "mlp",
        classifier_hidden: int = 256,
        cluster_variance: Literal["unit", "learned"] = "unit",
        pretrain_epochs: int = 0,
        init_means: Literal["random", "zeros", "kmeans"] = "random",
        init_samples: int = 10000,
        invariance_weight: float = 0.0,
        contrastive_weight: float = 0.0,
        contrastive_temperature: float = 0.5,
        contrastive_views: Literal["image_and_warp", "two_warps"] = "image_and_warp",
        consistency_weight: float = 0.0,
        neighbour_weight: float = 0.0,
        neighbour_k: int = 5,
        neighbour_bank: int = 4096,
        neighbour_warmup: float = 0.0,
        self_label_weight: float = 0.0,
        self_label_threshold: float = 0.99,
        balance_weight: float = 0.0,
        confidence_weight: float = 0.0,
        pair_mi_weight: float = 0.0,
        vat_weight: float = 0.0,
        vat_epsilon: float = 1.0,
        vat_xi: float = 0.1,
        augment_rotation: float = 15.0,
        augment_shift: float = 3.0,
        augment_scale: float = 0.1,
        augment_flip: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        lr_schedule: Literal["constant", "cosine"] = "constant",
        network: Literal["conv", "post_sep", "post_dec"] = "conv",
        kl_estimator: Literal["sample", "analytic"] = "sample",
    ):
        if num_clusters < 2:
            raise ValueError(f"ClusterVAE: num_clusters (K) must be >= 2, got {num_clusters}")
        if recon_weight <= 0:
            raise ValueError(f"ClusterVAE: recon_weight must be > 0, got {recon_weight}")
        if likelihood not in ("mse", "bernoulli", "gaussian"):
            raise ValueError(f"ClusterVAE: likelihood must be 'mse', 'bernoulli' or 'gaussian', got {likelihood!r}")
        if classifier not in ("mlp", "gaussian"):
            raise ValueError(f"ClusterVAE: classifier must be 'mlp' or 'gaussian', got {classifier!r}")
        if cluster_variance not in ("unit", "learned"):
            raise ValueError(f"ClusterVAE: cluster_variance must be 'unit' or 'learned', got {cluster_variance!r}")
        if contrastive_views not in ("image_and_warp", "two_warps"):
            raise ValueError(f"ClusterVAE: contrastive_views must be 'image_and_warp' or 'two_warps', "
                             f"got {contrastive_views!r}")
        if init_means not in ("random", "zeros", "kmeans"):
            raise ValueError(f"ClusterVAE: init_means must be 'random', 'zeros' or 'kmeans', got {init_means!r}")
        if network not in ("conv", "post_sep", "post_dec"):
            raise ValueError(f"ClusterVAE: network must be 'conv', 'post_sep' or 'post_dec', got {network!r}")
        if kl_estimator not in ("sample", "analytic"):
            raise ValueError(f"ClusterVAE: kl_estimator must be 'sample' or 'analytic', got {kl_estimator!r}")
        if pretrain_epochs < 0:
            raise ValueError(f"ClusterVAE: pretrain_epochs must be >= 0, got {pretrain_epochs}")
        if init_means == "kmeans" and pretrain_epochs < 1:
            raise ValueError("ClusterVAE: init_means='kmeans' needs pretrain_epochs >= 1 "
                             "(K-Means runs on the pre-trained codes)")
        given = locals()  # the arguments by name: every registered term's weight is checked
        for name in (*(f"{term}_weight" for term in CLUSTER_TERMS), "neighbour_warmup"):
            if name in given and not (given[name] >= 0 and math.isfinite(given[name])):  # a subclass checks its own
                raise ValueError(f"ClusterVAE: {name} must be a finite number >= 0, got {given[name]}")
        for name in ("vat_epsilon", "vat_xi", "contrastive_temperature"):
            if not (given[name] > 0 and math.isfinite(given[name])):
                raise ValueError(f"ClusterVAE: {name} must be a finite number > 0, got {given[name]}")
        if not 0 < self_label_threshold < 1:
            raise ValueError(f"ClusterVAE: self_label_threshold must be in (0, 1), got {self_label_threshold}")
        if not 1 <= neighbour_k <= neighbour_bank:
            raise ValueError(f"ClusterVAE: need 1 <= neighbour_k <= neighbour_bank, got neighbour_k={neighbour_k}, "
                             f"neighbour_bank={neighbour_bank}")
        check_warp_ranges(augment_rotation, augment_shift, augment_scale, "ClusterVAE",
                          ("augment_rotation", "augment_shift", "augment_scale", "augment_flip"), augment_flip)
        # VAE only knows bernoulli/gaussian; 'mse' shares the Bernoulli path's frozen log_sigma
        super().__init__(in_channels, image_size, latent_dim, channels, hidden,
                         "gaussian" if likelihood == "gaussian" else "bernoulli", 1.0, lr, weight_decay, lr_schedule)
        self.save_hyperparameters()  # again: keep this class's arguments only (no VAE 'beta')
        # 'random' keeps its draw first, so seeded runs of the default are unchanged
        self.means = nn.Parameter(torch.zeros(num_clusters, latent_dim) if init_means == "zeros"
                                  else torch.randn(num_clusters, latent_dim))
        # only a 'learned' model has the parameter, so 'unit' checkpoints keep their keys
        self.cluster_logvar = (nn.Parameter(torch.zeros(num_clusters, latent_dim))
                               if cluster_variance == "learned" else None)
        self.classifier = self.build_classifier()
        # a ring buffer of recent training codes for the neighbour term; not saved in checkpoints
        # (it refills within neighbour_bank / batch_size steps)
        self.register_buffer("code_bank", torch.zeros(neighbour_bank if neighbour_weight > 0 else 0, latent_dim),
                             persistent=False)
        self.bank_filled = 0
        self.bank_next = 0
        self.epoch_means = epoch_means(("loss", "nelbo", "recon", "latent_kl", "cat_kl", *summed_order()))
        self.cluster_metrics = nn.ModuleDict({
            f"{stage}_{name}": cls(num_clusters, num_clusters)
            for stage in ("val", "test") for name, cls in (("acc", ClusterAccuracy), ("purity", ClusterPurity))
        })

    def build_encoder(self) -> nn.Module:
        h = self.hparams
        if h.get("network", "conv") == "conv":
            return super().build_encoder()
        return PostEncoder(h.in_channels, h.image_size, h.latent_dim, h.channels, h.network.removeprefix("post_"))

    def build_decoder(self) -> nn.Module:
        h = self.hparams
        if h.get("network", "conv") == "conv":
            return super().build_decoder()
        return PostDecoder(h.latent_dim, h.in_channels, h.image_size, h.channels, h.network.removeprefix("post_"))

    def build_classifier(self) -> nn.Module | None:
        """p(y|z) logits network ``(B, latent_dim) → (B, K)``; ``None`` for the Gaussian posterior."""
        h = self.hparams
        if h.classifier == "gaussian":
            return None
        if h.get("network", "conv") != "conv":
            return post_classifier(h.latent_dim, h.classifier_hidden, h.num_clusters)
        return nn.Sequential(nn.Linear(h.latent_dim, h.classifier_hidden), nn.ReLU(),
                             nn.Linear(h.classifier_hidden, h.num_clusters))

    def cluster_parameters(self) -> list[nn.Parameter]:
        """Besides μ_y, the parameters that only the clustering epochs train: the classifier's
        and the learned cluster log-variances."""
        params = [] if self.classifier is None else list(self.classifier.parameters())
        return params + ([] if self.cluster_logvar is None else [self.cluster_logvar])

    def cluster_logvars(self) -> torch.Tensor:
        """log σ_y² of q(z|y), ``(K, latent_dim)``: zeros for ``cluster_variance='unit'``."""
        return torch.zeros_like(self.means) if self.cluster_logvar is None else self.cluster_logvar

    def prior_log_probs(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|y) for every cluster: ``(B, latent_dim) → (B, K)``, nats."""
        return gaussian_log_prob(z.unsqueeze(1), self.means, self.cluster_logvars())

    # ----- the model -----
    def mean_image(self, decoded: torch.Tensor) -> torch.Tensor:
        if self.hparams.likelihood == "mse":
            return torch.sigmoid(decoded)
        return super().mean_image(decoded)

    def reconstruction_nll(self, decoded: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.likelihood == "mse":
            return 0.5 * (torch.sigmoid(decoded) - x).pow(2).flatten(start_dim=-3).sum(-1)
        return super().reconstruction_nll(decoded, x)

    def cluster_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Unnormalised log p(y|z): ``(B, latent_dim) → (B, K)``."""
        if self.classifier is None:
            if self.cluster_logvar is None:  # equal spreads: the normaliser cancels in the softmax
                return -0.5 * torch.cdist(z, self.means).pow(2)
            return self.prior_log_probs(z)
        return self.classifier(z)

    @property
    def pretraining(self) -> bool:
        return self.training and self._trainer is not None and self.current_epoch < self.hparams.pretrain_epochs

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-image ``loss``, ``nelbo``, ``recon``, ``latent_kl``, ``cat_kl`` … (each ``(B,)``, nats).

        ``latent_kl`` = Σ_y p(y|z)[log p(z|x) − log q(z|y)] (single-sample), ``cat_kl`` =
        KL(p(y|z) ‖ Uniform(K)). While pre-training, ``latent_kl`` is KL(p(z|x) ‖ N(0, I)) and
        ``cat_kl`` is 0. Also the terms of :meth:`augmentation_terms`; ``nelbo`` never
        includes them.
        """
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = self.reconstruction_nll(self.decode(z), x)
        if self.pretraining:
            # the zero term gives μ and the classifier a (zero) gradient, so DDP needs no
            # find_unused_parameters while they sit out the pre-training epochs
            unused = sum(p.sum() for p in [self.means, *self.cluster_parameters()]) * 0.0
            latent_kl, cat_kl = gaussian_kl(mu, logvar) + unused, torch.zeros_like(recon)
        else:
            log_p = F.log_softmax(self.cluster_logits(z), dim=1)                      # (B, K)
            if self.hparams.kl_estimator == "analytic":
                # KL(N(mu, σ²) ‖ q(z|y)) for every cluster, closed form                  (B, K)
                per_cluster = gaussian_kl_between(mu.unsqueeze(1), logvar.unsqueeze(1), self.means,
                                                  self.cluster_logvars())
            else:
                log_q_zx = gaussian_log_prob(z, mu, logvar)                            # (B,)
                per_cluster = log_q_zx.unsqueeze(1) - self.prior_log_probs(z)          # (B, K)
            latent_kl = (log_p.exp() * per_cluster).sum(1)
            cat_kl = (log_p.exp() * (log_p + math.log(self.hparams.num_clusters))).sum(1)
        terms = {"nelbo": recon + latent_kl + cat_kl, "recon": recon, "latent_kl": latent_kl, "cat_kl": cat_kl,
                 **self.augmentation_terms(x, mu)}
        h = self.hparams
        weights = {name: h.get(f"{name}_weight", 0.0) for name in CLUSTER_TERMS} | {"neighbour": self.neighbour_scale()}
        loss = h.recon_weight * recon + latent_kl + cat_kl
        for name in summed_order():  # in the stored results' order: the float sum rounds in order
            loss = loss + weights[name] * terms[name]
        terms["loss"] = loss
        return terms

    def neighbour_scale(self) -> float:
        """The neighbour term's weight now: ``neighbour_weight``, ramped over ``neighbour_warmup``
        epochs from the end of pre-training (outside training: the full weight)."""
        h = self.hparams
        if h.neighbour_warmup <= 0 or not self.training or self._trainer is None:
            return h.neighbour_weight
        batches = max(1, int(self.trainer.num_training_batches))
        epoch_done = self.trainer.fit_loop.epoch_loop.batch_idx / batches
        clustering_epochs = self.current_epoch - h.pretrain_epochs + epoch_done
        return h.neighbour_weight * min(1.0, max(0.0, clustering_epochs) / h.neighbour_warmup)

    def augmentation_terms(self, x: torch.Tensor, mu: torch.Tensor) -> dict[str, torch.Tensor]:
        """The optional terms of :mod:`lit_gen.losses.clustering` (each ``(B,)``, nats; zeros when
        off). ``mu`` ``(B, latent_dim)`` is the encoder mean of ``x``.

        A term is on when its weight is > 0 (a term that needs the clusters: once pre-training is
        over). The warp and the cluster posteriors are computed once, if a term that is on needs
        them; the cheap terms that read them are then computed too, for the logs.
        """
        h = self.hparams
        clustering = not self.pretraining
        # a term registered outside lit-gen is off unless a subclass adds its `<name>_weight` argument
        on = [t for t in CLUSTER_TERMS.values()
              if h.get(f"{t.name}_weight", 0.0) > 0 and (clustering or not t.needs_clusters)]
        batch = ClusterBatch(x, mu, self.warped_code(x) if any(t.needs_warp for t in on) else None,
                             any(t.needs_clusters for t in on), self.code_bank[: self.bank_filled],
                             self.cluster_logits, lambda images: self.encode(images)[0], self.warped_code,
                             self.training)
        terms = compute_terms(batch, {t.name for t in on}, h)
        if h.neighbour_weight > 0 and self.training:
            self.remember_codes(mu.detach())
        return terms

    @torch.no_grad()
    def remember_codes(self, codes: torch.Tensor) -> None:
        """Write ``codes`` ``(B, latent_dim)`` into the ring buffer ``code_bank``, oldest first out."""
        size = len(self.code_bank)
        codes = codes[-size:]
        slots = (self.bank_next + torch.arange(len(codes), device=codes.device)) % size
        self.code_bank[slots] = codes.to(self.code_bank.dtype)
        self.bank_next = int((self.bank_next + len(codes)) % size)
        self.bank_filled = min(size, self.bank_filled + len(codes))

    def warped_code(self, x: torch.Tensor) -> torch.Tensor:
        """``mu(a(x))`` ``(B, latent_dim)``: the code of a fresh random warp of each image."""
        h = self.hparams
        return self.encode(random_affine(x, h.augment_rotation, h.augment_shift, h.augment_scale,
                                         flip=h.augment_flip))[0]

    @torch.no_grad()
    def cluster_probs(self, x: torch.Tensor) -> torch.Tensor:
        """p(y | z = mu(x)) for images ``(B, C, H, W) → (B, K)``."""
        return F.softmax(self.cluster_logits(self.encode(x)[0]), dim=1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, y: int | None = None) -> torch.Tensor:
        """``n`` images ``(n, C, H, W)`` in [0, 1]: from cluster ``y``, or from y ~ Uniform(K)."""
        k = self.hparams.num_clusters
        if y is None:
            ys = torch.randint(k, (n,), device=self.device)
        elif not 0 <= y < k:
            raise ValueError(f"cluster y={y} is out of range [0, {k})")
        else:
            ys = torch.full((n,), y, device=self.device, dtype=torch.long)
        spread = (0.5 * self.cluster_logvars()[ys]).exp()
        z = self.means[ys] + temperature * spread * torch.randn(n, self.hparams.latent_dim, device=self.device)
        return self.mean_image(self.decode(z))

    @torch.no_grad()
    def cluster_grid(self, n_per_cluster: int = 10, temperature: float = 1.0) -> torch.Tensor:
        """``(K · n_per_cluster, C, H, W)`` images, row k (of ``n_per_cluster``) from cluster k."""
        return torch.cat([self.sample(n_per_cluster, temperature, y=k)
                          for k in range(self.hparams.num_clusters)])

    # ----- Lightning hooks -----
    def on_train_epoch_start(self) -> None:
        if self.hparams.init_means == "kmeans" and self.current_epoch == self.hparams.pretrain_epochs:
            self.init_means_kmeans()

    @torch.no_grad()
    def init_means_kmeans(self) -> None:
        """Set μ_y to the K-Means centres of ``init_samples`` training codes (rank 0, broadcast).

        With learned cluster variances, σ_y² starts at the variance, per dimension, of the codes
        z ~ p(z|x) of the images K-Means put in cluster y (spread of the means plus their mean
        posterior variance)."""
        from sklearn.cluster import KMeans

        centres = self.means.detach().clone()
        logvars = self.cluster_logvars().detach().clone()
        if self.trainer.is_global_zero:
            codes, posterior_vars, seen = [], [], 0
            was_training = self.training
            self.eval()
            datamodule = getattr(self.trainer, "datamodule", None)
            if datamodule is None:
                raise RuntimeError("ClusterVAE: init_means='kmeans' needs a datamodule "
                                   "(trainer.fit(model, datamodule=...)) to encode training images")
            for batch in datamodule.train_dataloader():
                x = (batch[0] if isinstance(batch, (tuple, list)) else batch).to(self.device)
                mu, logvar = self.encode(x)
                codes.append(mu.cpu())
                posterior_vars.append(logvar.exp().cpu())
                seen += len(x)
                if seen >= self.hparams.init_samples:
                    break
            self.train(was_training)
            codes = torch.cat(codes)[: self.hparams.init_samples].double()
            km = KMeans(self.hparams.num_clusters, n_init=4, random_state=0).fit(codes.numpy())
            centres = torch.as_tensor(km.cluster_centers_, dtype=centres.dtype, device=self.device)
            if self.cluster_logvar is not None:
                logvars = self.cluster_log_variances(codes, torch.cat(posterior_vars)[: len(codes)].double(),
                                                     torch.as_tensor(km.labels_, dtype=torch.long))
                logvars = logvars.to(dtype=centres.dtype, device=self.device)
        centres = self.trainer.strategy.broadcast(centres, src=0)
        self.means.copy_(centres.to(self.means.device))
        if self.cluster_logvar is not None:
            self.cluster_logvar.copy_(self.trainer.strategy.broadcast(logvars, src=0).to(self.cluster_logvar.device))

    def cluster_log_variances(self, codes: torch.Tensor, posterior_vars: torch.Tensor,
                              labels: torch.Tensor) -> torch.Tensor:
        """log of each cluster's per-dimension variance of z ~ p(z|x): ``Var(mu) + mean σ²`` over
        its members, ``(K, latent_dim)``, from codes and posterior variances ``(N, latent_dim)``
        and cluster ids ``(N,)``. An empty cluster keeps its current value; variances are floored
        at 1e-4."""
        logvars = self.cluster_logvars().detach().to(codes.dtype).cpu().clone()
        for k in range(self.hparams.num_clusters):
            members = labels == k
            if members.any():
                spread = codes[members].var(0, unbiased=False) + posterior_vars[members].mean(0)
                logvars[k] = spread.clamp_min(1e-4).log()
        return logvars

    def _step(self, batch, stage: str) -> torch.Tensor:
        loss = super()._step(batch, stage)  # the loss terms, the divergence guard, the epoch means
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        labels = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
        if stage != "train" and labels is not None and int(labels.max()) < self.hparams.num_clusters:
            # labels only score the clusters here; they never enter the loss
            preds = self.cluster_probs(x).argmax(1)
            for name in ("acc", "purity"):
                metric = self.cluster_metrics[f"{stage}_{name}"]
                metric.update(preds, labels)
                self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True, prog_bar=name == "acc")
        return loss

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        """Cluster ids ``(B,)`` (int64): ``argmax_y p(y | z = mu(x))``."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.cluster_probs(x).argmax(1)
