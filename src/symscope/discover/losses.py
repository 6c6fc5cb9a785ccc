"""Loss terms of SymmetryLens as pure functions of tensors (spec §2).

Conventions: ``y`` is a batch (B, d) of representations; log-density tables come from the
estimators in ``density.py`` (held fixed for the model gradient). Entropies are in nats.
"""

from __future__ import annotations

import math
from typing import Any

import torch

#: The uniformity term is the plain average of its marginal and conditional parts (spec §2.3).
UNIFORMITY_AVERAGE = 0.5


def alignment(y: torch.Tensor) -> torch.Tensor:
    """−mean Pearson correlation of neighbouring components (range [−1, 1]; −1 when all equal)."""
    yc = y - y.mean(0)
    yn = yc / (torch.sqrt((yc**2).sum(0) + 1e-7) + 1e-7)
    return -(yn[:, :-1] * yn[:, 1:]).sum(0).mean()


def clipped_kl(log_f: torch.Tensor, log_h: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """max(0, mean[log f − log h]): the sample KL estimate of f‖h on samples drawn from f."""
    return torch.clamp((log_f - log_h).mean(dim), min=0.0)


def marginal_uniformity(log_p: torch.Tensor, log_p_left: torch.Tensor, log_p_right: torch.Tensor) -> torch.Tensor:
    """Mean over components of the average KL(p_n ‖ p_{n±1}) evaluated on y_n.

    All three tables are (B, d): ``log_p[:, n] = log p_n(y_n)``, ``log_p_left[:, n] =
    log p_{n−1}(y_n)`` (used for n ≥ 1) and ``log_p_right[:, n] = log p_{n+1}(y_n)`` (n ≤ d−2).
    End components have one neighbour term, interior ones the average of two.
    """
    left = clipped_kl(log_p[:, 1:], log_p_left[:, 1:])  # components 1 … d−1
    right = clipped_kl(log_p[:, :-1], log_p_right[:, :-1])  # components 0 … d−2
    ends = torch.stack([right[0], left[-1]])
    interior = 0.5 * (left[:-1] + right[1:])
    return torch.cat([ends, interior]).mean()


def _pair_means(values: torch.Tensor, slot: torch.Tensor, d: int) -> torch.Tensor:
    """(d, d) table: mean over samples with given slot i of ``values[:, j]``."""
    onehot = torch.nn.functional.one_hot(slot, d).to(values.dtype)
    return (onehot.T @ values) / onehot.sum(0).clamp(min=1)[:, None]


def conditional_uniformity(
    log_q: torch.Tensor, log_q_minus: torch.Tensor, log_q_plus: torch.Tensor, slot: torch.Tensor
) -> torch.Tensor:
    """Mean over ordered pairs i ≠ j of the average KL(q_{i,j} ‖ q_{i∓1,j∓1}) on (y_i, y_j).

    The three (B, d) tables hold log q_{g,j}(y_j|y_g), log q_{g−1,j−1}(y_j|y_g) and
    log q_{g+1,j+1}(y_j|y_g) for each sample's given slot g = ``slot[b]``; entries of invalid
    pairs are ignored (their gradient is zero).
    """
    d = log_q.shape[1]
    i = torch.arange(d, device=log_q.device)
    off_diag = i[:, None] != i[None, :]
    minus_ok = (i[:, None] >= 1) & (i[None, :] >= 1) & off_diag
    plus_ok = (i[:, None] <= d - 2) & (i[None, :] <= d - 2) & off_diag
    zero = log_q.new_zeros(())
    e_minus = torch.clamp(_pair_means(log_q - log_q_minus, slot, d), min=0.0)
    e_plus = torch.clamp(_pair_means(log_q - log_q_plus, slot, d), min=0.0)
    n_dir = minus_ok.to(log_q.dtype) + plus_ok.to(log_q.dtype)
    total = torch.where(minus_ok, e_minus, zero) + torch.where(plus_ok, e_plus, zero)
    valid = n_dir > 0
    return (total[valid] / n_dir[valid]).mean()


def gaussian_entropies(y: torch.Tensor) -> torch.Tensor:
    """Per-principal-axis Gaussian entropies ½(log(2πλ_i + 1e-7) + 1), λ sorted descending."""
    yc = y - y.mean(0)
    cov = yc.T @ yc / y.shape[0]
    lam = torch.linalg.eigvalsh(cov.double()).flip(0).clamp(min=0).to(y.dtype)
    return 0.5 * (torch.log(2 * math.pi * lam + 1e-7) + 1.0)


def rank_weights(d: int, t: float, sharpness: float = 50.0) -> torch.Tensor:
    """Soft rank mask w_i(t) = σ(−α (s_i − t)), s_i = (i−1)/(d−1): rank r(t) = 1 + (d−1)t."""
    s = torch.linspace(0.0, 1.0, d)
    return 1.0 / (1.0 + torch.exp(torch.clamp(sharpness * (s - t), -50.0, 50.0)))


def ranked_entropy(y: torch.Tensor, t: float, sharpness: float = 50.0) -> torch.Tensor:
    """Per-rank Gaussian entropy Ĥ_{r(t)}(y) = Σ w_i h_i / Σ w_i (spec §2.5)."""
    h = gaussian_entropies(y)
    w = rank_weights(y.shape[1], t, sharpness).to(h)
    return (w * h).sum() / w.sum()


def marginal_entropy(log_p: torch.Tensor) -> torch.Tensor:
    """Average marginal entropy (1/d) Σ_n Ĥ(y_n), Ĥ(y_n) = −mean_b log p_n(y_bn)."""
    return -log_p.mean()


def resolution(mean_marginal_entropy: torch.Tensor, joint_entropy: torch.Tensor) -> torch.Tensor:
    """Normalised total correlation: average marginal entropy − per-rank joint entropy."""
    return mean_marginal_entropy - joint_entropy


def information(joint_entropy: torch.Tensor) -> torch.Tensor:
    """InfoMax term −Ĥ_{r(t)}(y): prevents collapse of the representation."""
    return -joint_entropy


def uniformity(marginal: torch.Tensor, conditional: torch.Tensor) -> torch.Tensor:
    """The uniformity term: ``UNIFORMITY_AVERAGE`` · (marginal + conditional uniformity)."""
    return UNIFORMITY_AVERAGE * (marginal + conditional)


def lens_loss(weights: Any, align: torch.Tensor, unif: torch.Tensor, h_marg: torch.Tensor,
              h_joint: torch.Tensor) -> torch.Tensor:
    """Total loss λ_A·align + λ_U·unif + λ_R·(H̄_marg − Ĥ_r) − λ_I·Ĥ_r (spec §2.6); ``weights`` a ``LossWeights``."""
    return (weights.alignment * align + weights.uniformity * unif
            + weights.resolution * resolution(h_marg, h_joint) + weights.information * information(h_joint))


def estimator_nll(log_p: torch.Tensor, log_q: torch.Tensor, slot: torch.Tensor, l2_penalty: torch.Tensor,
                  l2: float) -> torch.Tensor:
    """Negative log-likelihood of the estimators (spec §3): marginal tables ``log_p`` (B, d), conditional
    ``log_q`` (B, d) for given slots ``slot`` (B,) (its own slot excluded), plus ``l2`` · ``l2_penalty``."""
    off_diag = (slot[:, None] != torch.arange(log_q.shape[1], device=log_q.device)[None, :]).to(log_q.dtype)
    return -log_p.mean() - (log_q * off_diag).sum() / off_diag.sum() + l2 * l2_penalty
