"""Peer baselines on the symscope benchmark data, scored with the same recovery metrics.

    python benchmarks/baselines.py --suite fiedler   # Fiedler (|corr| and corr²) on 10 datasets × 5 seeds
    python benchmarks/baselines.py --suite spectral  # the spectral init alone on 10 datasets × 5 seeds
    python benchmarks/baselines.py --suite gan       # SymmetryGAN on the 6 paper datasets × 5 seeds
    python benchmarks/baselines.py --suite quick     # every method on 2 datasets × 1 seed (smoke check)
    python benchmarks/baselines.py --methods symmetrygan --datasets gaussian-dst --seeds 0 1 --gan-steps 500

Data: ``make_dataset(name, n=50000, d=33, seed=seed)``, exactly as in ``benchmarks/recovery.py``.
Each run is one cell of a sweep (``sweep.py``: Ray tasks, or ``--backend pool``) on one torch
thread; each finished run is appended to the ledger ``benchmarks/results/runs.jsonl`` (an
interrupted suite resumes: cells measured at this commit are skipped) and the suite's table is
printed. ``python benchmarks/report.py`` rebuilds the documented tables from the ledger.

Methods (``symscope.baselines``):
- ``fiedler``: coordinates ordered by the Fiedler vector of the ``|corr|`` graph, shift along it.
- ``fiedler-sq``: the same on the ``corr²`` graph (suppresses weak long-range correlations).
- ``spectral``: symscope's spectral initialisation on its own (``discover/spectral.py``:
  covariance eigenvectors mapped onto the DST-I basis, signs by maximal kurtosis), no training.
- ``symmetrygan``: SymmetryGAN with spec §6.3 settings; the reported generator is the best epoch
  by the power-scanning cosine (the authors' protocol, an oracle choice that needs the truth);
  the final generator's score is recorded too (``final_*``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402
import sweep  # noqa: E402
from recovery import table  # noqa: E402

from symscope import PAPER_DATASETS, make_dataset, recovery_report  # noqa: E402
from symscope.baselines import fiedler_generator, symmetry_gan  # noqa: E402
from symscope.data.actions import true_generator  # noqa: E402
from symscope.discover.spectral import spectral_sites  # noqa: E402

ALL = [*PAPER_DATASETS, "gaussian-orthogonal", "legendre-orthogonal",
       "gaussian-shift-circulant", "gaussian-permuted-circulant"]

SUITES = {
    "fiedler": dict(methods=["fiedler", "fiedler-sq"], datasets=ALL, seeds=[0, 1, 2, 3, 4]),
    "spectral": dict(methods=["spectral"], datasets=ALL, seeds=[0, 1, 2, 3, 4]),
    "gan": dict(methods=["symmetrygan"], datasets=list(PAPER_DATASETS), seeds=[0, 1, 2, 3, 4]),
    "quick": dict(methods=["fiedler", "fiedler-sq", "symmetrygan"], datasets=["gaussian-shift", "gaussian-permuted"],
                  seeds=[0]),
}

#: SymmetryGAN budget: 100 epochs as the authors, 1,500 steps of 256 samples each (150k steps,
#: ~0.75 ms a step at d = 33 on one thread: about 2 minutes), capped at 180 s of wall time.
GAN_EPOCHS, GAN_STEPS_PER_EPOCH, GAN_TIME_BUDGET = GAN_DEFAULT = sweep.GAN


def method_config(method: str, gan: tuple | None = None) -> dict:
    """The full settings of a baseline method (the ledger's ``config``)."""
    if method == "symmetrygan":
        epochs, steps_per_epoch, budget = gan or GAN_DEFAULT
        return dict(method=method, epochs=epochs, steps_per_epoch=steps_per_epoch, batch=256, time_budget=budget,
                    reported="best epoch by the power-scanning cosine (needs the truth)")
    if method in ("fiedler", "fiedler-sq"):
        return dict(method=method, power=2.0 if method == "fiedler-sq" else 1.0)
    if method == "spectral":
        return dict(method=method)
    raise ValueError(f"unknown baseline method {method!r}")


def run_fiedler(X, truth, power: float) -> dict:
    """Fiedler baseline on one dataset: the generator along the order, and its record."""
    start = time.perf_counter()
    g, order = fiedler_generator(X, power=power)
    wall = time.perf_counter() - start
    rep = recovery_report(g, truth)
    return dict(wall_seconds=round(wall, 4), power=power, order=order.tolist(), **rep.to_dict())


def run_spectral(X, truth, seed: int) -> dict:
    """Spectral init alone: the (non-cyclic) shift along the spectral sites of the standardised data."""
    start = time.perf_counter()
    S = spectral_sites((X - X.mean()) / X.std(), seed=seed)
    g = true_generator(S.T)  # Sᵀ·shift·S, the crop of what the engine starts from
    wall = time.perf_counter() - start
    return dict(wall_seconds=round(wall, 3), **recovery_report(g, truth).to_dict())


def run_gan(X, truth, seed: int, epochs: int, steps_per_epoch: int, time_budget: float) -> dict:
    """SymmetryGAN on one dataset: best epoch by the power scan (reported) and the final G."""
    res = symmetry_gan(X, truth=truth, epochs=epochs, steps_per_epoch=steps_per_epoch, seed=seed,
                       time_budget=time_budget)
    rep = recovery_report(res.best_generator, truth)
    final = recovery_report(res.generator, truth)
    return dict(wall_seconds=round(res.wall_seconds, 1), seconds_per_step=round(res.wall_seconds / res.steps, 6),
                epochs=res.epochs, steps=res.steps, steps_per_epoch=steps_per_epoch, stopped=res.stopped,
                best_epoch=res.best_epoch, best_power_cosine=res.best_power_cosine,
                best_power=res.history[res.best_epoch - 1]["power"],
                final_cosine=final.cosine, final_verdict=final.verdict, final_identity_cosine=final.identity_cosine,
                last_d_loss=res.history[-1]["d_loss"], last_g_loss=res.history[-1]["g_loss"], **rep.to_dict())


def run_one(method: str, name: str, seed: int, d: int, n: int, gan: tuple[int, int, float], noise: float = 0.05) -> dict:
    """One method × dataset × seed; returns the record for the jsonl log."""
    ds = make_dataset(name, n=n, d=d, seed=seed, noise=noise)
    if method == "symmetrygan":
        rec = run_gan(ds.X, ds.generator, seed, *gan)
    elif method == "spectral":
        rec = run_spectral(ds.X, ds.generator, seed)
    else:
        rec = run_fiedler(ds.X, ds.generator, power=2.0 if method == "fiedler-sq" else 1.0)
    return dict(method=method, dataset=name, seed=seed, d=d, n=n, noise=noise, **rec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=sorted(SUITES), default="quick")
    ap.add_argument("--methods", nargs="+", choices=["fiedler", "fiedler-sq", "spectral", "symmetrygan"])
    ap.add_argument("--datasets", nargs="+")
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--d", type=int, default=33, help="dimension (default 33)")
    ap.add_argument("--n", type=int, default=50_000, help="samples per dataset (default 50000)")
    ap.add_argument("--noise", type=float, default=0.05, help="relative noise level of the data (paper: 0.05)")
    ap.add_argument("--gan-epochs", type=int, default=GAN_EPOCHS)
    ap.add_argument("--gan-steps", type=int, default=GAN_STEPS_PER_EPOCH, help="SymmetryGAN steps per epoch")
    ap.add_argument("--gan-time", type=float, default=GAN_TIME_BUDGET, help="SymmetryGAN wall-time cap (s)")
    sweep.add_arguments(ap)
    args = ap.parse_args(argv)
    suite = {k: getattr(args, k) or v for k, v in SUITES[args.suite].items()}
    gan = (args.gan_epochs, args.gan_steps, args.gan_time)
    cells = [sweep.Cell(m, name, seed, args.d, args.n, args.noise, gan=gan)
             for seed in suite["seeds"] for m in suite["methods"] for name in suite["datasets"]]
    sweep.run_cells(cells, sweep.command_line("baselines.py", argv), backend=sweep.backend_of(args), jobs=args.jobs,
                    address=args.address)
    rows = ledger.latest(ledger.load(), method=tuple(suite["methods"]), dataset=tuple(suite["datasets"]),
                         seed=tuple(suite["seeds"]), d=args.d, n=args.n, noise=args.noise,
                         tag={c.settings()[0] for c in cells})
    print("\n" + table(rows, by=("method", "dataset", "d")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
