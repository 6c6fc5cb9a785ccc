"""Which parts of the true chain do the data identify? Sign flips of the highest frequencies, at the truth.

    python benchmarks/identifiability.py gaussian-shift legendre-shift legendre-permuted legendre-dst --seeds 0 1

Why. On the Legendre datasets no run reaches cosine 0.98 (docs/benchmarks.md). This asks whether
that is a search failure or a limit of what the samples say. It starts from the *true* sites U
(read off the hidden basis; an oracle) and writes them in frequencies, ``U = W·M·Vᵀ`` (W the DST-I
basis, V the eigenvectors of the sample covariance, M ≈ signed permutation). Flipping the signs
of some of the k highest-frequency components, ``U' = W·M·diag(s)·Vᵀ``, gives chains that are
exactly as second-order stationary as the truth (``U'ΣU'ᵀ = UΣUᵀ`` on the samples V comes from),
yet whose shift generator differs from the true one. For each flip this prints

* the recovery cosine of the shift along U' against the true generator (what the benchmark scores);
* the change of the refinement's judge (``consistency`` with the default ``RefineConfig`` weights,
  on held-out samples, lower = better), of the sites' mean kurtosis (locality), of their mean
  marginal entropy (``spectral.mean_marginal_entropy``), and of a fourth-order stationarity statistic (the spread
  over interior sites of E[y_i³ y_{i+1}] + E[y_i y_{i+1}³], standardised sites; 0 for a
  stationary chain, so higher = less stationary), all relative to the truth, on held-out samples;
* with ``--resolve ITERS``, the cosine after the engine's global re-solve (``polish_sites`` on
  the fit samples) of each chain, the truth included: where a search that found the right
  frequencies would end;
* the variance of the k highest-frequency principal components over the noise floor (the
  smallest eigenvalue), and, as the scale of sampling noise, how much the truth's own statistics
  differ between the two halves of the held-out samples.

If a flip lowers the cosine but none of the statistics moves beyond its spread between draws,
the samples do not identify that part of the generator with any of these statistics.
Data as ``recovery.py`` makes them (n = 50,000, noise 0.05, standardised) and split as the
refinement splits them (``refine_split``: 20,000 to fit, V, and 20,000 held out). Each row is a
ledger record (``method: identifiability``, ``benchmarks/results/runs.jsonl``); the tables are
printed here and drawn into docs/benchmarks.md by ``benchmarks/report.py``. Nothing here is part
of the engine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402
import sweep  # noqa: E402


def fourth_order_spread(Y: np.ndarray, margin: int = 4) -> float:
    """Spread over interior sites of E[y_i³ y_{i+1}] + E[y_i y_{i+1}³] (standardised columns of Y)."""
    Z = (Y - Y.mean(0)) / Y.std(0)
    a, b = Z[:, :-1], Z[:, 1:]
    inner = slice(margin, Z.shape[1] - 1 - margin)
    return float(np.std((a**3 * b).mean(0)[inner]) + np.std((a * b**3).mean(0)[inner]))


def flips(name: str, seed: int, ks: list[int], draws: int, n: int, noise: float, d: int,
          resolve: int = 0) -> list[dict]:
    """One row per (k, draw): the sign flips of the truth's k highest frequencies and what they change;
    with ``resolve`` > 0 also the cosine after the engine's global re-solve of the flipped chain."""
    import torch

    from symscope import RefineConfig, make_dataset, recovery_report
    from symscope.data import true_generator
    from symscope.data.actions import dst_matrix
    from symscope.discover.refine import consistency, polish_sites, refine_split
    from symscope.discover.spectral import mean_kurtosis, mean_marginal_entropy

    ds = make_dataset(name, n=n, d=d, seed=seed, noise=noise)
    X = (ds.X - float(ds.X.mean())) / float(ds.X.std())
    fit, judge = (a.numpy() for a in refine_split(torch.as_tensor(X), seed, 20_000))
    fit = fit - fit.mean(0)
    lam, V = np.linalg.eigh(np.cov(fit, rowvar=False))
    lam, V = lam[::-1], V[:, ::-1]
    W = dst_matrix(d)
    U = (ds.transform if ds.transform is not None else np.eye(d)).T  # true sites, rows in chain order
    M = W.T @ U @ V
    freq = np.abs(M).argmax(0)  # the frequency of each principal component
    Jc = judge - judge.mean(0)

    cfg = RefineConfig()
    judge_of = lambda S, Xs: consistency(S, Xs, cfg.kurtosis_weight, cfg.entropy_weight)  # noqa: E731

    def measure(S: np.ndarray) -> tuple[float, float, float, float, float]:
        cos = recovery_report(true_generator(S.T), ds.generator).cosine
        Y = Jc @ S.T
        return cos, judge_of(S, judge), mean_kurtosis(Y), fourth_order_spread(Y), mean_marginal_entropy(Y)

    truth = measure(U)
    half = len(judge) // 2  # the truth's statistics on two halves of the held-out samples: their sampling noise
    halves = [h - h.mean(0) for h in (judge[:half], judge[half:])]
    a, b = (judge_of(U, h) for h in halves)
    ka, kb = (mean_kurtosis(h @ U.T) for h in halves)
    sa, sb = (fourth_order_spread(h @ U.T) for h in halves)
    ea, eb = (mean_marginal_entropy(h @ U.T) for h in halves)
    noise_halves = dict(judge=abs(a - b), kurtosis=abs(ka - kb), spread=abs(sa - sb), entropy=abs(ea - eb))
    rng = np.random.default_rng(seed)
    rows = []
    for k in ks:
        top = np.where(freq >= d - k)[0]
        seen: set[bytes] = set()
        for draw in range(draws):
            s = np.ones(d)
            for _ in range(100):  # a new pattern with at least one flip (k = 0: the truth itself)
                if not k or ((s < 0).any() and s.tobytes() not in seen):
                    break
                s[top] = rng.choice([-1.0, 1.0], len(top))
            seen.add(s.tobytes())
            flipped = W @ (M * s[None, :]) @ V.T
            cos, judge_score, kurt, spread, entropy = measure(flipped)
            resolved = (recovery_report(true_generator(polish_sites(flipped, fit, iters=resolve).T), ds.generator).cosine
                        if resolve else None)
            rows.append(dict(dataset=name, seed=seed, k=k, flips=int((s < 0).sum()), cosine=cos, resolved=resolved,
                             d_judge=judge_score - truth[1], d_kurtosis=kurt - truth[2], d_spread=spread - truth[3],
                             d_entropy=entropy - truth[4], truth_entropy=truth[4],
                             snr=np.sort(lam[top] / lam[-1])[::-1].round(2).tolist(), truth_judge=truth[1],
                             truth_kurtosis=truth[2], truth_spread=truth[3], halves=noise_halves))
            if k == 0:
                break
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--ks", nargs="+", type=int, default=[3, 6, 9, 12], help="how many highest frequencies may flip")
    ap.add_argument("--draws", type=int, default=2, help="random sign draws per k")
    ap.add_argument("--resolve", type=int, default=0, metavar="ITERS",
                    help="also re-solve each chain (polish_sites, ITERS iterations, fit samples) and score it")
    ap.add_argument("--d", type=int, default=33)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--noise", type=float, default=0.05)
    args = ap.parse_args(argv)
    if any(k < 0 or k > args.d for k in args.ks) or args.draws < 1:
        ap.error(f"--ks must lie in 0..{args.d} and --draws be >= 1")
    if any(name.endswith("-circulant") for name in args.datasets):
        ap.error("circulant datasets have no DST-I frequencies (their chain is a ring); use an open-chain dataset")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    state, mach = ledger.git_state(), ledger.machine(git=False)
    cfg = dict(ks=args.ks, draws=args.draws, resolve=args.resolve)
    records = []
    for name in args.datasets:
        for seed in args.seeds:
            start = time.perf_counter()
            rows = flips(name, seed, [0] + [k for k in args.ks if k], args.draws, args.n, args.noise, args.d,
                         args.resolve)
            wall = time.perf_counter() - start
            t = rows[0]
            for i, r in enumerate(rows[1:]):
                res = {k: v for k, v in r.items() if k not in ("dataset", "seed")}
                records.append(ledger.record("identifiability", "default", name, seed, args.d, args.n, args.noise, cfg,
                                             dict(res, draw=i, truth_resolved=t["resolved"], wall_seconds=round(wall, 1)),
                                             command=sweep.command_line("identifiability.py", argv),
                                             mach={**mach, **state}))
                ledger.append(records[-1])
    print(tables(records))
    return 0


def tables(records: list[dict]) -> str:
    """The two Markdown tables (truth per dataset × seed; every flip) of a set of identifiability records."""
    fmt = lambda x: "—" if x is None else f"{x:.3f}"  # noqa: E731
    sign = lambda x: "—" if x is None else f"{x:+.4f}"  # noqa: E731
    lines = ["| dataset | seed | k highest | flips | cosine | re-solved | Δ judge | Δ kurtosis | Δ 4th-order spread "
             "| Δ entropy |", "|---|---|---|---|---|---|---|---|---|---|"]
    truth, seen = [], set()
    widest = {}  # the snr of the largest k per dataset × seed
    for r in records:
        if r["k"] >= widest.get((r["dataset"], r["seed"]), {}).get("k", -1):
            widest[r["dataset"], r["seed"]] = r
    for r in records:
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['k']} | {r['flips']} | {r['cosine']:.3f} | {fmt(r['resolved'])} "
                     f"| {r['d_judge']:+.4f} | {r['d_kurtosis']:+.3f} | {r['d_spread']:+.4f} | {sign(r.get('d_entropy'))} |")
        if (r["dataset"], r["seed"]) not in seen:
            seen.add((r["dataset"], r["seed"]))
            h = r["halves"]
            entropy = "—" if "entropy" not in h else f"{h['entropy']:.4f}"
            truth.append(f"| {r['dataset']} | {r['seed']} | {r['truth_judge']:.4f} | {r['truth_kurtosis']:.2f} | "
                         f"{fmt(r['truth_resolved'])} | {h['judge']:.4f} / {h['kurtosis']:.3f} / {h['spread']:.4f} / "
                         f"{entropy} | "
                         f"{' '.join(f'{x:.2f}' for x in widest[r['dataset'], r['seed']]['snr'])} |")
    return ("Truth (no flips) on the held-out samples, and the variance of the highest-frequency principal "
            "components over the noise floor (largest k, highest variance first):\n\n"
            "| dataset | seed | judge | mean kurtosis | re-solved | between held-out halves: judge / kurtosis / "
            "spread / entropy | PC variance / noise floor |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(truth) + "\n\nSign flips of the truth's highest frequencies (Δ = flipped − truth, "
            "held-out samples; judge (the engine's at the record's commit) lower = better, kurtosis higher = more "
            "local, spread lower = more stationary, entropy (mean marginal entropy of the sites) lower = sparser):"
            "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
