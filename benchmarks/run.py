"""Measure a benchmark suite into the ledger, then regenerate docs/benchmarks.md from it.

    python benchmarks/run.py --suite quick                      # local Ray, 2 cells at a time
    python benchmarks/run.py --suite full --address auto        # every cell on an existing Ray cluster
    python benchmarks/run.py --suite quick --backend pool       # no Ray: a local process pool
    python benchmarks/run.py --suite full --list                # print the grid and the steps, run nothing

quick: symscope at d = 17 (gaussian-shift, gaussian-permuted; seed 0, default config), the
Fiedler baselines on every dataset × 5 seeds (seconds each), SymmetryGAN on one dataset and seed
(≤ 3 min), then the cost scaling at d = 17 … 129 (a few timed steps each).

full: symscope on the six paper datasets × 5 seeds at d = 33, the random-orthogonal and circulant
datasets × 5 seeds, d = 17 / 65 / 129, the robustness cells (gaussian-permuted × 5 seeds at noise
0.25 / 0.5 and n = 2,000 / 20,000 / 200,000) with the second-order baselines beside them, the
Fiedler, spectral and SymmetryGAN suites over 5 seeds, then the identifiability check of the
Legendre gap (``identifiability.py``) and the scaling up to d = 257.

Every grid cell (method × dataset × seed × settings) is one task of one sweep (``sweep.py``): on
a local Ray by default, on a cluster with ``--address``, or in a process pool with ``--backend
pool``. Each finished cell is appended to ``benchmarks/results/runs.jsonl`` with its commit; cells
already measured at this commit are skipped, so an interrupted suite resumes where it stopped.
The steps that time the machine (scaling) run afterwards, alone. Last, ``report.py`` regenerates
docs/benchmarks.md and the README headline from the ledger (``--no-report`` skips it), and the
suite's own wall time is appended as one record (``method: suite``, ``tag`` = the backend).
``--steps N`` shortens every symscope fit and ``--gan-epochs E`` the SymmetryGAN runs (a smoke
run: their records carry a ``-stepsN`` / ``ganEx…`` tag, never the default's).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import identifiability  # noqa: E402
import ledger  # noqa: E402
import report  # noqa: E402
import scaling  # noqa: E402
import sweep  # noqa: E402
from sweep import Cell  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
PAPER = ("gaussian-shift", "gaussian-permuted", "gaussian-dst", "legendre-shift", "legendre-permuted", "legendre-dst")
EXTRA = ("gaussian-orthogonal", "legendre-orthogonal", "gaussian-shift-circulant", "gaussian-permuted-circulant")
ALL = PAPER + EXTRA
CKPT = "runs/checkpoints"  # per-run checkpoints (git-ignored): an interrupted full suite resumes mid-run
ROBUST = (("noise", 0.25), ("noise", 0.5), ("n", 2000), ("n", 20000), ("n", 200000))


def quick_cells(steps: int | None = None, gan: tuple = sweep.GAN) -> list[Cell]:
    return ([Cell("symscope", name, 0, 17, steps=steps) for name in ("gaussian-shift", "gaussian-permuted")]
            + [Cell("symmetrygan", "gaussian-permuted", 0, gan=gan)]
            + [Cell(m, name, s) for s in SEEDS for m in ("fiedler", "fiedler-sq") for name in ALL])


def full_cells(steps: int | None = None, gan: tuple = sweep.GAN) -> list[Cell]:
    sym = dict(steps=steps, checkpoint_dir=CKPT)
    cells = [Cell("symscope", name, s, 33, **sym) for s in SEEDS for name in ALL]
    cells += [Cell("symscope", name, 0, 17, **sym) for name in ("gaussian-shift", "gaussian-permuted", "gaussian-dst",
                                                                 "legendre-shift")]
    cells += [Cell("symscope", "gaussian-shift", 0, d, **sym) for d in (65, 129)]
    for field, value in ROBUST:
        cells += [Cell("symscope", "gaussian-permuted", s, 33, **{field: value}, **sym) for s in SEEDS]
        cells += [Cell(m, "gaussian-permuted", s, 33, **{field: value}) for s in SEEDS
                  for m in ("fiedler", "fiedler-sq", "spectral")]
    cells += [Cell(m, name, s) for s in SEEDS for m in ("fiedler", "fiedler-sq", "spectral") for name in ALL]
    cells += [Cell("symmetrygan", name, s, gan=gan) for s in SEEDS for name in ALL]
    return cells


#: The steps after the grid, run one at a time (they time the machine or need the whole of it).
AFTER = {
    "quick": [(scaling, ["--dims", "17", "33", "65", "129", "--steps", "10"])],
    "full": [(identifiability, ["gaussian-shift", "legendre-shift", "--seeds", "0", "1", "2", "--resolve", "1000"]),
             (scaling, [])],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=["quick", "full"], default="quick")
    ap.add_argument("--list", action="store_true", help="print the grid and the steps and exit")
    ap.add_argument("--steps", type=int, help="shorten every symscope fit to this many steps (smoke run)")
    ap.add_argument("--gan-epochs", type=int, help="shorten every SymmetryGAN run to this many epochs (smoke run)")
    ap.add_argument("--no-after", action="store_true", help="skip the steps after the grid (scaling, identifiability)")
    ap.add_argument("--no-report", action="store_true", help="do not regenerate docs/benchmarks.md at the end")
    sweep.add_arguments(ap)
    args = ap.parse_args(argv)
    gan = (args.gan_epochs or sweep.GAN[0], *sweep.GAN[1:])
    cells = (quick_cells if args.suite == "quick" else full_cells)(args.steps, gan)
    after = [] if args.no_after else AFTER[args.suite]
    command = sweep.command_line("run.py", argv)
    if args.list:
        by = {}
        for c in cells:
            by.setdefault((c.method, c.d, c.n, c.noise), []).append(c)
        print(f"grid: {len(cells)} cells")
        for (method, d, n, noise), cs in by.items():
            print(f"  {method:<12} d={d:<3} n={n:<6} noise={noise:<4} {len(cs):>3} cells "
                  f"({len({c.dataset for c in cs})} datasets × {len({c.seed for c in cs})} seeds)")
        for module, step_args in after:
            print(f"then: python benchmarks/{Path(module.__file__).name} {' '.join(step_args)}")
        if not args.no_report:
            print("then: python benchmarks/report.py")
        return 0
    load0, start = os.getloadavg()[0], time.perf_counter()
    backend = sweep.backend_of(args)
    done = sweep.run_cells(cells, command, backend=backend, jobs=args.jobs, address=args.address)
    grid_seconds = time.perf_counter() - start
    for module, step_args in after:
        print(f"python benchmarks/{Path(module.__file__).name} {' '.join(step_args)}", flush=True)
        status = module.main(step_args)
        if status:
            print(f"step failed with status {status}", file=sys.stderr)
            return status
    wall = time.perf_counter() - start
    ledger.append(ledger.record(
        "suite", backend, args.suite, 0, 0, 0, 0.0,
        dict(suite=args.suite, backend=backend, jobs=args.jobs, address=args.address, steps=args.steps,
             gan_epochs=gan[0], after=[Path(m.__file__).name for m, _ in after]),
        dict(wall_seconds=round(wall, 1), grid_seconds=round(grid_seconds, 1), cells=len(cells), cells_run=len(done),
             loadavg_start=round(load0, 2), loadavg_end=round(os.getloadavg()[0], 2)),
        command=command, threads=1, device="cpu"))
    print(f"suite {args.suite} ({backend}): {len(done)} of {len(cells)} cells run, grid {grid_seconds:.0f} s, "
          f"total {wall:.0f} s", flush=True)
    if not args.no_report:
        return report.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
