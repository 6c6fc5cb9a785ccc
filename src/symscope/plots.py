"""Figures of a fitted lens (matplotlib, imported lazily, Agg backend): one PNG per object.

The figures tell the run's story at a glance: ``losses.png`` marks the chain repairs and the
final refinement on every curve and, with a truth, ends the cosine curve at the final
(post-refinement) cosine; ``generator.png`` carries the verdict (recovery with a truth, the
truth-free health check without) in its title.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

#: Colours of the event markers and of the verdict titles.
REPAIR_COLOUR, REFINE_COLOUR = "tab:orange", "tab:green"
GOOD_COLOUR, BAD_COLOUR = "darkgreen", "firebrick"


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


def verdict_line(lens: Any, truth: np.ndarray | None, health: Any) -> tuple[str, bool]:
    """(one-line verdict of the run, whether it is good): recovery with a truth; without one the
    fit's truth-free verdict, or the health check when it failed or there is no verdict."""
    from .measure import recovery_report

    if truth is not None:
        rep = recovery_report(lens.generator_, truth)
        return (f"recovery: {rep.verdict}, cosine {rep.cosine:.4f} "
                f"(to truth² {rep.power2_cosine:.3f}, to I {rep.identity_cosine:.3f})", rep.minimal)
    verdict = getattr(lens, "verdict_", None)
    if verdict is not None and not health.failed:
        return f"verdict (no truth): {verdict.label}", verdict.found
    rank = f", C rank {health.conv_rank}/{health.dim}" if health.conv_rank is not None else ""
    return f"health (no truth): {health.verdict}, cosine to I {health.identity_cosine:.3f}{rank}", not health.failed


def _events(lens: Any) -> list[tuple[int, str, str]]:
    """(step, label, colour) of every chain repair and of the final refinement."""
    marks = []
    for e in getattr(lens, "events_", []):
        if e.get("event") == "repair":
            applied = "repair" if e.get("repaired", 1.0) else "repair (kept)"
            marks.append((int(e["step"]), applied, REPAIR_COLOUR))
        elif e.get("event") == "refine" and "skipped" not in e:
            stage = e.get("stage", "trained")
            marks.append((int(e["step"]), f"{stage} refine: {e.get('kept', '?')}" if e.get("refined")
                          else f"{stage} refine (kept)", REFINE_COLOUR))
    return marks


def plot_run(lens: Any, outdir: str | Path, truth: np.ndarray | None = None, health: Any = None) -> list[Path]:
    """Write generator.png, group_conv.png, filter.png and losses.png for a fitted lens.

    ``health`` is a ``HealthReport`` (computed here when None) shown when there is no truth.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .measure import generator_health, recovery_report

    if health is None:
        health = generator_health(lens.generator_, lens.group_conv_)
    verdict, good = verdict_line(lens, truth, health)
    out = Path(outdir)
    written: list[Path] = []

    fig, axes = plt.subplots(1, 2 if truth is not None else 1, figsize=(10 if truth is not None else 5.5, 4.9),
                             squeeze=False)
    _matrix(axes[0, 0], lens.generator_, "learned generator G (central crop)")
    if truth is not None:
        _matrix(axes[0, 1], truth, "true minimal generator")
    title = verdict if truth is not None else textwrap.fill(verdict, 48)  # one panel: wrap to its width
    fig.suptitle(title, color=GOOD_COLOUR if good else BAD_COLOUR, fontsize=11, fontweight="bold")
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
        if "cosine" in hist[0] or truth is not None:
            keys.append("cosine")
        events = _events(lens)
        fig, axes = plt.subplots(2, 4, figsize=(13, 6))
        flat = list(axes.flat)
        for ax, k in zip(flat, keys):
            if k in hist[0]:
                ax.plot(steps, [h[k] for h in hist], color="tab:blue", label="training",
                        marker="o" if len(steps) < 5 else None)
            for step, label, colour in events:
                ax.axvline(step, color=colour, linestyle="--", linewidth=1.2)
            ax.set_title(k.replace("_", " ") + (" to truth" if k == "cosine" else ""))
            ax.set_xlabel("step")
        if truth is not None:
            ax = flat[keys.index("cosine")]
            final = recovery_report(lens.generator_, truth).cosine
            ax.plot([steps[-1]], [final], marker="*", markersize=14, color=REFINE_COLOUR, linestyle="none",
                    label=f"final (after refinement) {final:.4f}")
            ax.axhline(0.98, color="grey", linestyle=":", linewidth=1, label="0.98 (recovered)")
            ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
            ax.legend(loc="center left", fontsize=8)
        story = flat[len(keys)]
        story.axis("off")
        lines = [f"{steps[-1]} training step{'s' if steps[-1] != 1 else ''}"]
        lines += [f"step {step}: {label}" for step, label, _ in events] or ["no repairs, no refinement"]
        story.text(0.0, 1.0, "\n".join(lines), va="top", fontsize=9, family="monospace", transform=story.transAxes)
        for step, label, colour in events:  # a legend entry per kind of event
            story.plot([], [], color=colour, linestyle="--", label=label.split(":")[0].split(" (")[0])
        handles, labels = story.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        if unique:
            story.legend(unique.values(), unique.keys(), loc="lower left", fontsize=9, title="dashed lines")
        for ax in flat[len(keys) + 1:]:
            ax.axis("off")
        fig.suptitle(verdict, color=GOOD_COLOUR if good else BAD_COLOUR, fontsize=11, fontweight="bold")
        _save(fig, out / "losses.png", written, dpi=100)
    return written
