"""Spectral chains: sites from second-order statistics, the signs (and frequencies) from the fourth.

Why this exists. Started at the identity (the paper's init), a fast schedule grows the chain in
many places at once and leaves folds and slips that gradient descent cannot undo (see
``repair.py``). But a stationary signal already reveals most of its chain at second order: its
covariance in the hidden sites is (nearly) Toeplitz, so the data covariance is
``Σ = Uᵀ T U`` with the hidden sites as rows of U, and the eigenvectors of a Toeplitz matrix
are close to the DST-I basis (exactly so for a tridiagonal one). With ``Σ = V Λ Vᵀ``
(eigenvalues in descending order) the sites are ``U ≈ W P D Vᵀ``: W the DST-I matrix (column k
= frequency k), P the assignment of principal components to frequencies, D a diagonal of signs.
Second-order statistics cannot see D (every choice has the same covariance) and barely see P;
localised signals can: the right chain makes the sites sparse, so both are chosen by the mean
kurtosis of the sites.

``spectral_sites`` assumes a power spectrum that falls with frequency: P sorts descending
variance onto ascending frequency, and D is found by steepest-ascent sign flips (``_SignSearch``,
below) from several random starts.

``bandpass_sites`` drops that assumption for band-pass signals (the Legendre wavelets, whose
spectrum peaks near frequency 5 at d = 33, so their variance order of frequencies reads 5, 6, 7,
4, 8, 3, …). It searches P among unimodal assignments and needs three things the monotone chain
does not:

* *A basis fitted to the assignment.* For a band-pass spectrum the DST-I columns are poor
  eigenvectors of the Toeplitz covariance (the Toeplitz-plus-Hankel error of ``W diag(μ) W`` grows
  with a spectrum that oscillates in lag), so every assignment P gets its own basis Q:
  the eigenvectors of a symmetric Toeplitz matrix whose eigenvalue on frequency k is the
  variance μ_k that P gives it (``toeplitz_basis``: alternating projections between "Toeplitz"
  (mean diagonals) and "this spectrum on these frequencies" (eigenvectors matched to the previous
  ones), started at W). Sites are ``Q P D Vᵀ``; their covariance is then Toeplitz up to the
  projection's residual r(P).
* *A fast sign search.* Flipping the sign of frequency k changes site i by −2 s_k Q_ik z_k, so
  E[y_i⁴] after the flip is a polynomial in a = s_k Q_ik with the moments E[y_i³ z_k], E[y_i² z_k²],
  E[y_i z_k³], E[z_k⁴]; four matrix products score all d flips at once, and E[y_i²] does not
  change (the principal components are uncorrelated in sample). Steepest ascent flips the best
  one until none helps (``_SignSearch``).
* *A search over P.* The criterion is the refinement judge's form on the fitting samples,
  r(P) − w · mean kurtosis (w = ``kurtosis_weight``). Starts: the unimodal orders of a spectrum
  with a peak at c and a left flank falling ``rate`` times as fast as the right one
  (``unimodal_order``; c = ½ is the monotone order), each screened by one sweep of transpositions
  of principal components adjacent in variance on a subsample; the ``top`` best are then
  searched by transpositions (variance ranks j, j+1 and j, j+2) and side changes (a component
  moved to the other flank of the peak) until no move helps. The kurtosis landscape over P is
  needle-like (a single misplaced component costs as much as a wrong order), hence the
  many screened starts.

The refinement's judge (``refine.consistency`` on held-out samples) decides between these chains
and the others, after the global re-solve. Assumptions, said plainly: an open (non-circulant)
chain, a unimodal power spectrum (``bandpass_sites``) or a decreasing one (``spectral_sites``).
Written here (not a library call) because no library offers this constrained search; it is numpy
plus ``scipy.optimize.linear_sum_assignment`` for matching eigenvectors.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .._linalg import diagonal_means, dst_matrix, lags, mean_kurtosis
from .._validation import SymscopeInputError, check_data

__all__ = ["bandpass_sites", "mean_kurtosis", "spectral_sites", "toeplitz_basis", "unimodal_order"]


def _principal(X: np.ndarray, max_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z, V, λ): principal components Z (m, d) of the first ``max_samples`` rows of X, axes V (d, d,
    columns) and variances λ (d,), in descending order of variance."""
    Xs = X[:max_samples]
    Xc = Xs - Xs.mean(0)
    lam, V = np.linalg.eigh(np.cov(Xc, rowvar=False))
    V, lam = V[:, ::-1], lam[::-1]
    return Xc @ V, V, lam


def spectral_sites(X: np.ndarray, restarts: int = 8, seed: int = 0, max_samples: int = 20_000) -> np.ndarray:
    """Orthonormal sites S (d, d), rows in chain order: ``W D Vᵀ`` with kurtosis-chosen signs D.

    ``X`` (n, d) are the (standardised) samples; at most ``max_samples`` are used.
    """
    rng = np.random.default_rng(seed)
    Z, V, _ = _principal(X, max_samples)
    d = X.shape[1]
    W = dst_matrix(d)  # row i = site i, column k = frequency k (lowest first)
    search, order = _SignSearch(Z), np.arange(d)
    best, best_signs = -np.inf, np.ones(d)
    for _ in range(restarts):
        signs = rng.choice([-1.0, 1.0], d)
        signs[0] = 1.0  # a global sign flip changes nothing
        value, signs = search.run(W, order, signs)
        if value > best:
            best, best_signs = value, signs
    return (W * best_signs[None, :]) @ V.T


def toeplitz_basis(mu: np.ndarray, iters: int = 60, tol: float = 1e-8) -> tuple[np.ndarray, float]:
    """(Q, r): orthonormal columns Q (d, d), column k the eigenvector of frequency k of a symmetric
    Toeplitz matrix with eigenvalue ``mu[k]`` there, and r = ‖Q diag(μ) Qᵀ − Toeplitz‖² (its
    residual; 0 when exact).

    Alternating projections from the DST-I basis: T = Toeplitz(mean diagonals of Q diag(μ) Qᵀ), Q ←
    the eigenvectors of T matched one-to-one to the columns of Q (largest |overlap|) with signs kept.
    """
    mu = np.asarray(mu, dtype=np.float64)
    d = len(mu)
    Q, idx = dst_matrix(d), lags(d)
    for _ in range(iters):
        T = diagonal_means((Q * mu) @ Q.T)[idx]
        E = np.linalg.eigh(T)[1]
        overlap = np.abs(Q.T @ E)
        match = overlap.argmax(1)
        if len(set(match.tolist())) < d:
            match = linear_sum_assignment(-overlap)[1]
        E = E[:, match]
        E = E * np.where((Q * E).sum(0) < 0, -1.0, 1.0)
        step = np.abs(E - Q).max()
        Q = E
        if step < tol:
            break
    C = (Q * mu) @ Q.T
    return Q, float(((C - diagonal_means(C)[idx]) ** 2).sum())


def unimodal_order(d: int, peak: float, rate: float = 1.0) -> np.ndarray:
    """perm (d,): perm[k] = the rank by variance (0 = largest) given to frequency k (0-based) by a
    unimodal spectrum peaking at frequency ``peak`` (1-based, may be fractional) whose lower
    flank falls ``rate`` times as fast as the upper one. ``peak`` ≤ 1: the monotone order."""
    if rate <= 0:
        raise SymscopeInputError(f"rate must be > 0, got {rate}")
    k = np.arange(1, d + 1)
    distance = np.where(k < peak, (peak - k) * rate, k - peak)
    perm = np.empty(d, dtype=int)
    perm[np.argsort(distance, kind="stable")] = np.arange(d)
    return perm


def _from_sides(lower: np.ndarray) -> np.ndarray:
    """The unimodal perm in which rank j (j ≥ 1, by variance) lies below the peak where ``lower[j]``."""
    d = len(lower)
    peak = int(lower[1:].sum())
    perm = np.empty(d, dtype=int)
    perm[peak], lo, hi = 0, peak - 1, peak + 1
    for j in range(1, d):
        if lower[j]:
            perm[lo], lo = j, lo - 1
        else:
            perm[hi], hi = j, hi + 1
    return perm


class _SignSearch:
    """Steepest ascent of the mean kurtosis of the sites ``Z[:, perm] @ (Q · s)ᵀ`` over the signs s
    (module docstring: all single flips scored at once from four moment matrices)."""

    def __init__(self, Z: np.ndarray) -> None:
        self.Z, self.Z2, self.Z3 = Z, Z**2, Z**3
        self.m4 = (Z**4).mean(0)

    def run(self, Q: np.ndarray, perm: np.ndarray, signs: np.ndarray) -> tuple[float, np.ndarray]:
        Zp, Z2, Z3, m4 = self.Z[:, perm], self.Z2[:, perm], self.Z3[:, perm], self.m4[perm]
        n, s = len(Zp), signs.copy()
        Y = Zp @ (Q * s).T
        inv = 1.0 / np.maximum((Y**2).mean(0), 1e-12) ** 2
        for _ in range(4 * len(s)):
            Y2 = Y * Y
            current = float(((Y2 * Y2).mean(0) * inv).mean())
            a = Q * s
            delta = (-8 * a * ((Y2 * Y).T @ Zp) / n + 24 * a**2 * (Y2.T @ Z2) / n
                     - 32 * a**3 * (Y.T @ Z3) / n + 16 * a**4 * m4[None, :])
            gain = (delta * inv[:, None]).mean(0)
            k = int(np.argmax(gain))
            if gain[k] <= 1e-9:
                break
            Y -= 2 * s[k] * np.outer(Zp[:, k], Q[:, k])
            s[k] = -s[k]
        return current, s


class _Search:
    """The criterion r(P) − w · kurtosis over assignments P, cached per assignment."""

    def __init__(self, Z: np.ndarray, lam: np.ndarray, kurtosis_weight: float) -> None:
        self.signs, self.lam, self.w = _SignSearch(Z), lam, kurtosis_weight
        self.cache: dict[tuple[int, ...], tuple[float, np.ndarray, np.ndarray]] = {}

    def __call__(self, perm: np.ndarray, starts: list[np.ndarray]) -> tuple[float, np.ndarray, np.ndarray]:
        key = tuple(perm.tolist())
        if key not in self.cache:
            Q, residual = toeplitz_basis(self.lam[perm])
            kurtosis, s = max((self.signs.run(Q, perm, st) for st in starts), key=lambda v: v[0])
            self.cache[key] = (residual - self.w * kurtosis, s, Q)
        return self.cache[key]

    def climb(self, perm: np.ndarray, moves: int, sides: bool, sweeps: int) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """First-improvement local search from ``perm``: transpositions of the ranks j, j+1 and j, j+2
        (j < ``moves``), and with ``sides`` rank j moved to the other flank of the peak."""
        d = len(perm)
        value, s, Q = self(perm, [np.ones(d)])
        for _ in range(sweeps):
            improved = False
            trials = [(j, w) for j in range(min(moves, d - 1)) for w in (1, 2) if j + w < d]
            trials += [(j, 0) for j in range(1, min(moves, d)) if sides]
            for j, w in trials:
                freq = np.argsort(perm)  # freq[rank] = its frequency
                if w:
                    new = perm.copy()
                    new[freq[j]], new[freq[j + w]] = perm[freq[j + w]], perm[freq[j]]
                    flipped = np.where(np.isin(np.arange(d), [freq[j], freq[j + w]]), -1.0, 1.0)
                    starts = [s, s * flipped]
                else:
                    lower = freq < freq[0]
                    lower[j] = not lower[j]
                    new = _from_sides(lower)
                    by_rank = np.empty(d)
                    by_rank[perm] = s
                    starts = [by_rank[new]]
                cand = self(new, starts)
                if cand[0] < value - 1e-9:
                    perm, (value, s, Q), improved = new, cand, True
            if not improved:
                break
        return perm, value, s, Q


def bandpass_sites(X: np.ndarray, seed: int = 0, max_samples: int = 10_000, screen_samples: int = 2_000,
                   rates: tuple[float, ...] = (0.7, 1.0, 1.4, 2.0), top: int = 2, moves: int | None = None,
                   kurtosis_weight: float = 0.03) -> np.ndarray:
    """Orthonormal sites S (d, d), rows in chain order: ``Q P D Vᵀ`` for the unimodal assignment P of
    principal components to frequencies, its Toeplitz basis Q and signs D that score best (module
    docstring).

    Args:
        X: (n, d) standardised samples, d ≥ 5; the first ``max_samples`` rows are used (the first
            ``screen_samples`` of them to screen the starts).
        seed: seed of the random sign start.
        rates: flank-rate ratios of the unimodal starts (peaks c = ½, 1, 1½, … d/3 for each).
        top: the number of screened starts searched to the end.
        moves: the variance ranks the moves touch (default d/2: the high ranks are monotone).
        kurtosis_weight: w of the criterion r(P) − w · mean kurtosis (the judge's weight).
    """
    X = check_data(X, name="bandpass samples")
    n, d = X.shape
    if d < 5:
        raise SymscopeInputError(f"bandpass sites need d >= 5 features, got {d}")
    if max_samples < 2 or screen_samples < 2 or top < 1:
        raise SymscopeInputError(f"max_samples, screen_samples must be >= 2 and top >= 1, got "
                                 f"{max_samples}, {screen_samples}, {top}")
    if not rates or min(rates) <= 0:
        raise SymscopeInputError(f"rates must be a non-empty tuple of positive numbers, got {rates}")
    moves = max(2, d // 2) if moves is None else moves
    rng = np.random.default_rng(seed)
    Z, V, lam = _principal(X, max_samples)
    screen = _Search(Z[:screen_samples], lam, kurtosis_weight)
    starts = {tuple(unimodal_order(d, c, r).tolist()) for c in np.arange(0.5, d / 3 + 0.5, 0.5) for r in rates}
    screened = []
    for start in sorted(starts):
        perm, value, _, _ = screen.climb(np.array(start), moves=min(moves, 12), sides=False, sweeps=1)
        screened.append((value, tuple(perm.tolist())))
    full = _Search(Z, lam, kurtosis_weight)
    best: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
    for _, start in sorted(set(screened))[:top]:
        perm = np.array(start)
        full(perm, [np.ones(d), rng.choice([-1.0, 1.0], d)])  # a second sign start for the start itself
        perm, value, s, Q = full.climb(perm, moves=moves, sides=True, sweeps=4)
        if best is None or value < best[0]:
            best = (value, perm, s, Q)
    _, perm, s, Q = best
    return (Q * s[None, :]) @ V[:, perm].T


def mean_marginal_entropy(Y: np.ndarray) -> float:
    """Mean differential entropy of the standardised columns of Y (n, d): Vasicek's m-spacing
    estimator (``scipy.stats.differential_entropy``, m ≈ √n). 1.419 = ½ log 2πe for Gaussian
    columns; lower for sparse (localised) sites."""
    from scipy.stats import differential_entropy

    Y = np.asarray(Y, dtype=np.float64)
    Y = (Y - Y.mean(0)) / np.maximum(Y.std(0), 1e-12)
    return float(np.mean(differential_entropy(Y, axis=0, method="vasicek")))


def entropy_signs(sites: np.ndarray, X_fit: np.ndarray, X_judge: np.ndarray, min_gain: float = 0.01,
                  max_samples: int = 10_000, sweeps: int = 4) -> tuple[np.ndarray | None, float]:
    """Sign flips of a chain's frequency components chosen by marginal entropy: (new sites or None, gain).

    The frequency components of the chain are the eigenvectors q_k of its site covariance
    T = S Σ Sᵀ (on ``X_fit``). Flipping one, S ← (I − 2 q_k q_kᵀ) S, leaves T unchanged (q_k is an
    eigenvector), so no second-order statistic — the Toeplitz residual included — can tell the
    flipped chains apart; the generator along them differs (open chains). The sparsity of the
    sites can: first-improvement flips (``sweeps`` passes) lower the mean Vasicek entropy of the
    sites (``mean_marginal_entropy``) on the first ``max_samples`` fitting samples. The flipped
    chain is returned only when its entropy on ``X_judge`` is lower by more than ``min_gain``
    (the held-out gain is returned either way; 0 when no flip helped on ``X_fit``).
    """
    S = np.asarray(sites, dtype=np.float64)
    Xf = np.asarray(X_fit, dtype=np.float64)[:max_samples]
    Xf = Xf - Xf.mean(0)
    _, Q = np.linalg.eigh(S @ np.cov(Xf, rowvar=False) @ S.T)
    C = Xf @ (Q.T @ S).T                   # (n, d) frequency components of the samples
    Y = C @ Q.T                            # the sites
    best, flipped = mean_marginal_entropy(Y), np.zeros(len(S), dtype=bool)
    for _ in range(sweeps):
        improved = False
        for k in range(len(S)):
            trial = Y - 2.0 * np.outer(C[:, k], Q[:, k]) * (-1.0 if flipped[k] else 1.0)
            value = mean_marginal_entropy(trial)
            if value < best - 1e-6:
                Y, best, improved = trial, value, True
                flipped[k] = not flipped[k]
        if not improved:
            break
    if not flipped.any():
        return None, 0.0
    new = S - 2.0 * Q[:, flipped] @ (Q[:, flipped].T @ S)
    Xj = np.asarray(X_judge, dtype=np.float64)
    Xj = Xj - Xj.mean(0)
    gain = mean_marginal_entropy(Xj @ S.T) - mean_marginal_entropy(Xj @ new.T)
    return (new if gain > min_gain else None), float(gain)
