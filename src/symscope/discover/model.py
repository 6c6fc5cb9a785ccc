"""The symmetry subsystem: orthogonal generator G, resolving filter ψ and the group convolution.

* ``OrthogonalGenerator``: ``G = B·expm(A)`` with ``A = P − Pᵀ`` antisymmetric on the padded space
  (size ``M = d + 2p``), B an orthogonal base point; near-identity init. The reported generator is the central d×d crop.
* ``ResolvingFilter``: ψ ∈ R^d, zero init, decaying Gaussian noise injection, L2-normalised.
* ``group_convolution``: rows ``crop(ψ_padᵀ Gᵏ)`` for ``k = −(d−1)/2 … (d−1)/2``.

Powers are built by repeated vector–matrix products (``v_{k+1} = v_k G``, ``v_{k−1} = v_k Gᵀ``)
from one ``matrix_exp`` per step: O(M³ + d·M²) instead of the reference's eigendecomposition,
whose backward pass is unstable for the paired spectra of shift generators (spec §1.4, §8 #9).
"""

from __future__ import annotations

import torch
from torch import nn


def powers_range(d: int) -> torch.Tensor:
    """Integer powers ``k_n = n − (d−1)//2`` for the d rows of the group convolution.

    For even d the range is ``−d/2+1 … d/2`` (one more positive power), keeping d rows.
    """
    half = (d - 1) // 2
    return torch.arange(d) - half


class OrthogonalGenerator(nn.Module):
    """``G = B · expm(P − Pᵀ)`` on R^M, M = d + 2·padding; ``P ~ N(0, init_std²)``, ``B = I`` at start.

    ``B`` is an orthogonal base point (a buffer). ``rebase()`` folds the current rotation into
    it and zeroes P ("dynamic trivialization", Lezcano-Casado 2019): the exponential map's
    differential degenerates as the eigenvalues of A approach ±π — exactly where the log of a
    shift lives — so a static parametrisation slows to a crawl near the solution. Rebasing keeps
    A small and the gradient well conditioned; the represented G is unchanged by it.
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
        """Fold expm(A) into the base point (re-orthonormalised in float64) and set P = 0.

        The re-orthonormalisation is the polar factor by Newton–Schulz iterations (matrix products
        only), not an SVD: G is orthogonal to ~1e-13, so all its singular values are 1, and on such
        a spectrum torch's CPU SVD (MKL gesdd) returned factors whose product was far from
        orthogonal (max |UVᵀ(UVᵀ)ᵀ − I| = 0.42 at d = 129, M = 387, step 550 of a default fit),
        after which the group convolution blew up. Newton–Schulz converges quadratically here.
        """
        g = self.base @ torch.linalg.matrix_exp(self.algebra().double())
        self.base.copy_(orthonormalise(g))
        self.P.zero_()

    def cropped(self) -> torch.Tensor:
        """Central d×d block of G: the generator reported and scored."""
        p, d = self.padding, self.d
        return self().detach()[p : p + d, p : p + d]


def orthonormalise(g: torch.Tensor, iters: int = 5, tol: float = 1e-12) -> torch.Tensor:
    """Nearest orthogonal matrix to a nearly orthogonal ``g`` (polar factor), by Newton–Schulz:
    Q ← Q (3I − QᵀQ)/2. Needs ‖I − gᵀg‖₂ < 1 (true for a product of orthogonal matrices in float64)."""
    eye = torch.eye(g.shape[0], dtype=g.dtype, device=g.device)
    q = g
    for _ in range(iters):
        err = q.T @ q - eye
        if float(err.abs().max()) < tol:
            break
        q = q @ (eye - 0.5 * err)
    return q


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
    ks = powers_range(d)
    v0 = torch.nn.functional.pad(psi, (padding, padding))
    rows = {0: v0}
    v = v0
    for k in range(1, int(ks.max()) + 1):
        v = v @ G
        rows[k] = v
    v = v0
    for k in range(-1, int(ks.min()) - 1, -1):
        v = v @ G.T
        rows[k] = v
    full = torch.stack([rows[int(k)] for k in ks])
    return full[:, padding : padding + d]
