"""``SymmetryLens(restarts=K)``: K seeds of one fit in parallel processes, the best kept by the verdict.

Why processes: a fit runs on one thread by default (``threads=1``: the result is a function of
the seed), and most of a staged fit is the refinement's LBFGS loops on d × d matrices, which
torch's intra-op threads do not speed up; K independent fits use K cores. The pool is
``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method (torch is not safe to
fork once its thread pools exist).

Which restart is kept: the best verdict label (``found`` < ``ambiguous`` < ``no symmetry``,
``discover/verdict.py``), then the lowest judge score (``refine.consistency``) of its chain on
one held-out split shared by all restarts (the split of the first seed), so that the scores are
comparable. Each restart's checkpoint (with ``checkpoint_path``) is ``<stem>-restart<i><suffix>``
beside it; ``resume_from`` resumes each restart from its own file where it exists.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._validation import SymscopeInputError, check_data

__all__ = ["fit_restarts", "restart_path"]


def restart_path(path: str | Path | None, index: int) -> Path | None:
    """The checkpoint of restart ``index`` beside ``path`` (``run/checkpoint.pt`` → ``run/checkpoint-restart1.pt``)."""
    if path is None:
        return None
    p = Path(path)
    return p.with_name(f"{p.stem}-restart{index}{p.suffix}")


def _fit_one(job: dict[str, Any]) -> str:
    """One restart in a worker process: fit, save the lens to ``job["out"]``, return that path."""
    from .lens import SymmetryLens

    lens = SymmetryLens(job["config"], seed=job["seed"], device=job["device"], progress=False, threads=job["threads"])
    lens.fit(job["X"], resume_from=job["resume"], checkpoint_path=job["checkpoint"], truth=job["truth"])
    lens.save(job["out"])
    return job["out"]


def fit_restarts(lens: Any, X: Any, restarts: int, resume_from: str | Path | None, checkpoint_path: str | Path | None,
                 callbacks: Sequence[Any], truth: np.ndarray | None) -> Any:
    """Fit ``restarts`` seeds of ``lens``'s settings on X (n, d) and make ``lens`` the best of them (module docstring)."""
    from .discover.refine import consistency, refine_split
    from .discover.verdict import LABELS
    from .lens import SymmetryLens

    if callbacks:
        raise SymscopeInputError("callbacks cannot be combined with restarts > 1: each restart runs in its own process")
    X = check_data(X, min_samples=1)
    base = 0 if lens.seed is None else lens.seed
    if isinstance(base, bool) or not isinstance(base, (int, np.integer)) or base < 0:
        raise SymscopeInputError(f"seed must be a non-negative integer, got {base!r}")
    seeds = [int(base) + i for i in range(restarts)]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, seed in enumerate(seeds):
            resume = restart_path(resume_from, i)
            jobs.append(dict(config=lens.config, seed=seed, device=lens.device, threads=lens.threads, X=X,
                             resume=resume if resume is not None and resume.is_file() else None,
                             checkpoint=restart_path(checkpoint_path, i), truth=truth,
                             out=str(Path(tmp) / f"restart{i}.pt")))
        workers = max(1, min(restarts, os.cpu_count() or 1))
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            fitted = [SymmetryLens.load(path) for path in pool.map(_fit_one, jobs)]
    first = fitted[0]
    Xt = torch.as_tensor((X - first.mean_) / first.scale_, dtype=torch.float32)
    _, judge = refine_split(Xt, seeds[0], first.config_.repair_samples)
    judge_np = judge.double().numpy()
    rows = []
    for seed, f in zip(seeds, fitted):
        verdict = f.verdict_
        label = verdict.label if verdict is not None else LABELS[-1]
        refine_cfg = f.config_.refine
        score = consistency(f.group_conv_, judge_np, refine_cfg.kurtosis_weight, refine_cfg.entropy_weight)
        rows.append(dict(seed=seed, label=label, score=score))
    best = min(range(restarts), key=lambda i: (LABELS.index(rows[i]["label"]), rows[i]["score"]))
    winner = fitted[best]
    for name, value in vars(winner).items():
        if name.endswith("_") or name.startswith("_"):
            setattr(lens, name, value)
    lens._state.events.append({"step": lens._state.step, "event": "restarts", "kept_seed": seeds[best],
                               "restarts": rows})
    lens.run_record_ = dict(winner.run_record_, restarts=restarts, restart_workers=workers,
                            restarts_wall_seconds=round(time.perf_counter() - start, 3))
    return lens
