"""Final refinement: re-solve the chain's defects after training (a post-training step).

Why this exists. Trained on the fast schedule, a fit on Gaussian-bump data usually ends close to
an *exact* chain but with defects: one or two local regions where each learned site is a mixture
of 1–5 true sites, or a chain that is right but blurred or compressed in stretches
(``benchmarks/diagnose_sites.py --anatomy``). Gradient descent does not remove them: a +1/−1 slip
pair costs locality only at its cores and has no attraction. But they are visible without the
truth: in a stationary chain, the covariance of the sites is Toeplitz.

Candidates (all truth-free, all built from the trained chain or the data):
1. the trained chain (ordered and sign-fixed as the repair does);
2. up to ``rounds`` rounds of the *local* re-solve (``resolve_defects``): the sites whose row of
   the covariance deviates from the Toeplitz matrix of median diagonals by > ``threshold`` × the
   median (and their neighbours) are replaced by a rotation of their own span, fitted (LBFGS,
   ``starts`` starts) so their covariances with every site match the autocovariance read off the
   other sites, while their mean kurtosis stays high (locality, ``kurtosis_weight``);
3. with ``spectral``, the spectral chain of ``spectral.py`` (second-order sites, kurtosis signs);
4. with ``polish``, each of these after the *global* re-solve (``polish_sites``): all sites rotate
   jointly (one antisymmetric generator, LBFGS from the candidate) and the autocovariance is free,
   minimising ‖S Σ Sᵀ − Toeplitz(a)‖² − ``kurtosis_weight`` · mean kurtosis. It moves whole
   stretches at once, which the local re-solve cannot (compressed or blurred stretches).
   ``polish_iters`` iterations each; the candidate kept is then re-solved further, up to
   ``converge_iters`` more (some need 1,000–2,000 to converge), and the result replaces it if the
   judge prefers it.

The judge (``consistency``) is that same objective on samples the candidates did not see, with
the autocovariance read off the candidate (mean diagonals): the one with the lowest score is kept.
``min_similarity`` > 0 adds a trust region (keep only candidates whose generator has cosine ≥ it
with the trained chain's, ``chain_similarity``). The kept chain becomes the lens exactly as the
repair does it: ``G`` is the shift along the sites, ψ the central site.

History, measured on the saved trained states of the d = 33 paper runs (docs/benchmarks.md): the
first version had only the local re-solve, judged by the stationarity gap (``stationarity_gap``,
W₂² between neighbouring standardised marginals) inside a trust region of 0.9; it lifted 7 of 30
paper runs to minimal but could not reach non-local defects (gaussian-permuted 1/5) and the gap
judge was fooled far from the trained chain (a random-orthogonal fit 0.88 → 0.68 without the trust
region). The global polish reaches them, and the consistency judge, unlike the gap, scores the
polished chains of the failed runs above the trained ones, so the trust region is off by default.
Result on the same trained states: 14 of 30 paper runs minimal (14 of 15 Gaussian; Legendre
medians 0.58–0.76 → 0.87–0.92, none minimal), gaussian-orthogonal 2 of 5 (seed 0: 0.88 → 0.99).
With the re-solve re-based every 100 iterations and the kept chain re-solved to convergence:
still 14 of 30, gaussian-orthogonal 3 of 5 (seed 2: 0.90 → 0.999), circulant 3 of 6.
Closing the ring where the data say so: circulant 5 of 10 → 8 of 10 (open-chain cells unchanged).
Experimental (``project``, off by default): the global re-solve has spurious optima that mix the
highest-frequency components (near-degenerate eigenvalues, weakly pinned by the kurtosis): the
kept chain of gaussian-shift seed 0 sits at cosine 0.978 and, on the samples it was fitted on,
scores better than the truth (−0.650 vs −0.605) but worse on held-out ones (−0.501 vs −0.570).
Rounding the kept chain to its nearest *exact* stationary chain (``stationary_projection``: DST-I
basis × signed assignment of frequencies to principal components) and re-solving that leaves the
optimum: 0.998, and the judge prefers it (−0.525).
Builds open chains (as the repair does); a kept chain whose two ends covary like neighbours is
closed into a ring (``closes_ring``, ``ring``): circulant data, where the open shift along the
sites cannot score above √((d−1)/d) ≈ 0.985 against the cyclic generator. Skipped for circulant
padding (padding 0).
Written here rather than taken from a library because the constrained re-solves are specific to
this method; the optimiser is ``torch.optim.LBFGS`` and the chain order comes from ``repair.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..data.actions import dst_matrix, true_generator
from .repair import repaired_rotation, set_chain
from .spectral import mean_kurtosis, spectral_sites


def _lags(d: int) -> np.ndarray:
    """|i − j| for a d × d matrix: the diagonal each entry lies on."""
    return np.abs(np.arange(d)[:, None] - np.arange(d)[None, :])


def toeplitz_residual(cov: np.ndarray) -> np.ndarray:
    """Per site: norm of its row of ``cov`` minus the Toeplitz matrix of median diagonals, / the median site's."""
    toeplitz = np.array([np.median(np.diagonal(cov, m)) for m in range(len(cov))])[_lags(len(cov))]
    residual = np.linalg.norm(cov - toeplitz, axis=1)
    return residual / np.median(residual)


def stationarity_gap(Y: np.ndarray) -> float:
    """Mean over neighbouring columns of W₂² between their standardised marginals (0 if identical)."""
    Z = (Y - Y.mean(0)) / np.maximum(Y.std(0), 1e-12)
    q = np.sort(Z, axis=0)  # empirical quantile functions of the columns
    return float(np.mean((q[:, 1:] - q[:, :-1]) ** 2))


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch single-threaded inside: the re-solves are LBFGS on d × d matrices, where thread
    overhead dominates (one local round at d = 9 on a busy 2-core machine: 12.6 s with two threads,
    0.8 s with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _mean_kurtosis(Z: torch.Tensor) -> torch.Tensor:
    """Differentiable twin of ``spectral.mean_kurtosis``: mean over columns of E[z⁴]/E[z²]²."""
    return ((Z**4).mean(0) / (Z**2).mean(0) ** 2).mean()


@_one_thread()
def resolve_defects(sites: np.ndarray, X: np.ndarray, threshold: float = 1.3, kurtosis_weight: float = 0.03,
                    starts: int = 4, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """One round of the local re-solve (module docstring): (new sites, indices of re-solved sites).

    ``sites`` (d, d) orthonormal rows in chain order, ``X`` (n, d) standardised samples.
    """
    d = len(sites)
    Xc = X - X.mean(0)
    cov = np.cov(Xc, rowvar=False)
    learned_cov = sites @ cov @ sites.T
    bad = toeplitz_residual(learned_cov) > threshold
    bad = bad | np.r_[False, bad[:-1]] | np.r_[bad[1:], False]  # and their neighbours
    if not bad.any() or bad.all():
        return sites, []
    free, fixed = np.where(bad)[0], np.where(~bad)[0]
    autocov = np.array([np.mean([learned_cov[k, k + m] for k in range(d - m) if not bad[k] and not bad[k + m]]
                                or [np.median(np.diagonal(learned_cov, m))]) for m in range(d)])
    F, E, C = (torch.as_tensor(a, dtype=torch.float64) for a in (sites[free], sites[fixed], cov))
    to_fixed = torch.as_tensor(autocov[np.abs(free[:, None] - fixed[None, :])])
    to_free = torch.as_tensor(autocov[np.abs(free[:, None] - free[None, :])])
    Y = torch.as_tensor(Xc, dtype=torch.float64)
    rng = np.random.default_rng(seed)

    def objective(B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        new = torch.linalg.matrix_exp(B - B.T) @ F
        Z = Y @ new.T
        kurtosis = _mean_kurtosis(Z)
        return (((new @ C @ E.T - to_fixed) ** 2).sum() + ((new @ C @ new.T - to_free) ** 2).sum()
                - kurtosis_weight * kurtosis), new

    best: tuple[float, np.ndarray] | None = None
    for start in range(starts):
        B = torch.tensor(rng.normal(0.0, 0.0 if start == 0 else 1.0, (len(free), len(free))), requires_grad=True)
        opt = torch.optim.LBFGS([B], lr=1, max_iter=300, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            value = objective(B)[0]
            value.backward()
            return value

        opt.step(closure)
        with torch.no_grad():
            value, new = objective(B)
        if best is None or float(value) < best[0]:
            best = (float(value), new.numpy())
    out = sites.copy()
    out[free] = best[1]
    return out, free.tolist()


def chain_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine between the shifts along two chains of sites (Frobenius, of the d × d generators SᵀS_dS)."""
    ga, gb = true_generator(a.T), true_generator(b.T)
    return float((ga * gb).sum() / (np.linalg.norm(ga) * np.linalg.norm(gb)))


REBASE_EVERY = 100
"""LBFGS iterations between re-basings of the global re-solve (see ``polish_sites``)."""


@_one_thread()
def polish_sites(sites: np.ndarray, X: np.ndarray, kurtosis_weight: float = 0.03, iters: int = 500,
                 tol: float = 1e-7) -> np.ndarray:
    """Global re-solve (module docstring): the rotation of all ``sites`` jointly, and a free
    autocovariance a, that minimise ‖S Σ Sᵀ − Toeplitz(a)‖² − ``kurtosis_weight`` · mean kurtosis.

    ``sites`` (d, d) orthonormal rows in chain order, ``X`` (n, d) standardised samples. At most
    ``iters`` LBFGS iterations, in legs of ``REBASE_EVERY``: after each leg the rotation found is
    absorbed into the sites and the next leg starts from the identity again (as the trainer
    re-bases ``G``), because far from the identity the exponential map's gradient degrades and one
    long LBFGS run stalls (a gaussian-orthogonal state: one 500-iteration run 0.79 → 0.90, legs
    → 0.999). Stops early when a leg lowers the objective by less than ``tol``.
    """
    d = len(sites)
    Xc = X - X.mean(0)
    cov = np.cov(Xc, rowvar=False)
    learned = sites @ cov @ sites.T
    C, S, Y = (torch.as_tensor(a, dtype=torch.float64) for a in (cov, sites, Xc))
    lag = torch.as_tensor(_lags(d))
    a = torch.tensor([np.mean(np.diagonal(learned, m)) for m in range(d)], requires_grad=True)
    previous, done = np.inf, 0
    while done < iters:
        leg = min(REBASE_EVERY, iters - done)
        B = torch.zeros(d, d, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([B, a], lr=1, max_iter=leg, line_search_fn="strong_wolfe")

        def objective() -> tuple[torch.Tensor, torch.Tensor]:
            new = torch.linalg.matrix_exp(B - B.T) @ S
            kurtosis = _mean_kurtosis(Y @ new.T)
            return ((new @ C @ new.T - a[lag]) ** 2).sum() - kurtosis_weight * kurtosis, new

        def closure() -> torch.Tensor:
            opt.zero_grad()
            value = objective()[0]
            value.backward()
            return value

        opt.step(closure)
        done += leg
        with torch.no_grad():
            value, S = objective()
        if previous - float(value) < tol:
            break
        previous = float(value)
    return S.numpy()


def consistency(sites: np.ndarray, X: np.ndarray, kurtosis_weight: float = 0.03) -> float:
    """The judge: ‖S Σ Sᵀ − Toeplitz(mean diagonals)‖² − ``kurtosis_weight`` · mean kurtosis on ``X``
    (lower = more stationary and more local)."""
    Xc = X - X.mean(0)
    learned = sites @ np.cov(Xc, rowvar=False) @ sites.T
    a = np.array([np.mean(np.diagonal(learned, m)) for m in range(len(sites))])
    return float(((learned - a[_lags(len(sites))]) ** 2).sum() - kurtosis_weight * mean_kurtosis(Xc @ sites.T))


def closes_ring(sites: np.ndarray, X: np.ndarray, margin: float = 0.5) -> bool:
    """Whether the samples close the chain into a ring: the first and last sites covary like neighbours.

    Compares the corner correlations (first–last, first–second-last, second–last sites) with what
    a ring predicts (the mean correlation at lags 1, 2, 2) and with what an open chain predicts
    (the mean correlation at long lags, d/2 … d−3); a ring when the first distance is below
    ``margin`` × the second. Measured on trained chains (d = 33): ring data 0.16–0.37, open data
    (shift, dst, orthogonal; Gaussian and Legendre) ≥ 6, their kept chains 5.2–64.
    """
    d = len(sites)
    R = np.nan_to_num(np.corrcoef((X - X.mean(0)) @ sites.T, rowvar=False))
    near = np.array([np.mean(np.diagonal(R, m)) for m in (1, 2, 2)])
    far = np.mean([np.mean(np.diagonal(R, m)) for m in range(d // 2, d - 2)])
    corner = np.array([R[0, -1], R[0, -2], R[1, -1]])
    return bool(np.linalg.norm(corner - near) < margin * np.linalg.norm(corner - far))


def stationary_projection(sites: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The exact stationary chain ``W·P·Vᵀ`` nearest ``sites`` (orthonormal rows in chain order), re-ordered.

    ``W`` the DST-I basis (the eigenvectors of a tridiagonal Toeplitz covariance), ``V`` the principal
    axes of ``X`` (n, d), ``P`` a signed permutation: each frequency gets the principal component
    that carries most of it in ``sites`` (``Wᵀ·sites·V``; one-to-one by
    ``scipy.optimize.linear_sum_assignment``), with that coefficient's sign. Unlike the spectral
    chain (``spectral.py``) it assumes no shape of the power spectrum: the frequency assignment and
    the signs come from the chain itself.
    """
    from scipy.optimize import linear_sum_assignment

    Xc = X - X.mean(0)
    _, V = np.linalg.eigh(np.cov(Xc, rowvar=False))
    W = dst_matrix(len(sites))
    M = W.T @ sites @ V
    freq, pc = linear_sum_assignment(-np.abs(M))
    P = np.zeros_like(M)
    P[freq, pc] = np.where(M[freq, pc] >= 0, 1.0, -1.0)
    return repaired_rotation(W @ P @ V.T, X)[0]


def refined_sites(C: np.ndarray, X_fit: np.ndarray, X_judge: np.ndarray, enabled: bool = True, rounds: int = 3,
                  threshold: float = 1.3, kurtosis_weight: float = 0.03, starts: int = 4, min_similarity: float = 0.0,
                  polish: bool = True, polish_iters: int = 500, converge_iters: int = 2000, spectral: bool = True,
                  ring: bool = True, project: bool = False,
                  seed: int = 0) -> tuple[np.ndarray | None, dict[str, float | str]]:
    """(kept sites or None if the trained chain is kept as trained, summary) for group convolution ``C``.

    Builds the candidates of the module docstring on ``X_fit`` and keeps the one with the lowest
    ``consistency`` on ``X_judge``, among those within ``min_similarity`` (``chain_similarity``)
    of the trained chain. A kept polished candidate is re-solved further (up to ``converge_iters``
    more iterations) and replaced if the judge prefers the result (its label gains a "+").
    With ``project``, the kept open chain's ``stationary_projection``, re-solved (``polish_iters``),
    replaces it if the judge prefers it (label gains a "~").
    With ``ring``, a kept chain whose ends covary like neighbours on ``X_judge`` (``closes_ring``)
    is closed (``info["ring"]`` = 1; the sites are returned even when the trained chain is kept,
    so the lens becomes the cyclic shift along them).
    ``enabled`` is accepted (and ignored) so a ``RefineConfig`` passes as a dict.
    """
    start, _, _ = repaired_rotation(C, X_fit)
    sites, candidates, moved = start, [("trained", start)], {"trained": 0}
    for r in range(rounds):
        sites, rows = resolve_defects(sites, X_fit, threshold, kurtosis_weight, starts, seed=r)
        if not rows:
            break
        candidates.append((f"local{r + 1}", sites))
        moved[f"local{r + 1}"] = len(rows)
    rounds_run = len(candidates) - 1
    if spectral:
        candidates.append(("spectral", repaired_rotation(spectral_sites(X_fit, seed=seed, max_samples=10_000),
                                                         X_fit)[0]))
    if polish:
        candidates += [(f"polished-{label}", polish_sites(c, X_fit, kurtosis_weight, polish_iters))
                       for label, c in candidates]
    scores = [consistency(c, X_judge, kurtosis_weight) for _, c in candidates]
    similar = [1.0] + [chain_similarity(start, c) for _, c in candidates[1:]]
    eligible = [k for k in range(len(candidates)) if similar[k] >= min_similarity]
    best = min(eligible, key=lambda k: scores[k])
    label, kept = candidates[best]
    kept_score, kept_similarity, changed = scores[best], similar[best], best > 0
    if polish and converge_iters > 0 and label.startswith("polished-"):
        further = polish_sites(kept, X_fit, kurtosis_weight, converge_iters)
        score, similarity = consistency(further, X_judge, kurtosis_weight), chain_similarity(start, further)
        if score < kept_score and similarity >= min_similarity:
            kept, kept_score, kept_similarity, label = further, score, similarity, label + "+"
    if project and not (ring and closes_ring(kept, X_judge)):  # DST-I is the basis of open chains only
        rounded = polish_sites(stationary_projection(kept, X_fit), X_fit, kurtosis_weight, polish_iters)
        score, similarity = consistency(rounded, X_judge, kurtosis_weight), chain_similarity(start, rounded)
        if score < kept_score and similarity >= min_similarity:
            kept, kept_score, kept_similarity, label, changed = rounded, score, similarity, label + "~", True
    closed = ring and closes_ring(kept, X_judge)
    info = {"kept": label, "ring": float(closed), "rounds_run": float(rounds_run),
            "sites_resolved": float(moved.get(label.removeprefix("polished-").rstrip("+~"), 0)),
            "candidates": float(len(candidates)), "score_before": scores[0], "score_after": kept_score,
            "gap_before": stationarity_gap(X_judge @ start.T), "gap_after": stationarity_gap(X_judge @ kept.T),
            "similarity": kept_similarity, "outside_trust_region": float(len(candidates) - len(eligible))}
    return (kept if changed or closed else None), info


def refine_split(X: torch.Tensor, seed: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit, judge): disjoint random subsets of X (``samples`` each, at most half of X), drawn from the seed.

    Its own generator, not the training RNG: the refinement is a function of the trained state, the
    data and the seed, so it can be re-done from a saved trained state (``benchmarks/refine_saved.py``).
    """
    perm = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(seed + 2)).to(X.device)
    k = min(samples, X.shape[0] // 2)
    return X[perm[:k]], X[perm[k : 2 * k]]


def refine(mods: torch.nn.Module, X_fit: torch.Tensor, X_judge: torch.Tensor,
           **settings: Any) -> dict[str, float | str]:
    """Apply the refinement to ``LensModules`` in place (G = shift along the kept sites, ψ = central site);
    ``settings``: keyword arguments of ``refined_sites`` (a ``RefineConfig`` as a dict, and the seed)."""
    with torch.no_grad():
        C = mods.group_conv().double().cpu().numpy()
    sites, info = refined_sites(C, X_fit.double().cpu().numpy(), X_judge.double().cpu().numpy(), **settings)
    if sites is not None:
        set_chain(mods, sites, ring=bool(info["ring"]))
    return {"refined": float(sites is not None), **info}
