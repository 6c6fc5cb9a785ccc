"""Built-in datasets with ground truth: a registry of paper datasets and their variants."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._validation import SymscopeInputError
from . import actions, signals


@dataclass(frozen=True)
class Dataset:
    """Samples ``X`` (n, d) with the true minimal generator of their hidden symmetry.

    ``hidden`` is the untransformed (translation-structured) signal, ``transform`` the
    orthogonal ``U`` with ``X = hidden @ Uᵀ``, and ``generator = U S Uᵀ``.
    """

    X: np.ndarray
    generator: np.ndarray
    name: str
    hidden: np.ndarray = field(repr=False)
    transform: np.ndarray = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    """Recipe for a named dataset: signal family, hidden transform, circulant or not."""

    signal: str
    transform: str
    circulant: bool = False

    @property
    def description(self) -> str:
        wrap = ", circulant (wrap-around)" if self.circulant else ""
        return f"{self.signal} signals; hidden transform: {actions.TRANSFORMS[self.transform]}{wrap}"


def _registry() -> dict[str, DatasetSpec]:
    reg = {}
    for sig in signals.SIGNALS:
        for tr in actions.TRANSFORMS:
            reg[f"{sig}-{tr}"] = DatasetSpec(sig, tr)
            reg[f"{sig}-{tr}-circulant"] = DatasetSpec(sig, tr, circulant=True)
    return reg


#: Every built-in dataset by name; ``symscope datasets`` lists these.
DATASETS: dict[str, DatasetSpec] = _registry()

#: The six datasets of the paper's Table 2.
PAPER_DATASETS: tuple[str, ...] = tuple(
    f"{s}-{t}" for s in ("gaussian", "legendre") for t in ("shift", "permuted", "dst")
)


def make_dataset(
    name: str,
    *,
    n: int = 10_000,
    d: int = 33,
    seed: int = 0,
    noise: float = 0.05,
    transform_seed: int = 0,
    transform: np.ndarray | None = None,
    **signal_kwargs: Any,
) -> Dataset:
    """Generate a built-in dataset deterministically from ``seed``.

    Args:
        name: a key of ``DATASETS`` (e.g. ``"gaussian-permuted"``).
        n: number of samples; d: dimension (any d ≥ 5, odd or even).
        seed: sample seed (private RNG; global state is never touched).
        noise: relative noise level (paper: 0.05).
        transform_seed: seed of the hidden permutation / random orthogonal matrix, kept
            separate from ``seed`` so that different sample seeds share one hidden symmetry.
        transform: optional user orthogonal ``U`` (d, d) replacing the named transform.
        signal_kwargs: overrides for the signal family (e.g. ``scale=(0.2, 1.0)``).

    >>> ds = make_dataset("gaussian-shift", n=4, d=7)
    >>> ds.X.shape, ds.generator.shape
    ((4, 7), (7, 7))
    """
    if name not in DATASETS:
        raise SymscopeInputError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if int(d) != d or d < 5:
        raise SymscopeInputError(f"dimension d must be an integer >= 5, got {d}")
    if int(n) != n or n < 1:
        raise SymscopeInputError(f"number of samples n must be a positive integer, got {n}")
    if noise < 0:
        raise SymscopeInputError(f"noise must be >= 0, got {noise}")
    spec = DATASETS[name]
    rng = np.random.default_rng(seed)
    hidden = signals.SIGNALS[spec.signal](int(n), int(d), rng, circulant=spec.circulant, **signal_kwargs)
    hidden = signals.normalise_and_noise(hidden, rng, noise)
    if transform is None:
        u = actions.transform_matrix(spec.transform, int(d), transform_seed)
    else:
        u = actions.check_orthogonal(transform)
        if u.shape != (d, d):
            raise SymscopeInputError(f"hidden transform must be ({d}, {d}) for d={d}, got {u.shape}")
    meta = dict(spec=asdict(spec), n=int(n), d=int(d), seed=seed, noise=noise,
                transform_seed=transform_seed, custom_transform=transform is not None)
    return Dataset(
        X=hidden @ u.T,
        generator=actions.true_generator(u, spec.circulant),
        name=name,
        hidden=hidden,
        transform=u,
        meta=meta,
    )
