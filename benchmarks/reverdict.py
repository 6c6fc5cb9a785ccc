"""The current verdict (``discover/verdict.py``) on the chains of recorded fits, without re-fitting.

    python benchmarks/reverdict.py --commit cc06ae3      # every symscope record of that commit with a checkpoint

Why. The verdict's thresholds are calibrated on the benchmark runs; a change of the verdict must
not need the fits again. Each symscope record's fit left its final lens in its checkpoint
(``runs/checkpoints``, as ``recovery.py --checkpoint-dir`` writes them). This reads the kept
chain off it (the rows of the group convolution), regenerates the data and the held-out split
exactly as the fit made them, and recomputes the verdict: the null and the sign flips on the
chain; the margin to the best distinct rival is the record's own (the rivals are not saved).
Each result is a ledger record (``method: verdict``, the cell of the fit, ``source_commit`` the
fit's commit); ``report.py`` uses it in the calibration table in place of the fit's own verdict.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402
import sweep  # noqa: E402

CHECKPOINTS = ledger.ROOT / "runs" / "checkpoints"


def reverdict(rec: dict, checkpoint: Path) -> dict:
    """The verdict fields of the current ``judge_chain`` on the chain saved for ledger record ``rec``."""
    import torch
    from threadpoolctl import threadpool_limits

    from symscope import SymmetryLens, make_dataset
    from symscope.discover.chain import Chain
    from symscope.discover.refine import refine_split
    from symscope.discover.verdict import judge_chain

    start = time.perf_counter()
    lens = SymmetryLens.load(checkpoint)
    ds = make_dataset(rec["dataset"], n=rec["n"], d=rec["d"], seed=rec["seed"], noise=rec["noise"])
    Xt = torch.as_tensor((ds.X - lens.mean_) / lens.scale_, dtype=torch.float32)
    fit, judge = (a.double().numpy() for a in refine_split(Xt, lens.seed_, lens.config_.repair_samples))
    with threadpool_limits(1):
        v = judge_chain(Chain(lens.group_conv_), [], fit, judge, kurtosis_weight=lens.config_.refine.kurtosis_weight,
                        entropy_weight=lens.config_.refine.entropy_weight, seed=lens.seed_)
    margin = rec.get("verdict_margin_z")
    defaults = judge_chain.__kwdefaults__
    clear = margin is None or margin >= defaults["min_margin_z"]
    found = v.null_z >= defaults["min_null_z"] and clear and v.ambiguity_similarity >= defaults["min_similarity"]
    label = "no symmetry" if v.null_z < defaults["min_null_z"] else ("found" if found else "ambiguous")
    return dict(source_commit=rec["commit"], cosine=rec["cosine"], trained=rec.get("trained"), verdict_label=label,
                verdict_found=bool(found), verdict_null_z=v.null_z, verdict_margin_z=margin,
                verdict_unresolved=v.unresolved, verdict_ambiguity_similarity=v.ambiguity_similarity,
                wall_seconds=round(time.perf_counter() - start, 2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commit", required=True, help="the fits' commit (a hash prefix)")
    ap.add_argument("--checkpoints", default=str(CHECKPOINTS), help="where the fits' checkpoints are")
    args = ap.parse_args(argv)
    records = [r for r in ledger.latest(ledger.load(), args.commit, method="symscope") if "verdict_label" in r]
    state, mach = ledger.git_state(), ledger.machine(git=False)
    done = 0
    for rec in records:
        ckpt = (Path(args.checkpoints) / f"{rec['dataset']}-d{rec['d']}-n{rec['n']}-noise{rec['noise']}-seed{rec['seed']}"
                f"-steps{rec['config']['steps']}.pt")
        if not ckpt.is_file():
            print(f"skip {rec['dataset']} seed {rec['seed']} d={rec['d']}: no checkpoint {ckpt}", file=sys.stderr)
            continue
        res = reverdict(rec, ckpt)
        ledger.append(ledger.record("verdict", rec["tag"], rec["dataset"], rec["seed"], rec["d"], rec["n"], rec["noise"],
                                    rec["config"], res, command=sweep.command_line("reverdict.py", argv),
                                    mach={**mach, **state}))
        done += 1
        print(f"{rec['dataset']:22s} d={rec['d']} seed={rec['seed']} cosine {rec['cosine']:.3f}  {res['verdict_label']}")
    if not done:
        print(f"no record of commit {args.commit} with a checkpoint under {args.checkpoints}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
