"""Figures of a fitted lens (matplotlib, imported lazily, Agg backend): one PNG per object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _matrix(ax: Any, m: np.ndarray, title: str) -> None:
    lim = float(np.abs(m).max()) or 1.0
    im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


def _save(fig: Any, path: Path, written: list[Path], dpi: int = 110) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    written.append(path)


def plot_run(lens: Any, outdir: str | Path, truth: np.ndarray | None = None) -> list[Path]:
    """Write generator.png, group_conv.png, filter.png and losses.png for a fitted lens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(outdir)
    written: list[Path] = []

    fig, axes = plt.subplots(1, 2 if truth is not None else 1, figsize=(10 if truth is not None else 5.5, 4.5), squeeze=False)
    _matrix(axes[0, 0], lens.generator_, "learned generator G (central crop)")
    if truth is not None:
        _matrix(axes[0, 1], truth, "true minimal generator")
    _save(fig, out / "generator.png", written)

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    _matrix(ax, lens.group_conv_, "group convolution C (rows ψᵀGᵏ)")
    ax.set_xlabel("input coordinate")
    ax.set_ylabel("output index (power k)")
    _save(fig, out / "group_conv.png", written)

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.stem(np.arange(len(lens.filter_)), lens.filter_)
    ax.set_title("resolving filter ψ")
    ax.set_xlabel("input coordinate")
    _save(fig, out / "filter.png", written)

    hist = lens.history_
    if hist:
        steps = [h["step"] for h in hist]
        keys = ["loss", "alignment", "uniformity", "marginal_entropy", "joint_entropy", "estimator_nll"]
        if "cosine" in hist[0]:
            keys.append("cosine")
        fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.8))
        for ax, k in zip(axes, keys):
            ax.plot(steps, [h[k] for h in hist])
            ax.set_title(k.replace("_", " "))
            ax.set_xlabel("step")
        _save(fig, out / "losses.png", written, dpi=100)
    return written
