"""Lie algebras of orthogonal generators: the real principal logarithm, bases of so(d) / gl(d),
the SymmetryLens export on its padded space, and the Grassmann distance between subspaces.

An orthogonal G with det G = +1 and no eigenvalue −1 has a unique real principal logarithm A,
and A is antisymmetric: G = expm(A), A ∈ so(d). Its flow exp(tA) is the 1-parameter group whose
integer times are the powers Gᵏ; A is the tangent a Lie derivative (``invariance.py``) needs.
``scipy.linalg.logm`` computes the log; this module adds the checks that tell *why* no real log
exists (not orthogonal, a reflection, an eigenvalue −1) and antisymmetrises the result.

SymmetryLens stores G = B · expm(P − Pᵀ) on the padded space R^M, M = d + 2p, with a base point
B (``discover/model.py``). Its reported d × d crop is in general *not* orthogonal (a non-circulant
shift is only a partial isometry) and has no real logarithm, so the lens exports the logarithm
of the padded G instead (``lens_lie_algebra``); the crop of that antisymmetric M × M matrix is the
infinitesimal generator seen on the data: d/dt crop(exp(tA) pad(x))|₀ = A_crop x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import torch

from .._validation import SymscopeInputError


def as_matrix(a: Any, name: str) -> np.ndarray:
    """``a`` (numpy or torch) as a finite float64 square matrix, else ``SymscopeInputError``."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise SymscopeInputError(f"{name} must be a real matrix, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise SymscopeInputError(f"{name} must be a non-empty square matrix, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise SymscopeInputError(f"{name} contains NaN or inf")
    return arr


def lie_algebra(G: Any, *, tol: float = 1e-8) -> np.ndarray:
    """Real principal logarithm A of an orthogonal G, antisymmetrised: G = expm(A), Aᵀ = −A.

    Args:
        G: (d, d) orthogonal matrix (numpy or torch).
        tol: orthogonality tolerance on max |GᵀG − I| (scaled by d), and how close an eigenvalue
            may come to −1.

    Returns:
        A (d, d) float64 with eigenvalues iθ, |θ| < π.

    Raises:
        SymscopeInputError naming the cause: G not square / finite; not orthogonal (a cropped
        non-circulant lens generator: use ``lens.lie_algebra_`` on the padded space); det G = −1
        (a reflection has no real logarithm); an eigenvalue −1 (rotation by π: the principal
        logarithm is not defined, real logarithms are not unique).
    """
    g = as_matrix(G, "G")
    d = len(g)
    if tol <= 0:
        raise SymscopeInputError(f"tol must be > 0, got {tol}")
    orth = float(np.abs(g.T @ g - np.eye(d)).max())
    if orth > tol * max(d, 1):
        raise SymscopeInputError(
            f"G is not orthogonal (max |GᵀG − I| = {orth:.2e}): it has no antisymmetric logarithm; a cropped "
            "non-circulant lens generator is only a partial isometry, use lens.lie_algebra_ (padded space)")
    det = float(np.linalg.det(g))
    if det < 0:
        raise SymscopeInputError(
            f"G has determinant {det:.3f} (a reflection): an orthogonal matrix with det −1 has no real logarithm")
    lam = np.linalg.eigvals(g)
    near = np.abs(lam + 1.0)
    if near.min() <= max(np.sqrt(tol), 1e-6):
        raise SymscopeInputError(
            f"G has an eigenvalue −1 (|λ + 1| = {near.min():.1e}, {int(np.sum(near <= 1e-6))} of them): the principal "
            "logarithm is not defined there (a rotation by π); e.g. a cyclic shift of even order")
    a = scipy.linalg.logm(g)
    if np.iscomplexobj(a):
        if np.abs(a.imag).max() > 1e-6:
            raise SymscopeInputError(f"the logarithm of G is complex (max |Im| = {np.abs(a.imag).max():.1e})")
        a = a.real
    a = 0.5 * (a - a.T)
    err = float(np.abs(scipy.linalg.expm(a) - g).max())
    if err > max(1e-6, 100 * tol):
        raise SymscopeInputError(f"logarithm inaccurate: max |expm(A) − G| = {err:.1e} (G is too close to an eigenvalue −1)")
    return a


def so_basis(d: int) -> np.ndarray:
    """Orthonormal (Frobenius) basis of so(d): (E_ij − E_ji)/√2, i < j; shape (d(d−1)/2, d, d)."""
    if int(d) != d or d < 2:
        raise SymscopeInputError(f"so(d) needs an integer d >= 2, got {d}")
    i, j = np.triu_indices(int(d), 1)
    b = np.zeros((len(i), int(d), int(d)))
    b[np.arange(len(i)), i, j] = 1 / np.sqrt(2)
    b[np.arange(len(i)), j, i] = -1 / np.sqrt(2)
    return b


def gl_basis(d: int) -> np.ndarray:
    """Standard basis E_ij of gl(d) (all d × d matrices); shape (d², d, d)."""
    if int(d) != d or d < 1:
        raise SymscopeInputError(f"gl(d) needs an integer d >= 1, got {d}")
    return np.eye(int(d) ** 2).reshape(-1, int(d), int(d))


def grassmann_distance(U: Any, V: Any) -> float:
    """Geodesic Grassmann distance ‖θ‖₂ between the spans of two stacks of matrices (k, d, d)
    (or vectors (k, m)), θ the principal angles (``scipy.linalg.subspace_angles``; LieSD's
    protocol compares discovered and true algebras this way). With different dimensions the
    min(k_U, k_V) angles are used."""
    u, v = (np.asarray(t.detach().cpu().double().numpy() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
            for t in (U, V))
    if u.ndim < 2 or v.ndim < 2 or len(u) == 0 or len(v) == 0:
        raise SymscopeInputError(f"need non-empty stacks of matrices or vectors, got shapes {u.shape} and {v.shape}")
    u, v = u.reshape(len(u), -1), v.reshape(len(v), -1)
    if u.shape[1] != v.shape[1]:
        raise SymscopeInputError(f"the two subspaces live in different spaces: {u.shape[1]} vs {v.shape[1]} entries")
    theta = scipy.linalg.subspace_angles(u.T, v.T)
    return float(np.linalg.norm(theta))


@dataclass(frozen=True)
class LensLieAlgebra:
    """A SymmetryLens's Lie-algebra element on its padded space R^M (M = d + 2·padding).

    Attributes:
        algebra: A (M, M) antisymmetric, the principal log of the padded G = expm(A).
        relative: P − Pᵀ (M, M), the trained element relative to the base point.
        base: B (M, M) orthogonal base point; G = B · expm(relative).
        padding: p; d: the data dimension.
    """

    algebra: np.ndarray
    relative: np.ndarray
    base: np.ndarray
    padding: int
    d: int

    def generator(self) -> np.ndarray:
        """expm(A): the padded G (M, M)."""
        return scipy.linalg.expm(self.algebra)

    def crop(self) -> np.ndarray:
        """The central d × d block of A: the tangent x ↦ A_crop x of the flow on the data."""
        p, d = self.padding, self.d
        return self.algebra[p : p + d, p : p + d]

    def to_dict(self) -> dict[str, Any]:
        return dict(algebra=self.algebra.tolist(), relative=self.relative.tolist(), base=self.base.tolist(),
                    padding=self.padding, d=self.d)


def lens_lie_algebra(lens: Any, *, tol: float = 1e-8) -> LensLieAlgebra:
    """Export the Lie algebra of a fitted SymmetryLens: A = log(B expm(P − Pᵀ)) on the padded space.

    Raises ``SymscopeInputError`` when the lens is not fitted, or (from ``lie_algebra``) when the
    padded G has an eigenvalue −1.
    """
    if not hasattr(lens, "_modules") or not hasattr(lens, "group_conv_"):
        raise SymscopeInputError("this SymmetryLens is not fitted yet: call fit(X) or SymmetryLens.load(path)")
    gen = lens._modules.generator
    with torch.no_grad():
        rel = gen.algebra().detach().cpu().double()
        base = gen.base.detach().cpu().double()
        g = base @ torch.linalg.matrix_exp(rel)
    return LensLieAlgebra(algebra=lie_algebra(g.numpy(), tol=tol), relative=rel.numpy(), base=base.numpy(),
                          padding=int(gen.padding), d=int(gen.d))
