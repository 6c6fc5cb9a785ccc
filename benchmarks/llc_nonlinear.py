"""E-LLC-3 (exploratory, scaled down): ReLU networks on the broken-shift task — orderings only.

    .venv/bin/python benchmarks/llc_nonlinear.py

The E-LLC-1 data (x ~ N(0, I₁₂), y = (A P + ε B) x + N(0, I₆), T = shift by 3) at ε ∈ {0, 1}.
Models: a ReLU MLP 12-6-6 with biases (120 parameters) and the invariant-constrained ReLU network
(first layer an EquivariantLinear with W₁T = W₁ plus a bias, ReLU, Linear 6→6: 66 parameters).
No closed form. Hypotheses: λ̂_MLP(ε = 1) > λ̂_MLP(ε = 0); λ̂_invariant < λ̂_MLP at ε = 0. Each estimate
is made under two SGLD settings (lr 3e-4, γ 1) and (lr 1e-4, γ 10); an ordering counts as stable when
it holds under both. Unhealthy estimates are flagged and left out of every comparison.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch
from torch import nn

import llc_common as lc
from llc_symmetry_breaking import data
from symscope.exploit import EquivariantLinear
from symscope.measure import estimate_llc

SETTINGS = {"A: lr 3e-4, γ 1": dict(lr=3e-4, localization=1.0), "B: lr 1e-4, γ 10": dict(lr=1e-4, localization=10.0)}
COMMON = dict(num_chains=4, num_steps=1500, burnin=0.25)
SEEDS = [0]  # one seed: the CPU budget of this run (see docs/llc.md)


def model(kind: str, seed: int, T: np.ndarray) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "MLP":
        return nn.Sequential(nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 6))
    return nn.Sequential(EquivariantLinear(np.eye(6)[None], T[None], bias=True), nn.ReLU(), nn.Linear(6, 6))


def main() -> None:
    lc.setup()
    rows = []
    n = 1000
    for seed, eps, kind in itertools.product(SEEDS, [0.0, 1.0], ["MLP", "invariant"]):
        X, y, T = data(eps, n, seed)
        m = model(kind, seed, T)
        lc.train(m, X, y, steps=4000)
        for name, kw in SETTINGS.items():
            t0 = time.time()
            res = estimate_llc(m, (X, y), seed=seed, **kw, **COMMON)
            rows.append(dict(seed=seed, eps=eps, model=kind, setting=name, llc=res.llc, std=res.std, healthy=res.healthy,
                             warnings=res.diagnostics.warnings, num_params=res.settings["num_params"],
                             seconds=time.time() - t0))
            print(rows[-1], flush=True)
    lc.write_jsonl("nonlinear.jsonl", rows)
    lines = [f"Command: `python benchmarks/llc_nonlinear.py` (commit {lc.commit()}); n = {n}, {COMMON}.", "",
             "| seed | ε | model | params | " + " | ".join(SETTINGS) + " |", "|---|---|---|---|---|---|"]
    get = {(r["seed"], r["eps"], r["model"], r["setting"]): r for r in rows}
    for seed, eps, kind in itertools.product(SEEDS, [0.0, 1.0], ["MLP", "invariant"]):
        cells = []
        for s in SETTINGS:
            r = get[(seed, eps, kind, s)]
            txt = f"{r['llc']:.2f} ± {r['std']:.2f}"
            cells.append(txt if r["healthy"] else f"[{txt}, unhealthy: {'; '.join(r['warnings'])}]")
        lines.append(f"| {seed} | {eps:g} | {kind} | {get[(seed, eps, kind, next(iter(SETTINGS)))]['num_params']} | "
                     + " | ".join(cells) + " |")

    def holds(a: tuple, b: tuple, s: str) -> str:
        ra, rb = get[a + (s,)], get[b + (s,)]
        if not (ra["healthy"] and rb["healthy"]):
            return "n/a (unhealthy)"
        return "yes" if ra["llc"] < rb["llc"] else "no"

    lines += ["", "| seed | ordering | " + " | ".join(SETTINGS) + " |", "|---|---|---|---|"]
    for seed in SEEDS:
        lines.append(f"| {seed} | MLP: λ̂(ε=0) < λ̂(ε=1) | "
                     + " | ".join(holds((seed, 0.0, "MLP"), (seed, 1.0, "MLP"), s) for s in SETTINGS) + " |")
        lines.append(f"| {seed} | ε=0: λ̂(invariant) < λ̂(MLP) | "
                     + " | ".join(holds((seed, 0.0, "invariant"), (seed, 0.0, "MLP"), s) for s in SETTINGS) + " |")
    text = "\n".join(lines) + "\n"
    (lc.RESULTS / "nonlinear.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
