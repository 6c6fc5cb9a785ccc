"""E-LLC-2 (scaled down): the LLC of the invariant-constrained network with a *discovered* generator.

    .venv/bin/python benchmarks/llc_discovered.py

Data: bump signals ``gaussian-permuted-circulant``, d = 12, transform_seed 0 (a hidden pixel
permutation U; the true generator U S Uᵀ is an exact 12-cycle). SymmetryLens is fitted with
``LensConfig(steps=1, padding=0)`` — one training step, then the refinement stage (spectral chain,
re-solve, ring closure) does the work — and its generator is snapped to order 12
(``exploit.cyclic_group(..., snap=True)``). T = G³ (order 4, Fix dimension 3) for the true and the
discovered G. Regression as in E-LLC-1 with the bump signals as inputs: y = (A P + ε B) x + N(0, I₆),
P the projector onto Fix(T_true), B P = 0. Models: the constrained DLN (first layer
EquivariantLinear with W₁T = W₁) with T_true and with T_discovered (theory 9 at ε = 0), and the
unconstrained DLN 12-6-6 (27 at ε = 0, 36 at ε > 0). Criterion: λ̂(discovered) within 10 % of λ̂(true).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

import llc_common as lc
from symscope import LensConfig, SymmetryLens, make_dataset
from symscope.exploit import cyclic_group
from symscope.measure import dln_learning_coefficient, estimate_llc, frobenius_cosine

D = 12
SGLD = dict(localization=1.0, num_chains=4, num_steps=1500, burnin=0.25)


def discover(seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    ds = make_dataset("gaussian-permuted-circulant", n=4000, d=D, seed=seed, transform_seed=0)
    t0 = time.time()
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # the lens trains in float32
    try:
        lens = SymmetryLens(LensConfig(steps=1, padding=0), seed=seed, progress=False).fit(ds.X)
    finally:
        torch.set_default_dtype(old)
    fit_s = time.time() - t0
    raw = lens.generator_
    cos = max(frobenius_cosine(raw, ds.generator), frobenius_cosine(raw, ds.generator.T))
    group = cyclic_group(raw, order=D, tol=0.05, snap=True)
    g = group.generator
    if frobenius_cosine(g, ds.generator) < frobenius_cosine(g, ds.generator.T):
        g = g.T  # the lens may find either direction; T = G³ and T⁻¹ have the same fixed space anyway
    info = dict(fit_seconds=fit_s, raw_cosine=cos, snapped_cosine=frobenius_cosine(g, ds.generator),
                snapped_max_abs_err=float(np.abs(g - ds.generator).max()))
    return ds.generator, g, info


def teacher(T: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    P = sum(np.linalg.matrix_power(T, j) for j in range(4)) / 4
    evals, evecs = np.linalg.eigh((P + P.T) / 2)
    V1, V2 = evecs[:, evals > 0.5], evecs[:, evals < 0.5][:, :3]
    U = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    return U[:, :3] @ np.diag(rng.uniform(0.75, 1.25, 3)) @ V1.T + eps * U[:, 3:] @ V2.T


def constrained(T: np.ndarray, seed: int) -> tuple[nn.Module, float]:
    model = lc.invariant_dln(T, seed)
    return model, float(model[0].basis_info.gap_ratio)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--eps", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--table", action="store_true", help="only rebuild discovered.md from discovered.jsonl")
    args = ap.parse_args()
    lc.setup()
    if args.table:
        rows = [json.loads(line) for line in (lc.RESULTS / "discovered.jsonl").read_text().splitlines() if line.strip()]
        write_table(rows, args)
        return
    rows = []
    nb = args.n / np.log(args.n)
    for seed in args.seeds:
        g_true, g_disc, info = discover(seed)
        T_true, T_disc = (np.linalg.matrix_power(g, 3) for g in (g_true, g_disc))
        print("discovery", seed, info, flush=True)
        bumps = make_dataset("gaussian-permuted-circulant", n=args.n, d=D, seed=100 + seed, transform_seed=0).X
        bumps = (bumps - bumps.mean(0)) / bumps.std()
        for eps in args.eps:
            rng = np.random.default_rng(seed)
            X, y = lc.regression_data(teacher(T_true, eps, rng), args.n, rng, X=bumps)
            for label, model, gap in [("true G", *constrained(T_true, seed)), ("discovered G", *constrained(T_disc, seed)),
                                      ("DLN 12-6-6", lc.dln([12, 6, 6], seed), float("nan"))]:
                lc.train(model, X, y)
                t0 = time.time()
                res = estimate_llc(model, (X, y), lr=0.0435 / nb, seed=seed, **SGLD)
                theory = (dln_learning_coefficient([3, 6, 6], 3)[0] if label != "DLN 12-6-6"
                          else (27.0 if eps == 0 else 36.0))
                rows.append(dict(seed=seed, eps=eps, model=label, theory=theory, llc=res.llc, std=res.std,
                                 healthy=res.healthy, warnings=res.diagnostics.warnings, basis_gap_ratio=gap,
                                 num_params=res.settings["num_params"], seconds=time.time() - t0, **info))
                print(rows[-1], flush=True)
    lc.write_jsonl("discovered.jsonl", rows)
    write_table(rows, args)


def write_table(rows: list[dict], args: argparse.Namespace) -> None:
    lines = [f"Command: `python benchmarks/llc_discovered.py` (commit {lc.commit()}); d = {D}, n = {args.n}, "
             f"SGLD {SGLD}, lr = 0.0435/nβ.", "",
             "| seed | ε | model | params | theory | λ̂ ± sd | healthy | basis gap ratio | generator cosine (raw → snapped) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['eps']:g} | {r['model']} | {r['num_params']} | {r['theory']:g} | "
                     f"{r['llc']:.2f} ± {r['std']:.2f} | {'yes' if r['healthy'] else 'no'} | {r['basis_gap_ratio']:.3g} | "
                     f"{r['raw_cosine']:.4f} → {r['snapped_cosine']:.4f} |")
    lines += ["", "| seed | ε | λ̂ discovered / λ̂ true − 1 | within 10 % |", "|---|---|---|---|"]
    for seed in args.seeds:
        for eps in args.eps:
            t = next(r for r in rows if r["seed"] == seed and r["eps"] == eps and r["model"] == "true G")
            d = next(r for r in rows if r["seed"] == seed and r["eps"] == eps and r["model"] == "discovered G")
            q = d["llc"] / t["llc"] - 1
            verdict = ("yes" if abs(q) <= 0.1 else "**no**") if t["healthy"] and d["healthy"] else \
                "n/a (an estimate is unhealthy)"
            lines.append(f"| {seed} | {eps:g} | {100 * q:+.1f} % | {verdict} |")
    text = "\n".join(lines) + "\n"
    (lc.RESULTS / "discovered.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
