"""E-JAC-1: how much invariance do networks learn, against the number of labelled samples n?

Bump-count task (d = 33, 6 classes; hidden transform "permuted" or "dst"). Models:
  mlp     plain MLP 33-264-264-6 (80 k parameters);
  eq-mlp  EquivariantMLP for the TRUE group {(U S Uᵀ)ᵏ} (8 channels, depth 2);
  lens    LensAdapter (fixed lens + 1-D CNN, circular padding): for "permuted" the DISCOVERED lens
          (``invariance_common.discovered_lens``, fitted on unlabelled data); for "dst" the oracle lens
          with the resolving filter ψ = U e_centre (no lens fitted on dst data here).
Measured on the fixed test set: accuracy; the *discrete* error over the 32 non-identity elements
of the true cyclic group (TV between softmax outputs, argmax flips); the Lie derivative of the
softmax outputs along A_true = log(U S Uᵀ), along a wrong A (another permutation) and 4 random
generators of the same norm (mean ‖·‖²) and the ratio true/wrong.

    python benchmarks/invariance_learned.py                       # permuted + dst, n 100 300 1000 3000, 3 seeds
    python benchmarks/invariance_learned.py --transforms permuted --ns 100 1000 --seeds 0

Writes experiments/invariance/<out>.{jsonl,md,png}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from invariance_common import (RESULTS, commit, data, discovered_lens, generators, mean_sd, measure, read_rows,  # noqa: E402
                               train, write)

from symscope.data import shift_matrix  # noqa: E402
from symscope.exploit import EquivariantMLP, LensAdapter, mlp, oracle_group_conv  # noqa: E402
from symscope.exploit.tasks import bump_count_task  # noqa: E402

MODELS = ("mlp", "eq-mlp", "lens")


def build(name: str, transform: str, gens: dict, lens) -> torch.nn.Module:
    if name == "mlp":
        return mlp(33, 6, width=264)
    if name == "eq-mlp":
        return EquivariantMLP(gens["G"], shift_matrix(33, circulant=True), 6, channels=8)
    if transform == "permuted":
        return LensAdapter(lens, 6, padding="circular")
    u = bump_count_task(1, 33, transform=transform).transform
    return LensAdapter(oracle_group_conv(gens["G"], psi=u[:, 33 // 2]), 6, padding="circular")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transforms", nargs="+", default=["permuted", "dst"], choices=["permuted", "dst"])
    ap.add_argument("--ns", type=int, nargs="+", default=[100, 300, 1000, 3000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--out", default="learned")
    ap.add_argument("--merge", nargs="+", metavar="NAME", help="only render the union of earlier outputs as --out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.merge:
        heads, rows = read_rows(args.merge)
        args.transforms = sorted({r["transform"] for r in rows}, key=["permuted", "dst"].index)
        args.ns = sorted({r["n"] for r in rows})
        args.seeds = sorted({r["seed"] for r in rows})
        args.steps = rows[0]["steps"]
        table = render(rows, args, heads[0]["lens"], float("nan"))
        table += "\nMerged from " + ", ".join(f"`{m}` ({h['args']})" for m, h in zip(args.merge, heads)) + "\n"
        write(args.out, heads + rows, table)
        plot(rows, args, RESULTS / f"{args.out}.png")
        print(table)
        return
    t0 = time.perf_counter()
    lens, lens_info = discovered_lens()
    rows = []
    for transform in args.transforms:
        gens = generators(transform)
        for n in args.ns:
            for seed in args.seeds:
                X, y, Xt, yt = data(n, seed, transform)
                for name in args.models:
                    torch.manual_seed(seed)
                    model = build(name, transform, gens, lens)
                    sec = train(model, X, y, args.steps, seed)
                    row = dict(transform=transform, model=name, n=n, seed=seed, steps=args.steps, sec_per_step=sec,
                               **measure(model, Xt, yt, gens))
                    rows.append(row)
                    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    wall = time.perf_counter() - t0
    table = render(rows, args, lens_info, wall)
    write(args.out, [dict(lens=lens_info, commit=commit(), args=vars(args), wall_s=round(wall, 1))] + rows, table)
    plot(rows, args, RESULTS / f"{args.out}.png")
    print(table)


COLUMNS = (("acc", ".3f"), ("discrete_tv", ".2g"), ("discrete_flip", ".2g"), ("lee_true_sq", ".3g"),
           ("lee_wrong_sq", ".3g"), ("lee_ratio_wrong_sq", ".3f"))


def render(rows: list[dict], args: argparse.Namespace, lens_info: dict, wall: float) -> str:
    out = [f"E-JAC-1 learned invariance (commit {commit()}; `python benchmarks/invariance_learned.py --transforms "
           f"{' '.join(args.transforms)} --ns {' '.join(map(str, args.ns))} --seeds {' '.join(map(str, args.seeds))} "
           f"--steps {args.steps}`; {'%.0f s wall' % wall if wall == wall else 'merged runs'}, 1 thread). Discovered lens: {lens_info}\n"]
    for transform in args.transforms:
        out += [f"\n**{transform}** (mean ± sd over seeds {args.seeds})\n",
                "| model | n | " + " | ".join(c for c, _ in COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
        for name in args.models:
            for n in args.ns:
                sel = [r for r in rows if (r["transform"], r["model"], r["n"]) == (transform, name, n)]
                out.append(f"| {name} | {n} | " + " | ".join(mean_sd([r[c] for r in sel], f) for c, f in COLUMNS) + " |")
    return "\n".join(out) + "\n"


def plot(rows: list[dict], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = (("acc", "test accuracy", False), ("discrete_tv", "discrete TV over the group", True),
               ("lee_true_sq", "LEE along A_true (softmax)", True), ("lee_ratio_wrong_sq", "LEE ratio true / wrong", True))
    fig, axes = plt.subplots(len(args.transforms), len(metrics), figsize=(4 * len(metrics), 3.2 * len(args.transforms)),
                             squeeze=False)
    for i, transform in enumerate(args.transforms):
        for j, (m, label, logy) in enumerate(metrics):
            ax = axes[i, j]
            for name in args.models:
                mean = [np.mean([r[m] for r in rows if (r["transform"], r["model"], r["n"]) == (transform, name, n)])
                        for n in args.ns]
                ax.plot(args.ns, np.maximum(mean, 1e-9) if logy else mean, "o-", label=name)
            ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
            ax.set(title=f"{transform}: {label}", xlabel="n train")
            if i == 0 and j == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
