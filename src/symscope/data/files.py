"""Reading user data and generator matrices from disk (.npy, .npz, .csv, run folders).

Every failure is a ``SymscopeInputError`` with one line naming the file and the problem, so
that the CLI can print it without a traceback.
"""

from __future__ import annotations

import csv
import zipfile
from os import PathLike
from pathlib import Path

import numpy as np

from .._validation import SymscopeInputError, check_data, check_square_matrix

#: File types ``load_data`` reads.
DATA_SUFFIXES = (".npy", ".npz", ".csv")

#: File a run folder stores its learned generator in.
GENERATOR_FILE = "generator.npy"


def _existing_file(path: str | PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise SymscopeInputError(f"no such file: {p}")
    if p.is_dir():
        raise SymscopeInputError(f"{p} is a folder, expected a file")
    return p


#: The first bytes of an .npy file and of a zip archive (.npz).
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def _sniff(p: Path) -> str:
    """What the file's first bytes say it is: "npy", "npz", "empty", "text" or "binary".

    Read before numpy's loader so that a mislabelled file gets a message about the file, not
    numpy's fallback advice (which, for a text file, suggests unpickling it).
    """
    try:
        with p.open("rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise SymscopeInputError(f"cannot read {p}: {_one_line(exc)}") from None
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(ZIP_MAGIC):
        return "npz"
    if not head:
        return "empty"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "binary"


def _wrong_kind(p: Path, expected: str, kind: str) -> SymscopeInputError:
    """The one-line error for a file whose content is not the ``expected`` format."""
    looks = {"npy": "an .npy array (rename it to .npy)", "npz": "an .npz archive (rename it to .npz)",
             "empty": "empty", "text": "a text file (for a table of numbers use .csv)",
             "binary": "neither .npy nor .npz"}[kind]
    return SymscopeInputError(f"cannot read {p} as {expected}: the file is {looks}")


def _numpy_problem(exc: BaseException) -> str:
    """numpy's error in our words; never its advice to load pickled data."""
    text = _one_line(exc)
    if "allow_pickle" in text or "pickle" in text.lower():
        return ("it holds an array of Python objects (dtype object), which cannot be read without running "
                "code from the file; save a numeric array instead")
    return text


def _read_npy(p: Path) -> np.ndarray:
    kind = _sniff(p)
    if kind != "npy":
        raise _wrong_kind(p, ".npy", kind)
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SymscopeInputError(f"cannot read {p} as .npy: {_numpy_problem(exc)}") from None


def _read_npz_array(p: Path, key: str | None) -> np.ndarray:
    """Array ``key`` of an .npz, or (when ``key`` is absent) the only array it holds.

    ``key=None`` means: array ``X`` if present, else the only array.
    """
    kind = _sniff(p)
    if kind != "npz":
        raise _wrong_kind(p, ".npz", kind)
    try:
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            wanted = key or "X"
            if wanted in names:
                return z[wanted]
            if key is None and len(names) == 1:
                return z[names[0]]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise SymscopeInputError(f"cannot read {p} as .npz: {_numpy_problem(exc)}") from None
    held = ", ".join(names) if names else "no arrays"
    need = f"an array named {wanted!r}" + ("" if key else " (or a single array)")
    raise SymscopeInputError(f"{p} holds {held}; expected {need}")


def _parse_cell(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(p: Path) -> np.ndarray:
    """Numeric comma-separated table; a first row that is not all numbers is a header."""
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            rows = [(i, r) for i, r in enumerate(csv.reader(fh), start=1) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SymscopeInputError(f"cannot read {p} as .csv: {_one_line(exc)}") from None
    if rows and any(_parse_cell(c) is None for c in rows[0][1]):
        rows = rows[1:]  # header row
    if not rows:
        raise SymscopeInputError(f"{p} has no data rows")
    width = len(rows[0][1])
    values = np.empty((len(rows), width))
    for k, (line, row) in enumerate(rows):
        if len(row) != width:
            raise SymscopeInputError(f"{p}: row {line} has {len(row)} columns, expected {width}")
        for j, cell in enumerate(row):
            v = _parse_cell(cell)
            if v is None:
                raise SymscopeInputError(f"{p}: row {line}, column {j + 1}: {cell.strip()!r} is not a number")
            values[k, j] = v
    return values


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def load_data(path: str | PathLike[str], *, min_samples: int = 2, allow_constant: bool = False) -> np.ndarray:
    """Load samples (n, d) as float64 from .npy, .npz (array ``X`` or the only array) or .csv.

    The result is checked with ``check_data`` (2-D, finite, numeric, d >= 3, not constant).
    """
    p = _existing_file(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        raw = _read_npy(p)
    elif suffix == ".npz":
        raw = _read_npz_array(p, None)
    elif suffix == ".csv":
        raw = _read_csv(p)
    else:
        raise SymscopeInputError(
            f"unsupported file type {p.suffix or '(none)'!r} for {p}; use {', '.join(DATA_SUFFIXES)}"
        )
    return check_data(raw, min_samples=min_samples, name=str(p), allow_constant=allow_constant)


def load_generator(path: str | PathLike[str]) -> np.ndarray:
    """Load a square generator: a .npy matrix, an .npz holding ``generator``, or a run folder.

    A run folder is any directory holding ``generator.npy``.
    """
    p = Path(path)
    if p.is_dir():
        if not (p / GENERATOR_FILE).is_file():
            raise SymscopeInputError(f"run folder {p} has no {GENERATOR_FILE}")
        p = p / GENERATOR_FILE
    p = _existing_file(p)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        raw = _read_npy(p)
    elif suffix == ".npz":
        raw = _read_npz_array(p, "generator")
    else:
        raise SymscopeInputError(
            f"unsupported file type {p.suffix or '(none)'!r} for {p}; "
            "use a .npy matrix, an .npz holding 'generator', or a run folder"
        )
    return check_square_matrix(raw, str(p))
