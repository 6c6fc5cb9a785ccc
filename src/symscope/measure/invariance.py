"""Invariance through Jacobians: Lie derivatives, discrete and flow invariance errors, Jacobian
symmetry spectra (LieGG / LieSD) and the tangent-prop and consistency regularisers.

A function f: Rᵈ → Rᶜ is invariant under the flow exp(tA) when f(exp(tA)x) = f(x) for all t;
differentiating at t = 0 gives the Lie derivative L_A f(x) = J_f(x) · A x = 0. For an
equivariant f with an output action exp(tB): L_A f(x) = J_f(x) A x − B f(x).

* ``lie_derivative`` computes L_A f(x) row-wise by one forward-mode JVP (``torch.func.jvp``):
  the cost of about one extra forward pass, and it is differentiable, so ``tangent_prop``
  (Simard et al. 1991: mean ‖L_A f(x)‖²) can be trained on.
* ``lie_derivative_report`` aggregates it with baselines — random antisymmetric generators and
  user "wrong" generators, each rescaled to ‖A‖_F — and the ratios. Two reductions are reported
  under distinct names, because they are not proportional: ``mean_sq`` = E‖L_A f‖² (lie-deriv's
  paper, Eq. 4) and ``mean_abs`` = E mean_c |L_A f_c| (lie-deriv's end-to-end code; its issue #6).
* ``invariance_error`` is the *discrete* error over the elements of a finite group (TV between
  softmax outputs, argmax flips, relative output change; mean and worst element);
  ``flow_invariance_error`` is the same at non-integer flow times exp(tA). They differ: a ReLU
  network exactly invariant under a cyclic pixel permutation is not invariant under the
  band-limited fractional shifts exp(tA), t ∉ ℤ.
* ``jacobian_symmetry_spectrum`` is the LieGG / LieSD construction: for an invariant f, every
  output c and sample x gives ⟨∇f_c(x) xᵀ, E⟩_F = 0 for each generator E of the symmetry, so the
  symmetry algebra is the null space of the matrix with rows vec(∇f_c(x) xᵀ) projected on a
  basis of candidate generators (so(d), gl(d) or any stack). Rows are kept per output (LieGG
  sums the outputs, which conflates them). The null dimension is chosen by the first-gap rule of
  ``symscope.exploit.equivariant_basis`` (a drop ≥ ``min_gap`` between consecutive singular
  values, counted from the top) instead of LieNLSD's hand-set threshold per task.

Jacobians go through ``torch.func`` (``jvp``, ``jacrev``, ``vmap``); the rest is numpy/scipy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import SymscopeInputError
from ..exploit.symmetrizer import MIN_GAP, _choose_cut
from .lie import as_matrix, gl_basis, so_basis

Fn = Callable[[torch.Tensor], torch.Tensor]


# -- input handling --------------------------------------------------------------------------------
def _dtype_for(f: Fn) -> torch.dtype:
    """The dtype numpy inputs are cast to: that of f's parameters (a module), else float64."""
    if isinstance(f, nn.Module):
        for p in f.parameters():
            return p.dtype
    return torch.float64


def _as_input(x: Any, f: Fn, name: str = "x") -> torch.Tensor:
    """x (n, d) as a finite torch tensor (numpy → f's dtype); ``SymscopeInputError`` otherwise."""
    if not isinstance(x, torch.Tensor):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise SymscopeInputError(f"{name} must be real numbers, got dtype {arr.dtype}")
        x = torch.as_tensor(arr, dtype=_dtype_for(f))
    elif not x.dtype.is_floating_point:
        x = x.to(_dtype_for(f))
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise SymscopeInputError(f"{name} must be a non-empty 2-D batch (n_samples, d), got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise SymscopeInputError(f"{name} contains NaN or inf")
    return x


def _as_generator(A: Any, x: torch.Tensor, name: str = "A") -> torch.Tensor:
    """A (d, d) matching x's feature count, as a tensor in x's dtype/device."""
    if isinstance(A, torch.Tensor):
        a = A.detach().to(device=x.device, dtype=x.dtype)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise SymscopeInputError(f"{name} must be a square matrix, got shape {tuple(a.shape)}")
        if not bool(torch.isfinite(a).all()):
            raise SymscopeInputError(f"{name} contains NaN or inf")
    else:
        a = torch.as_tensor(as_matrix(A, name), dtype=x.dtype, device=x.device)
    if a.shape[0] != x.shape[1]:
        raise SymscopeInputError(f"{name} is {tuple(a.shape)} but x has {x.shape[1]} features")
    return a


def _as_group(group: Any, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """Group elements (k, d, d) as a tensor; whether element 0 is the identity (``FiniteGroup``)."""
    mats = group.matrices if hasattr(group, "matrices") else group
    if isinstance(mats, torch.Tensor):
        mats = mats.detach().cpu().double().numpy()
    mats = np.asarray(mats, dtype=np.float64)
    if mats.ndim == 2:
        mats = mats[None]
    if mats.ndim != 3 or mats.shape[1] != mats.shape[2] or len(mats) == 0:
        raise SymscopeInputError(f"group must be a FiniteGroup or a (k, d, d) stack of matrices, got shape {mats.shape}")
    if not np.all(np.isfinite(mats)):
        raise SymscopeInputError("group matrices contain NaN or inf")
    if mats.shape[1] != x.shape[1]:
        raise SymscopeInputError(f"group acts on R^{mats.shape[1]} but x has {x.shape[1]} features")
    first_is_identity = bool(np.allclose(mats[0], np.eye(mats.shape[1]), atol=1e-12))
    return torch.as_tensor(mats, dtype=x.dtype, device=x.device), first_is_identity


def _output_fn(f: Fn, on: str) -> Fn:
    if on == "output":
        fn = f
    elif on == "softmax":
        def fn(z: torch.Tensor) -> torch.Tensor:
            return torch.softmax(f(z), dim=-1)
    else:
        raise SymscopeInputError(f"on must be 'output' or 'softmax', got {on!r}")

    def two_d(z: torch.Tensor) -> torch.Tensor:
        y = fn(z)
        return y.unsqueeze(-1) if y.ndim == 1 else y

    return two_d


def _check_output(y: torch.Tensor, n: int) -> None:
    if y.ndim != 2 or y.shape[0] != n:
        raise SymscopeInputError(f"f must map a batch (n, d) to outputs (n, c) or (n,), got shape {tuple(y.shape)}")


# -- Lie derivative ----------------------------------------------------------------------------------
def lie_derivative(f: Fn, x: Any, A: Any, *, out_A: Any | None = None, on: str = "output") -> torch.Tensor:
    """L_A f(x) = J_f(x) · (A x) − out_A · f(x), one row per sample, by ``torch.func.jvp``.

    Args:
        f: batched function (n, d) → (n, c) (or (n,)); must act on each row independently.
        x: samples (n, d), numpy or torch (numpy is cast to f's parameter dtype, else float64).
        A: input generator (d, d). out_A: optional output generator (c, c) for equivariance.
        on: "output" (f as is) or "softmax" (the derivative of softmax(f)).

    Returns:
        (n, c) tensor, differentiable with respect to f's parameters.
    """
    x = _as_input(x, f)
    a = _as_generator(A, x)
    fn = _output_fn(f, on)
    y, jv = torch.func.jvp(fn, (x,), (x @ a.T,))
    _check_output(y, len(x))
    if out_A is not None:
        b = _as_generator(out_A, y, "out_A")
        jv = jv - y @ b.T
    return jv


def _random_antisymmetric(d: int, norm: float, rng: np.random.Generator) -> np.ndarray:
    p = rng.standard_normal((d, d))
    a = p - p.T
    return a * (norm / np.linalg.norm(a))


@dataclass(frozen=True)
class LieDerivativeReport:
    """``lie_derivative_report``: the Lie derivative along A and along same-norm baselines.

    ``*_sq`` are E_x ‖L f(x)‖² (sum over outputs), ``*_abs`` are E_x mean_c |L f_c(x)|. The
    ratios are value / mean baseline value (small = f is much less sensitive along A than along
    an arbitrary or wrong direction of the same size); ``nan`` when there is no such baseline.
    """

    mean_sq: float
    mean_abs: float
    per_sample_sq: np.ndarray
    generator_norm: float
    random_sq: np.ndarray
    random_abs: np.ndarray
    wrong_sq: np.ndarray
    wrong_abs: np.ndarray
    on: str
    ratio_random_sq: float = field(init=False)
    ratio_random_abs: float = field(init=False)
    ratio_wrong_sq: float = field(init=False)
    ratio_wrong_abs: float = field(init=False)

    def __post_init__(self) -> None:
        def ratio(v: float, base: np.ndarray) -> float:
            return float(v / base.mean()) if len(base) and base.mean() > 0 else float("nan")

        object.__setattr__(self, "ratio_random_sq", ratio(self.mean_sq, self.random_sq))
        object.__setattr__(self, "ratio_random_abs", ratio(self.mean_abs, self.random_abs))
        object.__setattr__(self, "ratio_wrong_sq", ratio(self.mean_sq, self.wrong_sq))
        object.__setattr__(self, "ratio_wrong_abs", ratio(self.mean_abs, self.wrong_abs))

    def to_dict(self) -> dict[str, Any]:
        return dict(mean_sq=self.mean_sq, mean_abs=self.mean_abs, generator_norm=self.generator_norm, on=self.on,
                    random_sq=self.random_sq.tolist(), random_abs=self.random_abs.tolist(),
                    wrong_sq=self.wrong_sq.tolist(), wrong_abs=self.wrong_abs.tolist(),
                    ratio_random_sq=self.ratio_random_sq, ratio_random_abs=self.ratio_random_abs,
                    ratio_wrong_sq=self.ratio_wrong_sq, ratio_wrong_abs=self.ratio_wrong_abs)


def lie_derivative_report(f: Fn, x: Any, A: Any, *, wrong: Sequence[Any] = (), n_random: int = 8,
                          on: str = "output", out_A: Any | None = None, seed: int = 0) -> LieDerivativeReport:
    """Lie derivative of f along A, aggregated, with baselines of the same Frobenius norm.

    Args:
        wrong: other generators (d, d) — e.g. the same construction with another hidden
            transform — each rescaled to ‖A‖_F before use.
        n_random: random antisymmetric baselines (P − Pᵀ, P Gaussian), rescaled to ‖A‖_F.
        on: "output" or "softmax" (lie-deriv applies its metric to softmax probabilities).
        seed: seeds the random baselines.
    """
    x = _as_input(x, f)
    a = _as_generator(A, x)
    norm = float(torch.linalg.norm(a))
    if norm == 0:
        raise SymscopeInputError("A is zero: there is no direction to differentiate along")
    if int(n_random) != n_random or n_random < 0:
        raise SymscopeInputError(f"n_random must be a non-negative integer, got {n_random}")

    def measure(gen: torch.Tensor, o: Any | None) -> tuple[float, float, np.ndarray]:
        with torch.no_grad():
            ld = lie_derivative(f, x, gen, out_A=o, on=on).double()
        sq = ld.pow(2).sum(-1)
        return float(sq.mean()), float(ld.abs().mean()), sq.cpu().numpy()

    msq, mabs, per = measure(a, out_A)
    rng = np.random.default_rng(seed)
    rand = [measure(torch.as_tensor(_random_antisymmetric(x.shape[1], norm, rng), dtype=x.dtype), None)
            for _ in range(int(n_random))]
    wr = []
    for i, w in enumerate(wrong):
        wt = _as_generator(w, x, f"wrong[{i}]")
        wn = float(torch.linalg.norm(wt))
        if wn == 0:
            raise SymscopeInputError(f"wrong[{i}] is zero")
        wr.append(measure(wt * (norm / wn), None))
    return LieDerivativeReport(
        mean_sq=msq, mean_abs=mabs, per_sample_sq=per, generator_norm=norm, on=on,
        random_sq=np.array([r[0] for r in rand]), random_abs=np.array([r[1] for r in rand]),
        wrong_sq=np.array([r[0] for r in wr]), wrong_abs=np.array([r[1] for r in wr]))


# -- discrete and flow invariance errors ---------------------------------------------------------------
@dataclass(frozen=True)
class InvarianceReport:
    """Invariance error of f under a set of transforms, one entry per transform.

    ``kind`` is "discrete" (finite group elements, ``params`` = element indices) or "flow"
    (exp(tA), ``params`` = times t). Per transform: ``tv`` = mean total variation between the
    probability vectors of f(gx) and f(x), ``flip`` = fraction of samples whose argmax changes,
    ``rel`` = ‖f(gx) − f(x)‖_F / ‖f(x)‖_F on the raw outputs. ``to_dict`` prefixes every
    summary with the kind (``discrete_tv_mean`` vs ``flow_tv_mean``) so the two never mix.
    """

    kind: str
    params: np.ndarray
    tv: np.ndarray
    flip: np.ndarray
    rel: np.ndarray

    @property
    def tv_mean(self) -> float:
        return float(self.tv.mean())

    @property
    def tv_worst(self) -> float:
        return float(self.tv.max())

    @property
    def flip_mean(self) -> float:
        return float(self.flip.mean())

    @property
    def flip_worst(self) -> float:
        return float(self.flip.max())

    @property
    def rel_mean(self) -> float:
        return float(self.rel.mean())

    @property
    def rel_worst(self) -> float:
        return float(self.rel.max())

    @property
    def worst(self) -> float:
        """The transform (element index or time) with the largest TV."""
        return float(self.params[int(np.argmax(self.tv))])

    def to_dict(self) -> dict[str, Any]:
        k = self.kind
        out: dict[str, Any] = {f"{k}_{m}_{s}": getattr(self, f"{m}_{s}") for m in ("tv", "flip", "rel")
                               for s in ("mean", "worst")}
        out[f"{k}_worst"] = self.worst
        out[f"{k}_params"] = self.params.tolist()
        return out


def _errors_under(f: Fn, x: torch.Tensor, mats: torch.Tensor, probabilities: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fn = _output_fn(f, "output")
    with torch.no_grad():
        y0 = fn(x)
        _check_output(y0, len(x))
        p0 = y0 if probabilities else torch.softmax(y0, -1)
        tv, flip, rel = [], [], []
        for g in mats:
            y = fn(x @ g.T)
            p = y if probabilities else torch.softmax(y, -1)
            tv.append(float(0.5 * (p - p0).abs().sum(-1).mean()))
            flip.append(float((y.argmax(-1) != y0.argmax(-1)).double().mean()))
            rel.append(float(torch.linalg.norm(y - y0) / max(float(torch.linalg.norm(y0)), 1e-30)))
    return np.array(tv), np.array(flip), np.array(rel)


def invariance_error(f: Fn, x: Any, group: Any, *, elements: Sequence[int] | None = None,
                     probabilities: bool = False) -> InvarianceReport:
    """Discrete invariance error of f over the elements of a finite group (mean and worst element).

    Args:
        f: batched classifier/regressor (n, d) → (n, c); outputs are logits unless
            ``probabilities`` (then TV is taken on them directly).
        x: samples (n, d). group: a ``FiniteGroup`` (identity first, skipped) or a (k, d, d) stack.
        elements: indices of the elements to test (default: all but the identity).
    """
    x = _as_input(x, f)
    mats, has_identity = _as_group(group, x)
    if elements is None:
        idx = np.arange(1 if has_identity and len(mats) > 1 else 0, len(mats))
    else:
        idx = np.asarray(list(elements), dtype=int)
        if idx.ndim != 1 or len(idx) == 0 or idx.min() < 0 or idx.max() >= len(mats):
            raise SymscopeInputError(f"elements must be indices in [0, {len(mats)}), got {list(elements)}")
    tv, flip, rel = _errors_under(f, x, mats[torch.as_tensor(idx)], probabilities)
    return InvarianceReport(kind="discrete", params=idx.astype(np.float64), tv=tv, flip=flip, rel=rel)


def flow_invariance_error(f: Fn, x: Any, A: Any, *, times: Sequence[float] = (0.25, 0.5, 0.75, 1.5, 2.5),
                          probabilities: bool = False) -> InvarianceReport:
    """Invariance error of f under the flow exp(tA) at the given (typically non-integer) times."""
    x = _as_input(x, f)
    a = _as_generator(A, x)
    t = np.asarray(list(times), dtype=np.float64)
    if t.ndim != 1 or len(t) == 0 or not np.all(np.isfinite(t)):
        raise SymscopeInputError(f"times must be a non-empty list of finite numbers, got {list(times)}")
    mats = torch.stack([torch.linalg.matrix_exp(float(tk) * a.double()).to(x.dtype) for tk in t])
    tv, flip, rel = _errors_under(f, x, mats, probabilities)
    return InvarianceReport(kind="flow", params=t, tv=tv, flip=flip, rel=rel)


# -- Jacobian symmetry spectrum ---------------------------------------------------------------------------
def _orthonormal_basis(basis: Any, d: int) -> np.ndarray:
    if isinstance(basis, str):
        if basis == "so":
            return so_basis(d)
        if basis == "gl":
            return gl_basis(d)
        raise SymscopeInputError(f"basis must be 'so', 'gl' or a (k, d, d) stack, got {basis!r}")
    b = basis.detach().cpu().double().numpy() if isinstance(basis, torch.Tensor) else np.asarray(basis, dtype=np.float64)
    if b.ndim != 3 or b.shape[1:] != (d, d) or len(b) == 0:
        raise SymscopeInputError(f"basis must be a (k, {d}, {d}) stack of matrices, got shape {b.shape}")
    if not np.all(np.isfinite(b)):
        raise SymscopeInputError("basis contains NaN or inf")
    q, r = np.linalg.qr(b.reshape(len(b), -1).T)
    diag = np.abs(np.diag(r))
    if diag.min() <= 1e-10 * diag.max():
        raise SymscopeInputError("basis matrices are linearly dependent")
    return q.T.reshape(-1, d, d)


@dataclass(frozen=True)
class SymmetrySpectrum:
    """``jacobian_symmetry_spectrum``: singular spectrum of the projected polarization matrix.

    Attributes:
        singular_values: (k,) descending, one per basis direction (zeros appended when there are
            fewer rows than basis elements).
        vt: (k, k) right singular vectors (rows), in basis coordinates.
        basis: (k, d, d) orthonormal basis the rows were projected on.
        dim: dimension of the (near-)null space = the discovered symmetry algebra.
        gap_ratio: s_kept_min / s_null_max at the cut (∞: exact; ~1: ambiguous).
        threshold, rule: the cut and how it was chosen ("gap", "tol", "no-gap").
        n_rows: number of (sample, output) rows.
    """

    singular_values: np.ndarray
    vt: np.ndarray
    basis: np.ndarray
    dim: int
    gap_ratio: float
    threshold: float
    rule: str
    n_rows: int

    @property
    def generators(self) -> np.ndarray:
        """(dim, d, d) orthonormal generators spanning the discovered algebra, most null first."""
        k = len(self.singular_values)
        return np.einsum("rk,kab->rab", self.vt[k - self.dim:][::-1], self.basis)

    def residual(self, A: Any) -> float:
        """‖C â‖ for the unit-norm projection â of A onto the basis (0 = an exact symmetry of f)."""
        a = as_matrix(A, "A")
        if a.shape != self.basis.shape[1:]:
            raise SymscopeInputError(f"A must be {self.basis.shape[1:]}, got {a.shape}")
        c = np.einsum("kab,ab->k", self.basis, a)
        if np.linalg.norm(c) == 0:
            raise SymscopeInputError("A has no component in the span of the basis")
        c = c / np.linalg.norm(c)
        return float(np.sqrt(np.sum((self.singular_values * (self.vt @ c)) ** 2)))

    def percentile(self, A: Any) -> float:
        """Percentage of singular values below ``residual(A)``: 0 = as null as the most null
        direction, 100 = more constrained than every direction (values at round-off count as equal)."""
        s = self.singular_values
        floor = max(float(s[0]), 1.0) * np.finfo(np.float64).eps * len(s)  # round-off: ties at zero
        return float(100.0 * np.mean(np.maximum(s, floor) < max(self.residual(A), floor)))

    def to_dict(self) -> dict[str, Any]:
        return dict(singular_values=self.singular_values.tolist(), dim=self.dim, gap_ratio=self.gap_ratio,
                    threshold=self.threshold, rule=self.rule, n_rows=self.n_rows)


def jacobian_symmetry_spectrum(f: Fn, x: Any, *, basis: Any = "so", on: str = "output", per_output: bool = True,
                               tol: float | None = None, min_gap: float = MIN_GAP) -> SymmetrySpectrum:
    """LieGG / LieSD: the generators E with ⟨∇f_c(x) xᵀ, E⟩ = 0 for all samples and outputs.

    Builds the polarization matrix C with one row per (sample i, output c), entries
    C_(i,c),j = ⟨∇f_c(x_i) x_iᵀ, E_j⟩_F for the orthonormal basis {E_j} (``basis``: "so" for
    so(d), "gl" for gl(d), or a (k, d, d) stack, orthonormalised), takes its SVD and keeps the
    near-null right singular vectors as the symmetry algebra.

    Args:
        per_output: one row per output (default); False sums the outputs first (LieGG's code).
        tol: if given, singular values ≤ tol·s_max count as null; otherwise (default) the first
            drop ≥ ``min_gap`` from the top (``equivariant_basis``'s rule). Check ``gap_ratio``.
        on: "output" or "softmax".

    Shapes: x (n, d) → Jacobian (n, c, d) → C (n·c, k) → spectrum (k,).
    """
    x = _as_input(x, f)
    n, d = x.shape
    b = _orthonormal_basis(basis, d)
    if min_gap <= 1:
        raise SymscopeInputError(f"min_gap must be > 1, got {min_gap}")
    if tol is not None and not 0 < tol < 1:
        raise SymscopeInputError(f"tol must be in (0, 1), got {tol}")
    fn = _output_fn(f, on)

    def single(z: torch.Tensor) -> torch.Tensor:
        return fn(z.unsqueeze(0)).squeeze(0)

    jac = torch.func.vmap(torch.func.jacrev(single))(x.detach()).detach().double().cpu().numpy()  # (n, c, d)
    if jac.ndim != 3:
        raise SymscopeInputError(f"f must map a batch (n, d) to outputs (n, c) or (n,), got Jacobian {jac.shape}")
    if not per_output:
        jac = jac.sum(axis=1, keepdims=True)
    xs = x.detach().double().cpu().numpy()
    # ⟨∇f_c xᵀ, E⟩ = ∇f_cᵀ E x: contract the basis with x first, (n, k, d), then with the gradients
    ex = np.einsum("kab,nb->nka", b, xs)
    c_mat = np.einsum("nca,nka->nck", jac, ex).reshape(-1, len(b))
    full = c_mat.shape[0] < c_mat.shape[1]
    _, s, vt = np.linalg.svd(c_mat, full_matrices=full)
    s = np.concatenate([s, np.zeros(len(b) - len(s))])
    rank, threshold, rule = _choose_cut(s, tol, min_gap)
    dim = len(b) - rank
    # gap ratio at the cut, as equivariant_basis reports it (∞ when nothing or exactly zero lies below)
    below = s[rank] if 0 < rank < len(s) else 0.0
    gap = (1.0 if rule == "no-gap" and rank == len(s) else
           float(s[rank - 1] / below) if below > 0 else float("inf"))
    return SymmetrySpectrum(singular_values=s, vt=vt, basis=b, dim=dim, gap_ratio=gap, threshold=threshold,
                            rule=rule, n_rows=c_mat.shape[0])


# -- regularisers -------------------------------------------------------------------------------------------
def tangent_prop(f: Fn, x: Any, A: Any | None = None, *, tangent: Any | None = None, out_A: Any | None = None,
                 on: str = "output", return_output: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Tangent-prop penalty mean_x ‖L_A f(x)‖² (a differentiable scalar), Simard et al. 1991.

    Give either the generator A (tangent A x, the infinitesimal flow) or explicit ``tangent``
    vectors (n, d) (e.g. a finite difference G x − x). ``return_output`` also returns f(x)
    (the raw output, from the same forward pass as the JVP), so a training step needs no
    second forward pass for its data loss.
    """
    x = _as_input(x, f)
    if (A is None) == (tangent is None):
        raise SymscopeInputError("give exactly one of A (a generator) or tangent (vectors (n, d))")
    if A is not None:
        t = x @ _as_generator(A, x).T
    else:
        t = _as_input(tangent, f, "tangent").to(x.dtype)
        if t.shape != x.shape:
            raise SymscopeInputError(f"tangent must have the shape of x {tuple(x.shape)}, got {tuple(t.shape)}")
    raw = _output_fn(f, "output")
    squash = on == "softmax"
    if on not in ("output", "softmax"):
        raise SymscopeInputError(f"on must be 'output' or 'softmax', got {on!r}")
    y, jv = torch.func.jvp(raw, (x,), (t,))
    _check_output(y, len(x))
    if squash:  # J_softmax(y)·v = p ⊙ (v − ⟨p, v⟩), on the logits' JVP: no second pass through f
        p = torch.softmax(y, -1)
        jv = p * (jv - (p * jv).sum(-1, keepdim=True))
    if out_A is not None:
        jv = jv - (torch.softmax(y, -1) if squash else y) @ _as_generator(out_A, y, "out_A").T
    pen = jv.pow(2).sum(-1).mean()
    return (pen, y) if return_output else pen


def consistency_penalty(f: Fn, x: Any, group: Any, *, generator: torch.Generator | None = None,
                        on: str = "output") -> torch.Tensor:
    """Finite consistency penalty mean_i ‖f(g_i x_i) − f(x_i)‖², one random element g_i per sample.

    ``group``: a ``FiniteGroup`` (the identity, element 0, is never drawn) or a (k, d, d) stack.
    ``generator`` seeds the draw. Differentiable with respect to f's parameters.
    """
    x = _as_input(x, f)
    mats, has_identity = _as_group(group, x)
    lo = 1 if has_identity and len(mats) > 1 else 0
    idx = torch.randint(lo, len(mats), (len(x),), generator=generator)
    gx = torch.einsum("nij,nj->ni", mats[idx], x)
    fn = _output_fn(f, on)
    y, y0 = fn(gx), fn(x)
    _check_output(y0, len(x))
    return (y - y0).pow(2).sum(-1).mean()
