"""Equivariance of a function under a group action, measured on samples (the e3nn error/assert split).

``check_equivariance`` returns the relative error ‖f(x L_gᵀ) − f(x) K_gᵀ‖ / ‖f(x) K_gᵀ‖ per sampled
group element; ``symscope.exploit.assert_equivariant`` wraps it into an assertion for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import SymscopeInputError, paired_reps

#: Default relative tolerance by dtype.
DEFAULT_RTOL = {torch.float32: 1e-5, torch.float64: 1e-10, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


@dataclass(frozen=True)
class EquivarianceReport:
    """Outcome of ``measure_equivariance``: relative error per tested element, and the worst one."""

    indices: np.ndarray
    rel_errors: np.ndarray
    worst_index: int
    worst_rel_error: float
    rtol: float

    @property
    def passed(self) -> bool:
        """Whether the worst relative error is within ``rtol``."""
        return self.worst_rel_error <= self.rtol

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every field (arrays as lists) and ``passed``."""
        return dict(indices=self.indices.tolist(), rel_errors=self.rel_errors.tolist(), worst_index=self.worst_index,
                    worst_rel_error=self.worst_rel_error, rtol=self.rtol, passed=self.passed)


def _as_numpy(y: Any) -> np.ndarray:
    return y.detach().cpu().double().numpy() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=np.float64)


def check_equivariance(f: Callable[[Any], Any], K: Any, L: Any, x: Any, rtol: float | None = None,
                       n_elements: int = 8, seed: int = 0) -> EquivarianceReport:
    """Measure max over sampled g of ‖f(x L_gᵀ) − f(x) K_gᵀ‖ / ‖f(x) K_gᵀ‖ (rows of x are samples).

    K (k, m, m) acts on outputs (None: the identity, i.e. check invariance), L (k, n, n) on inputs (``FiniteGroup`` accepted); ``n_elements``
    of the k elements are drawn without replacement. x is numpy or torch, (batch, n); the check
    runs in x's dtype and the default ``rtol`` depends on it (1e-5 float32, 1e-10 float64).
    """
    if K is None:  # invariance: the trivial representation on the outputs, filled in below
        l = paired_reps(L, L)[0]
        k = None
    else:
        k, l = paired_reps(K, L)
    is_torch = isinstance(x, torch.Tensor)
    dtype = x.dtype if is_torch else np.asarray(x).dtype
    if rtol is None:
        rtol = DEFAULT_RTOL.get(dtype, 1e-5)
    xn = _as_numpy(x)
    if xn.ndim != 2 or xn.shape[1] != l.shape[1]:
        raise SymscopeInputError(f"x must be (batch, {l.shape[1]}) to match L, got shape {xn.shape}")
    if not np.all(np.isfinite(xn)):
        raise SymscopeInputError("x contains NaN or inf")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(l), size=min(int(n_elements), len(l)), replace=False)

    def call(a: np.ndarray) -> np.ndarray:
        inp = torch.as_tensor(a, dtype=dtype) if is_torch else a.astype(dtype)
        with torch.no_grad():
            return _as_numpy(f(inp))

    fx = call(xn)
    if k is None:
        k = np.broadcast_to(np.eye(fx.shape[-1]), (len(l), fx.shape[-1], fx.shape[-1]))
    if fx.ndim != 2 or fx.shape[1] != k.shape[1]:
        raise SymscopeInputError(f"f(x) must be (batch, {k.shape[1]}) to match K, got shape {fx.shape}")
    errs = []
    for g in idx:
        lhs = call(xn @ l[g].T)
        rhs = fx @ k[g].T
        errs.append(np.linalg.norm(lhs - rhs) / max(np.linalg.norm(rhs), 1e-30))
    errs_a = np.asarray(errs)
    w = int(np.argmax(errs_a))
    return EquivarianceReport(indices=idx, rel_errors=errs_a, worst_index=int(idx[w]),
                              worst_rel_error=float(errs_a[w]), rtol=float(rtol))


def measure_equivariance(f: Callable[[Any], Any], x: Any, *, K: Any, L: Any, rtol: float | None = None,
                         n_elements: int = 8, seed: int = 0) -> EquivarianceReport:
    """The calling shape of every measurement: ``check_equivariance(f, K, L, x, ...)``."""
    return check_equivariance(f, K, L, x, rtol, n_elements, seed)
