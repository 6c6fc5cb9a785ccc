"""Truth-free diagnostics of a learned chain: how stationary are its sites on the data?

In a chain of a stationary signal the covariance of the sites is Toeplitz (it depends on the lag
only) and neighbouring sites have alike marginals. ``toeplitz_residual`` scores each site's row
of the site covariance against the Toeplitz matrix of median diagonals; ``stationarity_gap`` is
the mean W₂² between the standardised marginals of neighbouring sites. ``measure_chain`` reports
both for a chain on samples, in the calling shape of every measurement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._linalg import diagonal_means, lags
from .._validation import SymscopeInputError, check_data, check_square_matrix


def toeplitz_residual(cov: np.ndarray) -> np.ndarray:
    """Per site: norm of its row of ``cov`` minus the Toeplitz matrix of median diagonals, / the median site's."""
    toeplitz = diagonal_means(cov, np.median)[lags(len(cov))]
    residual = np.linalg.norm(cov - toeplitz, axis=1)
    return residual / np.median(residual)


def stationarity_gap(Y: np.ndarray) -> float:
    """Mean over neighbouring columns of W₂² between their standardised marginals (0 if identical)."""
    Z = (Y - Y.mean(0)) / np.maximum(Y.std(0), 1e-12)
    q = np.sort(Z, axis=0)  # empirical quantile functions of the columns
    return float(np.mean((q[:, 1:] - q[:, :-1]) ** 2))


@dataclass(frozen=True)
class ChainReport:
    """Stationarity of a chain on samples: the gap, and the worst and median Toeplitz residual of its sites."""

    stationarity_gap: float
    worst_toeplitz_residual: float
    worst_site: int
    toeplitz_residual: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every field."""
        return asdict(self)


def measure_chain(sites: Any, X: Any) -> ChainReport:
    """Diagnostics of the chain whose sites are the rows of ``sites`` (d, d) (or a ``Chain``) on samples X (n, d)."""
    s = check_square_matrix(getattr(sites, "sites", sites), "chain sites")
    a = check_data(X, min_samples=3)
    if a.shape[1] != len(s):
        raise SymscopeInputError(f"X has {a.shape[1]} features but the chain has {len(s)} sites")
    Y = (a - a.mean(0)) @ s.T
    res = toeplitz_residual(np.cov(Y, rowvar=False))
    worst = int(np.argmax(res))
    return ChainReport(stationarity_gap=stationarity_gap(Y), worst_toeplitz_residual=float(res[worst]),
                       worst_site=worst, toeplitz_residual=tuple(float(r) for r in res))
