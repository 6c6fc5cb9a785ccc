"""Side-by-side table: every method × dataset at d = 33, from the recorded results files.

    python benchmarks/side_by_side.py            # writes benchmarks/results/side-by-side.md

Nothing is run here: the table is assembled from the jsonl files that ``recovery.py`` (symscope,
default config) and ``baselines.py`` (the peer methods) wrote, so it always shows what was
measured and can be regenerated after any of them gains seeds. Each cell is
``minimal runs / runs (median cosine)``; "not run" where a file holds no run of that cell. Only
d = 33, n = 50,000, noise 0.05 records enter (the common setting of the benchmark).

The symscope column reads the default-config tags listed in ``SYMSCOPE_TAGS`` (experimental
configs such as ``recovery-spectral-*`` are kept out on purpose: they are not the default); a
second column shows the same engine without its final refinement (``discover/refine.py``), read
from the tags recorded before the refinement existed (``SYMSCOPE_UNREFINED_TAGS``), and a third
the same trained states refined with the experimental rounding of the kept chain
(``benchmarks/configs/project.toml``, ``SYMSCOPE_PROJECT_TAGS``; not the default until it has been
measured on every cell).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import recovery  # noqa: E402

DATASETS = ["gaussian-shift", "gaussian-permuted", "gaussian-dst", "legendre-shift", "legendre-permuted",
            "legendre-dst", "gaussian-orthogonal", "legendre-orthogonal", "gaussian-shift-circulant",
            "gaussian-permuted-circulant"]
#: recovery-<tag>.jsonl files made with the default ``LensConfig()``.
#: (paper-converged: a full suite; -a / -b: the saved trained states re-refined in two processes.)
SYMSCOPE_TAGS = ["paper-converged", "paper-converged-a", "paper-converged-b", "orthogonal-converged",
                 "circulant-ring"]
#: the same, recorded before the final refinement was part of the engine (same training, no refine).
SYMSCOPE_UNREFINED_TAGS = [*(f"paper-seed{s}" for s in range(5)), "paper-seeds234", "orthogonal", "circulant"]
#: the same trained states refined with ``benchmarks/configs/project.toml`` (RefineConfig.project = True).
SYMSCOPE_PROJECT_TAGS = ["paper-project", "paper-project-b", "orthogonal-project"]
#: baselines-<tag>.jsonl files.
BASELINE_TAGS = ["fiedler", "spectral", "gan", "gan-extra"]
METHODS = [("spectral", "spectral init alone"), ("fiedler", "fiedler (\\|corr\\|)"),
           ("fiedler-sq", "fiedler-sq (corr²)"), ("symmetrygan", "symmetrygan")]


def _rows(prefix: str, tags: list[str]) -> list[dict]:
    """Records of the common setting from ``<prefix>-<tag>.jsonl``; a run found twice counts once."""
    rows, seen = [], set()
    for tag in tags:
        for r in recovery.load_log(recovery.RESULTS / f"{prefix}-{tag}.jsonl"):
            key = (r.get("method", "symscope"), r["dataset"], r["seed"], r["d"], r["n"], r["noise"])
            if r["d"] == 33 and r["n"] == 50_000 and r["noise"] == 0.05 and key not in seen:
                seen.add(key)
                rows.append(r)
    return rows


def cell(rows: list[dict]) -> str:
    """``k/N (median cosine)`` over the runs of one method × dataset."""
    if not rows:
        return "not run"
    k = sum(r["verdict"] == "minimal" for r in rows)
    return f"{k}/{len(rows)} ({statistics.median(r['cosine'] for r in rows):.2f})"


def side_by_side(symscope_tags: list[str], baseline_tags: list[str],
                 unrefined_tags: list[str] | None = None, project_tags: list[str] | None = None) -> str:
    """The Markdown table (one row per dataset, one column per method)."""
    extra = [(label, _rows("recovery", tags)) for label, tags in
             (("symscope without refine", unrefined_tags), ("symscope + rounding (experimental)", project_tags)) if tags]
    sym = _rows("recovery", symscope_tags)
    base = _rows("baselines", baseline_tags)
    lines = ["| dataset | symscope (default) | " + "".join(f"{label} | " for label, _ in extra)
             + " | ".join(label for _, label in METHODS) + " |",
             "|---" * (len(METHODS) + 2 + len(extra)) + "|"]
    for name in DATASETS:
        cols = [cell([r for r in sym if r["dataset"] == name])]
        cols += [cell([r for r in rows if r["dataset"] == name]) for _, rows in extra]
        cols += [cell([r for r in base if r["method"] == m and r["dataset"] == name]) for m, _ in METHODS]
        lines.append(f"| {name} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symscope-tags", nargs="+", default=SYMSCOPE_TAGS, metavar="TAG")
    ap.add_argument("--baseline-tags", nargs="+", default=BASELINE_TAGS, metavar="TAG")
    ap.add_argument("--unrefined-tags", nargs="*", default=SYMSCOPE_UNREFINED_TAGS, metavar="TAG",
                    help="symscope runs recorded before the final refinement (a column of their own; none: no column)")
    ap.add_argument("--project-tags", nargs="*", default=SYMSCOPE_PROJECT_TAGS, metavar="TAG",
                    help="symscope runs refined with configs/project.toml (a column of their own; none: no column)")
    args = ap.parse_args(argv)
    body = side_by_side(args.symscope_tags, args.baseline_tags, args.unrefined_tags, args.project_tags)
    sources = ", ".join([f"`recovery-{t}`" for t in args.symscope_tags + args.unrefined_tags + args.project_tags]
                        + [f"`baselines-{t}`" for t in args.baseline_tags])
    md = recovery.RESULTS / "side-by-side.md"
    recovery.write_report(md, "Side by side: symscope and the peer methods (d = 33, n = 50,000, noise 0.05)", argv,
                 f"Assembled from the results files {sources} (missing files count as no runs); each of "
                 "those names the command, machine and versions it ran with. Cell: runs with the minimal "
                 "generator (cosine ≥ 0.98) / runs (median cosine).", body, script="side_by_side.py")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
