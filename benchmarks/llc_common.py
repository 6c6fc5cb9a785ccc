"""Shared pieces of the LLC experiments: teachers, models, training to w*, result files.

Every experiment runs in float64 on one thread; models are trained full batch with Adam
(lr 1e-2, then 1e-3) from a small initialisation, which lands on the balanced minimum.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ledger import short_commit as commit  # noqa: F401  (the experiments' result headers)

RESULTS = Path(__file__).resolve().parent.parent / "experiments" / "llc"


def setup() -> None:
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    RESULTS.mkdir(parents=True, exist_ok=True)


def low_rank_teacher(n_out: int, n_in: int, rank: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """W = U diag(s) Vᵀ with ``rank`` singular values in [0.75, 1.25]·scale (0 matrix for rank 0)."""
    if rank == 0:
        return np.zeros((n_out, n_in))
    u = np.linalg.qr(rng.standard_normal((n_out, rank)))[0]
    v = np.linalg.qr(rng.standard_normal((n_in, rank)))[0]
    return u @ np.diag(scale * rng.uniform(0.75, 1.25, rank)) @ v.T


def regression_data(W: np.ndarray, n: int, rng: np.random.Generator, X: np.ndarray | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, I) (unless given), y = W x + N(0, I)."""
    if X is None:
        X = rng.standard_normal((n, W.shape[1]))
    y = X @ W.T + rng.standard_normal((len(X), W.shape[0]))
    return torch.as_tensor(X), torch.as_tensor(y)


def dln(widths: list[int], seed: int, init_scale: float = 0.1) -> nn.Sequential:
    """Bias-free deep linear network with the given widths (input first), small init."""
    torch.manual_seed(seed)
    layers = [nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:])]
    for layer in layers:
        nn.init.normal_(layer.weight, std=init_scale / np.sqrt(layer.in_features))
    return nn.Sequential(*layers)


def invariant_dln(T: np.ndarray, seed: int, init_scale: float = 0.1) -> nn.Sequential:
    """12 → 6 → 6 DLN whose first layer is an ``EquivariantLinear`` with W₁T = W₁ (K = I₆), small init."""
    from symscope.exploit import EquivariantLinear

    torch.manual_seed(seed)
    first = EquivariantLinear(np.eye(6)[None], T[None], bias=False)
    with torch.no_grad():
        first.parametrizations.weight.original.mul_(init_scale)
    second = nn.Linear(6, 6, bias=False)
    nn.init.normal_(second.weight, std=init_scale / np.sqrt(6))
    return nn.Sequential(first, second)


def train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int = 3000, loss: str = "mse",
          sample_weight: torch.Tensor | None = None) -> float:
    """Full-batch Adam to a minimum of the mean per-sample loss: 2/3 of the steps at 1e-2, then 1e-3."""
    w = sample_weight / sample_weight.sum() if sample_weight is not None else None
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    value = float("nan")
    for t in range(steps):
        if t == 2 * steps // 3:
            for group in opt.param_groups:
                group["lr"] = 1e-3
        opt.zero_grad()
        out = model(X)
        per = 0.5 * ((out - y) ** 2).sum(1) if loss == "mse" else nn.functional.cross_entropy(out, y, reduction="none")
        total = (per * w).sum() if w is not None else per.mean()
        total.backward()
        opt.step()
        value = float(total.detach())
    return value


def write_jsonl(name: str, rows: list[dict[str, Any]]) -> Path:
    path = RESULTS / name
    with path.open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r, default=float) + "\n")
    return path


def rel(est: float, truth: float) -> float:
    return (est - truth) / truth
