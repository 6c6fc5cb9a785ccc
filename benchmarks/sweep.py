"""Run a grid of benchmark cells (method × dataset × seed × settings) as Ray tasks, into the ledger.

    python benchmarks/recovery.py --suite paper                          # local Ray on this machine's cores
    python benchmarks/recovery.py --suite paper --address auto           # an existing Ray cluster
    python benchmarks/recovery.py --suite paper --backend pool --jobs 2  # no Ray: a local process pool

Each cell is one task needing one CPU (one torch thread); Ray schedules them over the cores of
the machine (``ray.init(num_cpus=jobs)``) or of the cluster at ``--address``. The driver appends
each record to ``benchmarks/results/runs.jsonl`` as its task finishes, so an interrupted sweep
resumes: cells already in the ledger at this commit (same ``git diff`` when the tree is dirty,
same config hash) are skipped. On a cluster the task ships the benchmark scripts and the
``symscope`` package of this checkout to the workers (``runtime_env``: ``working_dir`` +
``py_modules``); the nodes need torch, numpy and scipy installed. ``--backend pool`` keeps the
earlier ``ProcessPoolExecutor`` path (no Ray needed). Ray is the optional extra ``sweep``
(``pip install -e '.[sweep]'``).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402

BENCH = Path(__file__).resolve().parent
BASELINE_METHODS = ("fiedler", "fiedler-sq", "spectral", "symmetrygan")
#: SymmetryGAN budget: 100 epochs as the authors, 1,500 steps of 256 samples each, capped at 180 s.
GAN = (100, 1500, 180.0)


@dataclass(frozen=True)
class Cell:
    """One grid cell: a method on one dataset, seed and data setting, with its settings."""

    method: str
    dataset: str
    seed: int
    d: int = 33
    n: int = 50_000
    noise: float = 0.05
    config_file: str | None = None  # symscope: a LensConfig file (.toml/.json); None = LensConfig()
    steps: int | None = None  # symscope: override the config's steps
    gan: tuple[int, int, float] = GAN  # symmetrygan: epochs, steps per epoch, wall-time cap (s)
    device: str = "cpu"
    checkpoint_dir: str | None = None

    def settings(self) -> tuple[str, dict]:
        """(tag, full config): the tag names the settings (``default``, a config stem, ``-stepsN``)."""
        if self.method == "symscope":
            from symscope import LensConfig

            cfg = LensConfig.from_file(self.config_file) if self.config_file else LensConfig()
            tag = Path(self.config_file).stem if self.config_file else "default"
            if self.steps is not None and self.steps != cfg.steps:
                cfg, tag = dataclasses.replace(cfg, steps=self.steps), f"{tag}-steps{self.steps}"
            return tag, cfg.to_dict()
        from baselines import GAN_DEFAULT, method_config

        return ("default" if self.gan == GAN_DEFAULT else "gan{}x{}-{:g}s".format(*self.gan),
                method_config(self.method, self.gan))

    def key(self) -> tuple:
        tag, cfg = self.settings()
        return (self.method, tag, self.dataset, self.d, self.n, float(self.noise), self.seed, ledger.config_hash(cfg))


def measure(cell: Cell) -> tuple[dict, dict]:
    """Run one cell in this process: (its result fields, the machine it ran on). The task body."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        if cell.method == "symscope":
            import recovery

            res = recovery.run_one(cell.dataset, cell.seed, cell.d, cell.n, cell.config_file, cell.steps, cell.noise,
                                   cell.device, cell.checkpoint_dir)
        else:
            import baselines

            res = baselines.run_one(cell.method, cell.dataset, cell.seed, cell.d, cell.n, cell.gan, cell.noise)
    finally:
        torch.set_num_threads(threads)
    return res, ledger.machine(git=False)


def _to_record(cell: Cell, res: dict, mach: dict, state: dict, command: str) -> dict:
    tag, cfg = cell.settings()
    res = {k: v for k, v in res.items() if k not in ("method", "dataset", "seed", "d", "n", "noise")}
    return ledger.record(cell.method, tag, cell.dataset, cell.seed, cell.d, cell.n, cell.noise, cfg, res,
                         command=command, threads=1, device=res.get("device", cell.device), mach={**mach, **state})


def todo(cells: list[Cell], path: Path | None = None, state: dict | None = None) -> list[Cell]:
    """The cells not yet in the ledger at this checkout (in the given order, duplicates dropped)."""
    state = ledger.git_state() if state is None else state
    path = ledger.LEDGER if path is None else path
    finished = ledger.done(ledger.load(path), state) if path.exists() else set()
    out, seen = [], set()
    for c in cells:
        if c.key() not in finished and c.key() not in seen:
            seen.add(c.key())
            out.append(c)
    return out


def run_cells(cells: list[Cell], command: str, *, backend: str = "ray", jobs: int = 2, address: str | None = None,
              path: Path | None = None, on_record: Callable[[dict], None] | None = None) -> list[dict]:
    """Measure the cells not yet in the ledger; append and return their records (finish order).

    ``backend``: ``ray`` (local Ray with ``jobs`` CPUs, or the cluster at ``address``) or ``pool``
    (``jobs`` local processes). Each finished record is appended at once (resumable).
    """
    state = ledger.git_state()
    cells = todo(cells, path, state)
    print(f"{len(cells)} cells to run ({backend}{f' at {address}' if address else f', {jobs} at a time'})", flush=True)
    out: list[dict] = []

    def finish(cell: Cell, res: dict, mach: dict) -> None:
        rec = _to_record(cell, res, mach, state, command)
        ledger.append(rec, path)
        out.append(rec)
        (on_record or _print)(rec)

    if not cells:
        return out
    if backend == "ray":
        _run_ray(cells, finish, jobs, address)
    elif backend == "pool":
        context = multiprocessing.get_context("spawn" if any(c.device != "cpu" for c in cells) else None)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(measure, c): c for c in cells}
            for fut in as_completed(futures):
                finish(futures[fut], *fut.result())
    else:
        raise ValueError(f"unknown backend {backend!r} (ray or pool)")
    return out


def import_ray():
    """The ``ray`` module, or a clear error naming the extra that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise SystemExit("the Ray backend needs the optional extra: pip install -e '.[sweep]' "
                         "(or use --backend pool)") from exc
    return ray


def _run_ray(cells: list[Cell], finish: Callable, jobs: int, address: str | None) -> None:
    ray = import_ray()
    if address:  # a cluster: ship this checkout's scripts and package to the workers
        env = dict(working_dir=str(BENCH), excludes=["results/", "__pycache__/"],
                   py_modules=[str(ledger.ROOT / "src" / "symscope")])
        ray.init(address=address, runtime_env=env, log_to_driver=False)
    else:  # local workers inherit this environment: the scripts' folder on their path
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")]))
        ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(measure)
        pending = {task.remote(c): c for c in cells}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                finish(pending.pop(ref), *ray.get(ref))
    finally:
        ray.shutdown()


def _print(rec: dict) -> None:
    print(f"{rec['method']:<12} {rec['dataset']:<28} d={rec['d']:<3} seed={rec['seed']}  {rec['verdict']:<16} "
          f"cosine={rec['cosine']:.4f}  {rec['wall_seconds']:.3g}s", flush=True)


def add_arguments(ap) -> None:
    """The sweep options shared by recovery.py, baselines.py and run.py."""
    ap.add_argument("--backend", choices=["ray", "pool"], default="ray",
                    help="ray (default; local, or the cluster at --address) or pool (local processes, no Ray)")
    ap.add_argument("--jobs", type=int, default=2, help="cells at a time on this machine (default 2)")
    ap.add_argument("--address", help="an existing Ray cluster (e.g. auto or ray://head:10001); implies --backend ray")


def backend_of(args) -> str:
    return "ray" if args.address else args.backend


def command_line(script: str, argv: list[str] | None) -> str:
    return f"python benchmarks/{script} {' '.join(sys.argv[1:] if argv is None else argv)}".strip()

