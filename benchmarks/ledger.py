"""The benchmark ledger: one append-only ``benchmarks/results/runs.jsonl``, records keyed by commit.

Every measurement of the benchmark scripts is one JSON line here (the asv model: the benchmark
code is versioned, each result names the commit it measured). A record carries

* ``commit`` (``git rev-parse HEAD``), ``dirty`` (uncommitted changes outside
  ``benchmarks/results/``) and ``diff_hash`` (hash of ``git diff HEAD``; None when clean);
* ``method``, ``tag`` (a name of the *settings*: ``default``, a config file's stem such as
  ``project``, with ``-stepsN`` when the step count is overridden; never an engine version);
* the cell: ``dataset``, ``seed``, ``d``, ``n``, ``noise``;
* ``config`` (the full settings) and ``config_hash`` (first 12 hex digits of its SHA-256);
* ``threads``, ``device``, ``machine`` (platform, CPUs, versions, date), ``wall_seconds``,
  ``command``, and the report's fields (``cosine``, ``verdict``, …).

Records converted from the per-tag files of earlier commits carry ``commit_source:
"git-blame"`` (the commit that added the record's line to its file; the engine that measured it
is that commit or its parent) and ``legacy_file``; new records ``commit_source: "rev-parse"``.

Tables read the **latest record per cell** (``latest``): among the records of one
(method, tag, dataset, d, n, noise, seed), the one whose commit is newest in ``git rev-list
--topo-order HEAD``, ties broken by position in the ledger (append order). ``commit=`` keeps only
the records of one commit. Asking for a cell set that has no record is an error
(``MissingSource``), never a silent gap. Written by hand (a few lines of json/subprocess): asv
itself is built around per-commit virtualenvs, which these CPU-hour fits do not fit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: The ledger file (``SYMSCOPE_LEDGER`` points elsewhere, e.g. for a scratch sweep).
LEDGER = Path(os.environ.get("SYMSCOPE_LEDGER", RESULTS / "runs.jsonl"))

#: The fields that name one cell of the grid (a table selects one record per key).
CELL_KEY = ("method", "tag", "dataset", "d", "n", "noise", "seed")
#: The bookkeeping fields of a record (everything else is the cell or the measured result).
LEDGER_FIELDS = ("commit", "dirty", "diff_hash", "commit_source", "legacy_file", "parsed_from_markdown", "config_hash",
                 "config", "threads", "device", "command", "machine", "_pos")


class MissingSource(LookupError):
    """A table asked for records the ledger does not hold (a missing file, method, tag or cell)."""


def _git(*args: str, root: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def short_commit(root: Path = ROOT) -> str:
    """Short hash of HEAD, for the header of an experiment's table; ``"unknown"`` outside a git checkout."""
    try:
        return _git("rev-parse", "--short", "HEAD", root=root).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_state(root: Path = ROOT) -> dict:
    """``commit`` (full hash), ``dirty`` and ``diff_hash`` of the checkout; the ledger itself does not count.

    Raises ``MissingSource`` outside a git checkout: a record without a commit is not written.
    """
    try:
        commit = _git("rev-parse", "HEAD", root=root).strip()
        status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results",
                      root=root)
        diff = _git("diff", "HEAD", "--", ".", ":(exclude)benchmarks/results", root=root) if status.strip() else ""
    except (OSError, subprocess.CalledProcessError) as exc:
        raise MissingSource(f"{root} is not a git checkout with a commit ({exc}); the ledger keys records by commit") from exc
    dirty = bool(status.strip())
    return dict(commit=commit, dirty=dirty, diff_hash=hashlib.sha256(diff.encode()).hexdigest()[:12] if dirty else None)


def machine(git: bool = True) -> dict:
    """Where and with what a record was measured: platform, CPUs, GPU, versions, UTC date (and the git
    state; ``git=False`` on a worker that has no checkout, the driver adds its own)."""
    import numpy
    import torch

    import symscope

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return dict(platform=platform.platform(), processor=platform.processor() or platform.machine(),
                cpus=os.cpu_count(), gpu=gpu, python=sys.version.split()[0], torch=str(torch.__version__),
                numpy=numpy.__version__, symscope=symscope.__version__, hostname=platform.node(),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), loadavg=round(os.getloadavg()[0], 2),
                **(git_state() if git else {}))


def config_hash(config: dict) -> str:
    """First 12 hex digits of the SHA-256 of the canonical JSON of ``config``."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def record(method: str, tag: str, dataset: str, seed: int, d: int, n: int, noise: float, config: dict,
           result: dict, *, command: str, threads: int = 1, device: str = "cpu", mach: dict | None = None) -> dict:
    """One ledger record: the cell, the settings, where it ran, and the measured ``result`` fields.

    ``result`` must hold ``wall_seconds``; its other fields (the report's) are copied as they are.
    """
    if "wall_seconds" not in result:
        raise ValueError(f"a {method} record needs wall_seconds; got fields {sorted(result)}")
    mach = machine() if mach is None else mach
    head = dict(commit=mach["commit"], dirty=mach["dirty"], diff_hash=mach.get("diff_hash"), commit_source="rev-parse",
                method=method, tag=tag, dataset=dataset, seed=int(seed), d=int(d), n=int(n), noise=float(noise),
                config_hash=config_hash(config), config=config, threads=threads, device=device, command=command,
                machine={k: v for k, v in mach.items() if k not in ("commit", "dirty", "diff_hash")})
    if "device" in result:  # the device the run reports (``auto`` resolved) wins over the one asked for
        head["device"] = result["device"]
    return {**head, **{k: v for k, v in result.items() if k not in head}}


def append(rec: dict, path: Path | None = None) -> None:
    """Append one record as one line (the only way records enter the ledger)."""
    path = LEDGER if path is None else path
    if not rec.get("commit"):
        raise ValueError("a ledger record needs its commit")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(rec, sort_keys=False) + "\n")


def load(path: Path | None = None) -> list[dict]:
    """Every record, in append order (each gets ``_pos``, its line number). A missing ledger is an error."""
    path = LEDGER if path is None else path
    if not path.exists():
        raise MissingSource(f"no ledger {path} (run a benchmark first, e.g. python benchmarks/run.py --suite quick)")
    rows = []
    for i, line in enumerate(path.read_text().splitlines()):
        if line.strip():
            rows.append(dict(json.loads(line), _pos=i))
    return rows


@functools.lru_cache(maxsize=8)
def _commit_rank(root: str) -> dict[str, int]:
    try:
        commits = _git("rev-list", "--topo-order", "HEAD", root=Path(root)).split()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {c: len(commits) - i for i, c in enumerate(commits)}


def rank(rec: dict, root: Path = ROOT) -> tuple[int, int]:
    """Sort key of a record's age: (its commit's place in HEAD's history, 0 if not in it; ledger position)."""
    return _commit_rank(str(root)).get(rec["commit"], 0), rec.get("_pos", 0)


def cell_of(rec: dict) -> tuple:
    """The cell a record measures (``draw`` separates the rows of one cell that sample several draws)."""
    return (*(rec[k] for k in CELL_KEY), rec.get("draw"))


def latest(records: Iterable[dict], commit: str | None = None, **where) -> list[dict]:
    """The newest record of every cell among ``records`` that match ``where`` (field = value, or a
    tuple/list/set of allowed values); with ``commit`` (a hash prefix) only that commit's records."""
    best: dict[tuple, dict] = {}
    for r in records:
        if commit is not None and not r["commit"].startswith(commit):
            continue
        if any((r.get(k) not in v) if isinstance(v, (tuple, list, set, frozenset)) else r.get(k) != v
               for k, v in where.items()):
            continue
        key = cell_of(r)
        if key not in best or rank(r) >= rank(best[key]):
            best[key] = r
    return sorted(best.values(), key=lambda r: tuple(str(x) for x in cell_of(r)))


def require(records: Iterable[dict], what: str, commit: str | None = None, **where) -> list[dict]:
    """``latest(...)``, but a selection with no record raises ``MissingSource`` naming ``what``."""
    rows = latest(records, commit, **where)
    if not rows:
        at = f" at commit {commit}" if commit else ""
        raise MissingSource(f"the ledger holds no record for {what}{at} ({', '.join(f'{k}={v}' for k, v in where.items())})")
    return rows


def done(records: Iterable[dict], state: dict) -> set[tuple]:
    """Cells (with their config hash) already measured at this checkout: same commit and same diff."""
    return {(*cell_of(r)[:-1], r["config_hash"]) for r in records
            if r["commit"] == state["commit"] and r.get("diff_hash") == state["diff_hash"]}


def commits_of(rows: Iterable[dict]) -> str:
    """The short commits a table's records come from, newest first (for the line above a table)."""
    seen = sorted({r["commit"] for r in rows}, key=lambda c: -_commit_rank(str(ROOT)).get(c, 0))
    return ", ".join(c[:7] for c in seen)
