"""How well a learned generator matches the true minimal generator (spec §6.1).

The truth ``G*`` is defined only up to direction (``G*`` or its inverse ``G*ᵀ``), so each
score takes the better direction. A learner can also land on a *higher power* of the truth
(a shift by 2 or 3 pixels) or collapse to the identity; both are scored separately so that
the "minimal generator" claim is actually tested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._validation import MIN_FEATURES, SymscopeInputError, check_square_matrix

#: Powers of the truth a learner might converge to instead of the minimal generator.
POWERS = (2, 3)


def frobenius_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Frobenius cosine ``<A, B>_F / (|A|_F |B|_F)``; 0 when either matrix is zero."""
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.sum(a * b) / den) if den > 0 else 0.0


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared entry-wise difference ``sqrt(mean((A - B)²))``."""
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _interior(m: np.ndarray) -> np.ndarray:
    return m[1:-1, 1:-1]


def data_weighted_error(learned: np.ndarray, truth: np.ndarray, X: np.ndarray) -> float:
    """E‖(G − G*)x‖² / E‖x‖² over the (centred) samples X (n, d), in the better direction of G*.

    What the data identify: the Frobenius cosine weighs every direction of R^d alike, this error
    weighs each by the variance the samples have along it, so a generator that differs from the
    truth only on components near the noise floor scores close to 0 here.
    """
    g = check_square_matrix(learned, "learned generator")
    t = check_square_matrix(truth, "true generator")
    Xc = np.asarray(X, dtype=np.float64)
    if Xc.ndim != 2 or Xc.shape[1] != len(g) or g.shape != t.shape:
        raise SymscopeInputError(f"data_weighted_error needs X (n, {len(g)}) and generators of one shape; "
                                 f"got X {Xc.shape}, generators {g.shape} and {t.shape}")
    Xc = Xc - Xc.mean(0)
    total = float((Xc**2).sum())
    if total <= 0:
        raise SymscopeInputError("data_weighted_error: X has no variance")
    return min(float((((g - m) @ Xc.T) ** 2).sum()) / total for m in (t, t.T))


@dataclass(frozen=True)
class RecoveryReport:
    """Scores of a learned generator against the truth, in the better direction.

    ``cosine``/``rmse`` compare with ``truth`` or ``truthᵀ`` (``inverse_matched`` says
    which); ``interior_*`` do the same without the first and last row and column (edge
    effects of the non-cyclic shift); ``power2_cosine``/``power3_cosine`` and
    ``identity_cosine`` are the cosines to ``truth^k`` (either direction) and to ``I``.
    ``verdict`` names the best-matching candidate whose cosine reaches ``cos_threshold``:
    "minimal", "power 2", "power 3", "identity collapse", else "not recovered".
    """

    cosine: float
    rmse: float
    inverse_matched: bool
    interior_cosine: float
    interior_rmse: float
    power2_cosine: float
    power3_cosine: float
    identity_cosine: float
    minimal: bool
    collapse: bool
    verdict: str
    cos_threshold: float
    dim: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every field."""
        return asdict(self)


def recovery_report(learned: np.ndarray, truth: np.ndarray, *, cos_threshold: float = 0.98) -> RecoveryReport:
    """Score ``learned`` against the true minimal generator ``truth`` (both d×d).

    ``minimal`` is True when the cosine reaches ``cos_threshold`` and beats both the power
    and the identity cosines; ``collapse`` when the identity cosine is the largest of all
    and reaches the threshold (a near-random matrix is "not recovered", not a collapse).
    """
    g = check_square_matrix(learned, "learned generator")
    t = check_square_matrix(truth, "true generator")
    if g.shape != t.shape:
        raise SymscopeInputError(
            f"learned generator is {g.shape[0]}x{g.shape[1]} but the truth is {t.shape[0]}x{t.shape[1]}"
        )
    if len(g) < MIN_FEATURES:
        raise SymscopeInputError(f"generators must be at least {MIN_FEATURES}x{MIN_FEATURES}, got {g.shape[0]}x{g.shape[1]}")
    if not 0.0 < cos_threshold <= 1.0:
        raise SymscopeInputError(f"cos_threshold must be in (0, 1], got {cos_threshold}")
    fwd, inv = frobenius_cosine(g, t), frobenius_cosine(g, t.T)
    inverse_matched = inv > fwd
    target = t.T if inverse_matched else t
    powers = {
        k: max(frobenius_cosine(g, np.linalg.matrix_power(m, k)) for m in (t, t.T)) for k in POWERS
    }
    identity = frobenius_cosine(g, np.eye(len(g)))
    cosine = max(fwd, inv)
    candidates = {"minimal": cosine, **{f"power {k}": c for k, c in powers.items()}, "identity collapse": identity}
    best = max(candidates, key=candidates.__getitem__)
    minimal = cosine >= cos_threshold and cosine > max(*powers.values(), identity)
    collapse = best == "identity collapse" and identity >= cos_threshold
    if minimal:
        verdict = "minimal"
    elif candidates[best] >= cos_threshold and best != "minimal":
        verdict = best
    else:
        verdict = "not recovered"
    return RecoveryReport(
        cosine=cosine,
        rmse=rmse(g, target),
        inverse_matched=bool(inverse_matched),
        interior_cosine=frobenius_cosine(_interior(g), _interior(target)),
        interior_rmse=rmse(_interior(g), _interior(target)),
        power2_cosine=powers[2],
        power3_cosine=powers[3],
        identity_cosine=identity,
        minimal=bool(minimal),
        collapse=bool(collapse),
        verdict=verdict,
        cos_threshold=float(cos_threshold),
        dim=len(g),
    )
