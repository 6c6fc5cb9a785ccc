"""Every bad input the CLI is tried with, and the one line it must answer: the source of docs/errors.md.

``tests/test_cli.py`` runs each case (exit status 2, one line ``symscope: error: ...`` matching
``match``, no traceback); ``python tests/bad_inputs.py --write`` regenerates docs/errors.md from
the same cases (a test checks that the committed file is current). Each case runs with the
current directory set to a fresh folder holding its ``files`` (and, for ``needs_run``, a finished
tiny run in ``run/``), so the messages name short relative paths.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
RNG = np.random.default_rng(0)
GOOD = RNG.standard_normal((300, 7))


def _torch_file(obj_maker: Callable[[], Any]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import torch

        torch.save(obj_maker(), path)

    return write


class _Payload:
    """A pickle payload: unpickling it would call ``print`` (a stand-in for running any code)."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (print, ("payload ran",))


def _npz_as(path: Path) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, X=GOOD)


def _npy_as(path: Path) -> None:
    with open(path, "wb") as fh:
        np.save(fh, GOOD)


def _object_npy(path: Path) -> None:
    np.save(path, np.array([[1, "a", None]] * 300, dtype=object), allow_pickle=True)


#: A config with the refinement off, so the tiny run of ``needs_run`` takes seconds.
TINY_CONFIG = json.dumps({"batch_size": 64, "refine": {"enabled": False}, "repair_at": []})
BUILTIN = ["builtin:gaussian-shift", "--n", "300", "--dim", "7"]


@dataclass(frozen=True)
class Case:
    """One bad input: what it is, the command, the files it needs, and the message it must get."""

    what: str
    argv: tuple[str, ...]
    match: str
    files: dict[str, Any] = field(default_factory=dict)
    needs_run: bool = False


def _data(what: str, name: str, content: Any, match: str) -> Case:
    return Case(what, ("discover", name, "--out", "out"), match, {name: content})


def _config(what: str, text: str, match: str, name: str = "c.toml") -> Case:
    return Case(what, ("discover", *BUILTIN, "--config", name, "--out", "out"), match, {name: text})


CASES: list[Case] = [
    # -- data files (discover; the same loader serves transform) --------------------------------
    Case("data file that does not exist", ("discover", "missing.npy", "--out", "out"), r"no such file: missing\.npy"),
    Case("a folder as data", ("discover", "folder", "--out", "out"), r"folder is a folder, expected a file",
         {"folder/x.txt": "x"}),
    _data("unsupported file type", "x.txt", "1,2,3\n", r"unsupported file type '\.txt' for x\.txt"),
    _data("text file named .npy", "x.npy", "1,2,3\n4,5,6\n", r"cannot read x\.npy as \.npy: the file is a text file"),
    _data(".npz archive named .npy", "x.npy", _npz_as, r"the file is an \.npz archive \(rename it to \.npz\)"),
    _data(".npy array named .npz", "x.npz", _npy_as, r"the file is an \.npy array \(rename it to \.npy\)"),
    _data("empty .npy", "x.npy", "", r"cannot read x\.npy as \.npy: the file is empty"),
    _data("random bytes named .npy", "x.npy", bytes(range(256)), r"the file is neither \.npy nor \.npz"),
    _data("object array (needs unpickling)", "x.npy", _object_npy, r"array of Python objects \(dtype object\)"),
    _data(".npz with two arrays, none named X", "x.npz", {"a": GOOD, "b": GOOD},
          r"x\.npz holds a, b; expected an array named 'X' \(or a single array\)"),
    _data("1-D array", "x.npy", np.arange(300.0), r"must be 2-D \(n_samples, n_features\), got 1-D shape \(300,\)"),
    _data("3-D array", "x.npy", np.zeros((2, 3, 4)), r"got 3-D shape \(2, 3, 4\)"),
    _data("strings", "x.npy", np.array([["a", "b", "c"]] * 300), r"non-numeric dtype <U1"),
    _data("complex numbers", "x.npy", GOOD + 1j, r"non-numeric dtype complex128"),
    _data("NaN and inf", "x.npy", np.where(np.arange(2100).reshape(300, 7) % 500 == 0, np.nan, GOOD),
          r"NaN or inf in 5 of 300 rows \(0-based rows: 0, 71, 142, 214, 285\)"),
    _data("two features", "x.npy", GOOD[:, :2], r"d=2 features; at least 3 are needed"),
    _data("constant data", "x.npy", np.ones((300, 7)), r"constant \(all entries are equal\)"),
    _data("too few samples", "x.npy", GOOD[:50], r"too few samples: got 50, need at least 100 for d=7"),
    _data("values near 1e300", "x.npy", GOOD * 1e300,
          r"cannot be standardised in float64: its values are too large \(largest \|x\| = \d\.\d+e\+300"),
    _data("values near 1e-320", "x.npy", GOOD * 1e-320, r"its values are too small"),
    _data("CSV with a word in a cell", "x.csv", "a,b,c\n1,2,3\n4,oops,6\n", r"row 3, column 2: 'oops' is not a number"),
    _data("CSV with a short row", "x.csv", "1,2,3\n4,5\n", r"row 2 has 2 columns, expected 3"),
    _data("CSV with only a header", "x.csv", "a,b,c\n", r"x\.csv has no data rows"),
    # -- config files -----------------------------------------------------------------------------
    _config("config: a number given as a string", 'filter_noise = "0.1"\n',
            r"config: filter_noise must be a number, got '0\.1' \(str\)"),
    _config("config: init_std as a string", 'init_std = "1e-4"\n', r"config: init_std must be a number, got '1e-4'"),
    _config("config: fractional batch size", "batch_size = 100.5\n",
            r"config: batch_size must be an integer, got 100\.5 \(float\)"),
    _config("config: fractional steps", "steps = 10.5\n", r"config: steps must be an integer, got 10\.5"),
    _config("config: zero kernels", "[density]\nkernels = 0\n", r"config: density\.kernels must be > 0, got 0"),
    _config("config: negative width", "[density]\nhidden = -1\n", r"config: density\.hidden must be > 0, got -1"),
    _config("config: repair fraction outside (0, 1)", "repair_at = [0.5, 1.5]\n",
            r"config: repair_at must have every entry in \(0, 1\), got \[0\.5, 1\.5\]"),
    _config("config: yes/no as a string", '[refine]\nenabled = "yes"\n',
            r"config: refine\.enabled must be true or false, got 'yes'"),
    _config("config: unknown init", 'init = "random"\n', r"config: init must be 'identity' or 'spectral', got 'random'"),
    _config("config: unknown key", "[density]\nwidth = 3\n", r"unknown key\(s\) \['density\.width'\]; valid keys of density"),
    _config("config: a table given a number", "density = 3\n", r"config: density must be a table, got 3"),
    _config("config: TOML syntax error", "steps = \n", r"cannot parse config file c\.toml"),
    _config("config: JSON number as string", '{"lr": "0.01"}', r"config: lr must be a number, got '0\.01'", "c.json"),
    _config("config: unsupported type", "steps: 3\n", r"config file must be \.json or \.toml, got c\.yaml", "c.yaml"),
    Case("config file that does not exist", ("discover", *BUILTIN, "--config", "none.toml", "--out", "out"),
         r"config file not found: none\.toml"),
    # -- flags ------------------------------------------------------------------------------------
    Case("negative seed", ("discover", *BUILTIN, "--seed", "-1", "--out", "out"),
         r"argument --seed: must be an integer in \[0, 4294967295\], got -1"),
    Case("seed not a number", ("discover", *BUILTIN, "--seed", "x", "--out", "out"), r"argument --seed: .*got 'x'"),
    Case("zero steps", ("discover", *BUILTIN, "--steps", "0", "--out", "out"), r"argument --steps: must be an integer >= 1"),
    Case("zero threads", ("discover", *BUILTIN, "--threads", "0", "--out", "out"),
         r"argument --threads: must be an integer >= 1, got 0"),
    Case("fractional sample count", ("discover", "builtin:gaussian-shift", "--n", "1e4", "--out", "out"),
         r"argument --n: must be an integer >= 1, got '1e4'"),
    Case("unknown built-in dataset", ("discover", "builtin:nope", "--out", "out"), r"unknown dataset 'nope'"),
    Case("built-in dimension too small", ("discover", "builtin:gaussian-shift", "--dim", "3", "--out", "out"),
         r"d must be an integer >= 5"),
    Case("a file as the run folder", ("discover", *BUILTIN, "--out", "out"), r"--out out is a file; it must name a run folder",
         {"out": "x"}),
    Case("no command", (), r"the following arguments are required: COMMAND"),
    Case("unknown option", ("discover", *BUILTIN, "--out", "out", "--stepz", "3"), r"unrecognized arguments: --stepz 3"),
    # -- resume -----------------------------------------------------------------------------------
    Case("a second discover into a finished run", ("discover", *BUILTIN, "--out", "run"),
         r"run already holds a run; pass --resume to continue it", needs_run=True),
    Case("--resume without a checkpoint", ("discover", *BUILTIN, "--out", "empty", "--resume"),
         r"--resume: no checkpoint in empty", {"empty/x.txt": "x"}),
    Case("--resume with another --seed", ("discover", *BUILTIN, "--out", "run", "--resume", "--seed", "5"),
         r"--seed 5 differs from the checkpoint's seed 0; drop the flag", needs_run=True),
    Case("--resume with other --steps", ("discover", *BUILTIN, "--out", "run", "--resume", "--steps", "9"),
         r"--steps 9 differs from the checkpoint's steps 4", needs_run=True),
    Case("--resume with another --config", ("discover", *BUILTIN, "--out", "run", "--resume", "--config", "c.json"),
         r"was written with a different config \(.*density\.hidden: 128 vs 8.*: checkpoint vs now\)",
         {"c.json": json.dumps({"steps": 4, "density": {"hidden": 8}})}, needs_run=True),
    Case("--resume from a crafted checkpoint (pickle payload)", ("discover", *BUILTIN, "--out", "evil", "--resume"),
         r"cannot read checkpoint evil/checkpoint\.pt: it holds Python objects besides tensors",
         {"evil/checkpoint.pt": _torch_file(lambda: {"format": "symscope-checkpoint-1", "x": _Payload()})}),
    # -- transform --------------------------------------------------------------------------------
    Case("transform --out with another suffix", ("transform", "run", "x.npy", "--out", "y.txt"),
         r"--out must end in \.npy or \.csv, got y\.txt", {"x.npy": GOOD}, needs_run=True),
    Case("transform --out a folder", ("transform", "run", "x.npy", "--out", "dir"), r"--out dir is a folder",
         {"x.npy": GOOD, "dir/x.txt": "x"}, needs_run=True),
    Case("transform data of the wrong width", ("transform", "run", "x.npy", "--out", "y.npy"),
         r"X has 5 features but the lens was fitted on 7", {"x.npy": GOOD[:, :5]}, needs_run=True),
    Case("transform with no lens", ("transform", "nothing", "x.npy", "--out", "y.npy"), r"lens file not found: nothing",
         {"x.npy": GOOD}),
    Case("lens.pt with a pickle payload", ("transform", "lens.pt", "x.npy", "--out", "y.npy"),
         r"cannot read lens file lens\.pt: it holds Python objects besides tensors and plain values; refused",
         {"x.npy": GOOD, "lens.pt": _torch_file(lambda: {"format": "symscope-lens-1", "x": _Payload()})}),
    Case("lens.pt that is a foreign torch file", ("transform", "lens.pt", "x.npy", "--out", "y.npy"),
         r"lens\.pt is not a symscope lens file", {"x.npy": GOOD, "lens.pt": _torch_file(lambda: {"w": 1})}),
    Case("lens.pt that is text", ("transform", "lens.pt", "x.npy", "--out", "y.npy"),
         r"cannot read lens file lens\.pt: it is not a PyTorch file", {"x.npy": GOOD, "lens.pt": "hello\n"}),
    Case("empty lens.pt", ("transform", "lens.pt", "x.npy", "--out", "y.npy"),
         r"cannot read lens file lens\.pt: the file is empty or truncated", {"x.npy": GOOD, "lens.pt": ""}),
    # -- evaluate and make-data -------------------------------------------------------------------
    Case("generator and truth of different sizes", ("evaluate", "g.npy", "--truth", "t.npy"),
         r"GENERATOR g\.npy is 4x4 but TRUTH t\.npy is 5x5", {"g.npy": np.eye(4), "t.npy": np.eye(5)}),
    Case("a non-square generator", ("evaluate", "g.npy", "--truth", "t.npy"), r"square matrix, got shape \(4, 5\)",
         {"g.npy": np.ones((4, 5)), "t.npy": np.eye(5)}),
    Case("a folder without generator.npy", ("evaluate", "folder", "--truth", "t.npy"),
         r"run folder folder has no generator\.npy", {"folder/x.txt": "x", "t.npy": np.eye(5)}),
    Case("make-data: unknown dataset", ("make-data", "nope", "--out", "x.npz"), r"unknown dataset 'nope'"),
    Case("make-data: --out not .npz", ("make-data", "gaussian-shift", "--out", "x.csv"), r"--out must end in \.npz"),
    Case("make-data: negative noise", ("make-data", "gaussian-shift", "--noise", "-1", "--out", "x.npz"),
         r"argument --noise: must be a finite number >= 0, got -1"),
]


def write_files(files: dict[str, Any], where: Path) -> None:
    """Create each file (text, bytes, an array as .npy, a dict of arrays as .npz, or a writer)."""
    for name, content in files.items():
        p = where / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(p)
        elif isinstance(content, str):
            p.write_text(content)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        elif isinstance(content, dict):
            with open(p, "wb") as fh:
                np.savez(fh, **content)
        else:
            with open(p, "wb") as fh:
                np.save(fh, content)


def make_run(where: Path) -> Path:
    """A finished 4-step run of 7-dimensional built-in data in ``where/run`` (seed 0), for the resume cases."""
    from symscope.cli import main

    where.mkdir(parents=True, exist_ok=True)
    (where / "tiny.json").write_text(TINY_CONFIG)
    with _cwd(where), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = main(["discover", *BUILTIN, "--steps", "4", "--config", "tiny.json", "--out", "run", "--quiet"])
    assert status == 0, "the tiny run for the bad-input cases failed"
    return where / "run"


@contextlib.contextmanager
def _cwd(path: Path):  # noqa: ANN202 - a context manager
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_case(case: Case, where: Path, run: Path | None) -> tuple[int, str, str]:
    """Run ``case`` in the empty folder ``where`` (``run``: a finished run to copy in); (status, stdout, stderr)."""
    from symscope.cli import main

    write_files(case.files, where)
    if case.needs_run:
        assert run is not None
        shutil.copytree(run, where / "run")
    out, err = io.StringIO(), io.StringIO()
    with _cwd(where), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(case.argv))
    return status, out.getvalue(), err.getvalue()


def render(rows: list[tuple[Case, str]]) -> str:
    """docs/errors.md: one table row per case, with the exact line the CLI printed."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").strip()

    lines = [
        "# Bad inputs and what symscope says",
        "",
        "Every bad input the test suite tries on the command line, with the one line printed on stderr",
        "(exit status 2, no traceback). Generated from `tests/bad_inputs.py` by",
        "`python tests/bad_inputs.py --write`; `tests/test_cli.py` checks each message and that this",
        "file is current. Each command runs in a folder holding the files it names (`run` is a finished",
        "4-step run of `builtin:gaussian-shift --n 300 --dim 7`).",
        "",
        "| bad input | command | message |",
        "|---|---|---|",
    ]
    for case, message in rows:
        lines.append(f"| {cell(case.what)} | `{cell(' '.join(['symscope', *case.argv]))}` | {cell(message)} |")
    return "\n".join(lines) + "\n"


def generate(tmp: Path) -> str:
    """Run every case in its own folder under ``tmp`` and render the table."""
    run = make_run(tmp / "_run")
    rows = []
    for i, case in enumerate(CASES):
        where = tmp / f"case{i}"
        where.mkdir()
        status, _, err = run_case(case, where, run)
        if status != 2:
            raise SystemExit(f"case {case.what!r} exited with {status}: {err}")
        rows.append((case, err.strip()))
    return render(rows)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        text = generate(Path(d))
    if "--write" in sys.argv[1:]:
        DOC.write_text(text)
        print(f"wrote {DOC}")
    else:
        print(text, end="")
