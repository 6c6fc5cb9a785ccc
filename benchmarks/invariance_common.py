"""Shared pieces of the ``invariance_*`` benchmarks: the bump task's generators, the discovered
lens (fitted once, saved under ``runs/``), one training loop with an optional regulariser, the
invariance measures of a trained classifier, and JSON-lines / markdown output.

Training: AdamW (lr 3e-3, cosine decay, weight decay 1e-4), batch 64, a fixed number of steps
whatever n (so the curves measure data, not optimisation budget), one torch thread.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from symscope import LensConfig, SymmetryLens  # noqa: E402
from symscope.exploit import cyclic_group  # noqa: E402
from symscope.exploit.tasks import bump_count_task  # noqa: E402
from symscope.measure import invariance_error, lie_algebra, lie_derivative_report  # noqa: E402

from ledger import short_commit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "invariance"
LENS_PATH = ROOT / "runs" / "invariance" / "discovered-lens-permuted.pt"
N_CLASSES = 6
D = 33
#: Seeds of the unlabelled pool the lens is fitted on, and of the test set (never a training seed).
LENS_POOL_SEED, TEST_SEED = 123, 999


_STARTED_AT = short_commit()  # the commit the run's code was loaded from, even if HEAD moves while it runs


def commit() -> str:
    return _STARTED_AT


def generators(transform: str) -> dict[str, np.ndarray]:
    """True cyclic generator G = U S Uᵀ, its Lie algebra A = log G, and a wrong A (another hidden
    permutation, transform_seed 7, normalised to ‖A_true‖_F)."""
    g = bump_count_task(1, D, transform=transform).generator
    a = lie_algebra(g)
    wrong = lie_algebra(bump_count_task(1, D, transform="permuted", transform_seed=7).generator)
    return dict(G=g, A=a, A_wrong=wrong * np.linalg.norm(a) / np.linalg.norm(wrong))


def discovered_lens(path: Path = LENS_PATH, pool: int = 10_000) -> tuple[SymmetryLens, dict[str, Any]]:
    """The lens fitted on ``pool`` *unlabelled* bump-task samples (permuted, seed 123) with
    ``LensConfig(steps=1)`` (spectral candidate + refinement; about a minute); loaded if saved."""
    info: dict[str, Any] = dict(path=str(path.relative_to(ROOT)), pool=pool, pool_seed=LENS_POOL_SEED,
                                config="LensConfig(steps=1)")
    if path.exists():
        lens = SymmetryLens.load(path)
        info["fit_seconds"] = lens.run_record_.get("train_seconds")
        info["loaded"] = True
        return lens, info
    path.parent.mkdir(parents=True, exist_ok=True)
    task = bump_count_task(pool, D, seed=LENS_POOL_SEED, transform="permuted")
    t0 = time.perf_counter()
    lens = SymmetryLens(LensConfig(steps=1), seed=0, device="cpu", progress=False).fit(task.X)
    info["fit_seconds"] = round(time.perf_counter() - t0, 1)
    info["loaded"] = False
    lens.save(path)
    return lens, info


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def data(n: int, seed: int, transform: str, n_test: int = 1000) -> tuple[torch.Tensor, ...]:
    """Training set (n) of seed ``seed`` and the fixed test set (``TEST_SEED``), float32 tensors."""
    tr = bump_count_task(n, D, seed=seed, transform=transform)
    te = bump_count_task(n_test, D, seed=TEST_SEED, transform=transform)
    f = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return f(tr.X), torch.as_tensor(tr.y), f(te.X), torch.as_tensor(te.y)


def train(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int, seed: int,
          penalty: Callable[[torch.nn.Module, torch.Tensor, torch.Generator], torch.Tensor] | None = None,
          weight: float = 0.0) -> float:
    """Train in place; ``penalty(model, batch, gen)`` × ``weight`` is added to the cross-entropy
    (a penalty may return (value, model output) to spare the data loss its own forward pass).
    Returns seconds per step."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    t0 = time.perf_counter()
    for _ in range(steps):
        i = torch.randint(0, len(X), (min(64, len(X)),), generator=gen)
        pen, out = torch.zeros(()), None
        if penalty is not None and weight > 0:
            pen = penalty(model, X[i], gen)
            if isinstance(pen, tuple):  # (penalty, model output from the same forward pass)
                pen, out = pen
        loss = torch.nn.functional.cross_entropy(model(X[i]) if out is None else out, y[i]) + weight * pen
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return (time.perf_counter() - t0) / steps


def measure(model: torch.nn.Module, Xt: torch.Tensor, yt: torch.Tensor, gens: dict[str, np.ndarray],
            n_probe: int = 500) -> dict[str, float]:
    """Accuracy; discrete error over the 32 non-identity elements of the true cyclic group (TV of
    softmax outputs, argmax flips); Lie derivative of softmax outputs along A_true, A_wrong and
    4 random same-norm generators (mean ‖·‖², and mean |·|)."""
    model.eval()
    with torch.no_grad():
        acc = float((model(Xt).argmax(-1) == yt).float().mean())
    xp = Xt[:n_probe]
    disc = invariance_error(model, xp, cyclic_group(gens["G"], order=D))
    lee = lie_derivative_report(model, xp, gens["A"], wrong=[gens["A_wrong"]], n_random=4, on="softmax")
    model.train()
    return dict(acc=acc, discrete_tv=disc.tv_mean, discrete_tv_worst=disc.tv_worst, discrete_flip=disc.flip_mean,
                lee_true_sq=lee.mean_sq, lee_wrong_sq=float(lee.wrong_sq[0]), lee_random_sq=float(lee.random_sq.mean()),
                lee_true_abs=lee.mean_abs, lee_ratio_wrong_sq=lee.ratio_wrong_sq,
                lee_ratio_random_sq=lee.ratio_random_sq)


def write(name: str, rows: list[dict[str, Any]], table: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{name}.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    (RESULTS / f"{name}.md").write_text(table)


def read_rows(names: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(headers, rows) of earlier ``write`` outputs, to render several partial runs as one table."""
    heads, rows = [], []
    for name in names:
        lines = [json.loads(line) for line in (RESULTS / f"{name}.jsonl").read_text().splitlines() if line.strip()]
        heads.append(lines[0])
        rows += lines[1:]
    return heads, rows


def mean_sd(values: list[float], fmt: str = ".3f") -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():{fmt}} ± {v.std(ddof=1) if len(v) > 1 else 0.0:{fmt}}"
