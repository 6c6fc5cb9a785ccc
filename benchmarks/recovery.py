"""Recovery benchmark: default config on every paper dataset, several seeds, one command.

    python benchmarks/recovery.py --suite paper      # 6 paper datasets × 5 seeds at d = 33
    python benchmarks/recovery.py --suite dims       # gaussian-shift / -permuted at d = 17, 65
    python benchmarks/recovery.py --suite quick      # 2 datasets × 1 seed (smoke check)
    python benchmarks/recovery.py --datasets gaussian-dst --seeds 0 1 --dims 33 --jobs 2

Each run is one cell of a sweep (``sweep.py``): a Ray task on a local Ray (``--jobs`` at a time)
or on the cluster at ``--address``, or a process of a local pool (``--backend pool``); one torch
thread each. Records are appended to the ledger ``benchmarks/results/runs.jsonl`` as they finish
(an interrupted suite resumes: cells measured at this commit are skipped) and the suite's table
is printed; ``python benchmarks/report.py`` rebuilds the documented tables from the ledger.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402
import sweep  # noqa: E402

SUITES = {
    "paper": dict(datasets=["gaussian-shift", "gaussian-permuted", "gaussian-dst",
                            "legendre-shift", "legendre-permuted", "legendre-dst"], seeds=[0, 1, 2, 3, 4], dims=[33]),
    "dims": dict(datasets=["gaussian-shift", "gaussian-permuted", "gaussian-orthogonal"], seeds=[0], dims=[17, 65]),
    "quick": dict(datasets=["gaussian-shift", "gaussian-permuted"], seeds=[0], dims=[33]),
}


def run_one(name: str, seed: int, d: int, n: int, config_file: str | None, steps: int | None,
            noise: float = 0.05, device: str = "cpu", checkpoint_dir: str | None = None) -> dict:
    """Fit the default (or given) config on one dataset/seed/d; return the recovery record.

    With ``checkpoint_dir`` the run checkpoints there (its history then holds the recovery
    cosine every ``log_every`` steps) and resumes from an earlier checkpoint of the same cell.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import dataclasses

    import torch

    torch.set_num_threads(1)
    from symscope import LensConfig, SymmetryLens, make_dataset, recovery_report
    from symscope.measure.recovery import data_weighted_error
    from symscope.discover.refine import STEP_MARKS

    cfg = LensConfig.from_file(config_file) if config_file else LensConfig()
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=steps)
    ds = make_dataset(name, n=n, d=d, seed=seed, noise=noise)
    fit_kw: dict = dict(truth=ds.generator)  # only recorded (history, refine event); it does not steer the fit
    if checkpoint_dir is not None:
        ckpt = Path(checkpoint_dir) / f"{name}-d{d}-n{n}-noise{noise}-seed{seed}-steps{cfg.steps}.pt"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        fit_kw.update(checkpoint_path=ckpt, resume_from=ckpt if ckpt.exists() else None)
    start = time.perf_counter()
    lens = SymmetryLens(cfg, seed=seed, device=device, progress=False).fit(ds.X, **fit_kw)
    wall = time.perf_counter() - start
    if fit_kw.get("resume_from"):  # this process saw only the last segment; the checkpoints carry the rest
        wall = lens.run_record_["train_seconds"]
    rep = recovery_report(lens.generator_, ds.generator)
    refine = lens.refine_event_
    extra = {} if refine is None or "cosine_before" not in refine else dict(
        cosine_before_refine=refine["cosine_before"], refined=bool(refine["refined"]),
        refine_kept=refine.get("kept", "") + "".join(STEP_MARKS[s] for s in refine.get("steps", ())),
        refine_ring=bool(refine.get("ring", False)), stage=refine.get("stage", "trained"))
    first = next((e for e in lens.events_ if e["event"] == "refine" and e.get("stage") == "initial"), None)
    if first is not None and "cosine" in first:
        extra.update(initial_cosine=first["cosine"], trained=bool(first.get("trains")),
                     initial_label=(first.get("verdict") or {}).get("label"))
    if lens.verdict_ is not None:
        v = lens.verdict_.to_dict()
        extra.update({f"verdict_{k}": v[k] for k in ("label", "found", "settled", "null_z", "margin_z",
                                                    "unresolved", "ambiguity_similarity", "runner_up")})
    Xs = (ds.X - lens.mean_) / lens.scale_
    extra["data_weighted_error"] = data_weighted_error(lens.generator_, ds.generator, Xs)
    done = int(lens.run_record_["steps"])  # 0 when the first stage settled the fit
    return dict(dataset=name, seed=seed, d=d, n=n, noise=noise, steps=cfg.steps, steps_trained=done,
                device=lens.run_record_["device"], wall_seconds=round(wall, 1),
                seconds_per_step=round(wall / done, 4) if done else None,
                resumed=bool(fit_kw.get("resume_from")), **rep.to_dict(), **extra)


def _seconds(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def table(rows: list[dict], by: tuple[str, ...] = ("dataset", "d")) -> str:
    """Markdown: one line per ``by`` group with median cosine, success fraction, median wall time.

    ``s/step`` is shown where the records have ``seconds_per_step`` (iterative methods). Where
    records carry ``cosine_before_refine`` (symscope runs since the final refinement), a column
    shows the same cells at the last training step, before the refinement.
    """
    before = any("cosine_before_refine" in r for r in rows)
    extra = " before refine: median, minimal |" if before else ""
    out = [f"| {' | '.join(by)} | seeds | median cosine | cosine ≥ 0.98 (minimal) | verdicts | median wall (s) | s/step |"
           + extra, "|---" * (len(by) + 6 + before) + "|"]
    keys = sorted({tuple(r[k] for k in by) for r in rows}, key=lambda k: (k[-1], *k[:-1]))
    for key in keys:
        rs = [r for r in rows if tuple(r[k] for k in by) == key]
        ok = sum(r["minimal"] for r in rs)
        verdicts = ", ".join(f"{v}×{sum(r['verdict'] == v for r in rs)}" for v in sorted({r["verdict"] for r in rs}))
        per_step = [r["seconds_per_step"] for r in rs if r.get("seconds_per_step") is not None]
        line = (f"| {' | '.join(map(str, key))} | {len(rs)} | {statistics.median(r['cosine'] for r in rs):.3f} "
                f"| {ok}/{len(rs)} | {verdicts} | {_seconds(statistics.median(r['wall_seconds'] for r in rs))} "
                f"| {f'{statistics.median(per_step):.4f}' if per_step else '–'} |")
        if before:
            pre = [r["cosine_before_refine"] for r in rs if "cosine_before_refine" in r]
            cut = rs[0].get("cos_threshold", 0.98)
            line += (f" {statistics.median(pre):.3f}, {sum(c >= cut for c in pre)}/{len(pre)} |" if pre else " – |")
        out.append(line)
    return "\n".join(out)


#: Table cells of the recovery benchmark: one line per dataset × d × sample count × noise level.
CELL = ("dataset", "d", "n", "noise")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=sorted(SUITES), default="quick")
    ap.add_argument("--datasets", nargs="+")
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--dims", nargs="+", type=int)
    ap.add_argument("--n", type=int, default=50_000, help="samples per dataset (default 50000)")
    ap.add_argument("--noise", type=float, default=0.05, help="relative noise level of the data (paper: 0.05)")
    ap.add_argument("--steps", type=int, help="override the config's steps (the tag gets -stepsN)")
    ap.add_argument("--config", help="LensConfig file (.json/.toml); default: LensConfig(); its stem is the tag")
    ap.add_argument("--device", default="cpu", help="torch device of each run: cpu (default), cuda or auto; "
                    "several jobs may share one GPU")
    ap.add_argument("--checkpoint-dir", help="checkpoint each run here (history with the cosine every 50 steps) "
                    "and resume unfinished runs from their checkpoints")
    sweep.add_arguments(ap)
    args = ap.parse_args(argv)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            ap.error(f"--device {args.device}: no CUDA device is available here (use cpu or auto)")
    suite = {k: getattr(args, k) or v for k, v in SUITES[args.suite].items()}
    # seed-major: an interrupted suite has covered every dataset with its first seeds
    cells = [sweep.Cell("symscope", name, seed, d, args.n, args.noise, config_file=args.config, steps=args.steps,
                        device=args.device, checkpoint_dir=args.checkpoint_dir)
             for d in suite["dims"] for seed in suite["seeds"] for name in suite["datasets"]]
    sweep.run_cells(cells, sweep.command_line("recovery.py", argv), backend=sweep.backend_of(args), jobs=args.jobs,
                    address=args.address)
    rows = ledger.latest(ledger.load(), method="symscope", tag=cells[0].settings()[0], dataset=tuple(suite["datasets"]),
                         seed=tuple(suite["seeds"]), d=tuple(suite["dims"]), n=args.n, noise=args.noise)
    print("\n" + table(rows, CELL))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
