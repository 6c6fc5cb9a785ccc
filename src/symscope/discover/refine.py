"""Final refinement: re-solve the few non-stationary sites of a learned chain (a post-training step).

Why this exists. Trained on the fast schedule, a fit on Gaussian-bump data usually ends as an
*exact* chain except for one or two local defect regions, where each learned site is a mixture
of 1–5 true sites (``benchmarks/diagnose_sites.py --anatomy``). Gradient descent does not remove
them: a +1/−1 slip pair costs locality only at its cores and has no attraction. But they are
visible without the truth: in a stationary chain, the covariance of the sites is Toeplitz, and a
defect site's row of the covariance deviates from the Toeplitz matrix of the median diagonals
(2–14× the median site's deviation in defect regions).

One round (``resolve_defects``): mark the sites whose Toeplitz residual exceeds ``threshold`` ×
the median (and their neighbours), keep every other site fixed, and replace the marked ones by a
rotation of their own span, fitted (LBFGS from ``starts`` starts) so that their covariances with
every site match the autocovariance read off the unmarked sites (second-order stationarity) while
their mean kurtosis stays high (locality, weight ``kurtosis_weight``). Only the span of the
marked sites changes, so the exact part of the chain is never touched.

The judge (``stationarity_gap``): the squared 2-Wasserstein distance between the standardised
marginals of neighbouring sites, averaged along the chain, on samples the rounds did not see: the
uniformity (stationarity) term of the loss without its learned density estimators. Of the
starting chain and the result of each round, the one with the smallest gap is kept, among those
whose generator stays within a trust region of the starting chain's (``chain_similarity`` ≥
``min_similarity``); if that is the starting chain, the lens is left untouched. The kept chain
becomes the lens exactly as the repair does it: ``G`` is the shift along the sites, ψ the
central site.

Why the trust region: on the 17 final states of the d = 33 paper runs (seeds 2–4) the judge
alone lifted the Gaussian fits (5 of 9 minimal, 2 before) but on Legendre fits — folded, not
locally defective — and on a random-orthogonal fit (0.88 → 0.68) it accepted re-solves that
rebuilt much of the chain (similarity 0.31–0.86) and lost cosine. Every Gaussian gain stayed at
similarity ≥ 0.90. (The value 0.9 was set on those states; docs/benchmarks.md reports it on
seeds the setting did not see.) Assumes an open chain (as the repair does); skipped for
circulant padding.
Written here rather than taken from a library because the constrained re-solve is specific to
this method; the optimiser is ``torch.optim.LBFGS`` and the chain order comes from ``repair.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.actions import true_generator
from .repair import repaired_rotation, set_chain


def toeplitz_residual(cov: np.ndarray) -> np.ndarray:
    """Per site: norm of its row of ``cov`` minus the Toeplitz matrix of median diagonals, / the median site's."""
    d = len(cov)
    lag = np.abs(np.arange(d)[:, None] - np.arange(d)[None, :])
    residual = np.linalg.norm(cov - np.array([np.median(np.diagonal(cov, m)) for m in range(d)])[lag], axis=1)
    return residual / np.median(residual)


def stationarity_gap(Y: np.ndarray) -> float:
    """Mean over neighbouring columns of W₂² between their standardised marginals (0 if identical)."""
    Z = (Y - Y.mean(0)) / np.maximum(Y.std(0), 1e-12)
    q = np.sort(Z, axis=0)  # empirical quantile functions of the columns
    return float(np.mean((q[:, 1:] - q[:, :-1]) ** 2))


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
        kurtosis = ((Z**4).mean(0) / (Z**2).mean(0) ** 2).mean()
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


def refined_sites(C: np.ndarray, X_fit: np.ndarray, X_judge: np.ndarray, rounds: int = 3, threshold: float = 1.3,
                  kurtosis_weight: float = 0.03, starts: int = 4, min_similarity: float = 0.9
                  ) -> tuple[np.ndarray | None, dict[str, float]]:
    """(kept sites or None if the starting chain is kept, summary) for group convolution ``C``.

    Runs up to ``rounds`` rounds of ``resolve_defects`` on ``X_fit`` and keeps, among the starting
    chain and each round's result that stays within ``min_similarity`` (``chain_similarity``) of the
    starting chain, the one with the smallest ``stationarity_gap`` on ``X_judge``. The trust region
    encodes the premise (local defects in an otherwise right chain): a candidate that rebuilds much
    of the chain is outside what the refinement is for, and its judge can be fooled there.
    """
    start, _, _ = repaired_rotation(C, X_fit)
    sites, candidates, moved = start, [start], [0]
    gaps, similar = [stationarity_gap(X_judge @ start.T)], [1.0]
    for r in range(rounds):
        sites, rows = resolve_defects(sites, X_fit, threshold, kurtosis_weight, starts, seed=r)
        if not rows:
            break
        candidates.append(sites)
        gaps.append(stationarity_gap(X_judge @ sites.T))
        similar.append(chain_similarity(start, sites))
        moved.append(len(rows))
    eligible = [k for k in range(len(candidates)) if similar[k] >= min_similarity]
    best = min(eligible, key=lambda k: gaps[k])
    info = {"kept_round": float(best), "rounds_run": float(len(candidates) - 1), "sites_resolved": float(moved[best]),
            "gap_before": gaps[0], "gap_after": gaps[best], "similarity": similar[best],
            "outside_trust_region": float(len(candidates) - len(eligible))}
    return (candidates[best] if best > 0 else None), info


def refine_split(X: torch.Tensor, seed: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit, judge): disjoint random subsets of X (``samples`` each, at most half of X), drawn from the seed.

    Its own generator, not the training RNG: the refinement is a function of the trained state, the
    data and the seed, so it can be re-done from a saved trained state (``benchmarks/refine_saved.py``).
    """
    perm = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(seed + 2)).to(X.device)
    k = min(samples, X.shape[0] // 2)
    return X[perm[:k]], X[perm[k : 2 * k]]


def refine(mods: torch.nn.Module, X_fit: torch.Tensor, X_judge: torch.Tensor, rounds: int = 3, threshold: float = 1.3,
           kurtosis_weight: float = 0.03, starts: int = 4, min_similarity: float = 0.9) -> dict[str, float]:
    """Apply the refinement to ``LensModules`` in place (G = shift along the kept sites, ψ = central site)."""
    with torch.no_grad():
        C = mods.group_conv().double().cpu().numpy()
    sites, info = refined_sites(C, X_fit.double().cpu().numpy(), X_judge.double().cpu().numpy(),
                                rounds, threshold, kurtosis_weight, starts, min_similarity)
    if sites is not None:
        set_chain(mods, sites)
    return {"refined": float(sites is not None), **info}
