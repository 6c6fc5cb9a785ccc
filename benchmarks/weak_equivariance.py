"""E-WEAK: what weak equivariance buys when the hidden symmetry is exact, and when it is broken.

    python benchmarks/weak_equivariance.py --quick             # the reduced grid (see QUICK below)
    python benchmarks/weak_equivariance.py                     # the full grid of issue 22
    python benchmarks/weak_equivariance.py --time-cell         # one cell, every arm, timed
    python benchmarks/weak_equivariance.py --mode input --eps 0 1 --sizes 300 3000

Task: ``broken_bump_task`` (d = 33, hidden permutation, ``transform_seed=0``), regression of
y = Σ_b (1 + ε cos(2π c_b/d)) ("target" mode) or of the count with centres ∝ 1 + ε cos ("input"
mode); y is standardised with the pool's mean and sd; NMSE = test MSE / Var(y_test) on 3000 test
samples; ``strict_floor`` = E[(y − count)²]/Var(y) is the best an exactly invariant model can do.
Every arm trains 3000 AdamW steps (lr 3e-3, cosine, weight decay 1e-4, batch 64) whatever n;
training sets are nested subsets of one pool per seed; the model seed is the same for every arm.

Arms (``ARMS``): plain MLP 33-264-264-1; MLP + augmentation by random elements of the true
cyclic group; strict ``EquivariantMLP`` (true G, 8 channels of the shift, depth 2); the discovered
lens + CNN (``LensAdapter`` on the group-convolution matrix of a ``SymmetryLens`` fit, see
``--lens``); two-phase eq → full (lr2_scale 1 and 0.3) and eq → random subspace with rank
1×, 4×, 16× the equivariant dimension per layer (Hartley basis); the residual pathway (RPP,
res penalty 1e-2, init scale 1e-3); the relaxed forms diag and posenc (J = 1), as two-phase.
All two-phase arms switch at half the steps.

Records go to ``experiments/weak_equivariance/<tag>.jsonl`` (one line per run; an
interrupted grid resumes: finished runs are skipped), and ``<tag>.md`` gets the tables and the
target verdicts (``analyse``); ``<tag>.png`` the NMSE-vs-n curves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ledger import short_commit  # noqa: E402
from symscope.data import shift_matrix  # noqa: E402
from symscope.exploit import (  # noqa: E402
    EquivariantMLP,
    LensAdapter,
    broken_bump_task,
    cyclic_group,
    load_group_conv,
    mlp,
    relax,
    set_phase,
    soft_prior_penalty,
    to_residual_pathway,
    train_two_phase,
)
from symscope.exploit.tasks import bump_count_task  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "experiments" / "weak_equivariance"
D = 33
STEPS = 3000
POOL = 3000  # training pool per (ε, seed); training sets are its nested prefixes (in a seeded order)
#: arm → (model kind, train_two_phase keywords). Groups used by the analysis below.
ARMS: dict[str, tuple[str, dict]] = {
    "mlp": ("mlp", dict(phase2=None)),
    "mlp-aug": ("mlp", dict(phase2=None, augment=True)),
    "strict": ("eq", dict(phase2=None)),
    "lens-cnn": ("lens", dict(phase2=None)),
    "2p-full": ("eq", dict(phase2="full")),
    "2p-full-lr0.3": ("eq", dict(phase2="full", lr2_scale=0.3)),
    "2p-rand-1x": ("eq", dict(phase2="random", rank_multiple=1)),
    "2p-rand-4x": ("eq", dict(phase2="random", rank_multiple=4)),
    "2p-rand-16x": ("eq", dict(phase2="random", rank_multiple=16)),
    "rpp": ("rpp", dict(phase2=None, res=1e-2)),
    "diag": ("diag", dict(phase2="relaxed")),
    "posenc": ("posenc", dict(phase2="relaxed")),
}
WEAK = ["2p-full", "2p-full-lr0.3", "2p-rand-1x", "2p-rand-4x", "2p-rand-16x", "rpp", "diag", "posenc"]
TWO_PHASE = ["2p-full", "2p-full-lr0.3", "2p-rand-1x", "2p-rand-4x", "2p-rand-16x"]
RANDOM = ["2p-rand-1x", "2p-rand-4x", "2p-rand-16x"]
#: The reduced grid of ``--quick``: 60 runs, ≈ 15 min on two processes at the per-step cost of ``--timing``.
QUICK = dict(eps=[0.0, 0.3, 1.0], sizes=[100, 1000], seeds=2, arms=["mlp", "strict", "2p-full", "rpp", "diag"])
FULL = dict(eps=[0.0, 0.1, 0.3, 1.0], sizes=[30, 100, 300, 1000, 3000], seeds=3, arms=list(ARMS))


def default_lens_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "symscope" / "weak_equivariance_lens"


def discovered_lens(cache: Path) -> np.ndarray:
    """Group-convolution matrix of a SymmetryLens fit on unlabelled bump signals (cached).

    The fit: ``SymmetryLens(LensConfig(steps=1), seed=0)`` (spectral start + refinement) on
    ``bump_count_task(8000, 33, seed=999).X``, the input distribution of the target-mode task
    (about a minute on one core); the same lens serves every ε and both modes.
    """
    f = cache / "group_conv.npy"
    if not f.exists():
        from symscope import LensConfig, SymmetryLens, recovery_report

        task = bump_count_task(8000, D, seed=999)
        t0 = time.time()
        lens = SymmetryLens(LensConfig(steps=1), seed=0, progress=False).fit(task.X)
        rep = recovery_report(lens.generator_, task.generator)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(f, lens.group_conv_)
        (cache / "fit.json").write_text(json.dumps(dict(
            seconds=time.time() - t0, config="LensConfig(steps=1)", seed=0,
            data="bump_count_task(8000, 33, seed=999).X", cosine=rep.cosine, verdict=rep.verdict)))
    return load_group_conv(f)


def build(kind: str, task, lens: np.ndarray) -> torch.nn.Module:
    if kind == "mlp":
        return mlp(D, 1, width=8 * D)
    eq = EquivariantMLP(task.generator, shift_matrix(D, circulant=True), 1, channels=8)
    if kind == "eq":
        return eq
    if kind == "rpp":
        return to_residual_pathway(eq, scale=1e-3)
    if kind in ("diag", "posenc"):
        return relax(eq, kind)
    if kind == "lens":
        return LensAdapter(lens, 1, padding="circular")
    raise ValueError(kind)


def group_augment(generator: np.ndarray):
    """x ↦ x L_gᵀ with g drawn uniformly from the cyclic group of ``generator``, per sample."""
    mats = torch.as_tensor(cyclic_group(generator).matrices, dtype=torch.float32)

    def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        g = torch.randint(0, len(mats), (len(x),), generator=gen)
        return torch.einsum("bj,bij->bi", x, mats[g])

    return augment


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def run_one(arm: str, task, idx: np.ndarray, test: slice, lens: np.ndarray, seed: int, n: int,
            y_mean: float, y_sd: float, steps: int) -> dict:
    kind, kw = ARMS[arm]
    kw = dict(kw)
    torch.manual_seed(10_000 * seed + n)
    model = build(kind, task, lens)
    X = torch.tensor(task.X, dtype=torch.float32)
    y = torch.tensor((task.y - y_mean) / y_sd, dtype=torch.float32)
    if kw.pop("augment", False):
        kw["augment"] = group_augment(task.generator)
    if "res" in kw:
        res = kw.pop("res")
        kw["penalty"] = lambda m: soft_prior_penalty(m, res=res)
    hist = train_two_phase(model, X[idx], y[idx], steps=steps, seed=seed, **kw)
    with torch.no_grad():
        pred = model(X[test]).reshape(-1)
    yt = y[test]
    nmse = float(((pred - yt) ** 2).mean() / yt.var(unbiased=False))
    return dict(arm=arm, n=n, seed=seed, nmse=nmse, trainable=list(hist.trainable),
                seconds=list(hist.seconds), gap_before=hist.max_gap(hist.gap_before),
                gap_at_switch=hist.max_gap(hist.gap_at_switch), gap_after=hist.max_gap(hist.gap_after),
                final_train_loss=hist.losses[-1][1])


def run_cells(cells: list[tuple], args, log: Path) -> None:
    """Run (eps, seed, n, arm) cells in this process, appending each record to ``log``."""
    torch.set_num_threads(1)
    lens = discovered_lens(args.lens)
    max_n = max(POOL, *args.sizes)  # one pool per (ε, seed) whatever sizes a call asks for
    pools: dict[tuple, tuple] = {}
    for eps, seed, n, arm in cells:
        key = (eps, seed)
        if key not in pools:
            task = broken_bump_task(max_n + args.n_test, D, eps, mode=args.mode, seed=1000 + seed)
            perm = np.random.default_rng(seed).permutation(max_n)  # nested training sets; test = the tail
            test = slice(max_n, max_n + args.n_test)
            yt, yi = task.y[test], task.y_invariant[test]
            floor = float(np.mean((yt - yi) ** 2) / np.var(yt))
            pools = {key: (task, perm, test, floor, float(task.y.mean()), float(task.y.std()))}
        task, perm, test, floor, mu, sd = pools[key]
        rec = run_one(arm, task, perm[:n], test, lens, seed, n, mu, sd, args.steps)
        rec.update(eps=eps, mode=args.mode, steps=args.steps, strict_floor=floor)
        with log.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(f"eps={eps} seed={seed} n={n} {arm}: nmse {rec['nmse']:.4f} ({sum(rec['seconds']):.1f} s)", flush=True)


#: timing configurations: name → (model kind, phase set before timing, set_phase keywords)
TIMED = {"mlp": ("mlp", None, {}), "strict / phase I": ("eq", None, {}), "lens-cnn": ("lens", None, {}),
         "phase II full": ("eq", "full", {}), "phase II random 1x": ("eq", "random", dict(rank_multiple=1)),
         "phase II random 4x": ("eq", "random", dict(rank_multiple=4)),
         "phase II random 16x": ("eq", "random", dict(rank_multiple=16)),
         "rpp": ("rpp", None, {}), "phase II diag": ("diag", "relaxed", {}), "phase II posenc": ("posenc", "relaxed", {})}


def time_steps(args, rounds: int = 5, steps: int = 100) -> dict[str, float]:
    """ms per training step of each configuration: the minimum over ``rounds`` interleaved rounds
    of ``steps`` steps (n = 1000, batch 64), so that load from other processes inflates it least."""
    torch.set_num_threads(1)
    lens = discovered_lens(args.lens)
    task = broken_bump_task(1000, D, 1.0, seed=1000)
    X, y = torch.tensor(task.X, dtype=torch.float32), torch.tensor(task.y - task.y.mean(), dtype=torch.float32)
    best = {k: float("inf") for k in TIMED}
    for _ in range(rounds):
        for name, (kind, phase, kw) in TIMED.items():
            torch.manual_seed(0)
            model = build(kind, task, lens)
            if phase is not None:
                set_phase(model, phase, **kw)
            pen = (lambda m: soft_prior_penalty(m, res=1e-2)) if kind == "rpp" else None
            train_two_phase(model, X, y, steps=10, phase2=None, penalty=pen)  # warm-up
            h = train_two_phase(model, X, y, steps=steps, phase2=None, penalty=pen)
            best[name] = min(best[name], 1000 * h.seconds[0] / steps)
    return best


def load(log: Path) -> list[dict]:
    """The records of ``log``, the first one per (ε, seed, n, arm) (two invocations may overlap)."""
    out: dict[tuple, dict] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        if line.strip():
            r = json.loads(line)
            out.setdefault((r["eps"], r["seed"], r["n"], r["arm"]), r)
    return list(out.values())


# ---------------------------------------------------------------------------------------- analysis
def summarise(records: list[dict]) -> dict:
    """(eps, n, arm) → dict(mean, sd, k, seconds, trainable) over seeds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["eps"], r["n"], r["arm"])].append(r)
    out = {}
    for key, rs in groups.items():
        v = np.array([r["nmse"] for r in rs])
        out[key] = dict(mean=float(v.mean()), sd=float(v.std(ddof=1)) if len(v) > 1 else 0.0, k=len(v),
                        seconds=float(np.mean([sum(r["seconds"]) for r in rs])),
                        trainable=rs[0]["trainable"], gap_after=float(np.mean([r["gap_after"] for r in rs])),
                        gap_at_switch=float(max(r["gap_at_switch"] for r in rs)),
                        floor=float(np.mean([r["strict_floor"] for r in rs])))
    return out


def _fmt(s: dict | None) -> str:
    if s is None:
        return "—"
    return f"{s['mean']:.4f} (1 seed)" if s["k"] == 1 else f"{s['mean']:.4f} ± {s['sd']:.4f}"


def _best(summ: dict, eps: float, n: int, arms: list[str]) -> tuple[str | None, dict | None]:
    cands = [(summ[(eps, n, a)]["mean"], a) for a in arms if (eps, n, a) in summ]
    if not cands:
        return None, None
    a = min(cands)[1]
    return a, summ[(eps, n, a)]


def analyse(records: list[dict]) -> str:
    """Markdown: NMSE tables per ε, timings, and the six targets of issue 22 (met / missed / not measured)."""
    summ = summarise(records)
    eps_list = sorted({k[0] for k in summ})
    sizes = sorted({k[1] for k in summ})
    arms = [a for a in ARMS if any(k[2] == a for k in summ)]
    lines: list[str] = []
    for eps in eps_list:
        floor = np.mean([v["floor"] for k, v in summ.items() if k[0] == eps])
        lines += [f"\n**ε = {eps}** (strict floor {floor:.4f}; test NMSE, mean ± sd over seeds)\n",
                  "| arm | " + " | ".join(f"n = {n}" for n in sizes) + " |",
                  "| --- |" + " --- |" * len(sizes)]
        for a in arms:
            lines.append(f"| {a} | " + " | ".join(_fmt(summ.get((eps, n, a))) for n in sizes) + " |")
    # cost table
    lines += ["\n**Cost per run** (3000 steps; mean wall seconds over all cells, trainable parameters phase I → II)\n",
              "| arm | seconds | trainable |", "| --- | --- | --- |"]
    for a in arms:
        ss = [v for k, v in summ.items() if k[2] == a]
        tr = ss[0]["trainable"]
        lines.append(f"| {a} | {np.mean([s['seconds'] for s in ss]):.1f} | {tr[0]} → {tr[1]} |")
    lines += ["\n**Targets (issue 22)**\n"]
    lines += targets(summ, eps_list, sizes)
    return "\n".join(lines) + "\n"


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def targets(summ: dict, eps_list: list[float], sizes: list[int]) -> list[str]:
    out: list[str] = []
    weak = [a for a in WEAK if any(k[2] == a for k in summ)]
    # 1. exact symmetry costs nothing
    rows, oks = [], []
    for n in [n for n in sizes if n <= 1000]:
        s = summ.get((0.0, n, "strict"))
        a, w = _best(summ, 0.0, n, weak)
        if s is None or w is None:
            continue
        tol = max(max(s["sd"], w["sd"]), 0.1 * s["mean"])
        ok = w["mean"] <= s["mean"] + tol
        oks.append(ok)
        rows.append(f"n = {n}: best weak {a} {w['mean']:.4f} vs strict {s['mean']:.4f} "
                    f"(ratio {w['mean'] / s['mean']:.2f}, allowed +{tol:.4f}) {'ok' if ok else 'MISS'}")
    out.append(f"1. ε = 0, n ≤ 1000, best weak within 1 sd or 10 % of strict: {_verdict(all(oks) if oks else None)}")
    out += [f"   - {r}" for r in rows]
    # 2. broken symmetry exploited
    rows, oks = [], []
    for eps in [e for e in eps_list if e >= 0.3]:
        for n in sizes:
            a, w = _best(summ, eps, n, weak)
            m, s = summ.get((eps, n, "mlp")), summ.get((eps, n, "strict"))
            if w is None or m is None or s is None:
                continue
            need_strict = n >= 1000
            ok = w["mean"] <= 0.85 * m["mean"] and (not need_strict or w["mean"] <= 0.85 * s["mean"])
            if n >= 1000 or n <= 300:
                oks.append(ok)
            rows.append(f"ε = {eps}, n = {n}: best weak {a} {w['mean']:.4f}; vs MLP {m['mean']:.4f} "
                        f"({100 * (1 - w['mean'] / m['mean']):+.0f} %), vs strict {s['mean']:.4f} "
                        f"({100 * (1 - w['mean'] / s['mean']):+.0f} %){'' if need_strict else ' (MLP only)'} "
                        f"{'ok' if ok else 'MISS'}")
    out.append(f"2. ε ≥ 0.3: best weak ≥ 15 % better than MLP and (n ≥ 1000) strict: {_verdict(all(oks) if oks else None)}")
    out += [f"   - {r}" for r in rows]
    # 3. crossover map
    out.append("3. Crossover ε*(n), the ε at which strict stops beating the MLP (log-ratio interpolated "
               "between grid ε), and whether the best weak arm is ≤ MLP there:")
    for n in sizes:
        pts = [(e, summ[(e, n, "strict")]["mean"] / summ[(e, n, "mlp")]["mean"]) for e in eps_list
               if (e, n, "strict") in summ and (e, n, "mlp") in summ]
        star = "never (strict wins at every ε measured)"
        for (e0, r0), (e1, r1) in zip(pts, pts[1:]):
            if r0 < 1 <= r1:
                f = -np.log(r0) / (np.log(r1) - np.log(r0))
                star = f"≈ {e0 + f * (e1 - e0):.2f} (strict/MLP {r0:.2f} at ε = {e0}, {r1:.2f} at ε = {e1})"
                break
        if pts and pts[0][1] >= 1:
            star = f"≤ {pts[0][0]} (strict/MLP {pts[0][1]:.2f} already)"
        out.append(f"   - n = {n}: ε* {star}; strict/MLP by ε: " + ", ".join(f"{e}: {r:.2f}" for e, r in pts))
    # 4. two-phase vs RPP
    rows, oks = [], []
    for (eps, n, a), r in sorted(summ.items()):
        if a != "rpp":
            continue
        t, tp = _best(summ, eps, n, [x for x in TWO_PHASE if (eps, n, x) in summ])
        if tp is None:
            continue
        ratio, tratio = tp["mean"] / r["mean"], tp["seconds"] / r["seconds"]
        ok = ratio <= 1.5 and tratio <= 0.6
        oks.append(ok)
        rows.append(f"ε = {eps}, n = {n}: {t} {tp['mean']:.4f} / RPP {r['mean']:.4f} = {ratio:.2f}×, "
                    f"time {tp['seconds']:.1f} / {r['seconds']:.1f} s = {tratio:.2f}× {'ok' if ok else 'MISS'}")
    out.append(f"4. best two-phase ≤ 1.5× RPP's NMSE at ≤ 0.6× its time, every point: {_verdict(all(oks) if oks else None)}")
    out += [f"   - {r}" for r in rows]
    # 5. random subspace rank
    out.append("5. Smallest random-subspace rank keeping ≥ 50 % of the full-space gain (gain = strict − arm), "
               "cells where the full-space gain > 0:")
    any5 = False
    for (eps, n, a), full in sorted(summ.items()):
        if a != "2p-full" or (eps, n, "strict") not in summ:
            continue
        g_full = summ[(eps, n, "strict")]["mean"] - full["mean"]
        if g_full <= 0:
            continue
        total = full["trainable"][1]
        run = [x for x in RANDOM if (eps, n, x) in summ]
        found = "none of " + ", ".join(run) if run else "no random-subspace arm run here"
        for x in RANDOM:
            if (eps, n, x) in summ and summ[(eps, n, "strict")]["mean"] - summ[(eps, n, x)]["mean"] >= 0.5 * g_full:
                tr = summ[(eps, n, x)]["trainable"][1]
                found = f"{x}: {tr} trainable = {tr / total:.1%} of the full space's {total}"
                break
        any5 = True
        out.append(f"   - ε = {eps}, n = {n}: full-space gain {g_full:.4f}; {found}")
    if not any5:
        out.append("   - not measured (no cell with a positive full-space gain and a random-subspace arm)")
    # 6. diag / posenc
    rows, oks = [], []
    for eps in [e for e in eps_list if e >= 0.3]:
        for n in sizes:
            s, full = summ.get((eps, n, "strict")), summ.get((eps, n, "2p-full"))
            if s is None or full is None:
                continue
            g_full = s["mean"] - full["mean"]
            extra_full = full["trainable"][1] - full["trainable"][0]
            for x in ("diag", "posenc"):
                if (eps, n, x) not in summ:
                    continue
                r = summ[(eps, n, x)]
                g = s["mean"] - r["mean"]
                extra = r["trainable"][1] - r["trainable"][0]
                frac = g / g_full if g_full > 0 else float("nan")
                # with no full-space gain to recover (g_full ≤ 0), doing at least as well as full counts
                ok = (frac >= 0.8 if g_full > 0 else g >= g_full) and extra < 0.05 * extra_full
                if x == "diag":
                    oks.append(ok)
                rows.append(f"ε = {eps}, n = {n}, {x}: gain {g:.4f} vs full {g_full:.4f} "
                            f"({'full-space gain ≤ 0' if g_full <= 0 else f'{frac:.0%}'}), extra parameters {extra} = "
                            f"{extra / extra_full:.2%} of full's {extra_full} {'ok' if ok else 'MISS'}")
    out.append(f"6. diag recovers ≥ 80 % of the full-space gain with < 5 % of its extra parameters, ε ≥ 0.3: "
               f"{_verdict(all(oks) if oks else None)}")
    out += [f"   - {r}" for r in rows]
    return out


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = summarise(records)
    eps_list = sorted({k[0] for k in summ})
    fig, axes = plt.subplots(1, len(eps_list), figsize=(4.2 * len(eps_list), 3.6), sharey=True, squeeze=False)
    for ax, eps in zip(axes[0], eps_list):
        for i, a in enumerate(ARMS):
            pts = sorted((k[1], v["mean"], v["sd"]) for k, v in summ.items() if k[0] == eps and k[2] == a)
            if pts:
                n, m, s = map(np.array, zip(*pts))
                ax.errorbar(n, m, s, label=a, marker="o", ms=3, capsize=2, color=plt.cm.tab20(i),
                            ls="--" if a in ("mlp", "mlp-aug", "strict", "lens-cnn") else "-")
        floors = [v["floor"] for k, v in summ.items() if k[0] == eps]
        if floors and np.mean(floors) > 0:
            ax.axhline(np.mean(floors), color="k", lw=0.8, ls=":", label="strict floor")
        ax.set(xscale="log", yscale="log", xlabel="n train", title=f"ε = {eps}")
    axes[0][0].set_ylabel("test NMSE")
    axes[0][-1].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"the reduced grid {QUICK}")
    ap.add_argument("--time-cell", action="store_true", help="every arm once at ε = 1, n = 1000, seed 0")
    ap.add_argument("--eps", type=float, nargs="+")
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--arms", nargs="+", choices=list(ARMS))
    ap.add_argument("--mode", default="target", choices=["target", "input"])
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--n-test", type=int, default=3000)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (one torch thread each)")
    ap.add_argument("--lens", type=Path, default=default_lens_dir(), help="cache folder of the discovered lens")
    ap.add_argument("--tag", default=None, help="results file stem (default from the grid)")
    ap.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--analyse-only", action="store_true")
    ap.add_argument("--timing", action="store_true", help="ms per step of each configuration (min of 5 rounds)")
    args = ap.parse_args(argv)
    if args.timing:
        OUT.mkdir(parents=True, exist_ok=True)
        ms = time_steps(args)
        (OUT / "timing.json").write_text(json.dumps(ms, indent=1))
        print("\n".join(f"{k}: {v:.2f} ms/step" for k, v in ms.items()))
        return
    grid = dict(QUICK if args.quick else FULL)
    if args.time_cell:
        grid = dict(eps=[1.0], sizes=[1000], seeds=1, arms=list(ARMS))
    for k in ("eps", "sizes", "seeds", "arms"):
        if getattr(args, k) is not None:
            grid[k] = getattr(args, k)
    args.eps, args.sizes, args.seeds, args.arms = grid["eps"], grid["sizes"], grid["seeds"], grid["arms"]
    tag = args.tag or ("time-cell" if args.time_cell else "quick" if args.quick else "full") + (
        "" if args.mode == "target" else f"-{args.mode}")
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"{tag}.jsonl"
    cells = [(e, s, n, a) for e in args.eps for s in range(args.seeds) for n in args.sizes for a in args.arms]
    if args.worker is not None:  # a worker: run the cells listed in the file
        mine = [tuple(c) for c in json.loads(args.worker.read_text())]
        run_cells(mine, args, log)
        return
    if not args.analyse_only:
        discovered_lens(args.lens)  # fit once, before the workers start
        done = {(r["eps"], r["seed"], r["n"], r["arm"]) for r in load(log)}
        todo = [c for c in cells if c not in done]
        t0 = time.time()
        # round-robin over workers, each keeps (eps, seed) pools together
        chunks = [todo[i::args.jobs] for i in range(args.jobs)]
        chunks = [sorted(c, key=lambda x: (x[0], x[1])) for c in chunks if c]
        procs = []
        for i, chunk in enumerate(chunks):
            f = OUT / f".{tag}.worker{i}.json"
            f.write_text(json.dumps(chunk))
            cmd = [sys.executable, __file__, "--worker", str(f), "--mode", args.mode, "--steps", str(args.steps),
                   "--n-test", str(args.n_test), "--lens", str(args.lens), "--tag", tag,
                   "--sizes", *map(str, args.sizes)]
            procs.append(subprocess.Popen(cmd))
        rc = [p.wait() for p in procs]
        for i in range(len(chunks)):
            (OUT / f".{tag}.worker{i}.json").unlink(missing_ok=True)
        print(f"{len(todo)} runs in {time.time() - t0:.0f} s wall ({args.jobs} processes)", flush=True)
        if any(rc):
            raise SystemExit(f"a worker failed: exit codes {rc}")
    records = [r for r in load(log) if (r["eps"], r["seed"], r["n"], r["arm"]) in set(cells)]
    commit = short_commit()
    cmd = "python benchmarks/weak_equivariance.py " + " ".join(sys.argv[1:] if argv is None else argv)
    head = (f"# E-WEAK ({tag})\n\n`{cmd.strip()}` at commit {commit}; mode {args.mode}; "
            f"{len(records)} runs; ε {args.eps}, n {args.sizes}, {args.seeds} seeds, {args.steps} steps.\n")
    (OUT / f"{tag}.md").write_text(head + analyse(records))
    plot(records, OUT / f"{tag}.png")
    print((OUT / f"{tag}.md").read_text())


if __name__ == "__main__":
    main()
