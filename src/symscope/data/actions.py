"""Hidden symmetry transforms and their true minimal generators (spec §5.3).

A dataset is ``x' = U x`` where ``x`` is translation-structured and ``U`` orthogonal. The hidden
symmetry of ``x`` is the one-pixel shift ``S`` ((S x)_i = x_{i-1}); the symmetry of ``x'`` is
``U S Uᵀ``. ``U`` is the identity (pixel shift), a permutation ``Q`` (shuffled pixels), the
DST-I matrix ``D`` (frequency shift), a Haar-random orthogonal matrix, or any user matrix.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ortho_group

from .._linalg import dst_matrix, shift_along, shift_matrix  # noqa: F401 - shift_matrix re-exported here
from .._validation import SymscopeInputError


def permutation_matrix(d: int, seed: int = 0) -> np.ndarray:
    """``Q`` with ``Q[π(i), i] = 1`` for a permutation π drawn from a private RNG."""
    perm = np.random.default_rng(seed).permutation(d)
    q = np.zeros((d, d))
    q[perm, np.arange(d)] = 1.0
    return q


def random_orthogonal(d: int, seed: int = 0) -> np.ndarray:
    """Haar-random orthogonal matrix (scipy's ``ortho_group``) from a private seed."""
    return ortho_group.rvs(d, random_state=np.random.default_rng(seed))


def check_orthogonal(u: np.ndarray, atol: float = 1e-8) -> np.ndarray:
    """Validate a user-given hidden transform: square, finite and orthogonal."""
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] != u.shape[1]:
        raise SymscopeInputError(f"hidden transform must be a square matrix, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise SymscopeInputError("hidden transform contains NaN or inf")
    err = np.abs(u @ u.T - np.eye(len(u))).max()
    if err > atol:
        raise SymscopeInputError(f"hidden transform is not orthogonal (max |U Uᵀ - I| = {err:.2e})")
    return u


def transform_matrix(kind: str, d: int, seed: int = 0) -> np.ndarray:
    """The orthogonal ``U`` of a named hidden transform (``TRANSFORMS``)."""
    if kind not in _CONSTRUCTORS:
        raise SymscopeInputError(f"unknown hidden transform {kind!r}; choose one of {sorted(TRANSFORMS)}")
    return _CONSTRUCTORS[kind](d, seed)


def true_generator(u: np.ndarray, circulant: bool = False) -> np.ndarray:
    """Minimal generator ``U S Uᵀ`` of the data ``x' = U x`` (either direction is correct)."""
    return shift_along(u.T, ring=circulant)


TRANSFORMS = {
    "shift": "identity: pixel translation",
    "permuted": "fixed random permutation: shuffled-pixel translation",
    "dst": "DST-I: frequency shift",
    "orthogonal": "Haar-random orthogonal change of basis",
}

_CONSTRUCTORS = {
    "shift": lambda d, seed: np.eye(d),
    "permuted": permutation_matrix,
    "dst": lambda d, seed: dst_matrix(d),
    "orthogonal": random_orthogonal,
}
