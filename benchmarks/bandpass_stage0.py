"""The band-pass candidate in the refinement on an untrained lens (the engine's stage 0), truth-scored.

For each dataset × seed: standardised X as the lens builds it, the fit/judge split of
``refine.refine_split``, ``refine`` from the identity chain with ``RefineConfig(bandpass=True)``;
the kept chain's generator scored against the truth. When the kept candidate is not the band-pass
one, the run without it keeps the same candidate (same candidates, same judge); otherwise it is
run again with ``bandpass=False``. One JSON line per cell on stdout.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bandpass_stage0.py legendre-dst:0 gaussian-dst:1 ...
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

import symscope
from symscope.config import RefineConfig
from symscope.discover.chain import Chain, read_chain
from symscope.discover.refine import refine, refine_split


def cell(name: str, seed: int, d: int = 33, n: int = 50_000) -> dict:
    ds = symscope.make_dataset(name, n=n, d=d, seed=seed)
    X = (ds.X - ds.X.mean()) / ds.X.std()
    fit, judge = (a.numpy() for a in refine_split(torch.as_tensor(X), seed, 20_000))
    out: dict = {"dataset": name, "seed": seed, "d": d}
    for tag, on in (("with", True), ("without", False)):
        t = time.time()
        chain, rep = refine(Chain(read_chain(np.eye(d), fit)[0]), fit, judge, RefineConfig(bandpass=on), seed=seed)
        out[tag] = {"kept": rep.label, "cosine": round(symscope.recovery_report(chain.generator(), ds.generator).cosine, 4),
                    "score": round(rep.score_after, 5), "seconds": round(time.time() - t, 1)}
        if on and "bandpass" not in rep.kept:
            out["without"] = {**out["with"], "seconds": None, "same_as_with": True}
            break
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    for arg in sys.argv[1:]:
        name, seed = arg.rsplit(":", 1)
        print(json.dumps(cell(name, int(seed))), flush=True)
