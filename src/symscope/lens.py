"""``SymmetryLens``: the scikit-learn-style estimator of the discovery engine.

>>> from symscope import SymmetryLens, LensConfig, make_dataset
>>> ds = make_dataset("gaussian-shift", n=512, d=7, seed=0)
>>> lens = SymmetryLens(LensConfig(steps=3, batch_size=128), progress=False).fit(ds.X)
>>> lens.generator_.shape, lens.transform(ds.X[:2]).shape
((7, 7), (2, 7))
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from ._validation import SymscopeInputError, check_data, load_torch_file
from .config import LensConfig
from .training import LensModules, Trainer, initialise_spectral

def min_samples(d: int) -> int:
    """Fewest samples ``fit`` accepts for d features (the density estimators need many)."""
    return max(100, 4 * d)


def config_differences(a: LensConfig, b: LensConfig) -> list[str]:
    """``name: a vs b`` for every (nested, dotted) field where two configs differ."""

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in d.items():
            out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
        return out

    fa, fb = flat(a.to_dict()), flat(b.to_dict())
    return [f"{k}: {fa.get(k)!r} vs {fb.get(k)!r}" for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise SymscopeInputError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SymscopeInputError("device 'cuda' requested but CUDA is not available")
    return dev


def _load_torch(path: str | Path, what: str) -> dict[str, Any]:
    return load_torch_file(path, what)  # safe: weights_only, torch's unsafe-loading advice never shown


class SymmetryLens:
    """Learn the minimal generator G of a hidden 1-parameter symmetry and a resolving filter ψ.

    Args:
        config: a ``LensConfig`` (defaults: one setting for all datasets).
        seed: fixes initialisation, mini-batches and filter noise (same seed → same result).
        device: ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
        progress: show a progress bar with the current losses.
        threads: torch CPU threads while fitting (restored afterwards); None: one thread, the
            deterministic default (same seed, same bytes; also the fastest on a busy machine).

    Learned attributes: ``generator_`` (d, d) central crop of G = expm(A); ``filter_`` (d,) unit ψ;
    ``group_conv_`` (d, d) with rows ψᵀGᵏ; ``history_`` (list of dicts); ``events_`` (chain
    repairs: step, whether applied, alignment gain; the final ``refine`` event: kept round,
    stationarity gap before/after, similarity to the trained chain); ``mean_``, ``scale_``
    (global standardisation); ``n_features_in_``; ``run_record_`` (versions, device, timings).
    """

    def __init__(self, config: LensConfig | None = None, *, seed: int = 0, device: str = "auto", progress: bool = True,
                 threads: int | None = None):
        self.config = config
        self.seed = seed
        self.device = device
        self.progress = progress
        self.threads = threads

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X: Any, *, resume_from: str | Path | None = None, checkpoint_path: str | Path | None = None,
            truth: np.ndarray | None = None) -> SymmetryLens:
        """Fit on samples X (n, d); returns self.

        Args:
            resume_from: a checkpoint written by an earlier (interrupted) fit; training continues
                from its step with its config, seed and RNG state.
            checkpoint_path: where to write checkpoints (periodically and on Ctrl-C).
            truth: optional true generator (d, d); only used to record the recovery cosine in
                ``history_`` while training (it does not influence the fit).
        """
        cfg = self.config if self.config is not None else LensConfig()
        if not isinstance(cfg, LensConfig):
            raise SymscopeInputError(f"config must be a LensConfig, got {type(cfg).__name__}")
        X = check_data(X, min_samples=1)
        n, d = X.shape
        if n < min_samples(d):
            raise SymscopeInputError(f"too few samples: got {n}, need at least {min_samples(d)} for d={d}")
        seed = int(self.seed)
        ckpt = None
        if resume_from is not None:
            ckpt = _load_torch(resume_from, "checkpoint")
            ck_cfg = LensConfig.from_dict(ckpt["config"])
            if self.config is not None and ck_cfg != cfg:
                raise SymscopeInputError(
                    f"checkpoint {resume_from} was written with a different config "
                    f"({'; '.join(config_differences(ck_cfg, cfg))}: checkpoint vs now); resume without "
                    "a config to use the checkpoint's own, or start afresh")
            cfg, seed = ck_cfg, int(ckpt["seed"])
        device = resolve_device(self.device)
        self.mean_, self.scale_ = float(X.mean()), float(X.std())
        Xt = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32, device=device)
        mods = LensModules(d, cfg, seed).to(device)
        if ckpt is not None and mods.generator.P.shape != ckpt["modules"]["generator.P"].shape:
            raise SymscopeInputError(f"checkpoint {resume_from} was trained on different data dimension")
        monitor = None
        if truth is not None:
            from .measure import recovery_report

            truth = np.asarray(truth, dtype=np.float64)
            if truth.shape != (d, d):
                raise SymscopeInputError(f"truth must be ({d}, {d}), got {truth.shape}")

            def monitor(m: LensModules) -> dict[str, float]:
                rep = recovery_report(m.generator.cropped().cpu().double().numpy(), truth)
                return {"cosine": rep.cosine, "power2_cosine": rep.power2_cosine, "identity_cosine": rep.identity_cosine}

        trainer = Trainer(mods, cfg, seed, device, progress=self.progress, monitor=monitor)
        if ckpt is not None:
            trainer.restore(ckpt)
        elif cfg.init == "spectral":
            initialise_spectral(mods, Xt, seed)
        wall = time.perf_counter()
        threads = 1 if self.threads is None else self.threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise SymscopeInputError(f"threads must be an integer >= 1 or None, got {self.threads!r}")
        threads_before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            trainer.run(Xt, checkpoint_path=checkpoint_path)
        finally:
            torch.set_num_threads(threads_before)
        self.config, self.seed = cfg, seed
        self._set_learned(mods, trainer.state.history)
        self.events_ = trainer.state.events
        self.run_record_ = run_record(cfg, seed, device, n, d, trainer.state.step, trainer.state.elapsed,
                                      time.perf_counter() - wall, resumed=ckpt is not None)
        self.run_record_["torch_threads"] = threads
        return self

    def _set_learned(self, mods: LensModules, history: list[dict[str, float]]) -> None:
        mods = mods.cpu()
        self._modules = mods
        self.n_features_in_ = mods.d
        with torch.no_grad():
            self.generator_ = mods.generator.cropped().double().numpy()
            self.filter_ = mods.filter().double().numpy()
            self.group_conv_ = mods.group_conv().double().numpy()
        self.history_ = history

    # -- using a fitted lens -------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "group_conv_"):
            raise SymscopeInputError("this SymmetryLens is not fitted yet: call fit(X) or SymmetryLens.load(path)")

    def transform(self, X: Any) -> np.ndarray:
        """Representation y = C·standardise(x) (n, d): the hidden symmetry acts as a plain shift."""
        self._check_fitted()
        X = check_data(X, min_samples=1, allow_constant=True)
        if X.shape[1] != self.n_features_in_:
            raise SymscopeInputError(f"X has {X.shape[1]} features but the lens was fitted on {self.n_features_in_}")
        return ((X - self.mean_) / self.scale_) @ self.group_conv_.T

    def fit_transform(self, X: Any, **fit_kwargs: Any) -> np.ndarray:
        return self.fit(X, **fit_kwargs).transform(X)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted lens to one file (tensors and plain values only)."""
        self._check_fitted()
        torch.save(dict(
            format="symscope-lens-1",
            config=self.config.to_dict(),
            seed=self.seed,
            modules={k: v.detach().cpu() for k, v in self._modules.state_dict().items()},
            mean=self.mean_, scale=self.scale_, history=self.history_, events=self.events_, run_record=self.run_record_,
        ), path)

    @classmethod
    def load(cls, path: str | Path) -> SymmetryLens:
        """Read a lens written by ``save`` (safe: ``torch.load(weights_only=True)``)."""
        obj = _load_torch(path, "lens file")
        if obj["format"] != "symscope-lens-1":
            raise SymscopeInputError(f"{path} is a {obj['format']}, not a saved lens")
        cfg = LensConfig.from_dict(obj["config"])
        d = obj["modules"]["filter.psi"].shape[0]
        mods = LensModules(d, cfg, int(obj["seed"]))
        mods.load_state_dict(obj["modules"])
        lens = cls(cfg, seed=int(obj["seed"]), device="cpu", progress=False)
        lens.mean_, lens.scale_ = float(obj["mean"]), float(obj["scale"])
        lens._set_learned(mods, list(obj["history"]))
        lens.events_ = list(obj["events"])
        lens.run_record_ = dict(obj["run_record"])
        return lens

    @property
    def lie_algebra_(self) -> Any:
        """Lie-algebra element A of G = expm(A) on the padded space, with its base point
        (``symscope.measure.lie.LensLieAlgebra``; ``.crop()`` is the tangent on the data)."""
        from .measure.lie import lens_lie_algebra

        return lens_lie_algebra(self)


def run_record(cfg: LensConfig, seed: int, device: torch.device, n: int, d: int, steps: int,
               train_seconds: float, wall_seconds: float, resumed: bool) -> dict[str, Any]:
    """Versions, machine, seed and timings of a fit (written to run.json by the CLI)."""
    import scipy

    return dict(
        symscope=__version__, python=sys.version.split()[0], torch=str(torch.__version__), numpy=np.__version__,
        scipy=scipy.__version__, platform=platform.platform(), processor=platform.processor() or platform.machine(),
        torch_threads=torch.get_num_threads(), device=str(device), seed=seed, n_samples=n, n_features=d,
        steps=steps, train_seconds=round(train_seconds, 3), wall_seconds_this_call=round(wall_seconds, 3),
        resumed=resumed, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
