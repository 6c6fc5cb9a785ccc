"""Regenerate every benchmark table and plot of docs/benchmarks.md with one command.

    python benchmarks/run.py --suite quick     # 668 s end to end on a 2-core CPU (fresh clone, 2026-11-26)
    python benchmarks/run.py --suite full      # many hours; resumable, see below

quick: symscope at d = 17 (gaussian-shift, gaussian-permuted; seed 0, default config), the
Fiedler baselines on every dataset × 5 seeds (seconds), SymmetryGAN on one dataset and seed
(≤ 3 min), the cost scaling at d = 17 … 129 (a few timed steps each), and the side-by-side
table rebuilt from whatever results files exist (``side_by_side.py``).

full: symscope on the six paper datasets × 5 seeds at d = 33, the random-orthogonal, circulant and
d = 17 / 65 / 129 cells, the robustness cells (noise 0.25 / 0.5; n = 2,000 / 20,000 / 200,000), the
Fiedler and SymmetryGAN suites over 5 seeds, the identifiability check of the Legendre gap
(``identifiability.py``), and the scaling up to d = 257.

Every step is one of the scripts in this folder (``recovery.py``, ``baselines.py``,
``identifiability.py``, ``scaling.py``) called with the arguments printed before it runs; each
writes its own ``benchmarks/results/*.{jsonl,md}`` with command line, machine and versions, and
the recovery and baseline steps skip cells that are already in their jsonl files — so an interrupted suite resumes where it stopped, and the full
suite can be split across machines by running the printed steps separately. To measure afresh,
move the committed ``benchmarks/results/*.jsonl`` files away first (otherwise finished cells are
only re-tabulated).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import baselines  # noqa: E402
import identifiability  # noqa: E402
import recovery  # noqa: E402
import scaling  # noqa: E402
import side_by_side  # noqa: E402

SEEDS = ["0", "1", "2", "3", "4"]
CKPT = "benchmarks/checkpoints"  # per-run checkpoints: an interrupted full suite resumes mid-run
PAPER = ["gaussian-shift", "gaussian-permuted", "gaussian-dst", "legendre-shift", "legendre-permuted", "legendre-dst"]

QUICK = [
    (recovery, ["--datasets", "gaussian-shift", "gaussian-permuted", "--seeds", "0", "--dims", "17", "--tag",
                "dims17-converged"]),
    (baselines, ["--suite", "fiedler"]),
    (baselines, ["--suite", "gan", "--datasets", "gaussian-permuted", "--seeds", "0", "--tag", "gan-quick"]),
    (scaling, ["--dims", "17", "33", "65", "129", "--steps", "10"]),
    (side_by_side, []),
]

FULL = [
    (recovery, ["--suite", "paper", "--checkpoint-dir", CKPT, "--tag", "paper-converged"]),
    (recovery, ["--datasets", "gaussian-orthogonal", "legendre-orthogonal", "--seeds", *SEEDS, "--dims", "33",
                "--checkpoint-dir", CKPT, "--tag", "orthogonal-converged"]),
    (recovery, ["--datasets", "gaussian-shift-circulant", "gaussian-permuted-circulant", "--seeds", *SEEDS, "--dims",
                "33", "--checkpoint-dir", CKPT, "--tag", "circulant-ring"]),
    (recovery, ["--datasets", "gaussian-shift", "gaussian-permuted", "gaussian-dst", "legendre-shift", "--seeds", "0",
                "--dims", "17", "--checkpoint-dir", CKPT, "--tag", "dims17-converged"]),
    *[(recovery, ["--datasets", "gaussian-shift", "--seeds", "0", "--dims", d, "--checkpoint-dir", CKPT, "--tag",
                  f"dims{d}-converged"]) for d in ("65", "129")],
    *[(recovery, ["--datasets", "gaussian-permuted", "--seeds", *SEEDS, "--noise", z, "--checkpoint-dir", CKPT,
                  "--tag", f"robust-noise{z}-converged"]) for z in ("0.25", "0.5")],
    *[(recovery, ["--datasets", "gaussian-permuted", "--seeds", *SEEDS, "--n", n, "--checkpoint-dir", CKPT,
                  "--tag", f"robust-n{n}-converged"]) for n in ("2000", "20000", "200000")],
    (recovery, ["--combine", "paper-converged", *[f"robust-{c}-converged" for c in ("noise0.25", "noise0.5", "n2000",
                "n20000", "n200000")], "--datasets", "gaussian-permuted", "--tag", "robustness-converged"]),
    (baselines, ["--suite", "fiedler"]),
    (baselines, ["--suite", "gan"]),
    (baselines, ["--suite", "spectral"]),
    (baselines, ["--methods", "symmetrygan", "--datasets", "gaussian-orthogonal", "legendre-orthogonal",
                 "gaussian-shift-circulant", "gaussian-permuted-circulant", "--seeds", "0", "1", "2", "3", "4",
                 "--tag", "gan-extra"]),
    *[(baselines, ["--methods", "fiedler", "fiedler-sq", "spectral", "--datasets", "gaussian-permuted", "--seeds", *SEEDS,
                   flag, value, "--tag", f"robust-{flag[2:]}{value}"])
      for flag, value in (("--noise", "0.25"), ("--noise", "0.5"), ("--n", "2000"), ("--n", "20000"), ("--n", "200000"))],
    (identifiability, ["gaussian-shift", "legendre-shift", "--seeds", "0", "1", "2", "--resolve", "1000"]),
    (scaling, []),
    (side_by_side, []),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=["quick", "full"], default="quick")
    ap.add_argument("--list", action="store_true", help="print the steps and exit")
    args = ap.parse_args(argv)
    steps = QUICK if args.suite == "quick" else FULL
    start = time.perf_counter()
    for i, (module, step_args) in enumerate(steps, 1):
        line = f"python benchmarks/{Path(module.__file__).name} {' '.join(step_args)}"
        print(f"[{i}/{len(steps)}] {line}", flush=True)
        if args.list:
            continue
        status = module.main(step_args)
        if status:
            print(f"step failed with status {status}: {line}", file=sys.stderr)
            return status
    print(f"suite {args.suite} done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
