"""Input validation shared by the loaders, the CLI, the model and ``exploit``: one clear line per problem.

Every user error is a ``SymscopeInputError`` (a ``ValueError``). Torch tensors are accepted where
noted without importing torch here (the CLI starts without it).
"""

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
    check_standardisable(a, name, allow_constant=allow_constant)
    return a


def check_standardisable(a: np.ndarray, name: str = "X", *, allow_constant: bool = False) -> tuple[float, float]:
    """Global mean and standard deviation of finite float64 data ``a``, refusing data they overflow for.

    The lens standardises with (x − mean) / std; near ±1e154 the squares behind std overflow
    float64 (and near 1e-300 they underflow to 0), and every result computed from them would be
    garbage. Raises ``SymscopeInputError`` naming the largest magnitude and what to do.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        mean, std = float(np.mean(a)), float(np.std(a))
        usable = np.isfinite(mean) and np.isfinite(std) and (allow_constant or (std > 0 and np.isfinite(1.0 / std)))
    if not usable:
        biggest = float(np.max(np.abs(a))) if a.size else 0.0
        size = "large" if not (np.isfinite(mean) and np.isfinite(std)) else "small"
        raise SymscopeInputError(
            f"{name} cannot be standardised in float64: its values are too {size} (largest |x| = {biggest:.3g}, "
            f"standard deviation {'overflows' if size == 'large' else 'underflows to 0'}); "
            "rescale the data (e.g. divide by a common factor) first")
    return mean, std


def describe_torch_load_failure(exc: BaseException) -> str:
    """What a failed ``torch.load(..., weights_only=True)`` means, in one line for the user.

    torch's own text advises re-loading with ``weights_only=False`` (which runs code from the
    file); that advice must never reach the user, so its messages are replaced, not quoted.
    """
    text = " ".join(str(exc).split())
    if type(exc).__name__ == "UnpicklingError" or "weights_only" in text or "pickle" in text.lower():
        return ("it holds Python objects besides tensors and plain values; refused, because loading them "
                "could run code from the file")
    if isinstance(exc, EOFError):
        return "the file is empty or truncated"
    return "it is not a PyTorch file written by symscope (damaged, or another format)"


def load_torch_file(path: Any, what: str) -> dict[str, Any]:
    """Read a symscope ``.pt`` file (tensors and plain values only; nothing in it is executed).

    Returns the dict; raises ``SymscopeInputError`` when the file is missing, unreadable, holds
    anything but tensors and plain values, or is not a symscope file (no ``format`` field).
    """
    import warnings
    from pathlib import Path

    import torch

    p = Path(path)
    if not p.is_file():
        raise SymscopeInputError(f"{what} not found: {p}")
    try:
        with warnings.catch_warnings():  # torch's pickle-protocol warnings also talk about weights_only
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)  # never unpickles arbitrary objects
    except Exception as exc:  # noqa: BLE001 - any failure here means the file is not ours
        raise SymscopeInputError(f"cannot read {what} {p}: {describe_torch_load_failure(exc)}") from None
    if not isinstance(obj, dict) or not str(obj.get("format", "")).startswith("symscope-"):
        raise SymscopeInputError(f"{p} is not a symscope {what}")
    return obj


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


def to_numpy(a: Any, name: str) -> np.ndarray:
    """``a`` (numpy, torch or nested lists) as a float64 numpy array, rejecting NaN / inf, naming ``name``."""
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().double().numpy()
    try:
        a = np.asarray(a, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise SymscopeInputError(f"{name} cannot be read as a real array: {exc}") from None
    if not np.all(np.isfinite(a)):
        raise SymscopeInputError(f"{name} contains NaN or inf")
    return a


def square(a: Any, name: str) -> np.ndarray:
    """A finite square matrix (d, d) as float64 numpy."""
    a = to_numpy(a, name)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise SymscopeInputError(f"{name} must be a square matrix, got shape {a.shape}")
    return a


def rep_stack(a: Any, name: str) -> np.ndarray:
    """Representation matrices as a finite (k, m, m) stack; a single (m, m) matrix becomes k = 1.

    Accepts a ``FiniteGroup`` (its ``matrices``) or any array.
    """
    if hasattr(a, "matrices"):
        a = a.matrices
    a = to_numpy(a, name)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[0] == 0:
        raise SymscopeInputError(
            f"{name} must be a (k, m, m) stack of square representation matrices, got shape {a.shape}")
    return a


def paired_reps(K: Any, L: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate output / input representations of the same group elements (same count k)."""
    k, l = rep_stack(K, "K (output representation)"), rep_stack(L, "L (input representation)")
    if len(k) != len(l):
        raise SymscopeInputError(f"K and L must list the same group elements: got {len(k)} and {len(l)} matrices")
    return k, l
