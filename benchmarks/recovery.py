"""Recovery benchmark: default config on every paper dataset, several seeds, one command.

    python benchmarks/recovery.py --suite paper      # 6 paper datasets × 5 seeds at d = 33
    python benchmarks/recovery.py --suite dims       # gaussian-shift / -permuted at d = 17, 65
    python benchmarks/recovery.py --suite quick      # 2 datasets × 1 seed (smoke check)
    python benchmarks/recovery.py --datasets gaussian-dst --seeds 0 1 --dims 33 --jobs 2

Each run is a separate process (``--jobs`` at a time, one torch thread each); results are
appended to ``benchmarks/results/recovery-<suite>.jsonl`` as they finish (an interrupted suite
can be resumed: finished cells are skipped), and a Markdown table with the command line, the
machine and the versions is written to ``benchmarks/results/recovery-<suite>.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

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
    refine = next((e for e in lens.events_ if e["event"] == "refine"), None)
    extra = {} if refine is None or "cosine_before" not in refine else dict(
        cosine_before_refine=refine["cosine_before"], refined=bool(refine["refined"]),
        refine_kept=refine.get("kept", "") + "".join(STEP_MARKS[s] for s in refine.get("steps", ())),
        refine_ring=bool(refine.get("ring", False)))
    return dict(dataset=name, seed=seed, d=d, n=n, noise=noise, steps=cfg.steps, device=lens.run_record_["device"],
                wall_seconds=round(wall, 1), seconds_per_step=round(wall / cfg.steps, 4),
                resumed=bool(fit_kw.get("resume_from")), **rep.to_dict(), **extra)


def machine() -> dict:
    import numpy
    import torch

    import symscope

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return dict(platform=platform.platform(), processor=platform.processor() or platform.machine(),
                cpus=os.cpu_count(), gpu=gpu, python=sys.version.split()[0], torch=str(torch.__version__),
                numpy=numpy.__version__, symscope=symscope.__version__,
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


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


def load_log(log: Path) -> list[dict]:
    """The records of a resumable jsonl results file (empty when it does not exist yet).

    Records written before the ``noise`` field existed were all made at the paper's 0.05.
    """
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    for r in rows:
        r.setdefault("noise", 0.05)
    return rows


#: Table cells of the recovery benchmark: one line per dataset × d × sample count × noise level.
CELL = ("dataset", "d", "n", "noise")


def append_log(log: Path, rec: dict) -> None:
    """Append one finished record to the jsonl results file."""
    with open(log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def open_suite(args: argparse.Namespace, suites: dict, keys: tuple[str, ...], prefix: str
               ) -> tuple[dict, str, Path, list[dict]]:
    """The chosen suite with command-line overrides of ``keys``, its tag, its jsonl log and the done records."""
    suite = dict(suites[args.suite])
    for key in keys:
        if getattr(args, key):
            suite[key] = getattr(args, key)
    tag = args.tag or args.suite
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / f"{prefix}-{tag}.jsonl"
    return suite, tag, log, load_log(log)


def write_report(path: Path, title: str, argv: list[str] | None, note: str, body: str,
                 script: str = "recovery.py") -> None:
    """Markdown results file: title, the command line, machine and versions, a note, the table.

    ``argv`` is what the script's ``main`` received (None: the process's own arguments), so the
    recorded command is right also when ``benchmarks/run.py`` calls ``main`` directly.
    """
    args = sys.argv[1:] if argv is None else argv
    path.write_text(f"# {title}\n\nCommand: `python benchmarks/{script} {' '.join(args)}`\n\n"
                    f"Machine and versions: `{json.dumps(machine())}`\n\n{note}\n\n{body}\n")


def combine(tags: list[str], out_tag: str, argv: list[str] | None, datasets: list[str] | None = None) -> int:
    """One table over the runs already recorded under several tags (e.g. one tag per seed).

    ``datasets`` (``--datasets``) keeps only those datasets' runs.
    """
    rows = []
    for tag in tags:
        log = RESULTS / f"recovery-{tag}.jsonl"
        if not log.exists():
            print(f"no results file {log}", file=sys.stderr)
            return 2
        rows += [r for r in load_log(log) if not datasets or r["dataset"] in datasets]
    sources = ", ".join(f"[`recovery-{t}.md`](recovery-{t}.md)" for t in tags)
    md = RESULTS / f"recovery-{out_tag}.md"
    write_report(md, f"Recovery benchmark: {out_tag} (combined)", argv,
                 f"Runs merged from {sources}; each names the command, machine and versions it ran with.",
                 table(rows, CELL))
    print(md.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=sorted(SUITES), default="quick")
    ap.add_argument("--datasets", nargs="+")
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--dims", nargs="+", type=int)
    ap.add_argument("--n", type=int, default=50_000, help="samples per dataset (default 50000)")
    ap.add_argument("--noise", type=float, default=0.05, help="relative noise level of the data (paper: 0.05)")
    ap.add_argument("--steps", type=int, help="override the config's steps")
    ap.add_argument("--config", help="LensConfig file (.json/.toml); default: LensConfig()")
    ap.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    ap.add_argument("--tag", help="results file suffix (default: the suite name)")
    ap.add_argument("--device", default="cpu", help="torch device of each run: cpu (default), cuda or auto; "
                    "several jobs may share one GPU")
    ap.add_argument("--checkpoint-dir", help="checkpoint each run here (history with the cosine every 50 steps) "
                    "and resume unfinished runs from their checkpoints")
    ap.add_argument("--combine", nargs="+", metavar="TAG",
                    help="run nothing: merge the finished results of these tags into recovery-<--tag>.md")
    args = ap.parse_args(argv)
    if args.combine:
        return combine(args.combine, args.tag or "combined", argv, args.datasets)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            ap.error(f"--device {args.device}: no CUDA device is available here (use cpu or auto)")
    suite, tag, log, done = open_suite(args, SUITES, ("datasets", "seeds", "dims"), "recovery")
    done = [r for r in done if r["n"] == args.n and r["noise"] == args.noise]  # same data only
    finished = {(r["dataset"], r["seed"], r["d"]) for r in done}
    # seed-major: an interrupted suite has covered every dataset with its first seeds
    cells = [(name, seed, d) for d in suite["dims"] for seed in suite["seeds"] for name in suite["datasets"]]
    todo = [cell for cell in cells if cell not in finished]
    print(f"{len(todo)} runs to do ({len(finished)} already in {log})", flush=True)
    # CUDA cannot be used in forked children: spawn fresh interpreters when a GPU may be used.
    context = multiprocessing.get_context("spawn" if args.device != "cpu" else None)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        futures = {pool.submit(run_one, name, seed, d, args.n, args.config, args.steps, args.noise,
                               args.device, args.checkpoint_dir): (name, seed, d)
                   for name, seed, d in todo}
        for fut in as_completed(futures):
            rec = fut.result()
            append_log(log, rec)
            print(f"{rec['dataset']:<20} d={rec['d']:<3} seed={rec['seed']}  {rec['verdict']:<16} "
                  f"cosine={rec['cosine']:.4f}  {rec['wall_seconds']:.0f}s", flush=True)
    body = table(load_log(log), CELL)  # every run of this tag, also earlier commands' (and other n / noise)
    md = RESULTS / f"recovery-{tag}.md"
    write_report(md, f"Recovery benchmark: {tag}", argv,
                 f"Default `LensConfig()` unless a config file is named; each run one torch thread "
                 f"on device `{args.device}`, {args.jobs} runs in parallel; n = {args.n} samples; noise = {args.noise}; "
                 f"data seed = training seed. The table holds every run recorded in `{log.name}`, including "
                 "runs of earlier commands with the same tag.",
                 body)
    print(f"\nwrote {md}\n\n{body}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
