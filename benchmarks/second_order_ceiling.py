"""How far can second-order statistics alone take the chain? A ceiling for the spectral init.

    python benchmarks/second_order_ceiling.py gaussian-shift legendre-shift --seeds 0 1

A stationary signal's covariance is Toeplitz in the hidden sites, so the sites are ``U·D·Vᵀ``:
V the data covariance's eigenvectors (descending variance), U the eigenvectors of that Toeplitz
matrix, D unknown signs. For each dataset and seed this prints the recovery cosine of the shift
along ``U·D·Vᵀ`` with the TRUE signs D (read off the hidden basis — an oracle, so these are upper
bounds, not a method) for three choices of U:

* ``dst``: the DST-I basis (what ``discover/spectral.py`` uses);
* ``inverse``: the eigenvectors of the Toeplitz matrix fitted to the data spectrum alone (the
  inverse Toeplitz eigenvalue problem, LBFGS from the DST-I guess) — what data could give;
* ``true-toeplitz``: the eigenvectors of the true sites' covariance averaged onto its diagonals
  (needs the hidden basis) — the ceiling of the whole family.

Nothing here is part of the engine; it is a measurement behind docs/benchmarks.md (spectral init).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def toeplitz_from_spectrum(lam: np.ndarray, guess: np.ndarray, iters: int = 2000) -> tuple[np.ndarray, float]:
    """Autocovariance c (d,) whose Toeplitz matrix has eigenvalues ``lam`` (descending), from ``guess``."""
    import torch

    d = len(lam)
    lag = torch.as_tensor(np.abs(np.arange(d)[:, None] - np.arange(d)[None, :]))
    c = torch.tensor(guess, dtype=torch.float64, requires_grad=True)
    target = torch.tensor(np.ascontiguousarray(lam), dtype=torch.float64)
    opt = torch.optim.LBFGS([c], lr=1, max_iter=iters, tolerance_grad=1e-14, tolerance_change=1e-16,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        f = ((torch.linalg.eigvalsh(c[lag]).flip(0) - target) ** 2).sum()
        f.backward()
        return f

    opt.step(closure)
    with torch.no_grad():
        f = float(((torch.linalg.eigvalsh(c[lag]).flip(0) - target) ** 2).sum())
    return c.detach().numpy(), f


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--d", type=int, default=33)
    ap.add_argument("--n", type=int, default=50_000, help="samples generated (as in the recovery benchmark)")
    ap.add_argument("--samples", type=int, default=20_000, help="of which the first this many give the covariance")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
    import torch
    from scipy.linalg import toeplitz

    from symscope import DATASETS, make_dataset, recovery_report
    from symscope._linalg import diagonal_means, dst_matrix
    from symscope.data.actions import true_generator

    torch.set_num_threads(1)
    for name in args.datasets:
        if name not in DATASETS:
            ap.error(f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    print("dataset  seed  dst  inverse  true-toeplitz  (oracle-sign cosines; inverse-problem residual)")
    for name in args.datasets:
        for seed in args.seeds:
            ds = make_dataset(name, n=args.n, d=args.d, seed=seed)
            X = (ds.X - ds.X.mean()) / ds.X.std()
            Xc = X[: args.samples] - X[: args.samples].mean(0)
            cov = np.cov(Xc, rowvar=False)
            lam, V = np.linalg.eigh(cov)
            lam, V = lam[::-1], V[:, ::-1]
            hidden = ds.transform if ds.transform is not None else np.eye(args.d)

            def oracle(U: np.ndarray) -> float:
                signs = np.sign(np.diag(U.T @ hidden.T @ V))
                sites = (U * signs[None, :]) @ V.T
                return recovery_report(true_generator(sites.T), ds.generator).cosine

            W = dst_matrix(args.d)
            c, residual = toeplitz_from_spectrum(lam, diagonal_means(W @ np.diag(lam) @ W.T))
            U_inverse = np.linalg.eigh(toeplitz(c))[1][:, ::-1]
            U_true = np.linalg.eigh(toeplitz(diagonal_means(hidden.T @ cov @ hidden)))[1][:, ::-1]
            print(f"{name}  {seed}  {oracle(W):.4f}  {oracle(U_inverse):.4f}  {oracle(U_true):.4f}  ({residual:.1e})",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
