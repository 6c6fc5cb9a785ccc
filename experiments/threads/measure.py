"""Seconds of a short fit with 1 vs 2 torch threads, alone and beside one competing CPU job.

Why: with torch's default thread count (= cores) a fit on a busy two-core machine ran ~10×
slower than with one thread (issue 16); this measures which default holds up. Each fit runs in
a fresh process (``symscope discover``), so the thread count and its reductions are exactly
those of the CLI; the SHA-256 of ``generator.npy`` shows whether two runs gave the same bytes.

    python experiments/threads/measure.py --steps 100 --reps 2 --out experiments/threads/results.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"


def one_fit(threads: int, steps: int, n: int, dim: int, env: dict[str, str]) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "symscope", "discover", "builtin:gaussian-shift", "--n", str(n), "--dim",
               str(dim), "--steps", str(steps), "--threads", str(threads), "--quiet", "--out", str(out)]
        cfg = Path(tmp) / "cfg.json"
        cfg.write_text(json.dumps({"refine": {"enabled": False}, "repair_at": []}))
        cmd += ["--config", str(cfg)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        rec = json.loads((out / "run.json").read_text())
        sha = hashlib.sha256((out / "generator.npy").read_bytes()).hexdigest()[:16]
    return {"threads": threads, "wall_s": round(wall, 2), "train_s": rec["train_seconds"], "generator_sha": sha}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=33)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    rows = []
    for competing in (0, 1):
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(competing)]
        try:
            for rep in range(args.reps):
                for threads in (1, 2):
                    load = os.getloadavg()[0]
                    row = one_fit(threads, args.steps, args.n, args.dim, env)
                    row.update(competing_jobs=competing, rep=rep, load_before=round(load, 2))
                    print(json.dumps(row), flush=True)
                    rows.append(row)
        finally:
            for b in busy:
                b.kill()
                b.wait()
    args.out.write_text(json.dumps({"steps": args.steps, "n": args.n, "dim": args.dim, "cpus": os.cpu_count(),
                                    "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
