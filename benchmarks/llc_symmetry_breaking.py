"""E-LLC-1: the LLC as a cyclic-shift symmetry of the data is broken, and added back by augmentation.

    .venv/bin/python benchmarks/llc_symmetry_breaking.py            # sweep + analysis
    .venv/bin/python benchmarks/llc_symmetry_breaking.py --only dln2 --n 1000   # one shard (appends)
    .venv/bin/python benchmarks/llc_symmetry_breaking.py --analyse  # tables + plots from the JSONL

Data: x ~ N(0, I₁₂); T = cyclic shift by 3 on 12 pixels (order 4), Fix(T) = period-3 signals
(dimension 3), P = ¼ Σ_j T^j. Teacher W_ε = A P + ε B: A P = U₁ diag(s) V₁ᵀ with V₁ a basis of
Fix(T) and s ∈ [0.75, 1.25]; B = U₂ V₂ᵀ with V₂ ⊥ Fix(T) (so BP = 0) and U₂ ⊥ U₁ — the three
breaking singular values are exactly ε. y = W_ε x + N(0, I₆).
Models (trained to w*): linear 12→6 (regular, λ = 36 at every ε); DLN 12-6-6 (λ = 27 at ε = 0,
36 for ε > 0); DLN 12-6-6-6 (26 → 36); the invariant-constrained DLN (first layer an
EquivariantLinear with W₁T = W₁, 18 + 36 parameters: λ = Aoyagi([3,6,6], 3) = 9 at every ε).
SGLD: localization 1 (10 for DLN 12-6-6-6, as ``calibrate_llc`` recommends for it: see
``llc_calibration.py --sweep``), nβ = n/ln n, lr = 0.0435/nβ (= 3e-4 at n = 1000), 4 chains × 1500 steps.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

import llc_common as lc
from symscope.measure import dln_learning_coefficient, estimate_llc, llc_susceptibility

EPS = [0.0, 0.03, 0.1, 0.2, 0.4, 1.0]
NS = [300, 1000, 3000]
LR_NBETA = 0.0435
SGLD = dict(localization=1.0, num_chains=4, num_steps=1500, burnin=0.25)
THEORY = {"linear": (36.0, 36.0), "dln2": (dln_learning_coefficient([12, 6, 6], 3)[0], 36.0),
          "dln3": (dln_learning_coefficient([12, 6, 6, 6], 3)[0], 36.0),
          "invariant": (dln_learning_coefficient([3, 6, 6], 3)[0], dln_learning_coefficient([3, 6, 6], 3)[0])}
#: which models run at which n / seeds / ε (the grid actually run; see docs/llc.md)
GRID = {"linear": dict(ns=[1000], seeds=[0], eps=EPS), "dln2": dict(ns=NS, seeds=[0, 1, 2], eps=EPS, seeds_at={3000: [0]}),
        "dln3": dict(ns=NS, seeds=[0], eps=EPS, localization=10.0), "invariant": dict(ns=[1000], seeds=[0, 1], eps=[0.0, 0.2, 1.0])}


def shift(d: int = 12, k: int = 3) -> np.ndarray:
    return np.roll(np.eye(d), k, axis=0)


def teacher(eps: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(W_ε, T); the symmetric part and the breaking directions depend on ``seed`` only."""
    rng = np.random.default_rng(1000 + seed)
    T = shift()
    P = sum(np.linalg.matrix_power(T, j) for j in range(4)) / 4
    evals, evecs = np.linalg.eigh(P)
    V1, V2 = evecs[:, evals > 0.5], evecs[:, evals < 0.5]
    V1 = V1 @ np.linalg.qr(rng.standard_normal((3, 3)))[0]
    V2 = V2 @ np.linalg.qr(rng.standard_normal((9, 3)))[0]
    U = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    A = U[:, :3] @ np.diag(rng.uniform(0.75, 1.25, 3)) @ V1.T
    B = U[:, 3:] @ V2.T
    return A + eps * B, T


def make_model(kind: str, seed: int, T: np.ndarray) -> nn.Module:
    if kind == "linear":
        return lc.dln([12, 6], seed)
    if kind == "dln2":
        return lc.dln([12, 6, 6], seed)
    if kind == "dln3":
        return lc.dln([12, 6, 6, 6], seed)
    return lc.invariant_dln(T, seed)


def data(eps: float, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    W, T = teacher(eps, seed)
    X, y = lc.regression_data(W, n, np.random.default_rng(seed))  # same x and noise for every ε
    return X, y, T


def sweep(kinds: list[str], ns: list[int] | None, out: str, seeds: list[int] | None = None) -> None:
    with (lc.RESULTS / out).open("a") as fh:
        for kind in kinds:
            g = GRID[kind]
            for n in (ns or g["ns"]):
                if n not in g["ns"]:
                    continue
                for seed in (seeds or g.get("seeds_at", {}).get(n, g["seeds"])):
                    for eps in g["eps"]:
                        X, y, T = data(eps, n, seed)
                        model = make_model(kind, seed, T)
                        lc.train(model, X, y)
                        t0 = time.time()
                        nb = n / np.log(n)
                        kw = dict(SGLD, localization=g.get("localization", SGLD["localization"]))
                        res = estimate_llc(model, (X, y), lr=LR_NBETA / nb, seed=seed, **kw)
                        row = dict(model=kind, n=n, seed=seed, eps=eps, llc=res.llc, std=res.std,
                                   lr=res.settings["lr"], localization=res.settings["localization"],
                                   healthy=res.healthy, warnings=res.diagnostics.warnings,
                                   num_params=res.settings["num_params"], phase=res.settings["phase"],
                                   seconds=time.time() - t0)
                        fh.write(json.dumps(row) + "\n")
                        fh.flush()
                        print(row, flush=True)


# ------------------------------------------------------------------------------------ augmentation
def orbit(X: torch.Tensor, y: torch.Tensor, T: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """{(T^j x, y)}: the T-augmented data, every sample with its 4 shifts."""
    Tt = torch.as_tensor(T)
    xs = [X @ torch.linalg.matrix_power(Tt, j).T for j in range(4)]
    return torch.cat(xs), y.repeat(4, 1)


def augmentation(seeds: list[int], n: int, eps: float, hs: list[float], out: str) -> None:
    """χ = dλ/dh from one run at h = 0 vs finite differences (λ̂_h − λ̂_0)/h, retraining w*_h."""
    kw = dict(localization=1.0, num_chains=8, num_steps=2000, burnin=0.25)
    nb = n / np.log(n)
    lr = LR_NBETA / nb
    with (lc.RESULTS / out).open("a") as fh:
        for seed in seeds:
            X, y, T = data(eps, n, seed)
            Xa, ya = orbit(X, y, T)
            model = make_model("dln2", seed, T)
            lc.train(model, X, y, steps=4000)
            state = {k: v.clone() for k, v in model.state_dict().items()}
            sus = llc_susceptibility(model, (X, y), (Xa, ya), n_beta=nb, lr=lr, seed=seed, **kw)
            row = dict(seed=seed, n=n, eps=eps, chi=sus.chi, chi_std=sus.std, chi_mean=sus.chi_mean,
                       chi_cov=sus.chi_cov, llc0_sus=sus.llc.llc, healthy=sus.llc.healthy)
            Xm, ym = torch.cat([X, Xa]), torch.cat([y, ya])
            for h in [0.0] + hs:
                wts = torch.cat([torch.full((n,), (1 - h) / n), torch.full((4 * n,), h / (4 * n))])
                model.load_state_dict(state)
                lc.train(model, Xm, ym, steps=1500, sample_weight=wts)
                res = estimate_llc(model, (Xm, ym), n_beta=nb, lr=lr, seed=seed, sample_weight=wts, **kw)
                row[f"llc_h{h}"] = res.llc
                row[f"llc_h{h}_std"] = res.std
                row[f"healthy_h{h}"] = res.healthy
            for h in hs:
                row[f"fd_h{h}"] = (row[f"llc_h{h}"] - row["llc_h0.0"]) / h
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(row, flush=True)


# ------------------------------------------------------------------------------------ analysis
def half_way(eps: list[float], lam: list[float], level: float) -> float:
    """ε at which λ̂ first crosses ``level`` (log-linear interpolation over ε > 0)."""
    pts = [(e, v) for e, v in zip(eps, lam) if e > 0]
    for (e0, v0), (e1, v1) in zip(pts[:-1], pts[1:]):
        if (v0 - level) * (v1 - level) <= 0 and v1 != v0:
            t = (level - v0) / (v1 - v0)
            return float(np.exp(np.log(e0) + t * (np.log(e1) - np.log(e0))))
    return float("nan")


def analyse(sweep_file: str, aug_file: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (lc.RESULTS / sweep_file).read_text().splitlines() if line.strip()]
    # rows of an earlier DLN 12-6-6-6 shard run at γ = 1 (before calibrate_llc recommended γ = 10) are kept
    # in the JSONL as a record but not tabulated
    rows = [r for r in rows if not (r["model"] == "dln3" and r.get("localization", 1.0) != GRID["dln3"]["localization"])]
    out = [f"Command: `python benchmarks/llc_symmetry_breaking.py` (commit {lc.commit()}); grid {GRID}; "
           f"SGLD {SGLD}, lr = {LR_NBETA}/nβ. Unhealthy estimates are shown in brackets and left out of every "
           "mean, plateau, fit and ρ.", ""]
    models = [m for m in THEORY if any(r["model"] == m for r in rows)]
    # λ̂ table
    out += ["| model | n | " + " | ".join(f"ε={e:g}" for e in EPS) + " |", "|---|---|" + "---|" * len(EPS)]
    summary: dict[tuple[str, int], dict[float, float]] = {}
    for m in models:
        for n in NS:
            cells, means = [], {}
            for e in EPS:
                sel = [r for r in rows if r["model"] == m and r["n"] == n and r["eps"] == e]
                good = [r["llc"] for r in sel if r["healthy"]]
                bad = [r["llc"] for r in sel if not r["healthy"]]
                if not sel:
                    cells.append("")
                    continue
                txt = f"{np.mean(good):.1f} ± {np.std(good):.1f} ({len(good)})" if good else "—"
                if bad:
                    txt += " [" + ", ".join(f"{b:.1f}" for b in bad) + "]"
                cells.append(txt)
                if good:
                    means[e] = float(np.mean(good))
            if means:
                summary[(m, n)] = means
                out.append(f"| {m} | {n} | " + " | ".join(cells) + " |")
    out += ["", "Cells: mean ± sd over healthy seeds (count); [unhealthy values, excluded].", ""]
    # plateaus
    out += ["| model | n | theory λ(0) | λ̂(ε=0) | rel. | theory λ(∞) | λ̂(ε=1) | rel. | both within 10 % |",
            "|---|---|---|---|---|---|---|---|---|"]
    for (m, n), means in summary.items():
        t0, t1 = THEORY[m]
        e_hi = max(means)
        a, b = means.get(0.0, float("nan")), means[e_hi]
        ok = abs(a / t0 - 1) <= 0.1 and abs(b / t1 - 1) <= 0.1
        out.append(f"| {m} | {n} | {t0:g} | {a:.2f} | {100 * (a / t0 - 1):+.1f} % | {t1:g} | {b:.2f} | "
                   f"{100 * (b / t1 - 1):+.1f} % | {'yes' if ok else '**no**'} |")
    # linear flatness
    if ("linear", 1000) in summary:
        v = list(summary[("linear", 1000)].values())
        out += ["", f"Linear (regular) model, n = 1000: λ̂ ranges over [{min(v):.2f}, {max(v):.2f}] across ε, "
                f"a spread of {100 * (max(v) - min(v)) / np.mean(v):.1f} % of its mean (criterion < 5 %)."]
    # monotonicity and half-way ε
    out += ["", "| model | n | seed | Spearman ρ(ε, λ̂) | half-way ε |", "|---|---|---|---|---|"]
    fits = {}
    for m in ("dln2", "dln3"):
        halves = {}
        for n in NS:
            for seed in GRID[m].get("seeds_at", {}).get(n, GRID[m]["seeds"]):
                sel = sorted([r for r in rows if r["model"] == m and r["n"] == n and r["seed"] == seed and r["healthy"]],
                             key=lambda r: r["eps"])
                if len(sel) < 3:
                    continue
                rho = spearmanr([r["eps"] for r in sel], [r["llc"] for r in sel]).statistic
                out.append(f"| {m} | {n} | {seed} | {rho:.2f} | "
                           f"{half_way([r['eps'] for r in sel], [r['llc'] for r in sel], sum(THEORY[m]) / 2):.3f} |")
            if (m, n) in summary:
                s = summary[(m, n)]
                halves[n] = half_way(sorted(s), [s[e] for e in sorted(s)], sum(THEORY[m]) / 2)
        ok = {n: h for n, h in halves.items() if np.isfinite(h)}
        if len(ok) >= 2:
            slope = np.polyfit(np.log(list(ok)), np.log(list(ok.values())), 1)[0]
            fits[m] = (ok, slope)
    out += [""]
    for m, (ok, slope) in fits.items():
        out.append(f"{m}: half-way ε (seed-mean curve) " + ", ".join(f"n={n}: {h:.3f}" for n, h in ok.items())
                   + f"; fitted exponent {slope:.2f} (criterion in [−0.7, −0.3]).")
    # collapse plot
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    for ax, m in zip(axes, ("dln2", "dln3")):
        for n in NS:
            if (m, n) not in summary:
                continue
            s = summary[(m, n)]
            es = [e for e in sorted(s) if e > 0]
            ax.plot([e * np.sqrt(n) for e in es], [s[e] for e in es], "o-", label=f"n={n}")
        for t in THEORY[m]:
            ax.axhline(t, color="gray", ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("ε √n")
        ax.set_ylabel("λ̂")
        ax.set_title(f"{m}: λ̂ vs ε√n (dotted: theory plateaus)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(lc.RESULTS / "collapse.png", dpi=110)
    out += ["", "![collapse](collapse.png)"]
    # augmentation
    path = lc.RESULTS / aug_file
    if path.exists():
        arows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        out += ["", "Adding the symmetry back (DLN 12-6-6, T-augmentation fraction h):", "",
                "| seed | n | ε | χ (one run at h=0) ± sd | χ_mean | χ_cov | FD h=0.1 | FD h=0.2 | λ̂(0) | sign ok | "
                "χ vs FD(0.1) within 30 % |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in arows:
            fd1, fd2 = r.get("fd_h0.1", float("nan")), r.get("fd_h0.2", float("nan"))
            sign = r["chi"] < 0 and fd1 < 0
            close = abs(r["chi"] - fd1) <= 0.3 * abs(fd1)
            out.append(f"| {r['seed']} | {r['n']} | {r['eps']} | {r['chi']:.2f} ± {r['chi_std']:.2f} | "
                       f"{r['chi_mean']:.2f} | {r['chi_cov']:.2f} | {fd1:.2f} | {fd2:.2f} | {r['llc_h0.0']:.2f} | "
                       f"{'yes' if sign else 'no'} | {'yes' if close else 'no'} |")
    text = "\n".join(out) + "\n"
    (lc.RESULTS / "symmetry_breaking.md").write_text(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(GRID) + ["augment"], help="run only these shards")
    ap.add_argument("--n", type=int, nargs="+", help="restrict the sweep to these n")
    ap.add_argument("--seeds", type=int, nargs="+", help="restrict the sweep to these seeds")
    ap.add_argument("--analyse", action="store_true", help="only rebuild the tables and the plot")
    ap.add_argument("--aug-eps", type=float, default=0.2)
    ap.add_argument("--aug-seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    lc.setup()
    if not args.analyse:
        kinds = [k for k in (args.only or list(GRID) + ["augment"]) if k != "augment"]
        sweep(kinds, args.n, "symmetry_breaking.jsonl", args.seeds)
        if args.only is None or "augment" in args.only:
            augmentation(args.aug_seeds, 1000, args.aug_eps, [0.1, 0.2], "augmentation.jsonl")
    print(analyse("symmetry_breaking.jsonl", "augmentation.jsonl"))


if __name__ == "__main__":
    main()
