"""E-JAC-3: Jacobian symmetry spectra of trained networks where the truth is known.

(i) O(5)-invariant regression (EMLP's O5Synthetic, LieGG's benchmark): x = (x₁, x₂) ∈ R¹⁰,
    x ~ N(0, I), y = sin‖x₁‖ − ‖x₂‖³/2 + x₁·x₂/(‖x₁‖‖x₂‖), invariant under O(5) acting on both
    halves. An MLP 10-256-256-1 (SiLU) is trained per seed (default n = 5000, 4000 Adam steps, batch 256,
    standardised targets); ``jacobian_symmetry_spectrum`` over so(10) on 500 fresh points must find
    dim 10 (the diagonal so(5)) with gap ratio ≥ 8 and Grassmann distance ≤ 0.1 to the truth.
(ii) Bump task (permuted, d = 33): an MLP 33-264-264-6 per seed (n = 1000, 1500 steps); the spectrum
    of its softmax outputs over all of so(33) (300 test samples × 6 outputs): does the true
    generator rank below a wrong one (percentile of ‖C â‖ in the spectrum), and is the Lie
    derivative ratio true/wrong < 0.3?

    python benchmarks/invariance_spectra.py                 # 10 seeds each
    python benchmarks/invariance_spectra.py --seeds 0 1 --part o5

Writes experiments/invariance/spectra.{jsonl,md,png}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import torch  # noqa: E402
from invariance_common import RESULTS, commit, data, generators, train, write  # noqa: E402

from symscope.exploit import mlp  # noqa: E402
from symscope.measure import grassmann_distance, jacobian_symmetry_spectrum, lie_derivative_report, so_basis  # noqa: E402


def o5_target(x: np.ndarray) -> np.ndarray:
    a, b = x[:, :5], x[:, 5:]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return np.sin(na) - nb**3 / 2 + np.sum(a * b, axis=1) / (na * nb)


def o5_run(seed: int, n: int = 5000, steps: int = 4000, batch: int = 256) -> tuple[dict, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 10))
    y = o5_target(x)
    mu, sd = y.mean(), y.std()
    X, Y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor((y - mu) / sd, dtype=torch.float32)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(10, 256), torch.nn.SiLU(), torch.nn.Linear(256, 256), torch.nn.SiLU(),
                              torch.nn.Linear(256, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i = torch.randint(0, n, (batch,), generator=gen)
        loss = (net(X[i]).squeeze(-1) - Y[i]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    xt = rng.standard_normal((500, 10))
    net = net.double()
    with torch.no_grad():
        pred = net(torch.as_tensor(xt)).squeeze(-1).numpy() * sd + mu
    yt = o5_target(xt)
    spec = jacobian_symmetry_spectrum(net, torch.as_tensor(xt), basis="so")
    truth = np.stack([scipy.linalg.block_diag(e, e) for e in so_basis(5)])
    both = np.stack([scipy.linalg.block_diag(e, np.zeros((5, 5))) for e in so_basis(5)]
                    + [scipy.linalg.block_diag(np.zeros((5, 5)), e) for e in so_basis(5)])  # so(5) ⊕ so(5), dim 20
    found = spec.generators
    dist = grassmann_distance(found, truth) if spec.dim > 0 else float("nan")
    dist20 = grassmann_distance(np.einsum("rk,kab->rab", spec.vt[-20:], spec.basis), both)
    s = spec.singular_values
    # the cut the truth implies (35 constrained, 10 null) and its ratio, whatever the rule found
    row = dict(part="o5", seed=seed, test_rel_mse=float(np.mean((pred - yt) ** 2) / np.var(yt)), dim=spec.dim,
               gap_ratio=spec.gap_ratio, rule=spec.rule, ratio_at_true_cut=float(s[34] / s[35]),
               grassmann=dist, grassmann_at_true_dim=grassmann_distance(
                   np.einsum("rk,kab->rab", spec.vt[-10:], spec.basis), truth),
               grassmann_20_to_so5_so5=dist20, ratio_at_cut_25=float(s[24] / s[25]),
               s_null_max=float(s[35]), s_kept_min=float(s[34]))
    return row, s


def bump_run(seed: int, gens: dict, n: int = 1000, steps: int = 1500) -> tuple[dict, np.ndarray, float, float]:
    X, y, Xt, yt = data(n, seed, "permuted")
    torch.manual_seed(seed)
    net = mlp(33, 6, width=264)
    train(net, X, y, steps, seed)
    with torch.no_grad():
        acc = float((net(Xt).argmax(-1) == yt).float().mean())
    xp = Xt[:300]
    spec = jacobian_symmetry_spectrum(net, xp, basis="so", on="softmax")
    lee = lie_derivative_report(net, xp, gens["A"], wrong=[gens["A_wrong"]], n_random=4, on="softmax")
    pt, pw = spec.percentile(gens["A"]), spec.percentile(gens["A_wrong"])
    row = dict(part="bump", seed=seed, acc=acc, pct_true=pt, pct_wrong=pw, lee_ratio_true_wrong=lee.ratio_wrong_sq,
               lee_ratio_true_random=lee.ratio_random_sq, dim=spec.dim, gap_ratio=spec.gap_ratio, rule=spec.rule,
               n_rows=spec.n_rows)
    return row, spec.singular_values, spec.residual(gens["A"]), spec.residual(gens["A_wrong"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--part", choices=("o5", "bump", "both"), default="both")
    ap.add_argument("--o5-n", type=int, default=5000, help="O(5) training samples")
    ap.add_argument("--o5-steps", type=int, default=4000)
    ap.add_argument("--o5-batch", type=int, default=256)
    ap.add_argument("--out", default="spectra")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows, o5_s, bump_s = [], [], []
    if args.part in ("o5", "both"):
        for seed in args.seeds:
            row, s = o5_run(seed, args.o5_n, args.o5_steps, args.o5_batch)
            rows.append(row)
            o5_s.append(s)
            print(row, flush=True)
    if args.part in ("bump", "both"):
        gens = generators("permuted")
        for seed in args.seeds:
            row, s, rt, rw = bump_run(seed, gens)
            rows.append(row)
            bump_s.append((s, rt, rw))
            print(row, flush=True)
    wall = time.perf_counter() - t0
    table = render(rows, args, wall)
    write(args.out, [dict(commit=commit(), args=vars(args), wall_s=round(wall, 1))] + rows, table)
    plot(o5_s, bump_s, RESULTS / f"{args.out}.png")
    print(table)


def render(rows: list[dict], args: argparse.Namespace, wall: float) -> str:
    out = [f"E-JAC-3 Jacobian spectra (commit {commit()}; `python benchmarks/invariance_spectra.py --part {args.part} "
           f"--seeds {' '.join(map(str, args.seeds))} --o5-n {args.o5_n} --o5-steps {args.o5_steps} --o5-batch {args.o5_batch}`; "
           f"{wall:.0f} s wall, 1 thread)\n"]
    o5 = [r for r in rows if r["part"] == "o5"]
    if o5:
        out += [f"(i) O(5) regression (MLP trained on n = {args.o5_n}, {args.o5_steps} Adam steps, batch {args.o5_batch}), "
                "so(10) basis, 500 fresh points; truth: dim 10\n",
                "| seed | test rel. MSE | dim found | gap ratio | rule | s₃₅/s₃₆ (true cut) | s₂₅/s₂₆ | "
                "Grassmann(found, diag so(5)) | Grassmann(10 most null, diag so(5)) | Grassmann(20 most null, so(5)⊕so(5)) |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in o5:
            out.append(f"| {r['seed']} | {r['test_rel_mse']:.4f} | {r['dim']} | {r['gap_ratio']:.3g} | {r['rule']} | "
                       f"{r['ratio_at_true_cut']:.3g} | {r['ratio_at_cut_25']:.3g} | {r['grassmann']:.3g} | "
                       f"{r['grassmann_at_true_dim']:.3g} | {r['grassmann_20_to_so5_so5']:.3g} |")
        ok = sum(r["dim"] == 10 and r["gap_ratio"] >= 8 and r["grassmann"] <= 0.1 for r in o5)
        out.append(f"\ndim = 10 with gap ≥ 8 and Grassmann ≤ 0.1 on {ok}/{len(o5)} seeds (target ≥ 9/10).\n")
    bump = [r for r in rows if r["part"] == "bump"]
    if bump:
        out += ["(ii) bump task (permuted), MLP n = 1000, so(33) basis (528), 300 samples × 6 softmax outputs\n",
                "| seed | test acc | pct(A_true) | pct(A_wrong) | LEE ratio true/wrong | LEE ratio true/random | dim found | gap | rule |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in bump:
            out.append(f"| {r['seed']} | {r['acc']:.3f} | {r['pct_true']:.1f} | {r['pct_wrong']:.1f} | "
                       f"{r['lee_ratio_true_wrong']:.3f} | {r['lee_ratio_true_random']:.4f} | {r['dim']} | "
                       f"{r['gap_ratio']:.3g} | {r['rule']} |")
        ok = sum(r["pct_true"] < r["pct_wrong"] and r["lee_ratio_true_wrong"] < 0.3 for r in bump)
        out.append(f"\npct(A_true) < pct(A_wrong) and LEE ratio < 0.3 on {ok}/{len(bump)} seeds (target ≥ 9/10).\n")
    return "\n".join(out) + "\n"


def plot(o5_s: list, bump_s: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p, data in (("o5", o5_s), ("bump", bump_s)) if data]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    axes = dict(zip(panels, axes[0]))
    if o5_s:
        ax = axes["o5"]
        for s in o5_s:
            ax.semilogy(np.arange(1, len(s) + 1), np.maximum(s, 1e-12), ".-", lw=0.6, ms=3)
        ax.axvline(35.5, color="k", ls=":", lw=1)
        ax.set(title="O(5) regression: spectrum over so(10)", xlabel="index (descending)", ylabel="singular value")
        ax.text(36, ax.get_ylim()[1] * 0.3, "true null\nspace (10)", fontsize=8)
    if bump_s:
        ax = axes["bump"]
        s, rt, rw = bump_s[0]
        ax.semilogy(np.arange(1, len(s) + 1), np.maximum(s, 1e-12), "-", color="gray", lw=1, label="so(33) spectrum, seed 0")
        ax.axhline(rt, color="tab:green", label=f"‖C â‖, A_true ({100 * np.mean(s < rt):.0f}th pct)")
        ax.axhline(rw, color="tab:red", label=f"‖C â‖, A_wrong ({100 * np.mean(s < rw):.0f}th pct)")
        ax.set(title="bump task MLP: all of so(33)", xlabel="index (descending)", ylabel="singular value")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
