"""The ``symscope`` command line.

Each subcommand is a ``cmd_<name>(args) -> int`` function registered in ``_build_parser``
with ``_add_command``; user errors raised anywhere below are turned into one line
``symscope: error: ...`` on stderr and exit status 2 by ``main``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import __version__
from ._validation import SymscopeInputError
from .data import DATASETS, load_generator, make_dataset
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
    except (SymscopeInputError, ValueError, OSError) as exc:
        return _error(str(exc) or type(exc).__name__)
