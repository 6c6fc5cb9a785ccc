"""Configuration of a SymmetryLens run: one frozen dataclass tree, defaults for every dataset.

The defaults are a single setting meant for *all* datasets (nothing is tuned per dataset).
They follow the paper/reference (spec §2–§4) except where speed on a CPU demands otherwise;
each departure is marked "departure" below with its reason:

* steps/batch: the reference trains 10⁶ steps of 16,500 samples on GPUs; we train a few
  thousand steps of 4,096 samples with a 100× larger learning rate (Adam, 10× log decay).
* the noise on ψ decays over a fixed *fraction* of training, not over 10 epochs.
* the conditional density network has a hidden width of 128 rather than 16·d (the one-hot
  input makes the first layer a gather; the output layer dominates the cost).
* the generator's initial scale is 1e-4 (reference 1e-3): smaller starts did not hurt in
  the paper and reached the minimal generator more reliably in our runs.
* G = B·expm(A) with a base point B that absorbs A every ``rebase_every`` steps (dynamic
  trivialization) — same group, better-conditioned gradients far from the identity.
* ``repair_at``: a discrete defect repair of the learned chain (``discover/repair.py``) at
  these fractions of training; the fast schedule otherwise leaves domain-wall defects.
* ``refine``: after the last step, a truth-free local re-solve of the chain's non-stationary
  sites, kept only if it makes neighbouring sites' marginals more alike on held-out samples
  (``discover/refine.py``); it removes the local defects the fast schedule leaves on Gaussian data.

Experimental, off by default: ``init = "spectral"`` starts from a chain read off the covariance
(``discover/spectral.py``) instead of the identity, and ``hold_start`` holds the lens while the
estimators first fit its output. The init alone reaches cosine ≈ 0.98 on the Gaussian datasets
at d = 33, but training from it with the default loss drifted away (0.81 and 0.94 at seed 0 with
``benchmarks/configs/spectral.toml``; docs/benchmarks.md), so the paper's identity init stays.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._validation import SymscopeInputError


@dataclass(frozen=True, kw_only=True)
class LossWeights:
    """λ of the total loss λ_A·align + λ_U·unif + λ_R·(H̄_marg − Ĥ_r) − λ_I·Ĥ_r (spec §2.6)."""

    alignment: float = 1.0
    uniformity: float = 2.0
    resolution: float = 1.0
    information: float = 0.75


@dataclass(frozen=True, kw_only=True)
class RankSchedule:
    """Soft rank r(t) = 1 + (d−1)·t of the Gaussian entropy; t = cumulative-lr fraction / ``end``.

    ``sharpness`` is α of the sigmoid mask (50 in the final reference code); ``end`` < 1 reaches
    full rank before the end of training and holds it (1.0 = the paper's schedule; departure:
    0.6, full rank at about a third of training, leaving the rest to settle at full rank).
    """

    sharpness: float = 50.0
    end: float = 0.6


@dataclass(frozen=True, kw_only=True)
class DensityConfig:
    """Marginal GMMs and conditional mixture-density network (spec §3)."""

    kernels: int = 4
    hidden: int = 128  # departure: reference 16·d
    clip: float = 4.5
    l2: float = 1e-5


@dataclass(frozen=True, kw_only=True)
class RefineConfig:
    """Post-training refinement of the chain (``discover/refine.py``; departure: not in the paper).

    ``enabled`` = False switches it off; ``rounds`` local re-solve rounds;
    ``threshold`` marks sites whose Toeplitz residual exceeds this multiple of the median;
    ``kurtosis_weight`` keeps re-solved sites local (local and global re-solve, and the judge);
    ``starts`` LBFGS starts of the local re-solve; ``polish`` adds each candidate after the global
    re-solve (``polish_iters`` LBFGS iterations; the kept one up to ``converge_iters`` more, 0: no
    more); ``spectral`` adds the spectral chain as a candidate; ``min_similarity`` > 0 is a trust
    region: a candidate whose generator has a lower cosine than this with the trained chain's is
    not kept (0: off); ``ring`` closes a kept chain whose ends covary like neighbours (circulant
    data) into a ring; ``project`` (experimental, off until re-measured on every saved state) also
    tries the kept open chain's nearest exact stationary chain, re-solved, and keeps it if the
    judge prefers it.
    """

    enabled: bool = True
    rounds: int = 3
    threshold: float = 1.3
    kurtosis_weight: float = 0.03
    starts: int = 4
    min_similarity: float = 0.0
    polish: bool = True
    polish_iters: int = 500
    converge_iters: int = 2000
    spectral: bool = True
    ring: bool = True
    project: bool = False

    @property
    def active(self) -> bool:
        """Whether the refinement has anything to do."""
        return self.enabled and (self.rounds > 0 or self.polish or self.spectral)


@dataclass(frozen=True, kw_only=True)
class LensConfig:
    """Everything that defines a SymmetryLens fit. Variants: ``dataclasses.replace(cfg, ...)``."""

    steps: int = 6000
    batch_size: int = 4096
    lr: float = 1e-2  # model (generator + filter) Adam lr at step 0; departure: reference 1e-4
    estimator_lr: float = 1e-2  # departure: reference 1e-3
    filter_lr_scale: float = 10.0  # ψ's lr = lr × this (departure: reference 1, a shared lr)
    lr_decay: float = 0.1  # lr falls log-linearly to lr·lr_decay at the last step
    padding: int | None = None  # None → d (paper, non-cyclic data); 0 for circulant data
    init_std: float = 1e-4  # std of P, A = P − Pᵀ
    init: str = "identity"  # "identity" (paper: G ≈ I, ψ = 0) or "spectral" (discover/spectral.py)
    rebase_every: int = 50  # fold expm(A) into G's base point every this many steps (0 = never)
    filter_noise: float = 0.1  # σ₀ of the noise injected into ψ
    filter_noise_decay: float = 0.05  # e-folding time of that noise, as a fraction of steps
    repair_at: tuple[float, ...] = (0.5, 0.75)  # fractions of steps at which to repair chain defects
    repair_hold: int = 200  # steps the lens is held after a repair while the estimators re-fit
    hold_start: int = 0  # steps the lens is held at the start while the estimators fit its initial output
    repair_samples: int = 20_000  # samples used to read the chain's correlations
    refine: RefineConfig = field(default_factory=RefineConfig)
    weights: LossWeights = field(default_factory=LossWeights)
    rank: RankSchedule = field(default_factory=RankSchedule)
    density: DensityConfig = field(default_factory=DensityConfig)
    log_every: int = 50
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        object.__setattr__(self, "repair_at", tuple(float(f) for f in self.repair_at))
        if any(not 0 < f < 1 for f in self.repair_at):
            raise SymscopeInputError(f"config: repair_at fractions must lie in (0, 1), got {self.repair_at}")
        positive = ["steps", "batch_size", "lr", "estimator_lr", "lr_decay", "log_every", "checkpoint_every"]
        for name in positive:
            if not getattr(self, name) > 0:
                raise SymscopeInputError(f"config: {name} must be > 0, got {getattr(self, name)}")
        r = self.refine
        if (r.rounds < 0 or r.starts < 1 or not r.threshold > 0 or r.kurtosis_weight < 0
                or not -1 <= r.min_similarity <= 1 or r.polish_iters < 1 or r.converge_iters < 0):
            raise SymscopeInputError(f"config: refine needs rounds >= 0, starts >= 1, threshold > 0, "
                                     f"kurtosis_weight >= 0, min_similarity in [-1, 1], polish_iters >= 1 "
                                     f"and converge_iters >= 0, "
                                     f"got {r}")
        if self.init not in ("identity", "spectral"):
            raise SymscopeInputError(f"config: init must be 'identity' or 'spectral', got {self.init!r}")
        if self.padding is not None and self.padding < 0:
            raise SymscopeInputError(f"config: padding must be >= 0 or null, got {self.padding}")

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LensConfig:
        """Build from a nested dict; unknown keys are an error that lists the valid ones."""
        return _from_dict(cls, data, "config")

    @classmethod
    def from_file(cls, path: str | Path) -> LensConfig:
        """Read a ``.json`` or ``.toml`` config file (missing keys keep their defaults)."""
        p = Path(path)
        if not p.is_file():
            raise SymscopeInputError(f"config file not found: {p}")
        try:
            if p.suffix.lower() == ".toml":
                data = tomllib.loads(p.read_text())
            elif p.suffix.lower() == ".json":
                data = json.loads(p.read_text())
            else:
                raise SymscopeInputError(f"config file must be .json or .toml, got {p.name}")
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SymscopeInputError(f"cannot parse config file {p}: {exc}") from None
        if not isinstance(data, dict):
            raise SymscopeInputError(f"config file {p} must hold a table/object at top level")
        return cls.from_dict(data)


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise SymscopeInputError(
            f"{where}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        sub = fields[name].default_factory if fields[name].default_factory is not dataclasses.MISSING else None
        if sub is not None and dataclasses.is_dataclass(sub):
            if not isinstance(value, dict):
                raise SymscopeInputError(f"{where}.{name} must be a table/object")
            value = _from_dict(sub, value, f"{where}.{name}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SymscopeInputError(f"{where}: {exc}") from None
