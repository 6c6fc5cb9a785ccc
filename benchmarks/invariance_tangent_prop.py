"""E-JAC-2: regularising an MLP towards a symmetry through its Jacobian (tangent prop).

Bump-count task (permuted, d = 33, 6 classes). Arms, all the same MLP 33-264-264-6:
  mlp          plain cross-entropy;
  tp-true      + λ·tangent_prop(softmax f, x, A_true), A_true = log(U S Uᵀ);
  tp-disc      + λ·tangent_prop with the DISCOVERED A = crop of lens.lie_algebra_ (a SymmetryLens
               fitted on 10 000 unlabelled samples, ``LensConfig(steps=1)``, saved under runs/);
  tp-wrong     + λ·tangent_prop with a wrong A (another hidden permutation), same norm (control);
  cons-disc    + λ·consistency_penalty(softmax f, x, discovered finite group) (random element per sample).

    python benchmarks/invariance_tangent_prop.py                      # n 30 100 300 1000, 3 seeds, λ = 1
    python benchmarks/invariance_tangent_prop.py --ns 1000 --seeds 0 --weights 0.1 1 10 --out pilot

Writes experiments/invariance/<out>.{jsonl,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from invariance_common import (commit, cosine, data, discovered_lens, generators, mean_sd, measure, read_rows, train,  # noqa: E402
                               write)

from symscope.exploit import cyclic_group, mlp  # noqa: E402
from symscope.measure import consistency_penalty, tangent_prop  # noqa: E402

ARMS = ("mlp", "tp-true", "tp-disc", "tp-wrong", "cons-disc")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", type=int, nargs="+", default=[30, 100, 300, 1000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--weights", type=float, nargs="+", default=[1.0])
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--out", default="tangent-prop")
    ap.add_argument("--merge", nargs="+", metavar="NAME", help="only render the union of earlier outputs as --out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.merge:
        heads, rows = read_rows(args.merge)
        args.ns = sorted({r["n"] for r in rows})
        args.seeds = sorted({r["seed"] for r in rows})
        args.weights = sorted({r["weight"] for r in rows if r["arm"] != "mlp"})
        args.steps = rows[0]["steps"]
        table = render(rows, args, heads[0]["lens"], float("nan"), heads[0]["cost"])
        table += "\nMerged from " + ", ".join(f"`{m}` ({h['args']})" for m, h in zip(args.merge, heads)) + "\n"
        write(args.out, heads + rows, table)
        print(table)
        return
    t_start = time.perf_counter()
    gens = generators("permuted")
    lens, lens_info = discovered_lens()
    a_disc = lens.lie_algebra_.crop()
    group_disc = cyclic_group(lens.generator_, tol=1e-4, snap=True)
    lens_info.update(cos_A_disc_true=abs(cosine(a_disc, gens["A"])), group_order=group_disc.order,
                     generator_orth_error=float(np.abs(lens.generator_.T @ lens.generator_ - np.eye(33)).max()))
    print("lens:", lens_info, flush=True)
    tangents = {"tp-true": gens["A"], "tp-disc": a_disc, "tp-wrong": gens["A_wrong"]}

    def penalty_for(arm: str):
        if arm in tangents:
            a = torch.as_tensor(tangents[arm], dtype=torch.float32)
            return lambda m, xb, g: tangent_prop(m, xb, a, on="softmax", return_output=True)
        if arm == "cons-disc":
            return lambda m, xb, g: consistency_penalty(m, xb, group_disc, generator=g, on="softmax")
        return None

    timing = step_cost(penalty_for, args.weights[0])
    print("cost:", timing, flush=True)
    rows = []
    for n in args.ns:
        for seed in args.seeds:
            X, y, Xt, yt = data(n, seed, "permuted")
            for arm in args.arms:
                for w in (args.weights if arm != "mlp" else [0.0]):
                    torch.manual_seed(seed)
                    model = mlp(33, 6, width=264)
                    sec = train(model, X, y, args.steps, seed, penalty_for(arm), w)
                    row = dict(arm=arm, weight=w, n=n, seed=seed, steps=args.steps, sec_per_step=sec,
                               **measure(model, Xt, yt, gens))
                    rows.append(row)
                    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    table = render(rows, args, lens_info, time.perf_counter() - t_start, timing)
    write(args.out, [dict(lens=lens_info, commit=commit(), args=vars(args), cost=timing)] + rows, table)
    print(table)


def step_cost(penalty_for, weight: float, blocks: int = 5, steps: int = 100) -> dict:
    """Seconds per training step of each arm relative to the plain MLP, timed in alternating
    blocks of ``steps`` (so that load from other processes hits every arm alike); median of blocks."""
    X, y, _, _ = data(1000, 0, "permuted", n_test=1)
    times: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for _ in range(blocks):
        for arm in ARMS:
            torch.manual_seed(0)
            times[arm].append(train(mlp(33, 6, width=264), X, y, steps, 0, penalty_for(arm), weight))
    med = {arm: float(np.median(t)) for arm, t in times.items()}
    return {arm: dict(sec_per_step=med[arm], ratio_to_mlp=med[arm] / med["mlp"]) for arm in ARMS}


def render(rows: list[dict], args: argparse.Namespace, lens_info: dict, wall: float, timing: dict) -> str:
    keys = sorted({(r["arm"], r["weight"]) for r in rows}, key=lambda k: (ARMS.index(k[0]), k[1]))
    out = [f"E-JAC-2 tangent prop (commit {commit()}; `python benchmarks/invariance_tangent_prop.py "
           f"--ns {' '.join(map(str, args.ns))} --seeds {' '.join(map(str, args.seeds))} "
           f"--weights {' '.join(map(str, args.weights))} --steps {args.steps}`; {'%.0f s wall' % wall if wall == wall else 'merged runs'}, 1 thread)\n",
           f"Discovered lens: {lens_info}\n"]
    for metric, fmt in (("acc", ".3f"), ("discrete_tv", ".3f"), ("lee_true_sq", ".3g"), ("sec_per_step", ".4f")):
        out.append(f"\n{metric} (mean ± sd over seeds)\n")
        out.append("| arm | λ | " + " | ".join(f"n = {n}" for n in args.ns) + " |")
        out.append("|---|---|" + "---|" * len(args.ns))
        for arm, w in keys:
            cells = [mean_sd([r[metric] for r in rows if (r["arm"], r["weight"], r["n"]) == (arm, w, n)], fmt)
                     for n in args.ns]
            out.append(f"| {arm} | {w:g} | " + " | ".join(cells) + " |")
    out.append("\nStep cost relative to the plain MLP (alternating blocks of 100 steps, median of 5, batch 64, n = 1000)\n")
    out.append("| arm | s / step | × MLP |\n|---|---|---|")
    out += [f"| {arm} | {t['sec_per_step']:.4f} | {t['ratio_to_mlp']:.2f} |" for arm, t in timing.items()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
