"""Cost scaling in d: seconds per training step, peak memory and where the time goes.

    python benchmarks/scaling.py                       # d = 17, 33, 65, 129, 257; 40 timed steps each
    python benchmarks/scaling.py --dims 17 33 --steps 20

Each d runs in a fresh process (one torch thread) so that peak memory (ru_maxrss) belongs to
that d alone. A run times ``--steps`` default-config training steps after ``--warmup`` untimed
ones, and separately times the symmetry subsystem alone (building G = B·expm(A) and the group
convolution, forward + backward) to show which part grows how. The exponent of time against d
is a least-squares fit on log–log axes. Each d is one ledger record (``method: scaling``, in
``benchmarks/results/runs.jsonl``); ``python benchmarks/report.py`` draws the table and the figure
(``benchmarks/results/scaling.png``) from the latest records.

Recovery *quality* against d (cosine, wall time to the end of training) is measured by
``benchmarks/recovery.py --suite dims``; this script measures cost only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402
import sweep  # noqa: E402


def measure(d: int, steps: int, warmup: int, batch: int) -> dict:
    """Time ``steps`` training steps at dimension d (after ``warmup``) in this process."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import dataclasses
    import resource

    import torch

    torch.set_num_threads(1)
    from symscope import LensConfig, RefineConfig, SymmetryLens, make_dataset
    from symscope.callbacks import StepTimer

    cfg = dataclasses.replace(LensConfig(), steps=warmup + steps, batch_size=batch, repair_at=(),
                              refine=RefineConfig(enabled=False))
    X = make_dataset("gaussian-shift", n=max(4 * batch, 4 * d), d=d, seed=0).X
    timer = StepTimer(warmup)
    lens = SymmetryLens(cfg, seed=0, device="cpu", progress=False, threads=1).fit(X, callbacks=[timer])
    per_step = float(np.mean(timer.seconds))
    mods = lens.modules_
    # the symmetry subsystem alone: G, group convolution, a scalar of it, backward
    start = time.perf_counter()
    for _ in range(steps):
        C = mods.group_conv(torch.zeros(d))
        grads = torch.autograd.grad((C**2).sum(), mods.lens_parameters())
        del C, grads
    lens_part = (time.perf_counter() - start) / steps
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(d=d, padded=d + 2 * mods.padding, batch=batch, steps_timed=steps,
                seconds_per_step=round(per_step, 4), lens_seconds=round(lens_part, 4),
                lens_fraction=round(lens_part / per_step, 3), peak_memory_mb=round(peak_mb, 1))


def exponent(ds: list[int], ts: list[float]) -> float:
    """Slope of log t against log d (least squares)."""
    return float(np.polyfit(np.log(ds), np.log(ts), 1)[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", nargs="+", type=int, default=[17, 33, 65, 129, 257])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per d (default 40)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=None, help="batch size (default: the config's)")
    args = ap.parse_args(argv)
    if min(args.dims) < 5 or args.steps < 1 or args.warmup < 0:
        ap.error("need every d >= 5 (the built-in datasets' minimum), --steps >= 1 and --warmup >= 0")
    from symscope import LensConfig

    batch = args.batch or LensConfig().batch_size
    rows = []
    for d in args.dims:  # one fresh process per d, one at a time (clean timings and peak memory)
        with ProcessPoolExecutor(max_workers=1) as pool:
            rec = pool.submit(measure, d, args.steps, args.warmup, batch).result()
        rows.append(rec)
        print(json.dumps(rec), flush=True)
    state, mach = ledger.git_state(), ledger.machine(git=False)
    cfg = dataclasses.replace(LensConfig(), batch_size=batch, repair_at=()).to_dict()
    for r in rows:
        ledger.append(ledger.record("scaling", "default", "gaussian-shift", 0, r["d"], max(4 * batch, 4 * r["d"]), 0.05,
                                    dict(cfg, timed_steps=args.steps, warmup=args.warmup),
                                    dict(r, wall_seconds=round(r["seconds_per_step"] * args.steps, 3)),
                                    command=sweep.command_line("scaling.py", argv), mach={**mach, **state}))
    print(scaling_table(rows))
    return 0


def scaling_table(rows: list[dict]) -> str:
    """Markdown table of the per-d records and the fitted exponents."""
    dims = [r["d"] for r in rows]
    k_all = exponent(dims, [r["seconds_per_step"] for r in rows])
    k_lens = exponent(dims, [r["lens_seconds"] for r in rows])
    lines = ["| d | padded size M | s/step | symmetry subsystem s/step (share) | peak memory (MB) |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['d']} | {r['padded']} | {r['seconds_per_step']:.3f} | {r['lens_seconds']:.3f} "
              f"({100 * r['lens_fraction']:.0f} %) | {r['peak_memory_mb']:.0f} |" for r in rows]
    return "\n".join(lines) + (f"\n\nFitted exponent (time ∝ d^k): whole step k = {k_all:.2f}; symmetry subsystem "
                               f"alone k = {k_lens:.2f}.")


def plot(rows: list[dict], path: Path) -> None:
    """Log–log plot of seconds per step (whole step and symmetry subsystem) against d."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = [r["d"] for r in rows]
    k_all = exponent(dims, [r["seconds_per_step"] for r in rows])
    k_lens = exponent(dims, [r["lens_seconds"] for r in rows])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.loglog(dims, [r["seconds_per_step"] for r in rows], "o-", label=f"whole step (k = {k_all:.2f})")
    ax.loglog(dims, [r["lens_seconds"] for r in rows], "s--", label=f"G + group conv. (k = {k_lens:.2f})")
    ax.set_xlabel("d")
    ax.set_ylabel("seconds per step (1 thread)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
