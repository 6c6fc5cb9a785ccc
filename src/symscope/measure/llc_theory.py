"""Closed-form learning coefficients used to check the LLC estimator.

* ``rrr_learning_coefficient`` — reduced-rank regression x ↦ B A x (A: H×M, B: N×H) at a true map
  of rank r ≤ H (Aoyagi & Watanabe 2005, "Stochastic complexities of reduced rank regression in
  Bayesian estimation", Neural Networks 18). Four cases:

  1. N+r ≤ M+H, M+r ≤ N+H, H+r ≤ M+N:
     λ = [2(H+r)(M+N) − (M−N)² − (H+r)²]/8, plus 1/8 when M+N+H+r is odd;
  2. M+H < N+r: λ = (HM − Hr + Nr)/2;
  3. N+H < M+r: λ = (HN − Hr + Mr)/2;
  4. M+N < H+r: λ = MN/2.

* ``dln_learning_coefficient`` — deep linear network x ↦ W_L ⋯ W_1 x with widths H₀ (input), H₁, …,
  H_L (output) at a true product of rank r (Aoyagi 2024, "Consideration on the learning
  efficiency of multiple-layered neural networks with linear units", Neural Networks 172).
  With Δᵢ = Hᵢ − r, choose Σ = the ℓ+1 smallest Δ (the smallest ℓ ≥ 1) such that
  max_Σ Δ < min_{Σᶜ} Δ, Σ_Σ Δ ≥ ℓ·max_Σ Δ and Σ_Σ Δ < ℓ·min_{Σᶜ} Δ; with S = Σ_Σ Δ,
  M = ⌈S/ℓ⌉ and a = S − (M−1)ℓ,

     λ = [−r² + r(H₀ + H_L)]/2 + a(ℓ−a)/(4ℓ) − ℓ(ℓ−1)/4·(S/ℓ)² + ½ Σ_{i<j∈Σ} ΔᵢΔⱼ,

  with multiplicity m = a(ℓ−a) + 1. For one hidden layer this coincides with the RRR formula
  (the tests check it on a grid of shapes).

* ``NormalCrossing`` — a two-parameter model f(x; w) = x·w₁^{p₁}·w₂^{p₂}; with targets y = 0 its
  loss ½x²·w₁^{2p₁}w₂^{2p₂} is a normal crossing at w = 0, where λ = 1/(2 max p) (Watanabe 2009).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import torch
from torch import nn

from .._validation import SymscopeInputError


def _positive_ints(**kw: int) -> None:
    for name, v in kw.items():
        if int(v) != v or v < 1:
            raise SymscopeInputError(f"{name} must be a positive integer, got {v!r}")


def _check_rank(true_rank: int, limit: int) -> None:
    if int(true_rank) != true_rank or not 0 <= true_rank <= limit:
        raise SymscopeInputError(f"true_rank must be an integer in [0, {limit}] (the narrowest width), got {true_rank!r}")


def rrr_learning_coefficient(n_in: int, hidden: int, n_out: int, true_rank: int) -> float:
    """λ of reduced-rank regression M = ``n_in`` → H = ``hidden`` → N = ``n_out`` at true rank r."""
    _positive_ints(n_in=n_in, hidden=hidden, n_out=n_out)
    M, H, N, r = int(n_in), int(hidden), int(n_out), int(true_rank)
    _check_rank(r, min(M, H, N))
    if M + N < H + r:
        return M * N / 2.0
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2.0
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2.0
    base = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    return (base + ((M + N + H + r) % 2)) / 8.0


def dln_learning_coefficient(widths: Sequence[int], true_rank: int) -> tuple[float, int]:
    """(λ, multiplicity m) of a deep linear network with ``widths`` = (H₀ input, H₁, …, H_L output).

    ``true_rank`` is the rank of the true end-to-end map (at most the narrowest width). A single
    layer (two widths) is a regular model: λ = H₀·H₁/2, m = 1.
    """
    if len(widths) < 2:
        raise SymscopeInputError(f"widths needs at least an input and an output width, got {list(widths)}")
    _positive_ints(**{f"widths[{i}]": w for i, w in enumerate(widths)})
    H = [int(w) for w in widths]
    r = int(true_rank)
    _check_rank(r, min(H))
    if len(H) == 2:
        return H[0] * H[1] / 2.0, 1
    deltas = sorted(h - r for h in H)
    for ell in range(1, len(deltas)):
        sigma, rest = deltas[: ell + 1], deltas[ell + 1:]
        s = sum(sigma)
        min_rest = min(rest) if rest else math.inf
        if max(sigma) < min_rest and s >= ell * max(sigma) and s < ell * min_rest:
            break
    else:  # pragma: no cover - Aoyagi shows a valid Σ always exists
        raise AssertionError(f"no admissible Σ for widths {H}, rank {r}")
    m_ceil = -(-s // ell)
    a = s - (m_ceil - 1) * ell
    lam = ((-r * r + r * (H[0] + H[-1])) / 2.0 + a * (ell - a) / (4.0 * ell)
           - ell * (ell - 1) / 4.0 * (s / ell) ** 2 + 0.5 * sum(x * y for x, y in combinations(sigma, 2)))
    return lam, a * (ell - a) + 1


class NormalCrossing(nn.Module):
    """f(x; w) = x·w₁^{p₁}·w₂^{p₂} at w = 0; fit to y = 0 its LLC is ``learning_coefficient`` = 1/(2 max p)."""

    def __init__(self, powers: tuple[int, int]) -> None:
        super().__init__()
        if len(powers) != 2 or any(int(p) != p or p < 0 for p in powers) or max(powers) < 1:
            raise SymscopeInputError(f"powers must be two non-negative integers, not both 0, got {powers!r}")
        self.powers = (int(powers[0]), int(powers[1]))
        self.w = nn.Parameter(torch.zeros(2))

    @property
    def learning_coefficient(self) -> float:
        return 1.0 / (2 * max(self.powers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w[0] ** self.powers[0] * self.w[1] ** self.powers[1]
