"""Local learning coefficient (LLC) by localized SGLD, its calibration, and its susceptibility.

The estimator (Lau, Furman, Wang, Murfet & Wei, "The Local Learning Coefficient", AISTATS 2025):
sample the localized tempered posterior p(w) ∝ exp(−nβ·L_n(w) − γ/2·‖w − w*‖²) around a trained
point w* with SGLD, and report

    λ̂ = nβ · (E_w[L_n(w)] − L_n(w*)),      nβ = n / ln n by default (WBIC temperature),

where L_n is the mean per-sample negative log-likelihood (``"mse"``: ½‖y − f(x)‖², unit-noise
Gaussian; ``"ce"``: cross-entropy). The SGLD step is devinterp's ``SGMCMC.sgld`` rule,

    w ← w − (ε/2)·[nβ·∇L_B(w) + γ(w − w*) + δ·w] + √ε·σ·ξ,   ξ ~ N(0, I).

Why our own loop rather than devinterp: devinterp 2.0.1 accepts only token-id data with per-token
losses (an (x, y) regression set has to be index-encoded), writes every loss to a zarr store,
averages the burn-in into the estimate, defaults to no localization, and pulls in transformers,
datasets, xarray and zarr — far too heavy for a CPU symmetry library, for ten lines of update rule.
Here the chains run in parallel under ``torch.func.vmap`` (one batched forward/backward per step),
full batch by default, burn-in excluded, and each step also yields a MALA acceptance proxy.
The optional test ``tests/measure/test_llc.py::test_devinterp_cross_check`` checks the update
against devinterp's sampler when devinterp is installed (``pip install symscope[llc]``).

Constrained models: the sampler moves exactly the tensors ``model.named_parameters()`` returns. On
a ``symscope.exploit.EquivariantLinear`` the parameter is the parametrization's original (the
equivariant-basis coefficients Θ), so λ̂ is the LLC *inside* the equivariant subspace; after
``set_phase(model, "full")`` it is the LLC in the full weight space. ``settings["phase"]`` records which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from .._validation import SymscopeInputError
from .llc_theory import NormalCrossing, dln_learning_coefficient, rrr_learning_coefficient

__all__ = ["CalibrationReport", "LLCDiagnostics", "LLCResult", "NormalCrossing", "SusceptibilityResult", "calibrate_llc",
           "dln_learning_coefficient", "estimate_llc", "llc_susceptibility", "rrr_learning_coefficient"]

LossSpec = str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Data = tuple[Any, Any]

#: thresholds of the health checks (see ``LLCDiagnostics``)
MAX_FRAC_BELOW_INIT = 0.05
MAX_DRIFT = 0.10
MAX_CHAIN_CV = 0.20
MIN_ACCEPTANCE = 0.5


# ----------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LLCDiagnostics:
    """Health checks of one LLC estimate; ``warnings`` lists the failed ones (empty = healthy).

    frac_below_init: share of post-burn-in draws with nβ·(L(w_t) − L(w*)) < −1, i.e. draws e times
        more probable than w* itself (w* is not a local minimum); warn above 0.05.
    drift: |second half − first half| / |whole| of the post-burn-in mean excess loss (λ̂ still
        moving: too few steps or too small a step); warn above 0.10 when the chains agree on the
        move (its mean exceeds 2 standard errors of the per-chain moves).
    chain_cv: sd / |mean| of the per-chain λ̂; warn above 0.20.
    acceptance: mean Metropolis-adjusted Langevin acceptance probability of the SGLD moves
        (devinterp's calibration proxy, exact for full batch); warn below 0.5 (step too large).
    init_grad_norm: ‖nβ·∇L(w*)‖ (large ⇒ w* is not a critical point).
    max_displacement: max over draws of ‖w_t − w*‖ (all sampled parameters), and relative to ‖w*‖.
    nonfinite: a chain produced a non-finite loss (diverged); λ̂ is then NaN.
    """

    frac_below_init: float
    drift: float
    chain_cv: float
    acceptance: float
    init_grad_norm: float
    max_displacement: float
    max_rel_displacement: float
    nonfinite: bool
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LLCResult:
    """λ̂ (mean over chains), its across-chain sd, per-chain values and the full loss trace.

    ``loss_trace`` is (chains, steps) of L(w_t) at the pre-step weights, burn-in included (the
    first ``settings["burnin"]`` steps are excluded from ``llc``). ``init_loss`` is L_n(w*).
    """

    llc: float
    std: float
    per_chain: np.ndarray
    init_loss: float
    loss_trace: np.ndarray
    n_beta: float
    settings: dict[str, Any]
    diagnostics: LLCDiagnostics

    @property
    def healthy(self) -> bool:
        """True when every health check passed (see ``LLCDiagnostics``)."""
        return not self.diagnostics.warnings

    def to_dict(self, trace: bool = False) -> dict[str, Any]:
        d = {"llc": self.llc, "std": self.std, "per_chain": self.per_chain.tolist(), "init_loss": self.init_loss,
             "n_beta": self.n_beta, "healthy": self.healthy, "settings": dict(self.settings),
             "diagnostics": self.diagnostics.to_dict()}
        if trace:
            d["loss_trace"] = self.loss_trace.tolist()
        return d


# ----------------------------------------------------------------------------------------- inputs
def _per_sample_loss(loss: LossSpec) -> tuple[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    if callable(loss):
        return getattr(loss, "__name__", "callable"), loss
    if loss == "mse":
        def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return 0.5 * (pred - y).pow(2).reshape(pred.shape[0], -1).sum(1)
        return "mse", mse
    if loss == "ce":
        def ce(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.functional.cross_entropy(pred, y, reduction="none")
        return "ce", ce
    raise SymscopeInputError(f"loss must be 'mse', 'ce' or a callable (pred, y) -> per-sample losses, got {loss!r}")


def _as_tensor(a: Any, name: str, dtype: torch.dtype | None) -> torch.Tensor:
    try:
        t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise SymscopeInputError(f"{name} cannot be read as an array: {exc}") from None
    if t.dtype.is_complex or t.dtype == torch.bool:
        raise SymscopeInputError(f"{name} has dtype {t.dtype}; expected real numbers")
    if t.dtype.is_floating_point and not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t.reshape(len(t), -1))).any(1).sum()) if t.ndim else 1
        raise SymscopeInputError(f"{name} contains NaN or inf ({bad} of {len(t) if t.ndim else 1} samples)")
    return t.to(dtype) if dtype is not None else t


def _prepare_data(data: Any, loss_name: str, dtype: torch.dtype, name: str = "data",
                  sample_weight: Any = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(X, y, w): X in the model's dtype, y float (mse) or long (ce), weights w ≥ 0 summing to 1."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise SymscopeInputError(f"{name} must be a pair (X, y), got {type(data).__name__}"
                                 + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    X = _as_tensor(data[0], f"{name} X", dtype)
    y = _as_tensor(data[1], f"{name} y", None)
    if X.ndim < 1 or y.ndim < 1:
        raise SymscopeInputError(f"{name}: X and y need a sample axis, got shapes {tuple(X.shape)} and {tuple(y.shape)}")
    if len(X) != len(y):
        raise SymscopeInputError(f"{name}: X has {len(X)} samples but y has {len(y)}")
    if len(X) < 2:
        raise SymscopeInputError(f"{name} needs at least 2 samples, got {len(X)}")
    if loss_name == "ce":
        if y.ndim != 1 or y.dtype.is_floating_point and not torch.equal(y, y.round()):
            raise SymscopeInputError(f"{name} y for loss='ce' must be 1-D integer class labels, got shape "
                                     f"{tuple(y.shape)} dtype {y.dtype}")
        y = y.long()
        if (y < 0).any():
            raise SymscopeInputError(f"{name} y for loss='ce' has negative labels")
    else:
        y = y.to(dtype)
    if sample_weight is None:
        w = torch.full((len(X),), 1.0 / len(X), dtype=dtype)
    else:
        w = _as_tensor(sample_weight, f"{name} sample_weight", dtype)
        if w.shape != (len(X),) or (w < 0).any() or w.sum() <= 0:
            raise SymscopeInputError(f"{name} sample_weight must be {len(X)} non-negative numbers with a positive "
                                     f"sum, got shape {tuple(w.shape)}")
        w = w / w.sum()
    return X, y, w


def _select_params(model: nn.Module, params: Any) -> dict[str, torch.Tensor]:
    if not isinstance(model, nn.Module):
        raise SymscopeInputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if params is not None:
        if callable(params):
            named = [(n, p) for n, p in named if params(n)]
        else:
            wanted = {params} if isinstance(params, str) else set(params)
            unknown = wanted - {n for n, _ in named}
            if unknown:
                raise SymscopeInputError(f"params names no trainable parameter {sorted(unknown)}; "
                                         f"trainable: {[n for n, _ in named]}")
            named = [(n, p) for n, p in named if n in wanted]
    if not named or sum(p.numel() for _, p in named) == 0:
        raise SymscopeInputError("model has no trainable parameters to sample (all frozen, none selected, or empty)")
    return {n: p.detach().clone() for n, p in named}


def _phase(model: nn.Module) -> str | None:
    phases = sorted({m.phase for m in model.modules() if hasattr(m, "phase") and isinstance(m.phase, str)})
    return "/".join(phases) if phases else None


def _resolve_burnin(burnin: float | int, num_steps: int) -> int:
    if isinstance(burnin, float) and not isinstance(burnin, bool):
        if not 0.0 <= burnin < 1.0:
            raise SymscopeInputError(f"burnin as a fraction must lie in [0, 1), got {burnin}")
        b = int(round(burnin * num_steps))
    else:
        b = int(burnin)
    if not 0 <= b <= num_steps - 2:
        raise SymscopeInputError(f"burnin must leave at least 2 of the {num_steps} steps, got {burnin}")
    return b


# ----------------------------------------------------------------------------------------- sampler
@dataclass
class _Run:
    trace: np.ndarray            # (C, T) L(w_t)
    excess: np.ndarray           # (C, T) L(w_t) − L(w*) on the same batch
    probes: list[np.ndarray]     # each (C, T−burnin) probe losses at the post-burn-in draws
    accept: np.ndarray           # (C, T−1) MALA acceptance probabilities
    init_loss: float
    init_grad_norm: float
    max_disp: float
    w_norm: float
    nonfinite: bool
    num_params: int = field(default=0)


def _run_chains(model: nn.Module, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, lossf: Callable,
                start: dict[str, torch.Tensor], *, n_beta: float, lr: float, localization: float,
                weight_decay: float, noise_level: float, num_chains: int, num_steps: int, burnin: int,
                batch_size: int | None, seed: int, probes: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = ()
                ) -> _Run:
    gen = torch.Generator().manual_seed(int(seed))
    n = len(X)

    def mean_loss(p: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
        return (lossf(functional_call(model, p, (xb,)), yb) * wb).sum()

    gv = vmap(grad_and_value(mean_loss), in_dims=(0, None, None, None))
    fwd = vmap(mean_loss, in_dims=(0, None, None, None))

    with torch.no_grad():
        init_loss = float(mean_loss(start, X, y, w))
    g0, _ = grad_and_value(mean_loss)(start, X, y, w)
    init_grad_norm = float(n_beta * torch.sqrt(sum((g.double() ** 2).sum() for g in g0.values())))

    cur = {k: v.unsqueeze(0).repeat(num_chains, *([1] * v.ndim)) for k, v in start.items()}
    T, C = num_steps, num_chains
    trace = np.full((C, T), np.nan)
    excess = np.full((C, T), np.nan)
    accept = np.full((C, max(T - 1, 0)), np.nan)
    probe_tr = [np.full((C, T - burnin), np.nan) for _ in probes]
    max_disp = 0.0
    prev: tuple[dict, torch.Tensor, dict] | None = None
    half = lr / 2.0
    nonfinite = False

    def potential_and_grad(p: dict, loss_v: torch.Tensor, grads: dict) -> tuple[torch.Tensor, dict]:
        u = n_beta * loss_v
        du = {}
        for k in p:
            diff = p[k] - start[k]
            du[k] = n_beta * grads[k] + localization * diff + weight_decay * p[k]
            red = tuple(range(1, diff.ndim))
            u = u + 0.5 * localization * (diff ** 2).sum(red) + 0.5 * weight_decay * (p[k] ** 2).sum(red)
        return u, du

    for t in range(T):
        if batch_size is None or batch_size >= n:
            xb, yb, wb = X, y, w
        else:
            idx = torch.randint(0, n, (batch_size,), generator=gen)
            xb, yb, wb = X[idx], y[idx], w[idx] / w[idx].sum()
        grads, loss_v = gv(cur, xb, yb, wb)
        with torch.no_grad():
            base = init_loss if xb is X else float(mean_loss(start, xb, yb, wb))
            trace[:, t] = loss_v.double().numpy()
            excess[:, t] = trace[:, t] - base
            if not np.isfinite(trace[:, t]).all():
                nonfinite = True
                if not np.isfinite(trace[:, t]).any():
                    break
            if t >= burnin:
                for j, (px, py, pw) in enumerate(probes):
                    probe_tr[j][:, t - burnin] = fwd(cur, px, py, pw).double().numpy()
                disp = torch.sqrt(sum(((cur[k] - start[k]).double() ** 2).reshape(C, -1).sum(1) for k in cur))
                max_disp = max(max_disp, float(torch.nan_to_num(disp, nan=0.0).max()))
            u, du = potential_and_grad(cur, loss_v, grads)
            if prev is not None:  # MALA acceptance of the move prev → cur
                pw_, pu, pdu = prev
                fwd_sq = sum(((cur[k] - pw_[k] + half * pdu[k]) ** 2).reshape(C, -1).sum(1) for k in cur)
                bwd_sq = sum(((pw_[k] - cur[k] + half * du[k]) ** 2).reshape(C, -1).sum(1) for k in cur)
                log_a = -u + pu - (bwd_sq - fwd_sq) / (2 * lr * noise_level ** 2)
                accept[:, t - 1] = torch.exp(torch.clamp(log_a, max=0.0)).double().numpy()
            prev = (cur, u, du)
            noise_scale = math.sqrt(lr) * noise_level
            cur = {k: cur[k] - half * du[k] + noise_scale * torch.randn(cur[k].shape, generator=gen, dtype=cur[k].dtype)
                   for k in cur}
    w_norm = float(torch.sqrt(sum((v.double() ** 2).sum() for v in start.values())))
    return _Run(trace, excess, probe_tr, accept, init_loss, init_grad_norm, max_disp, w_norm, nonfinite,
                sum(v.numel() for v in start.values()))


def _summarise(run: _Run, n_beta: float, burnin: int) -> tuple[float, float, np.ndarray, LLCDiagnostics]:
    post = run.excess[:, burnin:]
    per_chain = n_beta * post.mean(axis=1)
    nonfinite = run.nonfinite or not np.isfinite(per_chain).all()
    C = len(per_chain)
    llc = float(per_chain.mean()) if not nonfinite else float("nan")
    std = float(per_chain.std(ddof=1)) if C > 1 and not nonfinite else float("nan")
    warnings: list[str] = []
    if nonfinite:
        warnings.append("a chain diverged (non-finite loss): lower lr or raise localization")
        frac_below = drift = cv = acc = float("nan")
    else:
        frac_below = float((n_beta * post < -1.0).mean())
        h = post.shape[1] // 2
        moves = post[:, h:].mean(axis=1) - post[:, :h].mean(axis=1)  # per chain: second half − first half
        drift = float(abs(moves.mean()) / max(abs(post.mean()), 1e-300))
        # a move counts only if the chains agree on it (> 2 standard errors across chains)
        significant = C < 2 or abs(moves.mean()) > 2 * moves.std(ddof=1) / math.sqrt(C)
        cv = float(per_chain.std(ddof=1) / max(abs(llc), 1e-300)) if C > 1 else 0.0
        acc_post = run.accept[:, burnin:] if run.accept.shape[1] > burnin else run.accept
        acc = float(np.nanmean(acc_post)) if acc_post.size else float("nan")
        if llc <= 0:
            warnings.append(f"negative LLC ({llc:.3g}): w* is not a local minimum of the sampled loss")
        if frac_below > MAX_FRAC_BELOW_INIT:
            warnings.append(f"{frac_below:.0%} of draws fall well below L(w*): w* is not a local minimum")
        if drift > MAX_DRIFT and significant:
            warnings.append(f"not converged: the mean loss moved {drift:.0%} between the halves of the chain "
                            "(more steps or a larger lr)")
        if cv > MAX_CHAIN_CV:
            warnings.append(f"chains disagree (cv {cv:.2f}): more steps, or a larger localization")
        if np.isfinite(acc) and acc < MIN_ACCEPTANCE:
            warnings.append(f"MALA acceptance {acc:.2f} < {MIN_ACCEPTANCE}: lr too large")
    diag = LLCDiagnostics(frac_below_init=frac_below, drift=drift, chain_cv=cv, acceptance=acc,
                          init_grad_norm=run.init_grad_norm, max_displacement=run.max_disp,
                          max_rel_displacement=run.max_disp / run.w_norm if run.w_norm > 0 else float("inf"),
                          nonfinite=nonfinite, warnings=tuple(warnings))
    return llc, std, per_chain, diag


def _setup(model: nn.Module, data: Any, loss: LossSpec, params: Any, n_beta: float | None, sample_weight: Any,
           num_chains: int, num_steps: int, burnin: float | int, lr: float, localization: float,
           batch_size: int | None):
    start = _select_params(model, params)
    dtype = next(iter(start.values())).dtype
    loss_name, lossf = _per_sample_loss(loss)
    X, y, w = _prepare_data(data, loss_name, dtype, sample_weight=sample_weight)
    for name, v, ok in (("num_chains", num_chains, num_chains >= 1), ("num_steps", num_steps, num_steps >= 3),
                        ("lr", lr, lr > 0), ("localization", localization, localization >= 0)):
        if not ok or (isinstance(v, float) and not math.isfinite(v)):
            raise SymscopeInputError(f"{name} = {v!r} is out of range")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise SymscopeInputError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
    n = len(X)
    nb = float(n / math.log(n)) if n_beta is None else float(n_beta)
    if not (math.isfinite(nb) and nb > 0):
        raise SymscopeInputError(f"n_beta must be a positive number, got {n_beta!r}")
    b = _resolve_burnin(burnin, int(num_steps))
    def _apply(what: str, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        try:
            with torch.no_grad():
                return fn()
        except (RuntimeError, ValueError, IndexError) as exc:
            raise SymscopeInputError(f"{what} cannot be applied to X {tuple(X.shape)} and y {tuple(y.shape)}: "
                                     f"{str(exc).splitlines()[0]}") from None

    pred = _apply("the model", lambda: functional_call(model, start, (X[:2],)))
    if loss_name == "mse" and pred.shape != y[:2].shape:
        raise SymscopeInputError(f"model output has per-sample shape {tuple(pred.shape[1:])} but y has "
                                 f"{tuple(y.shape[1:])} (loss='mse' needs them equal)")
    per = _apply("the loss", lambda: lossf(pred, y[:2]))
    if per.shape != (2,):
        raise SymscopeInputError(f"the loss must return one value per sample, got shape {tuple(per.shape)} for 2 samples")
    with torch.no_grad():
        full = lossf(functional_call(model, start, (X,)), y)
    if not torch.isfinite(full).all():
        bad = int((~torch.isfinite(full)).sum())
        raise SymscopeInputError(f"the loss at the given weights is non-finite on {bad} of {n} samples")
    return start, lossf, loss_name, X, y, w, nb, b


def estimate_llc(model: nn.Module, data: Data, loss: LossSpec = "mse", *, n_beta: float | None = None,
                 lr: float = 1e-4, localization: float = 1.0, weight_decay: float = 0.0, noise_level: float = 1.0,
                 num_chains: int = 4, num_steps: int = 2000, burnin: float | int = 0.25,
                 batch_size: int | None = None, params: Any = None, sample_weight: Any = None,
                 seed: int = 0) -> LLCResult:
    """Estimate the LLC of ``model`` at its current weights w* on ``data`` = (X (n, …), y (n, …)).

    Args:
        loss: "mse" (½‖y − f(x)‖² per sample), "ce" (cross-entropy, y integer labels) or a callable
            (pred, y) → per-sample losses (n,). λ̂ uses the same loss for sampling and estimation.
        n_beta: inverse temperature times n; default n / ln n.
        lr, localization, weight_decay, noise_level: SGLD step ε, γ, δ and σ (see module docstring).
        num_chains, num_steps, burnin: chains start at w*; the first ``burnin`` steps (fraction or
            count) are kept in ``loss_trace`` but excluded from λ̂.
        batch_size: None = full batch (exact L_n); otherwise a minibatch per step (shared across
            chains) and the excess loss is measured on that batch against w* on the same batch.
        params: None (all trainable parameters), a name, a list of names or a predicate name → bool
            (a weight-restricted LLC; the other parameters stay at their values).
        sample_weight: optional per-sample weights of the empirical loss (normalised to sum 1),
            e.g. a mixture of a data set and its augmentation.
        seed: seeds the SGLD noise and the minibatches.

    Returns an ``LLCResult``; ``.healthy`` is False if any diagnostic check failed.
    Raises ``SymscopeInputError`` for mismatched shapes, NaN/inf data or a non-finite loss at w*,
    or a model without trainable parameters.
    """
    start, lossf, loss_name, X, y, w, nb, b = _setup(model, data, loss, params, n_beta, sample_weight,
                                                      num_chains, num_steps, burnin, lr, localization, batch_size)
    run = _run_chains(model, X, y, w, lossf, start, n_beta=nb, lr=lr, localization=localization,
                      weight_decay=weight_decay, noise_level=noise_level, num_chains=int(num_chains),
                      num_steps=int(num_steps), burnin=b, batch_size=batch_size, seed=seed)
    return _result(run, nb, b, dict(
        lr=lr, localization=localization, weight_decay=weight_decay, noise_level=noise_level,
        num_chains=int(num_chains), num_steps=int(num_steps), burnin=b, batch_size=batch_size, n=len(X),
        num_params=run.num_params, loss=loss_name, seed=seed, phase=_phase(model), params=sorted(start)))


def _result(run: _Run, nb: float, b: int, settings: dict[str, Any]) -> LLCResult:
    llc, std, per_chain, diag = _summarise(run, nb, b)
    settings = dict(settings, n_beta=nb)
    return LLCResult(llc=llc, std=std, per_chain=per_chain, init_loss=run.init_loss, loss_trace=run.trace,
                     n_beta=nb, settings=settings, diagnostics=diag)


# ----------------------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class CalibrationReport:
    """One row per (lr, localization): λ̂, sd, acceptance, healthy, warnings; and the recommendation.

    Rule: a setting is *stable* if it is healthy and its λ̂ lies within ``rtol`` of the λ̂ at the
    next smaller lr with the same localization (also healthy): the estimate no longer depends on the
    step size there, and the larger step mixes faster. Among stable settings the smallest
    localization is preferred (least bias from the prior), then the largest lr. ``recommended`` is
    None when no setting is stable (then ``reason`` says why).
    """

    rows: tuple[dict[str, Any], ...]
    recommended: dict[str, float] | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows], "recommended": self.recommended, "reason": self.reason}

    def table(self) -> str:
        """The sweep as a markdown table."""
        lines = ["| lr | localization | λ̂ | sd | acceptance | healthy | stable |", "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['lr']:.0e} | {r['localization']:g} | {r['llc']:.3f} | {r['std']:.3f} | "
                         f"{r['acceptance']:.2f} | {'yes' if r['healthy'] else 'no'} | {'yes' if r['stable'] else 'no'} |")
        return "\n".join(lines)


def calibrate_llc(model: nn.Module, data: Data, loss: LossSpec = "mse", *,
                  lrs: Sequence[float] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3),
                  localizations: Sequence[float] = (1.0, 10.0, 100.0), num_steps: int = 500, rtol: float = 0.1,
                  **kwargs: Any) -> CalibrationReport:
    """Sweep SGLD step size × localization with ``estimate_llc`` and recommend a setting (see ``CalibrationReport``)."""
    if not lrs or not localizations:
        raise SymscopeInputError("calibrate_llc needs at least one lr and one localization")
    rows: list[dict[str, Any]] = []
    for gamma in localizations:
        prev: dict[str, Any] | None = None
        for lr in sorted(lrs):
            res = estimate_llc(model, data, loss, lr=lr, localization=gamma, num_steps=num_steps, **kwargs)
            stable = bool(res.healthy and prev is not None and prev["healthy"]
                          and abs(res.llc - prev["llc"]) <= rtol * abs(prev["llc"]))
            row = {"lr": float(lr), "localization": float(gamma), "llc": res.llc, "std": res.std,
                   "acceptance": res.diagnostics.acceptance, "healthy": res.healthy, "stable": stable,
                   "warnings": list(res.diagnostics.warnings)}
            rows.append(row)
            prev = row
    stable_rows = [r for r in rows if r["stable"]]
    if stable_rows:
        best = min(stable_rows, key=lambda r: (r["localization"], -r["lr"]))
        return CalibrationReport(tuple(rows), {"lr": best["lr"], "localization": best["localization"]},
                                 "smallest localization, then largest lr, among healthy step-size-stable settings")
    n_healthy = sum(r["healthy"] for r in rows)
    return CalibrationReport(tuple(rows), None, f"no stable setting ({n_healthy} of {len(rows)} healthy); "
                                                "try more steps or a wider lr range")


# ----------------------------------------------------------------------------------------- susceptibility
@dataclass(frozen=True)
class SusceptibilityResult:
    """χ = dλ̂/dh of the data perturbation q → (1−h)q + h·q′ at h = 0, from one run at q.

    ``chi = chi_mean + chi_cov`` with chi_mean = nβ·(E_w[ΔL] − ΔL(w*)) and
    chi_cov = −nβ²·Cov_w(L, ΔL), ΔL = L_{q′} − L_q (per-chain values in ``per_chain``; ``std`` is
    their across-chain sd). ``observable_response`` = −nβ·Cov_w(L − L(w*), ΔL) is the
    devinterp-style susceptibility of the observable φ = L − L(w*) (no explicit term, no nβ on λ).
    """

    chi: float
    std: float
    chi_mean: float
    chi_cov: float
    per_chain: np.ndarray
    observable_response: float
    llc: LLCResult

    def to_dict(self) -> dict[str, Any]:
        return {"chi": self.chi, "std": self.std, "chi_mean": self.chi_mean, "chi_cov": self.chi_cov,
                "per_chain": self.per_chain.tolist(), "observable_response": self.observable_response,
                "llc": self.llc.to_dict()}


def llc_susceptibility(model: nn.Module, data: Data, perturbed: Any, loss: LossSpec = "mse", *,
                       n_beta: float | None = None, lr: float = 1e-4, localization: float = 1.0,
                       weight_decay: float = 0.0, num_chains: int = 4, num_steps: int = 2000,
                       burnin: float | int = 0.25, seed: int = 0, perturbed_weight: Any = None) -> SusceptibilityResult:
    """First-order response of λ̂ to mixing a fraction h of ``perturbed`` data into ``data``.

    Maths: with L_h = L_q + h·ΔL and p_h ∝ exp(−nβ L_h − γ/2‖w − w*‖²), d/dh E_h[f] = E[∂_h f] −
    nβ·Cov(f, ΔL). Applied to λ_h = nβ·(E_h[L_h] − L_h(w*_h)) (∇L_q(w*) = 0 removes the motion
    of w*): dλ/dh|₀ = nβ·(E[ΔL] − ΔL(w*)) − nβ²·Cov(L_q, ΔL). The shift of the localization
    centre with w*_h is neglected (small when γ ≪ nβ × curvature). Full batch.

    ``perturbed`` is a pair (X′, y′) (e.g. the augmented orbit {(gx, y)}) or a callable
    (X, y) → (X′, y′); ``perturbed_weight`` optional per-sample weights of q′.
    """
    start, lossf, loss_name, X, y, w, nb, b = _setup(model, data, loss, None, n_beta, None, num_chains,
                                                      num_steps, burnin, lr, localization, None)
    if callable(perturbed):
        perturbed = perturbed(X, y)
    Xp, yp, wp = _prepare_data(perturbed, loss_name, X.dtype, name="perturbed", sample_weight=perturbed_weight)
    if Xp.shape[1:] != X.shape[1:] or yp.shape[1:] != y.shape[1:]:
        raise SymscopeInputError(f"perturbed data shapes {tuple(Xp.shape)}, {tuple(yp.shape)} do not match "
                                 f"data {tuple(X.shape)}, {tuple(y.shape)} beyond the sample axis")
    with torch.no_grad():
        lp0 = float((lossf(functional_call(model, start, (Xp,)), yp) * wp).sum())
    if not math.isfinite(lp0):
        raise SymscopeInputError("the loss on the perturbed data is non-finite at the given weights")
    run = _run_chains(model, X, y, w, lossf, start, n_beta=nb, lr=lr, localization=localization,
                      weight_decay=weight_decay, noise_level=1.0, num_chains=int(num_chains), num_steps=int(num_steps),
                      burnin=b, batch_size=None, seed=seed, probes=[(Xp, yp, wp)])
    res = _result(run, nb, b, dict(lr=lr, localization=localization, weight_decay=weight_decay, noise_level=1.0,
                                   num_chains=int(num_chains), num_steps=int(num_steps), burnin=b, batch_size=None,
                                   n=len(X), num_params=run.num_params, loss=loss_name, seed=seed,
                                   phase=_phase(model), params=sorted(start)))
    L = run.trace[:, b:]
    dL = run.probes[0] - L
    dL0 = lp0 - run.init_loss
    c_mean = nb * (dL.mean(axis=1) - dL0)
    cov = ((L - L.mean(axis=1, keepdims=True)) * (dL - dL.mean(axis=1, keepdims=True))).mean(axis=1)
    c_cov = -nb ** 2 * cov
    per_chain = c_mean + c_cov
    C = len(per_chain)
    return SusceptibilityResult(chi=float(per_chain.mean()), std=float(per_chain.std(ddof=1)) if C > 1 else float("nan"),
                                chi_mean=float(c_mean.mean()), chi_cov=float(c_cov.mean()), per_chain=per_chain,
                                observable_response=float(-nb * cov.mean()), llc=res)
