"""The ``symscope`` command line.

Each subcommand is a ``cmd_<name>(args) -> int`` function registered in ``_build_parser``
with ``_add_command``; user errors raised anywhere below (and argparse's usage errors) are
turned into one line ``symscope: error: ...`` on stderr and exit status 2 by ``main``.
torch and scipy are imported inside the commands that need them, so ``symscope --help`` is fast.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from . import __version__
from ._validation import SymscopeInputError, SymscopeTrainingError, load_torch_file
from .config import LensConfig
from .measure import HealthReport, generator_health, recovery_report

if TYPE_CHECKING:
    from .lens import SymmetryLens

PROG = "symscope"
#: Exit status for user errors (bad input, missing files), as argparse uses.
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def cmd_datasets(args: argparse.Namespace) -> int:
    """List the built-in datasets, one line each."""
    from .data import DATASETS

    width = max(map(len, DATASETS))
    for name, spec in DATASETS.items():
        print(f"{name:<{width}}  {spec.description}")
    return 0


def cmd_make_data(args: argparse.Namespace) -> int:
    """Write a built-in dataset to .npz: ``X`` (n×d float32) and ``generator`` (d×d float64)."""
    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise SymscopeInputError(f"--out must end in .npz, got {out}")
    from .data import make_dataset

    ds = make_dataset(
        args.name, n=args.n, d=args.dim, seed=args.seed, noise=args.noise, transform_seed=args.transform_seed
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, X=ds.X.astype(np.float32), generator=ds.generator.astype(np.float64))
    print(f"wrote {out}: {args.name}, X {ds.X.shape[0]}x{ds.X.shape[1]} float32, generator {args.dim}x{args.dim}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a learned generator against the true one (cosine, RMSE, power and collapse checks)."""
    from .data import load_generator

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
    from .data import load_data, make_dataset

    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        ds = make_dataset(name, n=args.n, d=args.dim, seed=args.data_seed)
        return ds.X, ds.generator, {"builtin": name, "n": args.n, "dim": args.dim, "data_seed": args.data_seed}
    return load_data(spec), None, {"file": str(Path(spec).resolve())}


def _continue_command(args: argparse.Namespace) -> str:
    """The ``discover --resume`` command line that continues this run exactly as it was started.

    It repeats the data (with ``--n``/``--dim``/``--data-seed`` for built-in data) and every
    option that is not stored in the checkpoint (device, threads, quiet); config, seed and steps
    come from the checkpoint.
    """
    cmd = [PROG, "discover", args.data, "--out", args.out, "--resume"]
    if args.data.startswith("builtin:"):
        cmd += ["--n", str(args.n), "--dim", str(args.dim), "--data-seed", str(args.data_seed)]
    if args.device != "auto":
        cmd += ["--device", args.device]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    if args.quiet:
        cmd.append("--quiet")
    return shlex.join(cmd)


def _resume_settings(args: argparse.Namespace, ckpt: Path) -> tuple[LensConfig | None, int]:
    """(config, seed) for ``--resume``: the checkpoint's, and ``--seed``/``--steps`` only if they agree.

    A resumed run keeps the schedule and random streams it was started with, so a different seed
    or step count cannot be honoured; it is refused naming the flag. ``--config`` is passed on
    and the lens refuses it naming every field that differs from the checkpoint's.
    """
    saved = load_torch_file(ckpt, "checkpoint")
    try:
        saved_seed, saved_steps = int(saved["seed"]), int(saved["config"]["steps"])
    except (KeyError, TypeError, ValueError):
        raise SymscopeInputError(f"{ckpt} is not a complete symscope checkpoint (no seed or steps)") from None
    hint = f"drop the flag to continue the run in {args.out}, or start a new run with another --out"
    if args.seed is not None and args.seed != saved_seed:
        raise SymscopeInputError(f"--seed {args.seed} differs from the checkpoint's seed {saved_seed}; {hint}")
    if args.steps is not None and args.steps != saved_steps:
        raise SymscopeInputError(
            f"--steps {args.steps} differs from the checkpoint's steps {saved_steps} (the learning-rate and rank "
            f"schedules depend on it); {hint}")
    return (_config(args) if args.config else None), saved_seed


def _config(args: argparse.Namespace) -> LensConfig:
    """``--config`` (or the defaults) with ``--steps`` applied."""
    config = LensConfig.from_file(args.config) if args.config else LensConfig()
    return dataclasses.replace(config, steps=args.steps) if args.steps is not None else config


def _check_result(lens: SymmetryLens) -> None:
    """Refuse to write a run folder computed from non-finite values (overflowed data, a broken fit)."""
    arrays = {"generator": lens.generator_, "filter": lens.filter_, "group convolution": lens.group_conv_,
              "standardisation mean/scale": np.array([lens.mean_, lens.scale_])}
    bad = [name for name, a in arrays.items() if not np.all(np.isfinite(a))]
    if not lens.scale_ > 0:
        bad.append("standardisation scale (not > 0)")
    if bad:
        raise SymscopeTrainingError(f"the fit produced non-finite values ({', '.join(bad)}); no result was written")


def _write_run(out: Path, lens: SymmetryLens, truth: np.ndarray | None, data_info: dict,
               health: HealthReport) -> dict | None:
    """Write the arrays, config, history, run record (with the health check), metrics and plots."""
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
    verdict = lens.verdict_
    record = dict(lens.run_record_, data=data_info, events=lens.events_, health=health.to_dict(),
                  verdict=None if verdict is None else verdict.to_dict(), command=" ".join([PROG, *sys.argv[1:]]))
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    metrics = None
    if truth is not None:
        metrics = recovery_report(lens.generator_, truth).to_dict()
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    from .plots import plot_run

    plot_run(lens, out, truth, health=health)
    return metrics


def cmd_discover(args: argparse.Namespace) -> int:
    """Learn the hidden symmetry of DATA (a .npy/.npz/.csv file or builtin:NAME) into a run folder."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SymscopeInputError(f"--out {out} is a file; it must name a run folder")
    ckpt = out / "checkpoint.pt"
    if args.resume and not ckpt.is_file():
        raise SymscopeInputError(f"--resume: no checkpoint in {out} (expected {ckpt})")
    if not args.resume and ckpt.is_file():
        raise SymscopeInputError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if args.resume:
        config, seed = _resume_settings(args, ckpt)
    else:
        config, seed = _config(args), (0 if args.seed is None else args.seed)
    X, truth, data_info = _discover_data(args.data, args)
    from .lens import SymmetryLens

    out.mkdir(parents=True, exist_ok=True)
    lens = SymmetryLens(config, seed=seed, device=args.device, progress=not args.quiet,
                        threads=1 if args.threads is None else args.threads, restarts=args.restarts)
    try:
        lens.fit(X, resume_from=ckpt if args.resume else None, checkpoint_path=ckpt, truth=truth)
    except KeyboardInterrupt:
        if ckpt.is_file():
            print(f"\ninterrupted; checkpoint saved to {ckpt}. Continue with: {_continue_command(args)}",
                  file=sys.stderr)
        else:
            print(f"\ninterrupted before the first checkpoint; nothing to resume in {out}", file=sys.stderr)
        return 130
    _check_result(lens)
    health = generator_health(lens.generator_, lens.group_conv_)
    metrics = _write_run(out, lens, truth, data_info, health)
    rec = lens.run_record_
    print(f"wrote {out}: generator.npy, filter.npy, group_conv.npy, lens.pt, plots "
          f"({rec['steps']} steps, {rec['train_seconds']:.0f} s on {rec['device']}, "
          f"{rec['torch_threads']} thread{'s' if rec['torch_threads'] != 1 else ''})")
    for line in _stage_lines(lens):
        print(line)
    if metrics is not None:
        print(f"recovery: {metrics['verdict']}  cosine {metrics['cosine']:.4f}  rmse {metrics['rmse']:.4f}  "
              f"(cosine to truth^2 {metrics['power2_cosine']:.3f}, to identity {metrics['identity_cosine']:.3f})")
    print(f"health: {health.verdict}: {health.message}")
    verdict = lens.verdict_
    if verdict is not None:
        print(f"verdict: {verdict.label}: {verdict.message}")
    if health.failed:
        print(f"{PROG}: warning: this fit failed ({health.verdict}); its result is not a learned symmetry",
              file=sys.stderr)
    elif verdict is not None and not verdict.found:
        print(f"{PROG}: warning: the verdict is '{verdict.label}': treat this generator as unconfirmed", file=sys.stderr)
    return 0


def _stage_lines(lens: SymmetryLens) -> list[str]:
    """One line per refinement stage (which chain it kept, whether training followed) and the restarts."""
    lines = []
    for e in lens.events_:
        if e["event"] == "restarts":
            labels = ", ".join(f"seed {r['seed']} {r['label']}" for r in e["restarts"])
            lines.append(f"restarts: kept seed {e['kept_seed']} of {len(e['restarts'])} ({labels})")
        if e["event"] != "refine" or "skipped" in e:
            continue
        stage = e.get("stage", "trained")
        tried = f"{int(e['candidates'])} candidates"
        before = f"; cosine before {e['cosine_before']:.4f}" if "cosine_before" in e else ""
        after = f", cosine {e['cosine']:.4f}" if "cosine" in e else ""
        then = ""
        if stage == "initial":
            then = "; training follows" if e.get("trains") else "; no training needed"
        lines.append(f"{stage} stage: kept the {e['kept']} chain of {tried}{before}{after} "
                     f"({e['seconds']:.0f} s){then}")
    return lines


#: What ``transform --out`` can write, by file name ending.
TRANSFORM_SUFFIXES = (".npy", ".csv")


def cmd_transform(args: argparse.Namespace) -> int:
    """Apply a learned lens (run folder or lens.pt) to DATA and write the representation (.npy or .csv)."""
    out = Path(args.out)
    if out.is_dir():
        raise SymscopeInputError(f"--out {out} is a folder; name the file to write (.npy or .csv)")
    if out.suffix.lower() not in TRANSFORM_SUFFIXES:
        raise SymscopeInputError(f"--out must end in .npy or .csv, got {out}")
    from .data import load_data
    from .lens import SymmetryLens

    src = Path(args.run)
    lens = SymmetryLens.load(src / "lens.pt" if src.is_dir() else src)
    Y = lens.transform(load_data(args.data, min_samples=1, allow_constant=True)).astype(np.float32)
    if not np.all(np.isfinite(Y)):
        raise SymscopeInputError(f"the representation of {args.data} overflows float32; nothing was written")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        np.savetxt(out, Y, delimiter=",", fmt="%.9g")
    else:
        with open(out, "wb") as fh:  # a file object: np.save writes exactly this name
            np.save(fh, Y)
    print(f"wrote {out}: {Y.shape[0]}x{Y.shape[1]} representation")
    return 0


def _add_command(sub: argparse._SubParsersAction, name: str, handler: Handler, **kwargs: str) -> argparse.ArgumentParser:
    """Register subcommand ``name``; its help is the handler's docstring summary."""
    summary = (handler.__doc__ or "").strip().splitlines()[0]
    p = sub.add_parser(name, help=summary, description=summary, **kwargs)
    p.set_defaults(handler=handler)
    return p


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (``symscope: error: ...``, exit status 2)."""

    def error(self, message: str) -> NoReturn:
        _error(f"{message} (see `{self.prog} --help`)")
        raise SystemExit(EXIT_USAGE)


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in [low, high]; the message names the rule and the value."""
    rule = f">= {low}" if high is None else f"in [{low}, {high}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {rule}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {rule}, got {value}")
        return value

    return parse


def _float_at_least(low: float) -> Callable[[str], float]:
    """argparse type: a finite number >= low."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number >= {low:g}, got {text!r}") from None
        if not np.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"must be a finite number >= {low:g}, got {text}")
        return value

    return parse


#: Seeds go to numpy and torch generators.
SEED = _int_in(0, 2**32 - 1)
COUNT = _int_in(1)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Find the hidden symmetry of unlabeled data (SymmetryLens).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_command(sub, "datasets", cmd_datasets)

    p = _add_command(sub, "make-data", cmd_make_data)
    p.add_argument("name", metavar="NAME", help="a built-in dataset (see `symscope datasets`)")
    p.add_argument("--n", type=COUNT, default=10_000, help="number of samples (default 10000)")
    p.add_argument("--dim", type=COUNT, default=33, help="dimension d (default 33)")
    p.add_argument("--seed", type=SEED, default=0, help="sample seed (default 0)")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="output file")
    p.add_argument("--noise", type=_float_at_least(0.0), default=0.05, help="relative noise level (default 0.05)")
    p.add_argument("--transform-seed", type=SEED, default=0, help="seed of the hidden transform (default 0)")

    p = _add_command(sub, "evaluate", cmd_evaluate)
    p.add_argument("generator", metavar="GENERATOR", help=".npy matrix, .npz holding 'generator', or a run folder")
    p.add_argument("--truth", required=True, metavar="TRUTH", help=".npy matrix or .npz holding 'generator'")
    p.add_argument("--cos-threshold", type=float, default=0.98, help="cosine needed to count as recovered")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")

    p = _add_command(sub, "discover", cmd_discover)
    p.add_argument("data", metavar="DATA", help=".npy/.npz/.csv file (n×d) or builtin:NAME")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder to write")
    p.add_argument("--seed", type=SEED, help="training seed (default 0; with --resume: the checkpoint's)")
    p.add_argument("--config", metavar="FILE", help="LensConfig as .json or .toml (missing keys: defaults)")
    p.add_argument("--steps", type=COUNT, help="override the number of training steps")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    p.add_argument("--threads", type=COUNT, metavar="N",
                   help="torch CPU threads (default 1: deterministic, and fastest on a busy machine)")
    p.add_argument("--restarts", type=COUNT, default=1, metavar="K",
                   help="fit K seeds in parallel processes, keep the best by the verdict (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--n", type=COUNT, default=50_000, help="builtin data: number of samples (default 50000)")
    p.add_argument("--dim", type=COUNT, default=33, help="builtin data: dimension (default 33)")
    p.add_argument("--data-seed", type=SEED, default=0, help="builtin data: sample seed (default 0)")

    p = _add_command(sub, "transform", cmd_transform)
    p.add_argument("run", metavar="DIR", help="run folder written by discover (or its lens.pt)")
    p.add_argument("data", metavar="DATA", help=".npy/.npz/.csv file (n×d)")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write: FILE.npy or FILE.csv")
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
