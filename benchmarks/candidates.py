"""What each refinement candidate of a fit's first stage costs and scores, against the truth.

    OMP_NUM_THREADS=1 python benchmarks/candidates.py gaussian-orthogonal --seed 1
    OMP_NUM_THREADS=1 python benchmarks/candidates.py legendre-dst --seed 0 --set bandpass=False

Runs the first stage's refinement (``refine.refine`` from ``refine.initial_chain``) on a built-in
dataset made and split as ``recovery.py`` and ``SymmetryLens.fit`` make and split it (n = 50,000,
noise 0.05, standardised, ``refine_split`` 20,000 + 20,000), with the default ``RefineConfig``
(``--set field=value`` to change a field). Prints the kept candidate, the seconds each candidate
builder and step took, and for every candidate judged: its generator cosine to the truth (up to
direction), the judge's score on the held-out samples (lower is kept), the sites' mean marginal
entropy there (the judge's entropy term before its weight) and ``structure_ratio`` on
the fitting samples (≈ 1: no shift structure, so not re-solved). The truth's own judge score is the
last line. Diagnostic only: the engine never sees the truth; nothing is written to the ledger.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))


def main(argv: list[str] | None = None) -> int:
    import torch

    from symscope import RefineConfig, SymscopeInputError, make_dataset
    from symscope.discover import refine as R
    from symscope.discover.chain import Chain
    from symscope.discover.spectral import mean_marginal_entropy

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d", type=int, default=33)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="RefineConfig overrides")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        overrides = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in args.set)}
        cfg = RefineConfig(**overrides)
        ds = make_dataset(args.dataset, n=args.n, d=args.d, seed=args.seed)
    except (ValueError, SyntaxError, TypeError, SymscopeInputError) as err:
        ap.error(f"{err} (--set takes RefineConfig fields as FIELD=VALUE, VALUE a Python literal)")
    X = (ds.X - ds.X.mean()) / ds.X.std()
    fit, judge = (t.numpy().astype(np.float64)
                  for t in R.refine_split(torch.as_tensor(X, dtype=torch.float32), args.seed, 20_000))
    truth = Chain(np.ascontiguousarray(ds.transform.T))
    times: dict[str, float] = {}

    def timed(key: str, fn):  # wraps a builder or a step, recording its seconds
        def run(*a):
            start = time.perf_counter()
            out = fn(*a)
            times[key] = times.get(key, 0.0) + time.perf_counter() - start
            return out
        return run

    saved = dict(R.CANDIDATES), dict(R.STEPS)
    R.CANDIDATES.update({k: (sw, timed(k, b)) for k, (sw, b) in saved[0].items()})
    R.STEPS.update({k: (sw, timed(k, b)) for k, (sw, b) in saved[1].items()})
    try:
        start = time.perf_counter()
        chain, report = R.refine(R.initial_chain(fit), fit, judge, cfg, seed=args.seed)
        total = time.perf_counter() - start
    finally:
        R.CANDIDATES.update(saved[0])
        R.STEPS.update(saved[1])
    print(f"{args.dataset} seed {args.seed} d {args.d}: kept {report.label}, cosine "
          f"{chain.symmetry_similarity(truth):.4f}, {total:.1f} s")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    print(f"{'candidate':28s} {'cosine':>7s} {'judge':>9s} {'entropy':>8s} {'structure':>9s}")
    Jc = judge - judge.mean(0)
    for label, sites in [*report.rivals, ("truth", truth.sites)]:
        print(f"{label:28s} {Chain(sites).symmetry_similarity(truth):7.4f} "
              f"{R.consistency(sites, judge, cfg.kurtosis_weight, cfg.entropy_weight):+9.4f} "
              f"{mean_marginal_entropy(Jc @ sites.T):8.4f} {R.structure_ratio(sites, fit):9.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
