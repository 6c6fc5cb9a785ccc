"""The verdict of a fit without the truth: did it find a symmetry, and how sure is it?

A fitted lens is a chain of sites (``chain.Chain``); the engine keeps the chain its judge
(``refine.consistency``: Toeplitz residual of the site covariance minus ``kurtosis_weight`` ×
mean kurtosis plus ``entropy_weight`` × mean marginal entropy of the sites; lower is better) prefers on held-out samples. Three questions decide whether that
chain is a *found* symmetry, each answered on the held-out samples split into ``folds`` folds,
with paired differences (the same samples score both chains) so that the sampling noise of the
difference, not of each score, sets the scale:

1. **Is there structure at all?** The kept chain against a null of the same sites in random
   orders (``nulls`` shuffles): a symmetry makes the site covariance Toeplitz and neighbours
   correlated, a shuffled chain neither. ``null_z`` = (mean null score − kept score) / the spread
   of the null scores; white or i.i.d. data give ``null_z`` ≈ 0.
2. **Is it the best chain the engine saw, by a margin?** The best-scoring rival candidate whose
   generator differs (``Chain.symmetry_similarity`` < ``same``, up to direction) scores worse by ``margin_z`` fold-noise
   units (None when every rival is the same chain).
3. **Do the samples pin the generator?** Flipping the sign of one principal component v of the
   data, S → S (I − 2 v vᵀ), leaves the site covariance exactly as Toeplitz (v is an eigenvector
   of the covariance), so only the higher-order statistics can see it. A flip whose paired
   score change is below ``flip_z`` noise units is *unresolved*; a chain with unresolved
   components flipped is a rival the data cannot tell apart from the kept one, and
   ``ambiguity_similarity`` is the cosine between their generators: what the recovery cosine
   would be if that rival were the truth. A flip that scores *better* by more than ``flip_z``
   counts as unresolved too (the kept chain is then not the optimum of its own criterion). The
   rivals tried: each unresolved flip alone and ``subsets_tried`` random subsets of them
   (flipping all d components at once is −S, the same chain); ``ambiguity_similarity`` is the
   lowest cosine among them. The judge's entropy term (``entropy_weight`` × the sites' mean
   marginal entropy, Vasicek's estimator) is what resolves most flips on sign-changing
   (Legendre) signals, where kurtosis barely sees them (docs/discovery.md).

``settled`` = structure (``null_z`` ≥ ``min_null_z``): a fit's first stage then skips training
(``LensConfig.train_if = "no-structure"``, a choice for time: training can still change the kept
chain, e.g. it lifted a gaussian-dst run that stage 1 left "ambiguous" at cosine 0.795 to 0.998;
``train_if = "not-found"`` trains whenever the verdict is not ``found``). ``found`` = structure (``null_z`` ≥ ``min_null_z``), no distinct rival within ``min_margin_z``,
and ``ambiguity_similarity`` ≥ ``min_similarity``. ``min_margin_z`` = 10, not 3: the rivals are
only the chains the engine built, so a chain that stands out among them by a few noise units can
still be a local optimum far from the truth (on the benchmark, gaussian-orthogonal chains at
cosine 0.67–0.85 had margins 6.5–7.8; every kept chain at cosine ≥ 0.98 had ≥ 10.6). Labels: ``found``; ``ambiguous`` (structure,
but a distinct chain scores as well or the samples leave part of the generator open);
``no symmetry`` (no structure beyond the null). The thresholds are calibrated on the benchmark
(docs/benchmarks.md, "Verdict calibration").

Shapes: sites (d, d), rows in chain order; X (n, d) standardised samples. Written here because
the statistic is this method's own judge; the linear algebra is numpy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._linalg import diagonal_means, lags, mean_kurtosis
from .chain import Chain
from .refine import consistency
from .spectral import mean_marginal_entropy

__all__ = ["LABELS", "Verdict", "judge_chain"]

#: Verdict labels, best first.
LABELS = ("found", "ambiguous", "no symmetry")


@dataclass(frozen=True)
class Verdict:
    """Truth-free verdict on a kept chain (module docstring for each statistic).

    ``found`` / ``settled`` / ``label`` / ``message``: the decision and one sentence for the user; ``null_z``,
    ``alignment`` (mean |corr| of consecutive sites) and ``null_alignment`` (same, shuffled);
    ``runner_up`` (label), ``runner_up_similarity`` and ``margin_z`` of the best distinct rival
    (None without one); ``unresolved`` principal components the samples cannot orient (of them
    ``better_flips`` score better flipped) and ``ambiguity_similarity``, the lowest generator cosine
    to a chain with some of them flipped; ``folds`` used.
    """

    found: bool
    settled: bool
    label: str
    message: str
    null_z: float
    alignment: float
    null_alignment: float
    runner_up: str | None
    runner_up_similarity: float | None
    margin_z: float | None
    unresolved: int
    better_flips: int
    ambiguity_similarity: float
    folds: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every field."""
        return asdict(self)


def _paired_z(diffs: np.ndarray) -> float:
    """Mean of paired per-fold differences over its standard error (large = a clear difference)."""
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
    mean = float(np.mean(diffs))
    return mean / (sd / np.sqrt(len(diffs))) if sd > 0 else (np.inf if mean > 0 else (-np.inf if mean < 0 else 0.0))


def _alignment(Y: np.ndarray) -> float:
    R = np.nan_to_num(np.corrcoef(Y, rowvar=False))
    return float(np.mean(np.abs(np.diagonal(R, 1))))


def _flip_z(S: np.ndarray, V: np.ndarray, folds: list[np.ndarray], kurtosis_weight: float,
            entropy_weight: float = 0.0) -> np.ndarray:
    """Paired z of the judge change for flipping each principal component (columns of V) of chain S.

    Y' = Y − 2 z aᵀ with z = X v, a = S v: the covariance by a rank-2 update, the kurtosis
    directly, O(n d) per flip.
    """
    d = len(S)
    L = lags(d)
    diffs = np.empty((len(folds), d))
    for f, Xf in enumerate(folds):
        Xf = Xf - Xf.mean(0)  # centred per fold, as ``consistency`` centres the base chain's samples
        Y = Xf @ S.T
        n = len(Y)
        C = Y.T @ Y / (n - 1)
        base = consistency(S, Xf, kurtosis_weight, entropy_weight)
        Z = Xf @ V  # (n, d): every component's projection
        A = S @ V  # (d, d): column j = S v_j
        cZ = Y.T @ Z / (n - 1)  # (d, d): column j = cov(Y, z_j)
        sZ = (Z**2).sum(0) / (n - 1)
        for j in range(d):
            a, c = A[:, j], cZ[:, j]
            Cj = C - 2 * (np.outer(c, a) + np.outer(a, c)) + 4 * sZ[j] * np.outer(a, a)
            t = diagonal_means(Cj)
            flipped = Y - 2 * np.outer(Z[:, j], a)
            value = float(((Cj - t[L]) ** 2).sum() - kurtosis_weight * mean_kurtosis(flipped))
            if entropy_weight:
                value += entropy_weight * mean_marginal_entropy(flipped)
            diffs[f, j] = value - base
    sd = diffs.std(0, ddof=1)
    return np.where(sd > 0, diffs.mean(0) / np.maximum(sd, 1e-300) * np.sqrt(len(folds)), 0.0)


def judge_chain(chain: Chain, rivals: list[tuple[str, np.ndarray]], X_fit: np.ndarray, X_judge: np.ndarray, *,
                kurtosis_weight: float = 0.03, folds: int = 10, nulls: int = 8, same: float = 0.98,
                flip_z: float = 3.0, min_null_z: float = 5.0, min_margin_z: float = 10.0,
                min_similarity: float = 0.98, subsets_tried: int = 8, entropy_weight: float = 0.0,
                seed: int = 0) -> Verdict:
    """The verdict on ``chain`` (module docstring) against ``rivals`` ((label, sites) the engine also
    judged), principal axes from ``X_fit`` (n, d), statistics on ``X_judge`` (m, d)."""
    S = chain.sites
    d = len(S)
    Xj = np.asarray(X_judge, dtype=np.float64)
    Xj = Xj - Xj.mean(0)
    parts = [p for p in np.array_split(Xj, max(2, min(folds, len(Xj) // (4 * d) or 2))) if len(p) > d]
    rng = np.random.default_rng(seed)

    # 1. structure against shuffled orders of the same sites
    kept_score = consistency(S, Xj, kurtosis_weight, entropy_weight)
    shuffles = [rng.permutation(d) for _ in range(nulls)]
    null_scores = np.array([consistency(S[p], Xj, kurtosis_weight, entropy_weight) for p in shuffles])
    spread = float(null_scores.std(ddof=1)) if nulls > 1 else 0.0
    null_z = (float(null_scores.mean()) - kept_score) / spread if spread > 0 else 0.0
    alignment = _alignment(Xj @ S.T)
    null_alignment = float(np.mean([_alignment(Xj @ S[p].T) for p in shuffles[:3]]))

    # 2. the best distinct rival, by paired fold differences
    runner, runner_sim, margin = None, None, None
    distinct = [(label, R, chain.symmetry_similarity(Chain(R))) for label, R in rivals]
    distinct = [r for r in distinct if r[2] < same]
    if distinct:
        scored = [(consistency(R, Xj, kurtosis_weight, entropy_weight), label, R, sim) for label, R, sim in distinct]
        _, runner, R, runner_sim = min(scored, key=lambda t: t[0])
        diffs = np.array([consistency(R, p, kurtosis_weight, entropy_weight) - consistency(S, p, kurtosis_weight, entropy_weight) for p in parts])
        margin = _paired_z(diffs)

    # 3. principal-component sign flips the samples cannot see
    Xf = np.asarray(X_fit, dtype=np.float64)
    _, V = np.linalg.eigh(np.cov(Xf - Xf.mean(0), rowvar=False))
    z = _flip_z(S, V, parts, kurtosis_weight, entropy_weight)
    open_ = np.abs(z) < flip_z
    better = z <= -flip_z
    unresolved = open_ | better
    ambiguity = 1.0
    if unresolved.any():  # each unresolved flip alone, and random subsets of them (all at once is −S: the same chain)
        idx = np.where(unresolved)[0]
        subsets = [[j] for j in idx] + [idx[rng.random(len(idx)) < 0.5] for _ in range(subsets_tried)]
        for sub in subsets:
            if len(sub):
                U = V[:, sub]
                ambiguity = min(ambiguity, chain.symmetry_similarity(Chain(S - 2 * (S @ U) @ U.T, chain.ring)))

    structure = null_z >= min_null_z
    clear = margin is None or margin >= min_margin_z
    pinned = ambiguity >= min_similarity
    found = bool(structure and clear and pinned)
    if not structure:
        label = "no symmetry"
        message = (f"no symmetry found: the chain scores like its own sites in random order "
                   f"(null z {null_z:.1f} < {min_null_z:g}); the data show no 1-parameter shift structure")
    elif found:
        label = "found"
        message = (f"found a symmetry: {null_z:.0f} null spreads above chance, "
                   + ("no distinct rival" if margin is None else f"rival {runner} {margin:.1f} noise units worse")
                   + (f", {int(unresolved.sum())} unresolved sign(s) moving the generator ≤ {1 - ambiguity:.3f}"
                      if unresolved.any() else ", every component's sign resolved"))
    else:
        label = "ambiguous"
        why = []
        if not clear:
            why.append(f"the distinct chain {runner} (generator cosine {runner_sim:.3f}) scores within "
                       f"{margin:.1f} noise units")
        if not pinned:
            why.append(f"{int(unresolved.sum())} principal component sign(s) are not resolved by the samples "
                       f"(a chain with some of them flipped has generator cosine {ambiguity:.3f} to this one)")
        message = "a symmetry, but not pinned down: " + "; ".join(why)
    return Verdict(found=found, settled=bool(structure), label=label, message=message, null_z=float(null_z), alignment=alignment,
                   null_alignment=null_alignment, runner_up=runner,
                   runner_up_similarity=None if runner_sim is None else float(runner_sim),
                   margin_z=None if margin is None else float(margin), unresolved=int(unresolved.sum()),
                   better_flips=int(better.sum()), ambiguity_similarity=float(ambiguity), folds=len(parts))
