"""Input validation shared by the loaders, the CLI and the model: one clear line per problem."""

from __future__ import annotations

from typing import Any

import numpy as np

#: The fewest features for which a shift symmetry is meaningful.
MIN_FEATURES = 3


class SymscopeInputError(ValueError):
    """Bad user input (a data file or array); the message is one line meant for the user."""


class SymscopeTrainingError(RuntimeError):
    """A fit that cannot go on (e.g. a non-finite loss or gradient); the message says where and what to try."""


def _first_few(indices: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    return shown + (", ..." if len(indices) > limit else "")


def check_numeric_dtype(a: np.ndarray, name: str) -> None:
    """Reject arrays whose dtype is not real-numeric (object, strings, complex, dates, ...)."""
    if a.dtype.kind not in "biuf":
        raise SymscopeInputError(
            f"{name} has non-numeric dtype {a.dtype} (kind {a.dtype.kind!r}); expected real numbers"
        )


def check_data(X: Any, *, min_samples: int = 2, name: str = "X", allow_constant: bool = False) -> np.ndarray:
    """Validate samples ``X`` of shape (n, d) and return them as a float64 C-contiguous array.

    Raises ``SymscopeInputError`` for a non-numeric dtype, a shape other than 2-D, NaN or
    inf (naming the first offending rows), fewer than ``min_samples`` samples, fewer than
    three features, or constant data (all samples identical: nothing to learn), unless
    ``allow_constant`` (for data a fitted model is only applied to).
    """
    try:
        a = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise SymscopeInputError(f"{name} cannot be read as an array: {exc}") from None
    check_numeric_dtype(a, name)
    if a.ndim != 2:
        hint = " (a single sample? use X.reshape(1, -1))" if a.ndim == 1 else ""
        raise SymscopeInputError(
            f"{name} must be 2-D (n_samples, n_features), got {a.ndim}-D shape {a.shape}{hint}"
        )
    a = np.ascontiguousarray(a, dtype=np.float64)
    bad_rows = np.flatnonzero(~np.isfinite(a).all(axis=1))
    if len(bad_rows):
        raise SymscopeInputError(
            f"{name} contains NaN or inf in {len(bad_rows)} of {len(a)} rows "
            f"(0-based rows: {_first_few(bad_rows)})"
        )
    n, d = a.shape
    if d < MIN_FEATURES:
        raise SymscopeInputError(f"{name} has d={d} features; at least {MIN_FEATURES} are needed")
    if n < min_samples:
        raise SymscopeInputError(f"{name} has {n} samples; at least {min_samples} are needed")
    if n and not allow_constant and np.all(a == a[0]):
        what = "all entries are equal" if np.all(a == a.flat[0]) else f"all {n} samples are identical"
        raise SymscopeInputError(f"{name} is constant ({what}); there is no symmetry to learn")
    return a


def check_square_matrix(m: Any, name: str) -> np.ndarray:
    """Validate a generator-like matrix: real-numeric, square, finite; return it as float64."""
    a = np.asarray(m)
    check_numeric_dtype(a, name)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise SymscopeInputError(f"{name} must be a square matrix, got shape {a.shape}")
    if a.shape[0] < 1:
        raise SymscopeInputError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise SymscopeInputError(f"{name} contains NaN or inf")
    return a.astype(np.float64)
