"""Apply the engine's final refinement to saved *trained* states, without training again.

    python benchmarks/refine_saved.py runs/trained/*.npz
    python benchmarks/refine_saved.py --config benchmarks/configs/project.toml ckpt/gaussian-*-seed[01]-*.pt

The refinement (``symscope.discover.refine``) is a stage after training and a function of the
trained group convolution C, the data and the seed only (its samples come from ``refine_split``).
So a trained state can be refined here exactly as ``SymmetryLens.fit`` would, also under other
settings (``--config``): a checkpoint through ``SymmetryLens.load(path).refine(X)``, a bare C through
``refine(Chain.from_group_conv(C, X_fit), X_fit, X_judge, config)``.

Inputs: ``DATASET-seedS.npz`` files holding the trained ``C`` (d × d), or training checkpoints
(``.pt`` from ``recovery.py --checkpoint-dir``) that hold ``trained_modules``. The data are the
built-in dataset (n = ``--n``, noise ``--noise``, data seed = S, as ``recovery.py`` makes them).
``--runs TAG…`` names the ledger tags of the runs that produced the states (default ``default``):
the latest record of each state's cell gives the cosine before the refinement and the training
wall time, which this script adds to the refinement's own time. Records go to the ledger in
``recovery.py``'s format (with ``refined_from_saved_state: true``), tagged by the refine settings
(``default``, or the ``--config`` file's stem), so the tables read them like any other run.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402
import recovery  # noqa: E402
import sweep  # noqa: E402
from diagnose_sites import learned_group_conv  # noqa: E402

NAME = re.compile(r"^(?P<dataset>[a-z-]+?)(-d\d+-n\d+-noise[\d.]+)?-seed(?P<seed>\d+)(-steps\d+)?$")


def refine_one(path: Path, cfg, n: int, noise: float, runs: dict) -> dict:
    """Refine one saved state; the record ``recovery.py`` would have written for the run, refined."""
    import torch

    from symscope import SymmetryLens, make_dataset, recovery_report
    from symscope.discover.chain import Chain
    from symscope.discover.modules import lens_generator
    from symscope.discover.refine import STEP_MARKS, refine, refine_split

    m = NAME.match(path.stem if path.suffix != ".pt" else path.name[: -len(".pt")])
    if m is None:
        raise ValueError(f"cannot read dataset and seed from the file name {path.name} (want DATASET-seedS.npz)")
    name, seed = m["dataset"], int(m["seed"])
    lens = SymmetryLens.load(path) if path.suffix == ".pt" else None  # a checkpoint is a lens file
    C = learned_group_conv(path, before_refine=True) if lens is None else None
    if C is not None and (C.ndim != 2 or C.shape[0] != C.shape[1] or not np.isfinite(C).all()):
        raise ValueError(f"expected a finite square (d, d) group convolution, got shape {C.shape}")
    d = lens.n_features_in_ if lens is not None else C.shape[0]
    base = runs.get((name, seed, d, n, noise))
    if base is None:
        raise ValueError(f"no recorded run for {name} seed {seed} d={d} n={n} noise={noise} under --runs")
    ds = make_dataset(name, n=n, d=d, seed=seed, noise=noise)
    start = time.perf_counter()
    if lens is not None:  # the lens's own refinement stage, from its trained state
        lens.refine(ds.X, config=cfg.refine)
        report = lens.refine_event_
        rep = recovery_report(lens.generator_, ds.generator).to_dict()
    else:  # only C: the same stage on the chain read off it (standardisation and split as SymmetryLens.fit)
        X = torch.as_tensor((ds.X - float(ds.X.mean())) / float(ds.X.std()), dtype=torch.float32)
        fit, judge = (a.double().numpy() for a in refine_split(X, seed, cfg.repair_samples))
        chain, rr = refine(Chain.from_group_conv(C, fit), fit, judge, cfg.refine, seed=seed)
        report = rr.to_dict()
        if rr.refined:
            rep = recovery_report(lens_generator(chain, cfg), ds.generator).to_dict()
        elif base.get("refined"):
            raise ValueError(f"the run recorded for {path.name} was refined; its trained lens is only in a "
                             "checkpoint (.pt)")
        else:  # the lens is left as trained: its recorded figures stand
            rep = {}
    seconds = time.perf_counter() - start
    wall = base["wall_seconds"] + seconds
    kept = report["kept"] + "".join(STEP_MARKS[s] for s in report["steps"])
    return dict(base, **rep, wall_seconds=round(wall, 1), seconds_per_step=round(wall / base["steps"], 4),
                cosine_before_refine=base.get("cosine_before_refine", base["cosine"]), refined=bool(report["refined"]),
                refined_from_saved_state=True, refine_similarity=report["similarity"], refine_kept=kept,
                refine_ring=bool(report["ring"]), refine_source=path.name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("states", nargs="+", type=Path, help="DATASET-seedS.npz files (key C) or checkpoints (.pt)")
    ap.add_argument("--runs", nargs="+", default=["default"], metavar="TAG",
                    help="ledger tags of the runs that trained them (default: default)")
    ap.add_argument("--config", help="LensConfig file whose refine settings to use; default: LensConfig()")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--noise", type=float, default=0.05)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from symscope import LensConfig, SymscopeInputError

    try:
        cfg = LensConfig.from_file(args.config) if args.config else LensConfig()
    except SymscopeInputError as exc:
        ap.error(str(exc))
    tag = Path(args.config).stem if args.config else "default"
    try:
        records = ledger.load()
    except ledger.MissingSource as exc:
        ap.error(str(exc))
    runs = {(r["dataset"], r["seed"], r["d"], r["n"], r["noise"]): r
            for r in ledger.latest(records, method="symscope", tag=tuple(args.runs))}
    if not runs:
        ap.error(f"the ledger holds no symscope run with tag {' / '.join(args.runs)}")
    state, mach = ledger.git_state(), ledger.machine(git=False)
    done = {r.get("refine_source") for r in records if r["tag"] == tag and r["commit"] == state["commit"]
            and r.get("diff_hash") == state["diff_hash"]}
    command = sweep.command_line("refine_saved.py", argv)
    rows = []
    for path in args.states:
        if path.name in done:
            continue
        try:
            rec = refine_one(path, cfg, args.n, args.noise, runs)
        except (OSError, KeyError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
            ap.error(f"{path}: {exc}")
        res = {k: v for k, v in rec.items() if k not in ledger.CELL_KEY and k not in ledger.LEDGER_FIELDS}
        res["trained_commit"] = rec["commit"]  # the training run's record; this one adds the refinement
        rows.append(ledger.record("symscope", tag, rec["dataset"], rec["seed"], rec["d"], rec["n"], rec["noise"],
                                  cfg.to_dict(), res, command=command, mach={**mach, **state}))
        ledger.append(rows[-1])
        print(f"{rec['dataset']:<20} seed={rec['seed']}  cosine {rec['cosine_before_refine']:.4f} -> {rec['cosine']:.4f}"
              f"  (kept {rec['refine_kept']}, similarity {rec['refine_similarity']:.3f})",
              flush=True)
    if rows:
        print("\n" + recovery.table(rows, recovery.CELL))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
