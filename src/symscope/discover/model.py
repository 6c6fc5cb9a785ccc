"""The symmetry subsystem: orthogonal generator G, resolving filter ψ and the group convolution.

* ``OrthogonalGenerator``: ``G = B·expm(A)`` with ``A = P − Pᵀ`` antisymmetric on the padded space
  (size ``M = d + 2p``), B an orthogonal base point; near-identity init. The reported generator
  is the central d×d crop.
* ``ResolvingFilter``: ψ ∈ R^d, zero init, decaying Gaussian noise injection, L2-normalised.
* ``group_convolution``: rows ``crop(ψ_padᵀ Gᵏ)`` for ``k`` in ``powers_range(d)``
  (``symscope._linalg``: −⌊(d−1)/2⌋ … ⌊d/2⌋).

Powers are built by repeated vector–matrix products (``_linalg.group_convolution_rows``) from
one ``matrix_exp`` per step: O(M³ + d·M²), and no eigendecomposition, whose backward pass is
unstable for the paired spectra of shift generators (spec §1.4, §8 #9).
"""

from __future__ import annotations

import torch
from torch import nn

from .._linalg import group_convolution_rows, polar, powers_range

__all__ = ["OrthogonalGenerator", "ResolvingFilter", "group_convolution", "orthonormalise", "powers_range"]


class OrthogonalGenerator(nn.Module):
    """``G = B · expm(P − Pᵀ)`` on R^M, M = d + 2·padding; ``P ~ N(0, init_std²)``, ``B = I`` at start.

    ``B`` is an orthogonal base point (a float64 buffer). ``rebase()`` folds the current rotation
    into it and zeroes P (dynamic trivialization, Lezcano-Casado 2019): the exponential map's
    differential degenerates as the eigenvalues of A approach ±π, where the log of a shift lives,
    so a static parametrisation slows down near the solution. Rebasing keeps A small and the
    gradient well conditioned; the represented G is unchanged by it.
    """

    def __init__(self, d: int, padding: int, init_std: float, generator: torch.Generator | None = None):
        super().__init__()
        self.d, self.padding = d, padding
        m = d + 2 * padding
        self.P = nn.Parameter(torch.randn(m, m, generator=generator, dtype=torch.float64).float() * init_std)
        self.register_buffer("base", torch.eye(m, dtype=torch.float64))

    def algebra(self) -> torch.Tensor:
        """Antisymmetric Lie-algebra element ``A = P − Pᵀ`` (relative to the base point)."""
        return self.P - self.P.T

    def forward(self) -> torch.Tensor:
        """The full padded orthogonal matrix ``G`` (M, M)."""
        return self.base.to(self.P.dtype) @ torch.linalg.matrix_exp(self.algebra())

    @torch.no_grad()
    def rebase(self) -> None:
        """Fold expm(A) into the base point, re-orthonormalised in float64, and set P = 0.

        The product is orthogonal to ~1e-13, so its polar factor is taken by Newton–Schulz
        (``_linalg.polar``), which converges quadratically on such a spectrum.
        """
        g = self.base @ torch.linalg.matrix_exp(self.algebra().double())
        self.base.copy_(orthonormalise(g))
        self.P.zero_()

    def cropped(self) -> torch.Tensor:
        """Central d×d block of G: the generator reported and scored."""
        p, d = self.padding, self.d
        return self().detach()[p : p + d, p : p + d]


def orthonormalise(g: torch.Tensor, iters: int = 5, tol: float = 1e-12) -> torch.Tensor:
    """Polar factor of a nearly orthogonal ``g`` by Newton–Schulz (``_linalg.polar``)."""
    return polar(g, "newton-schulz", iters, tol)


class ResolvingFilter(nn.Module):
    """ψ ∈ R^d: zero init, noise ``σ(t)·ε`` injected while training, unit-normalised."""

    def __init__(self, d: int):
        super().__init__()
        self.psi = nn.Parameter(torch.zeros(d))

    def forward(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Training: (ψ + noise)/(‖ψ + noise‖ + 1e-7). Evaluation (no noise): ψ/‖ψ‖, and 0 stays 0."""
        if noise is not None:
            psi = self.psi + noise
            return psi / (psi.norm() + 1e-7)
        norm = self.psi.norm()
        return self.psi / norm if norm > 0 else self.psi


def group_convolution(psi: torch.Tensor, G: torch.Tensor, d: int, padding: int) -> torch.Tensor:
    """Matrix C (d, d) with rows ``crop(ψ_padᵀ G^{k_n})``, k_n from ``powers_range(d)``.

    ``y = C x`` is equivariant: ``y_n(G x) = y_{n+1}(x)`` away from the edges.
    """
    v0 = torch.nn.functional.pad(psi, (padding, padding))
    return group_convolution_rows(v0, G, powers_range(d))[:, padding : padding + d]
