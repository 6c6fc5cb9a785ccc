"""Is a failed fit an optimisation failure or an objective failure? Compare the loss at the
learned sites with the loss at the true sites of a built-in dataset.

    python benchmarks/diagnose_sites.py runs/gaussian-permuted gaussian-permuted --seed 0

The learned sites are the rows of the run's group convolution (``group_conv.npy`` in a run
folder, or a ``.npy`` / ``.npz`` file holding it as ``C``), orthonormalised and put in chain
order exactly as the repair does; the true sites are the hidden basis of the dataset, in the same
direction and with one global sign. For each, fresh density estimators (default ``LensConfig``)
are fitted to the fixed representation, then the loss terms are averaged over the last
``--average`` steps. If the true sites score lower, the objective prefers the truth and the fit
is stuck in a local minimum; if they score higher, the objective (or its estimators) is at fault.

    python benchmarks/diagnose_sites.py runs/gaussian-shift gaussian-shift --seed 4 --anatomy

``--anatomy`` (no fitting, seconds) prints, for every learned site in chain order, where it sits
among the true sites: its position (overlap-weighted mean index), its spread (overlap-weighted
standard deviation) and its largest overlap (1.00 = exactly one true site), plus a truth-free
column: the norm of its row of the learned covariance minus the Toeplitz matrix of the median
diagonals, relative to the median site (stationarity says it should be ≈ 1 everywhere). It shows
whether a failure is a few local defects in an otherwise exact chain, a fold, or a chain whose
step is not one site.

    python benchmarks/diagnose_sites.py runs/gaussian-shift gaussian-shift --seed 4 --refine 3

``--refine R`` (about a minute) runs R rounds of the engine's truth-free local re-solve
(``symscope.discover.refine.resolve_defects``, without its judge) and prints the recovery cosine
after each: the sites whose Toeplitz residual exceeds 1.3× the median (and their neighbours) are
replaced by a rotation of their own span, fitted (LBFGS, 4 starts) so that their covariances with
every site match the autocovariance read off the other sites (second-order stationarity) while
their mean kurtosis stays high (locality); the exact sites are left untouched. Only the cosine
uses the truth. (The engine applies up to 3 such rounds after training, adds the spectral chain
and a global re-solve of every candidate, and keeps the one its held-out judge scores best; see
``discover/refine.py``.)
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
from symscope.discover.refine import resolve_defects, toeplitz_residual  # noqa: E402


def checkpoint_modules(path: Path, before_refine: bool = False):
    """The ``LensModules`` of a training checkpoint (``.pt``, e.g. from ``recovery.py --checkpoint-dir``);
    with ``before_refine`` its state as training left it, before the final refinement (``trained_modules``)."""
    import torch

    from symscope import LensConfig
    from symscope.discover.modules import LensModules

    ckpt = torch.load(path, weights_only=True, map_location="cpu")
    d = int(ckpt["modules"]["filter.psi"].shape[0])
    mods = LensModules(d, LensConfig.from_dict(ckpt["config"]), int(ckpt["seed"]))
    if before_refine and "trained_modules" not in ckpt:
        raise ValueError("this checkpoint holds no state before the final refinement (not refined yet, "
                         "or written before the engine kept it)")
    mods.load_state_dict(ckpt["trained_modules" if before_refine else "modules"])
    return mods


def learned_group_conv(path: Path, before_refine: bool = False) -> np.ndarray:
    """The group-convolution matrix C of a run folder, a ``.npy``/``.npz`` file or a training checkpoint
    (``.pt``, e.g. from ``recovery.py --checkpoint-dir``); with ``before_refine`` the checkpoint's
    state as training left it, before the engine's final refinement (``trained_modules``)."""
    if path.is_dir():
        path = path / "group_conv.npy"
    if path.suffix == ".pt":
        import torch

        mods = checkpoint_modules(path, before_refine)
        with torch.no_grad():
            return mods.group_conv().double().numpy()
    if path.suffix == ".npz":
        return np.load(path)["C"]
    return np.load(path)


def true_sites(transform: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """Rows = hidden sites, in the learned chain's direction, with one global sign."""
    sites = np.ascontiguousarray(transform.T)
    if np.trace(np.abs(learned @ sites[::-1].T)) > np.trace(np.abs(learned @ sites.T)):
        sites = np.ascontiguousarray(sites[::-1])
    return sites * np.sign(np.trace(learned @ sites.T) or 1.0)


def loss_at(sites: np.ndarray, X: np.ndarray, steps: int, average: int, seed: int) -> dict[str, float]:
    """Mean loss terms of y = X sitesᵀ after fitting fresh estimators for ``steps`` steps."""
    import torch

    from symscope import LensConfig
    from symscope.discover.modules import LensModules

    cfg = LensConfig()
    d = sites.shape[0]
    mods = LensModules(d, cfg, seed)
    Q = torch.as_tensor(sites, dtype=torch.float32)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    est = mods.estimator_parameters()
    opt = torch.optim.Adam(est, lr=cfg.estimator_lr, eps=1e-7)
    rng = torch.Generator().manual_seed(seed)
    acc: list[dict[str, float]] = []
    for s in range(steps):
        if s == int(0.8 * steps):
            for group in opt.param_groups:
                group["lr"] = cfg.estimator_lr * 0.1
        y = Xt[torch.randint(0, Xt.shape[0], (cfg.batch_size,), generator=rng)] @ Q.T
        terms = mods.terms(y, 1.0, cfg)
        for p, g in zip(est, torch.autograd.grad(terms["estimator_nll"], est)):
            p.grad = g
        opt.step()
        if s >= steps - average:
            acc.append({k: float(v.detach()) for k, v in terms.items()})
    return {k: float(np.mean([a[k] for a in acc])) for k in acc[0]}


def site_anatomy(learned: np.ndarray, truth: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
    """Per learned site (rows of ``learned``): position, spread and largest overlap among the true
    sites (rows of ``truth``), and the truth-free Toeplitz residual of its covariance row."""
    overlap = learned @ truth.T
    weight = overlap**2 / (overlap**2).sum(1, keepdims=True)
    index = np.arange(len(truth))
    position = weight @ index
    spread = np.sqrt(np.maximum(weight @ index**2 - position**2, 0.0))
    residual = toeplitz_residual(learned @ np.cov(X, rowvar=False) @ learned.T)
    return dict(position=position, spread=spread, max_overlap=np.abs(overlap).max(1), toeplitz_residual=residual)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="run folder (group_conv.npy), a .npy/.npz group-convolution file or a checkpoint .pt")
    ap.add_argument("dataset", help="built-in dataset the run was fitted on")
    ap.add_argument("--seed", type=int, default=0, help="data seed of the run (default 0)")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--steps", type=int, default=1500, help="estimator fitting steps per candidate")
    ap.add_argument("--average", type=int, default=200, help="average the loss over this many last steps")
    ap.add_argument("--anatomy", action="store_true", help="print where each learned site sits among the true "
                    "sites instead of comparing losses (no fitting)")
    ap.add_argument("--before-refine", action="store_true", help="read a checkpoint's state before the engine's "
                    "final refinement (the trained state) instead of its final state")
    ap.add_argument("--refine", type=int, metavar="ROUNDS", help="run this many rounds of the truth-free local "
                    "re-solve of non-stationary sites and print the cosine after each (experiment)")
    args = ap.parse_args(argv)
    if args.refine is not None and args.refine < 1:
        ap.error(f"--refine needs at least 1 round, got {args.refine}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from symscope import make_dataset, recovery_report
    from symscope.data import true_generator
    from symscope.discover.repair import repaired_rotation

    from symscope import DATASETS

    if args.dataset not in DATASETS:
        ap.error(f"unknown dataset {args.dataset!r}; choose one of: {', '.join(sorted(DATASETS))}")
    try:
        if args.before_refine and args.run.suffix != ".pt":
            ap.error("--before-refine needs a checkpoint (.pt)")
        C = learned_group_conv(args.run, args.before_refine)
    except (OSError, KeyError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
        ap.error(f"cannot read a group-convolution matrix from {args.run}: {exc}")
    if C.ndim != 2 or C.shape[0] != C.shape[1] or not np.isfinite(C).all():
        ap.error(f"{args.run}: expected a finite square (d, d) group-convolution matrix, got shape {C.shape}")
    d = C.shape[0]
    ds = make_dataset(args.dataset, n=args.n, d=d, seed=args.seed)
    X = (ds.X - ds.X.mean()) / ds.X.std()
    learned, _, _ = repaired_rotation(C, X[:20_000])
    truth = true_sites(ds.transform if ds.transform is not None else np.eye(d), learned)
    if args.refine:
        cosine = lambda S: recovery_report(true_generator(S.T), ds.generator).cosine  # noqa: E731
        line = [f"{cosine(learned):.4f}"]
        sites = learned
        for r in range(args.refine):
            sites, rows = resolve_defects(sites, X[:20_000], seed=r)
            line.append(f"{cosine(sites):.4f} ({len(rows)} sites)")
        print(f"{args.dataset} seed {args.seed}: cosine " + " -> ".join(line))
        return 0
    if args.anatomy:
        G = true_generator(learned.T)
        print(f"learned chain: cosine {recovery_report(G, ds.generator).cosine:.4f}")
        a = site_anatomy(learned, truth, X[:20_000])
        print("site  position  spread  max overlap  Toeplitz residual")
        for k in range(d):
            print(f"{k:>4}  {a['position'][k]:8.2f}  {a['spread'][k]:6.2f}  {a['max_overlap'][k]:11.2f}  "
                  f"{a['toeplitz_residual'][k]:17.2f}")
        return 0
    for label, sites in (("learned", learned), ("true", truth)):
        G = true_generator(sites.T)  # the shift along the chain of sites (the repair's G, cropped)
        terms = loss_at(sites, X, args.steps, args.average, args.seed)
        cos = recovery_report(G, ds.generator).cosine
        print(f"{label:>8} sites: cosine {cos:.4f}  " + "  ".join(f"{k} {v:.4f}" for k, v in terms.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
