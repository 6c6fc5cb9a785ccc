"""The ``symscope`` command line.

Each subcommand is a ``cmd_<name>(args) -> int`` function registered in ``_build_parser``
with ``_add_command``; user errors raised anywhere below are turned into one line
``symscope: error: ...`` on stderr and exit status 2 by ``main``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import __version__
from ._validation import SymscopeInputError, SymscopeTrainingError
from .config import LensConfig
from .data import DATASETS, load_data, load_generator, make_dataset
from .lens import SymmetryLens
from .measure import recovery_report

PROG = "symscope"
#: Exit status for user errors (bad input, missing files), as argparse uses.
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def cmd_datasets(args: argparse.Namespace) -> int:
    """List the built-in datasets, one line each."""
    width = max(map(len, DATASETS))
    for name, spec in DATASETS.items():
        print(f"{name:<{width}}  {spec.description}")
    return 0


def cmd_make_data(args: argparse.Namespace) -> int:
    """Write a built-in dataset to .npz: ``X`` (n×d float32) and ``generator`` (d×d float64)."""
    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise SymscopeInputError(f"--out must end in .npz, got {out}")
    ds = make_dataset(
        args.name, n=args.n, d=args.dim, seed=args.seed, noise=args.noise, transform_seed=args.transform_seed
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, X=ds.X.astype(np.float32), generator=ds.generator.astype(np.float64))
    print(f"wrote {out}: {args.name}, X {ds.X.shape[0]}x{ds.X.shape[1]} float32, generator {args.dim}x{args.dim}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a learned generator against the true one (cosine, RMSE, power and collapse checks)."""
    learned = load_generator(args.generator)
    truth = load_generator(args.truth)
    if learned.shape != truth.shape:
        raise SymscopeInputError(
            f"GENERATOR {args.generator} is {learned.shape[0]}x{learned.shape[1]} "
            f"but TRUTH {args.truth} is {truth.shape[0]}x{truth.shape[1]}"
        )
    report = recovery_report(learned, truth, cos_threshold=args.cos_threshold)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    direction = "inverse (truthᵀ)" if report.inverse_matched else "as given"
    rows = [
        ("verdict", report.verdict),
        ("cosine", f"{report.cosine:.4f}  (direction: {direction})"),
        ("rmse", f"{report.rmse:.4g}"),
        ("interior cosine", f"{report.interior_cosine:.4f}"),
        ("interior rmse", f"{report.interior_rmse:.4g}"),
        ("cosine to truth^2", f"{report.power2_cosine:.4f}"),
        ("cosine to truth^3", f"{report.power3_cosine:.4f}"),
        ("cosine to identity", f"{report.identity_cosine:.4f}"),
        ("minimal", f"{report.minimal}  (threshold {report.cos_threshold:g})"),
        ("dimension", str(report.dim)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _discover_data(spec: str, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """DATA → (X, true generator or None, description). ``builtin:NAME`` makes a built-in dataset."""
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        ds = make_dataset(name, n=args.n, d=args.dim, seed=args.data_seed)
        return ds.X, ds.generator, {"builtin": name, "n": args.n, "dim": args.dim, "data_seed": args.data_seed}
    return load_data(spec), None, {"file": str(Path(spec).resolve())}


def _write_run(out: Path, lens: SymmetryLens, truth: np.ndarray | None, data_info: dict) -> dict | None:
    """Write the arrays, config, history, run record, metrics and plots of a fitted lens."""
    np.save(out / "generator.npy", lens.generator_)
    np.save(out / "filter.npy", lens.filter_)
    np.save(out / "group_conv.npy", lens.group_conv_)
    lens.save(out / "lens.pt")
    (out / "config.json").write_text(json.dumps(lens.config_.to_dict(), indent=2) + "\n")
    keys = list(dict.fromkeys(k for h in lens.history_ for k in h))
    with open(out / "history.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(lens.history_)
    record = dict(lens.run_record_, data=data_info, events=lens.events_, command=" ".join([PROG, *sys.argv[1:]]))
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    metrics = None
    if truth is not None:
        metrics = recovery_report(lens.generator_, truth).to_dict()
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    from .plots import plot_run

    plot_run(lens, out, truth)
    return metrics


def cmd_discover(args: argparse.Namespace) -> int:
    """Learn the hidden symmetry of DATA (a .npy/.npz/.csv file or builtin:NAME) into a run folder."""
    out = Path(args.out)
    ckpt = out / "checkpoint.pt"
    if args.resume and not ckpt.is_file():
        raise SymscopeInputError(f"--resume: no checkpoint in {out} (expected {ckpt})")
    if not args.resume and ckpt.is_file():
        raise SymscopeInputError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    X, truth, data_info = _discover_data(args.data, args)
    if args.resume:
        config = None  # the checkpoint's config is used
    else:
        config = LensConfig.from_file(args.config) if args.config else LensConfig()
        if args.steps is not None:
            config = dataclasses.replace(config, steps=args.steps)
    out.mkdir(parents=True, exist_ok=True)
    seed = None if args.resume else args.seed  # resuming: the checkpoint's seed (the API refuses a differing one)
    lens = SymmetryLens(config, seed=seed, device=args.device, progress=not args.quiet)
    try:
        lens.fit(X, resume_from=ckpt if args.resume else None, checkpoint_path=ckpt, truth=truth)
    except KeyboardInterrupt:
        print(f"\ninterrupted; checkpoint saved to {ckpt}. Continue with: "
              f"{PROG} discover {args.data} --out {out} --resume", file=sys.stderr)
        return 130
    metrics = _write_run(out, lens, truth, data_info)
    rec = lens.run_record_
    print(f"wrote {out}: generator.npy, filter.npy, group_conv.npy, lens.pt, plots "
          f"({rec['steps']} steps, {rec['train_seconds']:.0f} s on {rec['device']})")
    refine = next((e for e in lens.events_ if e["event"] == "refine"), None)
    if refine is not None and "skipped" not in refine:
        tried = f"{int(refine['candidates'])} candidates"
        kept = (f"kept the {refine['kept']} chain of {tried}" if refine["refined"] else f"kept the trained chain ({tried})")
        before = f"; cosine before {refine['cosine_before']:.4f}" if "cosine_before" in refine else ""
        print(f"final refinement: {kept}{before}")
    if metrics is not None:
        print(f"recovery: {metrics['verdict']}  cosine {metrics['cosine']:.4f}  rmse {metrics['rmse']:.4f}  "
              f"(cosine to truth^2 {metrics['power2_cosine']:.3f}, to identity {metrics['identity_cosine']:.3f})")
    return 0


def cmd_transform(args: argparse.Namespace) -> int:
    """Apply a learned lens (run folder or lens.pt) to DATA and write the representation (.npy)."""
    src = Path(args.run)
    lens = SymmetryLens.load(src / "lens.pt" if src.is_dir() else src)
    Y = lens.transform(load_data(args.data, min_samples=1, allow_constant=True))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, Y.astype(np.float32))
    print(f"wrote {out}: {Y.shape[0]}x{Y.shape[1]} representation")
    return 0


def _add_command(sub: argparse._SubParsersAction, name: str, handler: Handler, **kwargs: str) -> argparse.ArgumentParser:
    """Register subcommand ``name``; its help is the handler's docstring summary."""
    summary = (handler.__doc__ or "").strip().splitlines()[0]
    p = sub.add_parser(name, help=summary, description=summary, **kwargs)
    p.set_defaults(handler=handler)
    return p


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Find the hidden symmetry of unlabeled data (SymmetryLens).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_command(sub, "datasets", cmd_datasets)

    p = _add_command(sub, "make-data", cmd_make_data)
    p.add_argument("name", metavar="NAME", help="a built-in dataset (see `symscope datasets`)")
    p.add_argument("--n", type=int, default=10_000, help="number of samples (default 10000)")
    p.add_argument("--dim", type=int, default=33, help="dimension d (default 33)")
    p.add_argument("--seed", type=int, default=0, help="sample seed (default 0)")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="output file")
    p.add_argument("--noise", type=float, default=0.05, help="relative noise level (default 0.05)")
    p.add_argument("--transform-seed", type=int, default=0, help="seed of the hidden transform (default 0)")

    p = _add_command(sub, "evaluate", cmd_evaluate)
    p.add_argument("generator", metavar="GENERATOR", help=".npy matrix, .npz holding 'generator', or a run folder")
    p.add_argument("--truth", required=True, metavar="TRUTH", help=".npy matrix or .npz holding 'generator'")
    p.add_argument("--cos-threshold", type=float, default=0.98, help="cosine needed to count as recovered")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")

    p = _add_command(sub, "discover", cmd_discover)
    p.add_argument("data", metavar="DATA", help=".npy/.npz/.csv file (n×d) or builtin:NAME")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder to write")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--config", metavar="FILE", help="LensConfig as .json or .toml (missing keys: defaults)")
    p.add_argument("--steps", type=int, help="override the number of training steps")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--n", type=int, default=50_000, help="builtin data: number of samples (default 50000)")
    p.add_argument("--dim", type=int, default=33, help="builtin data: dimension (default 33)")
    p.add_argument("--data-seed", type=int, default=0, help="builtin data: sample seed (default 0)")

    p = _add_command(sub, "transform", cmd_transform)
    p.add_argument("run", metavar="DIR", help="run folder written by discover (or its lens.pt)")
    p.add_argument("data", metavar="DATA", help=".npy/.npz/.csv file (n×d)")
    p.add_argument("--out", required=True, metavar="FILE.npy", help="where to write the representation")
    return parser


def _error(message: str) -> int:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 user error) instead of raising."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argparse usage error (already printed)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    try:
        return args.handler(args)
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter from flushing into the pipe
        return 1
    except (SymscopeInputError, SymscopeTrainingError, ValueError, OSError) as exc:
        return _error(str(exc) or type(exc).__name__)
