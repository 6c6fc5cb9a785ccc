"""All learnable parts of a SymmetryLens fit, their schedules and the loss of one batch.

``LensModules`` holds the lens (generator G, filter ψ) and the density estimators (marginal
GMMs, conditional MDN). ``LensModules.terms`` evaluates every loss term of a batch of
representations y = X Cᵀ (spec §2, §3): the model loss, minimised w.r.t. (G, ψ) with the
estimators held fixed, and the estimators' negative log-likelihood, minimised w.r.t. their own
parameters. The schedules are functions of the config and the step only:
lr(s) = lr₀ · lr_decay^(s/(steps−1)), the rank time t_s (cumulative lr fraction / rank.end, ≤ 1),
the filter noise σ(s) = σ₀ · exp(−s / (decay · steps)).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..config import LensConfig
from . import losses as L
from .chain import Chain, set_chain
from .density import ConditionalMixture, MarginalMixture
from .model import OrthogonalGenerator, ResolvingFilter, group_convolution
from .spectral import spectral_sites

#: Names of the per-step quantities recorded in the history (in this order).
LOSS_NAMES = ("loss", "alignment", "uniformity", "marginal_entropy", "joint_entropy", "estimator_nll")


class LensModules(nn.Module):
    """All learnable parts: generator and filter (the lens), marginal and conditional estimators."""

    def __init__(self, d: int, cfg: LensConfig, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.d = d
        self.padding = d if cfg.padding is None else cfg.padding
        self.generator = OrthogonalGenerator(d, self.padding, cfg.init_std, g)
        self.filter = ResolvingFilter(d)
        dc = cfg.density
        self.marginal = MarginalMixture(d, dc.kernels, dc.clip, g)
        self.conditional = ConditionalMixture(d, dc.kernels, dc.hidden, g)

    def lens_parameters(self) -> list[nn.Parameter]:
        return [*self.generator.parameters(), *self.filter.parameters()]

    def estimator_parameters(self) -> list[nn.Parameter]:
        return [*self.marginal.parameters(), *self.conditional.parameters()]

    def group_conv(self, filter_noise: torch.Tensor | None = None) -> torch.Tensor:
        """Group-convolution matrix C (d, d); ``filter_noise`` is added to ψ while training."""
        return group_convolution(self.filter(filter_noise), self.generator(), self.d, self.padding)

    def terms(self, y: torch.Tensor, t: float, cfg: LensConfig) -> dict[str, torch.Tensor]:
        """Every loss term (``LOSS_NAMES``) for a batch of representations y (B, d) at rank time t."""
        marg, cond = self.marginal, self.conditional
        slot = cond.slots(y.shape[0], y.device)
        log_p = marg.log_prob(y)
        log_q = cond.log_prob(y, slot)
        unif = L.uniformity(L.marginal_uniformity(log_p, marg.log_prob(y, -1), marg.log_prob(y, 1)),
                            L.conditional_uniformity(log_q, cond.log_prob(y, slot, -1), cond.log_prob(y, slot, 1), slot))
        align = L.alignment(y)
        h_joint = L.ranked_entropy(y, t, cfg.rank.sharpness)
        h_marg = L.marginal_entropy(log_p)
        loss = L.lens_loss(cfg.weights, align, unif, h_marg, h_joint)
        nll = L.estimator_nll(log_p, log_q, slot, cond.l2_penalty(), cfg.density.l2)
        return dict(loss=loss, alignment=align, uniformity=unif, marginal_entropy=h_marg,
                    joint_entropy=h_joint, estimator_nll=nll)


@torch.no_grad()
def initialise_spectral(mods: LensModules, X: torch.Tensor, seed: int) -> None:
    """Start from the shift along the spectral sites (``spectral.py``), ψ = the central site."""
    set_chain(mods, Chain(spectral_sites(X.double().cpu().numpy(), seed=seed)))


def lr_schedule(cfg: LensConfig) -> np.ndarray:
    """Per-step factor of the initial lr: log-linear decay from 1 to ``lr_decay``."""
    return cfg.lr_decay ** (np.arange(cfg.steps) / max(1, cfg.steps - 1))


def rank_time(cfg: LensConfig) -> np.ndarray:
    """Normalised time t_s: cumulative model-lr fraction (current step included), / rank.end, ≤ 1."""
    lr = lr_schedule(cfg)
    return np.minimum(1.0, np.cumsum(lr) / lr.sum() / cfg.rank.end)


def filter_noise(cfg: LensConfig, step: int) -> float:
    """σ(step) = σ₀·exp(−step / (decay·steps))."""
    return cfg.filter_noise * math.exp(-step / (cfg.filter_noise_decay * cfg.steps))


def lens_generator(chain: Chain, cfg: LensConfig) -> np.ndarray:
    """The d × d generator a lens with config ``cfg`` reports once it holds ``chain`` (in the
    float32 precision of its parameters): what ``SymmetryLens.generator_`` becomes after a refinement."""
    mods = LensModules(len(chain.sites), cfg, 0)
    set_chain(mods, chain)
    return mods.generator.cropped().double().numpy()
