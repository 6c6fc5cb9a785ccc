"""E-LLC-0: λ̂ against closed-form learning coefficients.

    .venv/bin/python benchmarks/llc_calibration.py [--quick]

Cases: reduced-rank regression (Aoyagi & Watanabe), deep linear networks (Aoyagi), a regular
linear model (λ = d/2), normal-crossing potentials K = w₁^{2p₁} w₂^{2p₂} (λ = 1/(2 max p)) and the
ReLU rescaling invariance (λ̂ unchanged when one layer is scaled by α and the next by 1/α).
Writes experiments/llc/calibration.jsonl and calibration.md (criterion: |λ̂ − λ|/λ ≤ 0.10).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

import llc_common as lc
from symscope.measure import NormalCrossing, dln_learning_coefficient, estimate_llc, rrr_learning_coefficient

SGLD = dict(lr=3e-4, localization=1.0, num_chains=4, num_steps=3000, burnin=0.25)


def record(case: str, truth: float | None, res, t0: float, n: int, seed: int, ref: float | None = None) -> dict:
    """One result row (rel_err against ``truth``, or against ``ref`` when there is no closed form)."""
    base = truth if truth is not None else ref
    row = dict(case=case, truth=truth, llc=res.llc, std=res.std, rel_err=lc.rel(res.llc, base), healthy=res.healthy,
               warnings=res.diagnostics.warnings, acceptance=res.diagnostics.acceptance, seconds=time.time() - t0,
               n=n, seed=seed)
    emit(row)
    return row


def emit(row: dict) -> None:
    """Append one result to calibration.jsonl as soon as it exists."""
    with (lc.RESULTS / "calibration.jsonl").open("a") as fh:
        fh.write(json.dumps(row, default=float) + "\n")
    print(row, flush=True)


def linear_cases(n: int, seed: int, quick: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases = [("rrr", [5, 3, 5], 0), ("rrr", [5, 3, 5], 1), ("rrr", [4, 3, 8], 0), ("rrr", [8, 3, 4], 0),
             ("rrr", [3, 8, 4], 0), ("linear", [12, 6], 6), ("dln", [12, 6, 6], 3), ("dln", [12, 6, 6], 6),
             ("dln", [12, 6, 6, 6], 3), ("dln", [12, 6, 6, 6], 6)]
    if quick:
        cases = [cases[0], cases[5], cases[6]]
    rows = []
    for kind, widths, r in cases:
        W = lc.low_rank_teacher(widths[-1], widths[0], r, rng)
        X, y = lc.regression_data(W, n, rng)
        model = lc.dln(widths, seed)
        lc.train(model, X, y)
        truth = (rrr_learning_coefficient(*widths, r) if kind == "rrr" else dln_learning_coefficient(widths, r)[0])
        t0 = time.time()
        res = estimate_llc(model, (X, y), seed=seed, **SGLD)
        rows.append(record(f"{kind} {'-'.join(map(str, widths))} r={r}", truth, res, t0, n, seed))
    return rows


def normal_crossing_cases(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.standard_normal((n, 1)))
    y = torch.zeros(n, 1)
    rows = []
    for powers in [(0, 1), (1, 2), (0, 3)]:
        model = NormalCrossing(powers)
        t0 = time.time()
        res = estimate_llc(model, (X, y), seed=seed, lr=1e-3, localization=1.0, num_chains=8, num_steps=4000, burnin=0.25)
        rows.append(record(f"normal crossing p={list(powers)}", model.learning_coefficient, res, t0, n, seed))
    return rows


def relu_rescaling(n: int, seed: int) -> list[dict]:
    """Teacher: a random ReLU net 6-8-3; student 6-8-3 trained to w*; rescale (W₁,b₁)·α, W₂/α."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed + 100)
    teacher = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    X = torch.as_tensor(rng.standard_normal((n, 6)))
    with torch.no_grad():
        y = teacher(X) + torch.as_tensor(rng.standard_normal((n, 3)))
    torch.manual_seed(seed)
    student = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    lc.train(student, X, y, steps=4000)
    rows, base = [], None
    for alpha in (1.0, 0.5, 2.0):
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        model.load_state_dict(student.state_dict())
        with torch.no_grad():
            model[0].weight.mul_(alpha)
            model[0].bias.mul_(alpha)
            model[2].weight.div_(alpha)
        t0 = time.time()
        res = estimate_llc(model, (X, y), seed=seed, **SGLD)
        base = res.llc if base is None else base
        rows.append(record(f"ReLU 6-8-3 rescaled α={alpha}", None, res, t0, n, seed, ref=base))
    return rows


def sweep_report(n: int, seed: int) -> None:
    """``calibrate_llc`` on DLN 12-6-6-6 at rank 3 (the hardest linear case): lr × localization table."""
    from symscope.measure import calibrate_llc

    rng = np.random.default_rng(seed)
    X, y = lc.regression_data(lc.low_rank_teacher(6, 12, 3, rng), n, rng)
    model = lc.dln([12, 6, 6, 6], seed)
    lc.train(model, X, y)
    t0 = time.time()
    rep = calibrate_llc(model, (X, y), lrs=(1e-4, 3e-4, 1e-3), localizations=(1.0, 10.0), num_steps=1500,
                        num_chains=4, seed=seed)
    text = (f"Command: `python benchmarks/llc_calibration.py --sweep` (commit {lc.commit()}); DLN 12-6-6-6, true rank 3, "
            f"theory λ = {dln_learning_coefficient([12, 6, 6, 6], 3)[0]:g}; n = {n}, 4 chains × 1500 steps, "
            f"{time.time() - t0:.0f} s.\n\n{rep.table()}\n\nRecommended: {rep.recommended} ({rep.reason}).\n")
    (lc.RESULTS / "calibration_sweep.md").write_text(text)
    print(text)


def markdown(rows: list[dict], commit: str, cmd: str) -> str:
    lines = [f"Command: `{cmd}` (commit {commit}); SGLD {SGLD} unless stated (normal crossing: lr 1e-3, "
             "8 chains × 4000 steps). ReLU rows: rel. change against α = 1.", "",
             "| case | n | seed | theory λ | λ̂ ± sd (chains) | rel. error | healthy | within 10 % |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        truth = "—" if r["truth"] is None else f"{r['truth']:g}"
        lines.append(f"| {r['case']} | {r['n']} | {r['seed']} | {truth} | {r['llc']:.2f} ± {r['std']:.2f} | "
                     f"{100 * r['rel_err']:+.1f} % | {'yes' if r['healthy'] else 'no'} | "
                     f"{'yes' if abs(r['rel_err']) <= 0.10 else '**no**'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="three linear cases only")
    ap.add_argument("--parts", nargs="+", default=["linear", "crossing", "relu"], choices=["linear", "crossing", "relu"],
                    help="run only these groups (rows are appended to calibration.jsonl)")
    ap.add_argument("--sweep", action="store_true", help="only the calibrate_llc sweep on DLN 12-6-6-6")
    ap.add_argument("--table", action="store_true", help="only rebuild calibration.md from calibration.jsonl")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    lc.setup()
    if args.sweep:
        sweep_report(args.n, args.seeds[0])
        return
    if not args.table:
        for seed in args.seeds:
            if "linear" in args.parts:
                linear_cases(args.n, seed, args.quick)
            if "crossing" in args.parts and not args.quick:
                normal_crossing_cases(args.n, seed)
            if "relu" in args.parts and not args.quick:
                relu_rescaling(args.n, seed)
    order = {"rrr ": 0, "line": 1, "dln ": 2, "norm": 3, "ReLU": 4}
    rows = [json.loads(line) for line in (lc.RESULTS / "calibration.jsonl").read_text().splitlines() if line.strip()]
    rows.sort(key=lambda r: (order.get(r["case"][:4], 9), r["seed"]))
    cmd = "python benchmarks/llc_calibration.py" + (f" --n {args.n}" if args.n != 1000 else "") + (
        f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds != [0] else "")
    (lc.RESULTS / "calibration.md").write_text(markdown(rows, lc.commit(), cmd))
    print(markdown(rows, lc.commit(), cmd))


if __name__ == "__main__":
    main()
