"""The file format of lens files and checkpoints: one format, checked on reading.

A lens file holds the config, the seed, the module tensors, the standardisation, the history,
the events, the run record and a fingerprint of the training data; a checkpoint is the same plus
``training`` (optimisers, RNG, step, seconds) and, after the refinement, ``trained_modules``.
Files are read with ``torch.load(weights_only=True)`` (no pickled code runs) and every key, type
and tensor shape is checked, so a damaged or crafted file is refused with one line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._validation import SymscopeInputError, load_torch_file
from .config import LensConfig
from .discover.modules import LensModules

#: The file format of lens files and checkpoints (a checkpoint adds the key ``training``).
FORMAT = "symscope-lens-1"


def config_differences(a: LensConfig, b: LensConfig) -> list[str]:
    """``name: a vs b`` for every (nested, dotted) field where two configs differ."""

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in d.items():
            out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
        return out

    fa, fb = flat(a.to_dict()), flat(b.to_dict())
    return [f"{k}: {fa.get(k)!r} vs {fb.get(k)!r}" for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)]


def data_fingerprint(X: np.ndarray) -> dict[str, Any]:
    """Shape and SHA-256 of the float64 bytes of validated samples X (n, d): what a checkpoint was trained on."""
    return {"shape": [int(s) for s in X.shape], "sha256": hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()}


def load_file(path: str | Path, what: str) -> dict[str, Any]:
    obj = load_torch_file(path, what)  # weights_only; torch's unsafe-loading advice never reaches the user
    p = Path(path)
    if obj["format"] != FORMAT:
        raise SymscopeInputError(f"{p} is a {obj['format']} file, not a {FORMAT} {what} (written by another "
                                 "symscope version; start afresh)")
    return obj


LENS_KEYS = {"config": dict, "seed": int, "modules": dict, "mean": float, "scale": float, "history": list,
              "events": list, "run_record": dict}
TRAINING_KEYS = {"opt_lens": dict, "opt_est": dict, "rng": torch.Tensor, "step": int, "elapsed": float}


def check_keys(obj: dict[str, Any], keys: dict[str, type], where: str) -> None:
    for key, kind in keys.items():
        if key not in obj:
            raise SymscopeInputError(f"{where} is damaged: the key {key!r} is missing")
        ok = isinstance(obj[key], (int, float)) if kind is float else isinstance(obj[key], kind)
        if not ok or (kind is int and isinstance(obj[key], bool)):
            raise SymscopeInputError(f"{where} is damaged: {key!r} should be {kind.__name__}, "
                                     f"got {type(obj[key]).__name__}")


def modules_from(obj: dict[str, Any], where: str, cfg: LensConfig, seed: int, key: str = "modules") -> LensModules:
    """``LensModules`` loaded from ``obj[key]``, every tensor checked against the expected name and shape."""
    state = obj[key]
    psi = state.get("filter.psi")
    if not isinstance(psi, torch.Tensor) or psi.ndim != 1 or psi.shape[0] < 3:
        raise SymscopeInputError(f"{where} is damaged: {key} has no filter of d >= 3 entries")
    mods = LensModules(int(psi.shape[0]), cfg, seed)
    expected = mods.state_dict()
    for name, ref in expected.items():
        got = state.get(name)
        if not isinstance(got, torch.Tensor) or got.shape != ref.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise SymscopeInputError(f"{where} is damaged: {key}[{name!r}] should have shape {tuple(ref.shape)}, "
                                     f"got {shape}")
    if set(state) - set(expected):
        raise SymscopeInputError(f"{where} is damaged: {key} has unexpected entries {sorted(set(state) - set(expected))}")
    mods.load_state_dict(state)
    return mods


def read_checkpoint(path: str | Path, fingerprint: dict[str, Any], config: LensConfig | None,
                    seed: int | None) -> dict[str, Any]:
    """The checkpoint at ``path``, refused (one line) when damaged or not matching the data / settings."""
    ckpt = load_file(path, "checkpoint")
    check_keys(ckpt, LENS_KEYS, str(path))
    if not isinstance(ckpt.get("training"), dict):
        raise SymscopeInputError(f"{path} is a saved lens, not a checkpoint (it holds no training state)")
    check_keys(ckpt["training"], TRAINING_KEYS, str(path))
    saved = ckpt.get("data")
    if isinstance(saved, dict) and saved != fingerprint:
        raise SymscopeInputError(
            f"checkpoint {path} was trained on other data (shape {tuple(saved.get('shape', ()))}, "
            f"sha256 {str(saved.get('sha256'))[:12]}… vs now shape {tuple(fingerprint['shape'])}, "
            f"sha256 {fingerprint['sha256'][:12]}…); resume with the same data, or start afresh")
    ck_cfg = LensConfig.from_dict(ckpt["config"])
    differs = config_differences(ck_cfg, config) if config is not None else []
    if seed is not None and int(seed) != int(ckpt["seed"]):
        differs.append(f"seed: {int(ckpt['seed'])} vs {seed}")
    if differs:
        raise SymscopeInputError(
            f"checkpoint {path} was written with a different config ({'; '.join(differs)}: checkpoint vs now); "
            "resume without a config or seed to use the checkpoint's own, or start afresh")
    return ckpt
