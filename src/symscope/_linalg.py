"""The maths kernel of shifts and chains, shared by ``data``, ``discover``, ``exploit`` and ``baselines``.

Conventions. A *chain* is an ordered set of orthonormal sites, the rows of ``sites`` (d, d); the
shift along it maps site k to site k + 1. A *group convolution* has rows ψᵀGᵏ for the powers
``powers_range(d)`` = −⌊(d−1)/2⌋ … ⌊d/2⌋ (one convention for odd and even d: power 0 sits in
row ⌊(d−1)/2⌋, the central site of a chain). Functions that are written once for numpy and torch
use only operators both share (``@``, ``.T``, ``.mean``, ``.clip``), so each gives bit-for-bit
what a dedicated numpy or torch version would.

Why written here: each is a few lines, and the point is that each concept has exactly one
definition; the heavy lifting is numpy / scipy / torch (``scipy.fft.dst``, ``np.linalg.svd``).
"""

from __future__ import annotations

import functools

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import scipy.fft
import torch

from ._validation import SymscopeInputError

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def shift_matrix(d: int, circulant: bool = False) -> np.ndarray:
    """One-step shift ``S`` (d, d) with ones at ``(i+1, i)``: ``(S x)_i = x_{i-1}``.

    The non-cyclic shift (``circulant=False``) has d-1 ones and is only a *partial isometry*
    (``SᵀS`` is the identity minus the last basis projector): content shifted past the edge
    is lost. With ``circulant=True`` the corner ``(0, d-1)`` is added and ``S`` is a cyclic
    permutation, hence orthogonal.
    """
    s = np.eye(d, k=-1)
    if circulant:
        s[0, d - 1] = 1.0
    return s


def dst_matrix(d: int) -> np.ndarray:
    """Orthonormal DST-I matrix ``D_nk = sqrt(2/(d+1)) sin(π n k/(d+1))``; symmetric and involutory."""
    return scipy.fft.dst(np.eye(d), type=1, norm="ortho", axis=0)


def shift_along(sites: np.ndarray, padding: int | None = None, ring: bool = False) -> np.ndarray:
    """The shift along the chain whose sites are the rows of ``sites`` (d, d).

    ``padding=None``: the d × d matrix ``sitesᵀ S sites`` with S = ``shift_matrix(d, ring)``
    (open: a partial isometry, the true generator of shift-structured data ``x' = sitesᵀ x``).
    ``padding=p``: the orthogonal M × M matrix ``U S Uᵀ`` (M = d + 2p, U = diag(I_p, sitesᵀ, I_p))
    the lens holds: open, S is the cyclic shift of R^M, whose central crop is the open shift along
    the sites when p ≥ 1 (the last site maps into the padding; with p = 0 the chain wraps);
    ``ring``, S = diag(I_p, cyclic shift of R^d, I_p), so the crop is the cyclic shift along them.
    """
    d = len(sites)
    if padding is None:
        return sites.T @ shift_matrix(d, ring) @ sites
    m = d + 2 * padding
    U = np.eye(m)
    U[padding : padding + d, padding : padding + d] = sites.T
    if ring:
        S = np.eye(m)
        S[padding : padding + d, padding : padding + d] = np.roll(np.eye(d), 1, axis=0)
    else:
        S = np.eye(m, k=-1)
        S[0, m - 1] = 1.0
    return U @ S @ U.T


def polar(g: Array, method: str = "svd", iters: int = 5, tol: float = 1e-12) -> Array:
    """Nearest orthogonal matrix to ``g`` (its polar factor UVᵀ), numpy or torch.

    ``method="svd"``: UVᵀ from the SVD g = UΣVᵀ (any square g). ``method="newton-schulz"``:
    the iteration Q ← Q (3I − QᵀQ)/2, matrix products only, for a *nearly* orthogonal g
    (‖I − gᵀg‖₂ < 1); on such a spectrum (all singular values ≈ 1) an SVD can return factors
    whose product is far from orthogonal, while Newton–Schulz converges quadratically. Falls
    back to the SVD when it has not converged after ``iters`` steps.
    """
    if method == "newton-schulz":
        eye = np.eye(len(g)) if isinstance(g, np.ndarray) else torch.eye(g.shape[0], dtype=g.dtype, device=g.device)
        q = g
        for _ in range(iters):
            err = q.T @ q - eye
            worst = float(abs(err).max())
            if worst < tol:
                return q
            if not worst < 0.5:  # too far from orthogonal for the iteration to converge
                break
            q = q @ (eye - 0.5 * err)
        else:
            if float(abs(q.T @ q - eye).max()) < 1e-8:
                return q
    elif method != "svd":
        raise SymscopeInputError(f"unknown polar method {method!r}; choose 'svd' or 'newton-schulz'")
    if isinstance(g, np.ndarray):
        u, _, vh = np.linalg.svd(g)
    else:
        u, _, vh = torch.linalg.svd(g)
    return u @ vh


def lags(d: int) -> np.ndarray:
    """|i − j| for a d × d matrix: the diagonal each entry lies on."""
    return np.abs(np.arange(d)[:, None] - np.arange(d)[None, :])


@functools.lru_cache(maxsize=32)
def _upper_diagonals(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat indices of the upper triangle of a d × d matrix, their diagonal m = j − i, entries per m)."""
    i, j = np.triu_indices(d)
    return i * d + j, j - i, (d - np.arange(d)).astype(np.float64)


def diagonal_means(M: np.ndarray, reduce: Any = np.mean) -> np.ndarray:
    """(d,) the mean (or ``reduce``, e.g. ``np.median``) of each diagonal m = 0 … d−1 of M (d, d).

    The mean is one ``np.bincount`` over the upper triangle (the refinement's searches call this
    ~10⁵ times per fit); other reductions go diagonal by diagonal."""
    M = np.asarray(M)
    d = len(M)
    if reduce is np.mean and M.ndim == 2 and M.shape == (d, d) and d and not np.iscomplexobj(M):
        flat, diagonal, count = _upper_diagonals(d)
        return np.bincount(diagonal, weights=M.ravel()[flat], minlength=d) / count
    return np.array([reduce(np.diagonal(M, m)) for m in range(d)])


def toeplitz(a: Array) -> Array:
    """The symmetric Toeplitz matrix (d, d) with entries a[|i − j|] (numpy or torch a (d,))."""
    idx = lags(len(a))
    return a[idx if isinstance(a, np.ndarray) else torch.as_tensor(idx)]


def mean_kurtosis(Y: Array) -> Any:
    """Mean over columns of E[y⁴]/E[y²]² of centred columns Y (n, d); numpy in, numpy float out,
    torch in, differentiable torch scalar out."""
    return ((Y**4).mean(0) / (Y**2).mean(0).clip(min=1e-12) ** 2).mean()


def powers_range(d: int) -> np.ndarray:
    """The d powers of a group convolution, k_n = n − ⌊(d−1)/2⌋: −⌊(d−1)/2⌋ … ⌊d/2⌋.

    Odd d: −(d−1)/2 … (d−1)/2. Even d: −d/2+1 … d/2 (one more positive power), keeping d rows.
    """
    return np.arange(d) - (d - 1) // 2


def group_convolution_rows(psi: Array, G: Array, powers: Sequence[int] | np.ndarray,
                           inverse: Array | None = None) -> Array:
    """Rows ψᵀGᵏ (len(powers), M) for integer ``powers``, numpy or torch, differentiable in ψ and G.

    Built by repeated vector–matrix products (v_{k+1} = v_k G, v_{k−1} = v_k G⁻¹), one per row:
    O(d·M²) instead of a matrix power per row. G⁻¹ is ``inverse``, by default Gᵀ (G orthogonal).
    """
    ks = [int(k) for k in powers]
    rows = {0: psi}
    v = psi
    for k in range(1, max(ks + [0]) + 1):
        v = v @ G
        rows[k] = v
    v = psi
    for k in range(-1, min(ks + [0]) - 1, -1):
        v = v @ (G.T if inverse is None else inverse)  # a fresh transpose per row, as autograd has always seen it
        rows[k] = v
    picked = [rows[k] for k in ks]
    return np.stack(picked) if isinstance(psi, np.ndarray) else torch.stack(picked)


@contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads and numpy's BLAS with ``n`` threads inside (None: leave
    both alone), restored after. The BLAS limit matters: the refinement and the verdict are numpy
    on (20,000, d) arrays, where OpenBLAS's own threads, on a machine whose cores are busy, made a
    covariance 200× slower than one thread (0.67 s against 0.003 s at d = 33)."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    if n is None:
        yield
        return
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)
