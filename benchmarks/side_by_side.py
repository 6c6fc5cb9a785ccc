"""Side-by-side table: every method × dataset at d = 33, from the ledger.

    python benchmarks/side_by_side.py                 # the latest record of every cell
    python benchmarks/side_by_side.py --commit 4b6709e

Nothing is run here: the table is assembled from ``benchmarks/results/runs.jsonl``, the latest
record per (method, tag, dataset, seed) of the common setting (d = 33, n = 50,000, noise 0.05).
Each cell is ``minimal runs / runs (median cosine)``; ``not run`` where the ledger holds no
record of that cell. A column whose method has no record at all is an error (``MissingSource``),
not a column of gaps. Columns: symscope with the default settings; the same runs at their last
training step, before the final refinement (their ``cosine_before_refine``, counted minimal at
cosine ≥ 0.98); symscope with the experimental rounding of the kept chain (tag ``project``:
``benchmarks/configs/project.toml``); the peer methods (``baselines.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402

DATASETS = ["gaussian-shift", "gaussian-permuted", "gaussian-dst", "legendre-shift", "legendre-permuted",
            "legendre-dst", "gaussian-orthogonal", "legendre-orthogonal", "gaussian-shift-circulant",
            "gaussian-permuted-circulant"]
COMMON = dict(d=33, n=50_000, noise=0.05)
#: (column label, method, tag, score field); ``cosine_before_refine`` reads the default runs before refinement.
COLUMNS = [("symscope (default)", "symscope", "default", "cosine"),
           ("symscope at its last training step", "symscope", "default", "cosine_before_refine"),
           ("symscope + rounding (experimental)", "symscope", "project", "cosine"),
           ("spectral init alone", "spectral", "default", "cosine"),
           ("fiedler (\\|corr\\|)", "fiedler", "default", "cosine"),
           ("fiedler-sq (corr²)", "fiedler-sq", "default", "cosine"),
           ("symmetrygan", "symmetrygan", "default", "cosine")]


def cell(rows: list[dict], field: str = "cosine") -> str:
    """``k/N (median cosine)`` over the runs of one method × dataset (``not run`` when there are none)."""
    rows = [r for r in rows if r.get(field) is not None]
    if not rows:
        return "not run"
    if field == "cosine":
        k = sum(r["verdict"] == "minimal" for r in rows)
    else:
        k = sum(r[field] >= r.get("cos_threshold", 0.98) for r in rows)
    return f"{k}/{len(rows)} ({statistics.median(r[field] for r in rows):.2f})"


def side_by_side(records: list[dict], commit: str | None = None, columns: list[tuple] = COLUMNS,
                 datasets: list[str] = DATASETS) -> str:
    """The Markdown table (one row per dataset, one column per method); raises ``MissingSource``
    when a column's method and tag have no record in the common setting."""
    cols = [(label, field, ledger.require(records, f"the column {label!r}", commit, method=method, tag=tag, **COMMON))
            for label, method, tag, field in columns]
    lines = ["| dataset | " + " | ".join(label for label, _, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name in datasets:
        lines.append(f"| {name} | " + " | ".join(cell([r for r in rows if r["dataset"] == name], field)
                                                for _, field, rows in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commit", help="only the records of this commit (a hash prefix); default: the latest per cell")
    args = ap.parse_args(argv)
    try:
        print(side_by_side(ledger.load(), args.commit))
    except ledger.MissingSource as exc:
        print(f"side_by_side.py: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
