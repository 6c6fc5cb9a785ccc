"""The refinement stage: re-solve a trained chain's defects, truth-free, after training.

What and why. A chain trained on a fast schedule usually ends close to an exact chain but with
defects: local regions where each learned site mixes a few true sites, or stretches that are
right but blurred or compressed. Gradient descent does not remove them (a +1/−1 slip pair costs
locality only at its cores). They are visible without the truth: in a stationary chain the
covariance of the sites is Toeplitz. ``refine(chain, X_fit, X_judge, config)`` builds candidate
chains on ``X_fit`` and keeps the one the judge prefers on ``X_judge``.

Candidates, in the order of ``CANDIDATES`` (each entry switched by one ``RefineConfig`` field):

* ``trained``: the trained chain itself.
* ``local`` (``rounds``): when the trained chain has shift structure (``structure_ratio`` below
  ``structure``), up to ``rounds`` rounds of the local re-solve (``resolve_defects``):
  the sites whose row of the site covariance deviates from the Toeplitz matrix of median
  diagonals by > ``threshold`` × the median (and their neighbours) are replaced by a rotation of
  their own span, fitted (LBFGS, ``starts`` starts) so that their covariances with every site
  match the autocovariance read off the other sites, while their mean kurtosis stays high.
* ``spectral`` (``spectral``): the spectral chain of ``spectral.py``, re-ordered.
* ``bandpass`` (``bandpass``): the band-pass spectral chain of ``spectral.py`` (``bandpass_sites``:
  principal components assigned to frequencies by a unimodal, not monotone, spectrum), re-ordered;
  only on data of at most ``bandpass_max_d`` features (its search grows like d⁴).
* ``global`` (``polish``): one candidate per family (the trained chain with its local rounds; each
  other builder's chain) after the global re-solve (``polish_sites``): the family's best on
  ``X_fit`` among its members with shift structure (``structure_ratio`` below ``structure``; the
  most stationary candidate if none has). The global re-solve: all sites rotate jointly (S ← expm(B − Bᵀ) S) with a free autocovariance a, minimising
  ‖S Σ Sᵀ − Toeplitz(a)‖² − ``kurtosis_weight`` · mean kurtosis, ``polish_iters`` iterations.

* ``signed`` (``signs``): each globally re-solved candidate with the sign flips of its frequency
  components that lower its sites' marginal entropy (``spectral.entropy_signs``), where the
  held-out entropy drops by more than ``signs_min_gain``. A flip leaves the site covariance
  exactly as it was, so no second-order statistic (nor, on sign-changing signals, the kurtosis)
  can choose it; the generator along the chain changes with it.

The judge (``consistency``) is that objective on ``X_judge`` with a = the mean diagonals of the
candidate's site covariance, plus ``entropy_weight`` × the sites' mean marginal entropy
(Vasicek's estimator: localised sites are sparse; docs/discovery.md, "The judge"); the lowest
score is kept among the candidates whose ``Chain.symmetry_similarity`` (up to direction) to the
trained chain is ≥ ``min_similarity`` (≤ 0: no trust region). Then the steps of ``STEPS`` run on
the kept chain, each replacing it when the judge prefers the result (``signs``: when its own
held-out entropy test passes):

* ``converged`` (``converge_iters``): a kept globally re-solved chain, re-solved further.
* ``rounded`` (``project``, experimental): the kept open chain rounded to its nearest exact
  stationary chain (``stationary_projection``) and re-solved.
* ``signs`` (``signs``): the kept chain's entropy sign flips (as ``signed``), after the others.

Last, a kept chain whose two ends covary like neighbours on ``X_judge`` (``closes_ring``) is
closed into a ring (``ring``): circulant data, where an open shift along the sites scores at most
√((d−1)/d) against the cyclic generator. The refinement assumes an open chain in a padded lens;
the lens skips it for circulant padding (padding 0).

Shapes: sites (d, d) with orthonormal rows in chain order; X (n, d) standardised samples.
Written here rather than taken from a library because the constrained re-solves are specific to
this method; the optimiser is ``torch.optim.LBFGS``, the ordering ``repair.order_chain``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from .._linalg import diagonal_means, dst_matrix, lags, mean_kurtosis, num_threads
from ..config import RefineConfig
from ..measure.chain import stationarity_gap, toeplitz_residual
from .chain import Chain, read_chain, set_chain
from .spectral import bandpass_sites, entropy_signs, mean_marginal_entropy, spectral_sites

__all__ = ["CANDIDATES", "STEPS", "RefineReport", "chain_similarity", "closes_ring", "consistency", "initial_chain",
           "polish_sites",
           "refine", "refine_modules", "refine_split", "resolve_defects", "stationarity_gap", "stationary_projection",
           "structure_ratio",
           "toeplitz_residual"]

REBASE_EVERY = 100
"""LBFGS iterations between re-basings of the global re-solve (see ``polish_sites``)."""


def resolve_defects(sites: np.ndarray, X: np.ndarray, threshold: float = 1.3, kurtosis_weight: float = 0.03,
                    starts: int = 4, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """One round of the local re-solve (module docstring): (new sites, indices of re-solved sites)."""
    with num_threads(1):  # LBFGS on d × d matrices: thread overhead dominates
        return _resolve_defects(sites, X, threshold, kurtosis_weight, starts, seed)


def _resolve_defects(sites: np.ndarray, X: np.ndarray, threshold: float, kurtosis_weight: float,
                     starts: int, seed: int) -> tuple[np.ndarray, list[int]]:
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
        kurtosis = mean_kurtosis(Y @ new.T)
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
    """Cosine between the open shifts along two chains of sites, up to direction (``Chain.symmetry_similarity``)."""
    return Chain(a).symmetry_similarity(Chain(b))


def polish_sites(sites: np.ndarray, X: np.ndarray, kurtosis_weight: float = 0.03, iters: int = 500,
                 tol: float = 1e-7) -> np.ndarray:
    """Global re-solve (module docstring): the joint rotation of all ``sites`` and a free
    autocovariance a minimising ‖S Σ Sᵀ − Toeplitz(a)‖² − ``kurtosis_weight`` · mean kurtosis.

    At most ``iters`` LBFGS iterations, in legs of ``REBASE_EVERY``: after each leg the rotation
    found is absorbed into the sites and the next leg starts from the identity again (as the
    trainer re-bases G), because far from the identity the exponential map's gradient degrades
    and one long LBFGS run stalls. Stops early when a leg lowers the objective by less than ``tol``.
    """
    with num_threads(1):
        return _polish_sites(sites, X, kurtosis_weight, iters, tol)


def _polish_sites(sites: np.ndarray, X: np.ndarray, kurtosis_weight: float, iters: int, tol: float) -> np.ndarray:
    d = len(sites)
    Xc = X - X.mean(0)
    cov = np.cov(Xc, rowvar=False)
    learned = sites @ cov @ sites.T
    C, S, Y = (torch.as_tensor(a, dtype=torch.float64) for a in (cov, sites, Xc))
    lag = torch.as_tensor(lags(d))
    a = torch.tensor(diagonal_means(learned), requires_grad=True)
    previous, done = np.inf, 0
    while done < iters:
        leg = min(REBASE_EVERY, iters - done)
        B = torch.zeros(d, d, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([B, a], lr=1, max_iter=leg, line_search_fn="strong_wolfe")

        def objective() -> tuple[torch.Tensor, torch.Tensor]:
            new = torch.linalg.matrix_exp(B - B.T) @ S
            kurtosis = mean_kurtosis(Y @ new.T)
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


def consistency(sites: np.ndarray, X: np.ndarray, kurtosis_weight: float = 0.03, entropy_weight: float = 0.0) -> float:
    """The judge: ‖S Σ Sᵀ − Toeplitz(mean diagonals)‖² − ``kurtosis_weight`` · mean kurtosis
    + ``entropy_weight`` · mean marginal entropy of the sites on ``X`` (lower = more stationary and
    more local; ``spectral.mean_marginal_entropy``)."""
    Xc = X - X.mean(0)
    Y = Xc @ sites.T
    learned = sites @ np.cov(Xc, rowvar=False) @ sites.T
    a = diagonal_means(learned)
    value = float(((learned - a[lags(len(sites))]) ** 2).sum() - kurtosis_weight * float(mean_kurtosis(Y)))
    return value + (entropy_weight * mean_marginal_entropy(Y) if entropy_weight else 0.0)


def structure_ratio(sites: np.ndarray, X: np.ndarray, shuffles: int = 8, seed: int = 0) -> float:
    """How much more Toeplitz the chain's site covariance is than chance: the median over sites of
    the norm of their row of S Σ Sᵀ − Toeplitz(median diagonals), over the same for the sites in
    ``shuffles`` random orders (mean; X (n, d) samples). ≈ 1 for a chain without shift structure,
    ≪ 1 for a stationary one; medians, so that a few defective sites do not hide an exact rest."""
    learned = sites @ np.cov(X - X.mean(0), rowvar=False) @ sites.T
    idx = lags(len(sites))

    def residual(cov: np.ndarray) -> float:
        return float(np.median(np.linalg.norm(cov - diagonal_means(cov, np.median)[idx], axis=1)))

    rng = np.random.default_rng(seed)
    null = [residual(learned[np.ix_(p, p)]) for p in (rng.permutation(len(sites)) for _ in range(shuffles))]
    return residual(learned) / max(float(np.mean(null)), 1e-300)


def closes_ring(sites: np.ndarray, X: np.ndarray, margin: float = 0.5) -> bool:
    """Whether the samples close the chain into a ring: its first and last sites covary like neighbours.

    Compares the corner correlations (first–last, first–second-last, second–last sites) with what
    a ring predicts (the mean correlation at lags 1, 2, 2) and with what an open chain predicts
    (the mean correlation at long lags, d/2 … d−3); a ring when the first distance is below
    ``margin`` × the second.
    """
    d = len(sites)
    R = np.nan_to_num(np.corrcoef((X - X.mean(0)) @ sites.T, rowvar=False))
    near = np.array([np.mean(np.diagonal(R, m)) for m in (1, 2, 2)])
    far = np.mean([np.mean(np.diagonal(R, m)) for m in range(d // 2, d - 2)])
    corner = np.array([R[0, -1], R[0, -2], R[1, -1]])
    return bool(np.linalg.norm(corner - near) < margin * np.linalg.norm(corner - far))


def stationary_projection(sites: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The exact stationary chain ``W·P·Vᵀ`` nearest ``sites``, re-ordered.

    ``W`` the DST-I basis (the eigenvectors of a tridiagonal Toeplitz covariance), ``V`` the principal
    axes of ``X`` (n, d), ``P`` a signed permutation: each frequency gets the principal component
    that carries most of it in ``sites`` (``Wᵀ·sites·V``; one-to-one by
    ``scipy.optimize.linear_sum_assignment``), with that coefficient's sign. Unlike the spectral
    chain it assumes no shape of the power spectrum.
    """
    from scipy.optimize import linear_sum_assignment

    Xc = X - X.mean(0)
    _, V = np.linalg.eigh(np.cov(Xc, rowvar=False))
    W = dst_matrix(len(sites))
    M = W.T @ sites @ V
    freq, pc = linear_sum_assignment(-np.abs(M))
    P = np.zeros_like(M)
    P[freq, pc] = np.where(M[freq, pc] >= 0, 1.0, -1.0)
    return read_chain(W @ P @ V.T, X)[0]


@dataclass(frozen=True)
class RefineReport:
    """What the refinement did. ``kept``: the label of the kept candidate (``trained``, ``local2``,
    ``spectral``, ``polished-trained`` …); ``steps``: the ``STEPS`` applied to it after (in order);
    ``refined``: whether the lens changes (a candidate other than the trained chain, or a ring);
    ``ring``: the kept chain was closed; scores of the judge before (trained) and after (kept),
    the stationarity gap of both on the judging samples; ``similarity`` of the kept chain to the
    trained one; ``rounds_run`` local rounds that changed something, ``sites_resolved`` by the
    kept local candidate, ``candidates`` judged, ``outside_trust_region`` of them not eligible;
    ``sign_gain``: the held-out entropy gain of the ``signs`` step's flips (0: none tried or none helped)."""

    kept: str
    steps: tuple[str, ...]
    refined: bool
    ring: bool
    score_before: float
    score_after: float
    gap_before: float
    gap_after: float
    similarity: float
    rounds_run: int
    sites_resolved: int
    candidates: int
    outside_trust_region: int
    sign_gain: float = 0.0
    rivals: tuple[tuple[str, np.ndarray], ...] = field(default=(), repr=False, compare=False)

    @property
    def alternatives(self) -> list[tuple[str, np.ndarray]]:
        """The rivals the verdict weighs the kept chain against: every other family's chains in their
        final form. A family is a builder's chain with its re-solves (the trained chain, its local
        rounds and their re-solve are one); where a family was re-solved, its re-solved chains stand
        for it (a raw chain the engine re-solved is a start, not an answer), else its raw chains. The
        kept chain's own family (its start, its earlier re-solves) is not a rival of it."""
        own = _family(self.kept)
        groups: dict[str, list[tuple[str, np.ndarray]]] = {}
        for label, sites in self.rivals:
            if _family(label) != own:
                groups.setdefault(_family(label), []).append((label, sites))
        out = []
        for members in groups.values():
            solved = [m for m in members if m[0].startswith("polished-")]
            out += solved or members
        return out

    @property
    def label(self) -> str:
        """``kept`` with one mark per step: ``+`` converged, ``~`` rounded, ``±`` signs (as the benchmark records write it)."""
        return self.kept + "".join(STEP_MARKS[s] for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every field but ``rivals`` (``steps`` as a list)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rivals"}
        return {**out, "steps": list(self.steps)}


def _family(label: str) -> str:
    """The candidate family of a rival's label: ``polished-local2+`` → ``trained``, ``polished-bandpass~`` → ``bandpass``."""
    root = label.removeprefix("polished-").rstrip("".join(STEP_MARKS.values()))
    return "trained" if root.startswith("local") else root


@dataclass
class _Context:
    """The inputs every candidate builder and step sees."""

    start: np.ndarray
    X_fit: np.ndarray
    X_judge: np.ndarray
    cfg: RefineConfig
    seed: int
    resolved: dict[str, int]  # local candidate label → number of sites it re-solved
    sign_gain: float = 0.0  # set by the signs step


Candidates = list[tuple[str, np.ndarray]]


def _trained(ctx: _Context, so_far: Candidates) -> Candidates:
    return [("trained", ctx.start)]


def _structured(ctx: _Context, sites: np.ndarray) -> bool:
    return ctx.cfg.structure <= 0 or structure_ratio(sites, ctx.X_fit, seed=ctx.seed) < ctx.cfg.structure


def _local(ctx: _Context, so_far: Candidates) -> Candidates:
    out, sites, c = [], ctx.start, ctx.cfg
    if not _structured(ctx, sites):  # nothing local to repair in a chain without shift structure
        return out
    for r in range(c.rounds):
        sites, rows = resolve_defects(sites, ctx.X_fit, c.threshold, c.kurtosis_weight, c.starts, seed=r)
        if not rows:
            break
        out.append((f"local{r + 1}", sites))
        ctx.resolved[f"local{r + 1}"] = len(rows)
    return out


def _spectral(ctx: _Context, so_far: Candidates) -> Candidates:
    return [("spectral", read_chain(spectral_sites(ctx.X_fit, seed=ctx.seed, max_samples=10_000), ctx.X_fit)[0])]


def _bandpass(ctx: _Context, so_far: Candidates) -> Candidates:
    if ctx.X_fit.shape[1] > ctx.cfg.bandpass_max_d:
        return []
    return [("bandpass", read_chain(bandpass_sites(ctx.X_fit, seed=ctx.seed, kurtosis_weight=ctx.cfg.kurtosis_weight),
                                    ctx.X_fit)[0])]


def _global(ctx: _Context, so_far: Candidates) -> Candidates:
    """The global re-solve of one candidate per family (the trained chain and its local rounds are one
    family, every other builder's chain its own): the family's best on the fitting samples among its
    members with shift structure; the most stationary candidate when none has structure."""
    c = ctx.cfg
    ratios = [structure_ratio(s, ctx.X_fit, seed=ctx.seed) if c.structure > 0 else 0.0 for _, s in so_far]
    chosen = [k for k, r in enumerate(ratios) if c.structure <= 0 or r < c.structure] or [int(np.argmin(ratios))]
    best: dict[str, tuple[float, int]] = {}
    for k in chosen:
        label = so_far[k][0]
        family = _family(label)
        score = consistency(so_far[k][1], ctx.X_fit, c.kurtosis_weight, c.entropy_weight)
        if family not in best or score < best[family][0]:
            best[family] = (score, k)
    return [(f"polished-{so_far[k][0]}", polish_sites(so_far[k][1], ctx.X_fit, c.kurtosis_weight, c.polish_iters))
            for k in sorted(k for _, k in best.values())]


def _signed(ctx: _Context, so_far: Candidates) -> Candidates:
    """Each globally re-solved candidate with the sign flips of its frequency components that lower
    its sites' marginal entropy (``spectral.entropy_signs``), where they do on held-out samples."""
    out = []
    for label, sites in so_far:
        if label.startswith("polished-"):
            new, _ = entropy_signs(sites, ctx.X_fit, ctx.X_judge, ctx.cfg.signs_min_gain)
            if new is not None:
                out.append((f"{label}{STEP_MARKS['signs']}", new))
    return out


#: Candidate builders in order: name → (the ``RefineConfig`` field that switches it on, builder).
#: A builder gets the candidates built so far and returns new (label, sites) pairs.
CANDIDATES: dict[str, tuple[str | None, Callable[[_Context, Candidates], Candidates]]] = {
    "trained": (None, _trained),
    "local": ("rounds", _local),
    "spectral": ("spectral", _spectral),
    "bandpass": ("bandpass", _bandpass),
    "global": ("polish", _global),
    "signed": ("signs", _signed),
}


def _converged(ctx: _Context, label: str, sites: np.ndarray) -> np.ndarray | None:
    c = ctx.cfg
    if not (c.polish and label.startswith("polished-")):
        return None
    return polish_sites(sites, ctx.X_fit, c.kurtosis_weight, c.converge_iters)


def _rounded(ctx: _Context, label: str, sites: np.ndarray) -> np.ndarray | None:
    c = ctx.cfg
    if c.ring and closes_ring(sites, ctx.X_judge):  # DST-I is the basis of open chains only
        return None
    return polish_sites(stationary_projection(sites, ctx.X_fit), ctx.X_fit, c.kurtosis_weight, c.polish_iters)


def _signs(ctx: _Context, label: str, sites: np.ndarray) -> np.ndarray | None:
    new, gain = entropy_signs(sites, ctx.X_fit, ctx.X_judge, ctx.cfg.signs_min_gain)
    ctx.sign_gain = gain
    return new


#: Steps on the kept chain, in order: name → (switching field, step returning new sites or None to skip).
STEPS: dict[str, tuple[str, Callable[[_Context, str, np.ndarray], np.ndarray | None]]] = {
    "converged": ("converge_iters", _converged),
    "rounded": ("project", _rounded),
    "signs": ("signs", _signs),
}
STEP_MARKS = {"converged": "+", "rounded": "~", "signs": "±"}
#: Steps that make their own held-out decision (the judge's second-order term cannot see them).
SELF_JUDGED = {"signs"}


def refine(chain: Chain, X_fit: np.ndarray, X_judge: np.ndarray, config: RefineConfig | None = None,
           seed: int = 0, extra: Sequence[tuple[str, Chain]] = ()) -> tuple[Chain, RefineReport]:
    """Refine a trained open ``chain`` (module docstring): (kept chain, report).

    Args:
        chain: the trained chain (``Chain.from_group_conv(C, X_fit)``).
        X_fit: (n, d) standardised samples the candidates are built on.
        X_judge: (m, d) other samples the judge scores them on.
        config: the refinement settings (default ``RefineConfig()``); ``enabled`` is the lens's switch.
        seed: seed of the spectral candidate.
        extra: (label, chain) pairs from elsewhere (a fit's first stage) judged as candidates too.

    Returns:
        The kept chain (``ring`` set when closed; the trained chain when nothing changed) and the report.
    """
    cfg = RefineConfig() if config is None else config
    X_fit, X_judge = np.asarray(X_fit, dtype=np.float64), np.asarray(X_judge, dtype=np.float64)
    ctx = _Context(chain.sites, X_fit, X_judge, cfg, seed, {})
    candidates: Candidates = []
    for switch, build in CANDIDATES.values():
        if switch is None or getattr(cfg, switch):
            candidates += build(ctx, candidates)
    candidates += [(label, c.sites) for label, c in extra]
    labels = [label for label, _ in candidates]
    scores = [consistency(s, X_judge, cfg.kurtosis_weight, cfg.entropy_weight) for _, s in candidates]
    similar = [1.0] + [chain_similarity(ctx.start, s) for _, s in candidates[1:]]
    trusted = (lambda sim: True) if cfg.min_similarity <= 0 else (lambda sim: sim >= cfg.min_similarity)
    eligible = [k for k in range(len(candidates)) if trusted(similar[k])]
    best = min(eligible, key=lambda k: scores[k])
    label, kept = candidates[best]
    score, similarity, changed, steps = scores[best], similar[best], best > 0, []
    rivals = list(candidates)
    for name, (switch, step) in STEPS.items():
        new = step(ctx, label, kept) if getattr(cfg, switch) else None
        if new is None:
            continue
        rivals.append((f"{label}{STEP_MARKS[name]}", new))
        new_score = consistency(new, X_judge, cfg.kurtosis_weight, cfg.entropy_weight)
        new_similarity = chain_similarity(ctx.start, new)
        if (name in SELF_JUDGED or new_score < score) and trusted(new_similarity):
            kept, score, similarity, changed = new, new_score, new_similarity, True
            steps.append(name)
    closed = cfg.ring and closes_ring(kept, X_judge)
    local = [k for k in labels if k.startswith("local")]
    resolved = ctx.resolved.get(label.removeprefix("polished-"), 0)
    report = RefineReport(
        kept=label, steps=tuple(steps), refined=bool(changed or closed), ring=bool(closed),
        score_before=scores[0], score_after=score,
        gap_before=stationarity_gap(X_judge @ ctx.start.T), gap_after=stationarity_gap(X_judge @ kept.T),
        similarity=similarity, rounds_run=len(local), sites_resolved=resolved, candidates=len(candidates),
        outside_trust_region=len(candidates) - len(eligible), sign_gain=ctx.sign_gain,
        rivals=tuple(rivals))
    return (Chain(kept, closed) if report.refined else chain), report


def initial_chain(X: np.ndarray) -> Chain:
    """The first stage's start on standardised samples X (n, d): the coordinates as a seriated chain."""
    X = np.asarray(X, dtype=np.float64)
    return Chain(read_chain(np.eye(X.shape[1]), X)[0])


def refine_split(X: torch.Tensor, seed: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit, judge): disjoint random subsets of X (``samples`` each, at most half of X), drawn from the seed.

    Its own generator, not the training RNG: the refinement is a function of the trained state, the
    data and the seed only, so it can be re-done from a saved trained state.
    """
    perm = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(seed + 2)).to(X.device)
    k = min(samples, X.shape[0] // 2)
    return X[perm[:k]], X[perm[k : 2 * k]]


def refine_modules(mods: torch.nn.Module, X_fit: torch.Tensor, X_judge: torch.Tensor, config: RefineConfig,
                   seed: int = 0, start: Chain | None = None,
                   extra: Sequence[tuple[str, Chain]] = ()) -> tuple[Chain, RefineReport]:
    """The refinement stage on ``LensModules``: read the trained chain off their group convolution (or
    take ``start``), ``refine`` it, and set the kept chain into them (``chain.set_chain``): the
    generator is always the shift along the kept chain, also when the kept chain is the trained one."""
    fit, judge = X_fit.double().cpu().numpy(), X_judge.double().cpu().numpy()
    if start is None:
        with torch.no_grad():
            start = Chain.from_group_conv(mods.group_conv().double().cpu().numpy(), fit)
    chain, report = refine(start, fit, judge, config, seed=seed, extra=extra)
    set_chain(mods, chain)
    return chain, report
