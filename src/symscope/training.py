"""The Trainer: the only training loop of symscope.

It owns the two Adam optimisers (symmetry subsystem; density estimators), the learning-rate,
rank and filter-noise schedules, the mini-batch RNG, progress display, history, checkpoints and
resume. One step (spec §3.3, §4.1) builds y = X Cᵀ once and takes two gradients from the same
forward graph: the model loss w.r.t. (P, ψ) with the estimators held fixed, and the estimators'
negative log-likelihood w.r.t. their own parameters with y treated as data. (The reference runs
a second forward pass with fresh filter noise for the estimators; sharing it halves the cost.)
"""

from __future__ import annotations

import dataclasses
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._validation import SymscopeTrainingError
from .config import LensConfig
from .discover import losses as L
from .discover.density import ConditionalMixture, MarginalMixture
from .discover.model import OrthogonalGenerator, ResolvingFilter, group_convolution
from .discover.refine import refine, refine_split
from .discover.repair import repair, set_chain
from .discover.spectral import spectral_sites

#: Names of the per-step quantities recorded in the history (in this order).
LOSS_NAMES = ("loss", "alignment", "uniformity", "marginal_entropy", "joint_entropy", "estimator_nll")


class LensModules(nn.Module):
    """All learnable parts: generator and filter (the lens), marginal and conditional estimators."""

    def __init__(self, d: int, cfg: LensConfig, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.d = d
        self.padding = d if cfg.padding is None else cfg.padding
        self.generator = OrthogonalGenerator(d, self.padding, cfg.init_std, g)
        self.filter = ResolvingFilter(d)
        dc = cfg.density
        self.marginal = MarginalMixture(d, dc.kernels, dc.clip, g)
        self.conditional = ConditionalMixture(d, dc.kernels, dc.hidden, g)

    def lens_parameters(self) -> list[nn.Parameter]:
        return [*self.generator.parameters(), *self.filter.parameters()]

    def estimator_parameters(self) -> list[nn.Parameter]:
        return [*self.marginal.parameters(), *self.conditional.parameters()]

    def group_conv(self, filter_noise: torch.Tensor | None = None) -> torch.Tensor:
        """Group-convolution matrix C (d, d); ``filter_noise`` is added to ψ while training."""
        return group_convolution(self.filter(filter_noise), self.generator(), self.d, self.padding)


@torch.no_grad()
def initialise_spectral(mods: LensModules, X: torch.Tensor, seed: int) -> None:
    """Start from the shift along the spectral sites (``discover/spectral.py``), ψ = the central site."""
    set_chain(mods, spectral_sites(X.double().cpu().numpy(), seed=seed))


def lr_schedule(cfg: LensConfig) -> np.ndarray:
    """Per-step factor of the initial lr: log-linear decay from 1 to ``lr_decay``."""
    return cfg.lr_decay ** (np.arange(cfg.steps) / max(1, cfg.steps - 1))


def rank_time(cfg: LensConfig) -> np.ndarray:
    """Normalised time t_s: cumulative model-lr fraction (current step included), / rank.end, ≤ 1."""
    lr = lr_schedule(cfg)
    return np.minimum(1.0, np.cumsum(lr) / lr.sum() / cfg.rank.end)


def filter_noise(cfg: LensConfig, step: int) -> float:
    """σ(step) = σ₀·exp(−step / (decay·steps))."""
    return cfg.filter_noise * math.exp(-step / (cfg.filter_noise_decay * cfg.steps))


def objectives(mods: LensModules, y: torch.Tensor, slot: torch.Tensor, t: float, cfg: LensConfig) -> dict[str, torch.Tensor]:
    """All loss terms for a batch of representations y (B, d) at normalised time t."""
    marg, cond = mods.marginal, mods.conditional
    log_p = marg.log_prob(y)
    log_q = cond.log_prob(y, slot)
    unif = 0.5 * (
        L.marginal_uniformity(log_p, marg.log_prob(y, -1), marg.log_prob(y, 1))
        + L.conditional_uniformity(log_q, cond.log_prob(y, slot, -1), cond.log_prob(y, slot, 1), slot)
    )
    align = L.alignment(y)
    h_joint = L.ranked_entropy(y, t, cfg.rank.sharpness)
    h_marg = L.marginal_entropy(log_p)
    w = cfg.weights
    loss = (
        w.alignment * align
        + w.uniformity * unif
        + w.resolution * L.resolution(h_marg, h_joint)
        + w.information * L.information(h_joint)
    )
    off_diag = (slot[:, None] != torch.arange(y.shape[1], device=y.device)[None, :]).to(y.dtype)
    nll = -log_p.mean() - (log_q * off_diag).sum() / off_diag.sum() + cfg.density.l2 * cond.l2_penalty()
    return dict(loss=loss, alignment=align, uniformity=unif, marginal_entropy=h_marg,
                joint_entropy=h_joint, estimator_nll=nll)


def _check_finite(step: int, what: str, values: dict[str, torch.Tensor | tuple[torch.Tensor, ...]]) -> None:
    """Stop with a clear error (not a failure deep inside torch later) when a loss or gradient is NaN/inf."""
    bad = [name for name, v in values.items()
           if not all(bool(torch.isfinite(t).all()) for t in (v if isinstance(v, tuple) else (v,)))]
    if bad:
        raise SymscopeTrainingError(
            f"training diverged at step {step}: non-finite {what} ({', '.join(bad)}); the parameters are those "
            "of the last finite step (saved to the checkpoint, if any). Try a lower lr / estimator_lr in the "
            "config, or check the data for extreme values")


@dataclass
class TrainState:
    """Everything a checkpoint holds besides the config (all tensors / plain Python)."""

    step: int
    history: list[dict[str, float]]
    elapsed: float
    events: list[dict[str, Any]]


class Trainer:
    """Runs (or resumes) the optimisation of a ``LensModules`` on standardised data."""

    def __init__(self, mods: LensModules, cfg: LensConfig, seed: int, device: torch.device,
                 progress: bool = True, monitor: Callable[[LensModules], dict[str, float]] | None = None):
        self.mods, self.cfg, self.seed, self.device = mods, cfg, seed, device
        self.progress, self.monitor = progress, monitor
        self.opt_lens = torch.optim.Adam(
            [{"params": list(mods.generator.parameters()), "scale": 1.0},
             {"params": list(mods.filter.parameters()), "scale": cfg.filter_lr_scale}], lr=cfg.lr, eps=1e-7)
        self.opt_est = torch.optim.Adam([{"params": mods.estimator_parameters(), "scale": 1.0}], lr=cfg.estimator_lr, eps=1e-7)
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.state = TrainState(step=0, history=[], elapsed=0.0, events=[])
        self.trained_modules: dict[str, torch.Tensor] | None = None  # state before the final refinement
        self._lr = lr_schedule(cfg)
        self._t = rank_time(cfg)
        self._repairs = sorted({int(round(f * cfg.steps)) for f in cfg.repair_at})

    # -- checkpoints -------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """A dict of tensors and plain values only (loadable with ``weights_only=True``).

        After the final refinement it also holds ``trained_modules``: the modules as training left
        them, so the refinement can be studied or re-done from the trained state.
        """
        ckpt = dict(
            format="symscope-checkpoint-1",
            config=self.cfg.to_dict(),
            seed=self.seed,
            modules={k: v.detach().cpu() for k, v in self.mods.state_dict().items()},
            opt_lens=self.opt_lens.state_dict(),
            opt_est=self.opt_est.state_dict(),
            rng=self.rng.get_state(),
            step=self.state.step,
            history=self.state.history,
            events=self.state.events,
            elapsed=self.state.elapsed,
        )
        if self.trained_modules is not None:
            ckpt["trained_modules"] = self.trained_modules
        return ckpt

    def save_checkpoint(self, path: str | Path) -> None:
        tmp = Path(str(path) + ".tmp")
        torch.save(self.checkpoint(), tmp)
        tmp.replace(path)

    def restore(self, ckpt: dict[str, Any]) -> None:
        self.mods.load_state_dict(ckpt["modules"])
        self.opt_lens.load_state_dict(ckpt["opt_lens"])
        self.opt_est.load_state_dict(ckpt["opt_est"])
        self.rng.set_state(ckpt["rng"])
        self.trained_modules = ckpt.get("trained_modules")
        self.state = TrainState(step=int(ckpt["step"]), history=list(ckpt["history"]),
                                elapsed=float(ckpt["elapsed"]), events=list(ckpt["events"]))

    # -- the loop ----------------------------------------------------------------------
    def _holding(self, s: int) -> bool:
        """True in the first ``hold_start`` steps and the ``repair_hold`` steps after a repair: only the estimators learn."""
        return s < self.cfg.hold_start or any(r <= s < r + self.cfg.repair_hold for r in self._repairs)

    def step(self, X: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a random mini-batch of X (n, d) already on the device."""
        cfg, s = self.cfg, self.state.step
        if s in self._repairs:
            take = torch.randperm(X.shape[0], generator=self.rng)[: cfg.repair_samples]
            event = repair(self.mods, X[take.to(self.device)])
            self.opt_lens.state.clear()
            self.state.events.append({"step": s, "event": "repair", **event})
        for opt, base in ((self.opt_lens, cfg.lr), (self.opt_est, cfg.estimator_lr)):
            for group in opt.param_groups:
                group["lr"] = base * group["scale"] * float(self._lr[s])
        idx = torch.randint(0, X.shape[0], (min(cfg.batch_size, X.shape[0]),), generator=self.rng)
        noise = filter_noise(cfg, s) * torch.randn(self.mods.d, generator=self.rng)
        xb = X[idx.to(self.device)]
        C = self.mods.group_conv(noise.to(self.device))
        y = xb @ C.T
        slot = torch.arange(y.shape[0], device=self.device) % self.mods.d
        terms = objectives(self.mods, y, slot, float(self._t[s]), cfg)
        _check_finite(s, "loss term", {k: terms[k] for k in LOSS_NAMES})
        est_p = self.mods.estimator_parameters()
        lens_g = None
        if not self._holding(s):  # while held after a repair, the lens gradient is not needed
            lens_p = self.mods.lens_parameters()
            lens_g = torch.autograd.grad(terms["loss"], lens_p, retain_graph=True)
        est_g = torch.autograd.grad(terms["estimator_nll"], est_p)
        _check_finite(s, "gradient", {"lens": lens_g or (), "estimators": est_g})
        if lens_g is not None:  # both checks pass before any parameter moves: a failed step leaves them as they were
            for p, g in zip(lens_p, lens_g):
                p.grad = g
            self.opt_lens.step()
        for p, g in zip(est_p, est_g):
            p.grad = g
        self.opt_est.step()
        self.state.step += 1
        if cfg.rebase_every and self.state.step % cfg.rebase_every == 0:
            self.mods.generator.rebase()
        return terms

    def run(self, X: torch.Tensor, checkpoint_path: str | Path | None = None) -> TrainState:
        """Train until ``cfg.steps``, checkpointing periodically.

        Ctrl-C is deferred to the end of the current step, so the checkpoint written then is a
        consistent state; ``KeyboardInterrupt`` is re-raised after saving. A second Ctrl-C aborts.
        """
        from tqdm.auto import tqdm

        cfg = self.cfg
        bar = tqdm(total=cfg.steps, initial=self.state.step, disable=not self.progress,
                   desc="symscope", unit="step", dynamic_ncols=True)
        start = time.perf_counter() - self.state.elapsed
        interrupted = []

        def on_sigint(signum: int, frame: Any) -> None:
            if interrupted:
                raise KeyboardInterrupt
            interrupted.append(True)

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if main else None
        try:
            while self.state.step < cfg.steps:
                if interrupted:
                    raise KeyboardInterrupt
                terms = self.step(X)
                s = self.state.step
                self.state.elapsed = time.perf_counter() - start
                if s % cfg.log_every == 0 or s == cfg.steps or s == 1:
                    rec = {"step": s, "time": round(self.state.elapsed, 3), "t": float(self._t[s - 1]),
                           "filter_noise": filter_noise(cfg, s - 1)}
                    rec.update({k: float(terms[k].detach()) for k in LOSS_NAMES})
                    if self.monitor is not None:
                        rec.update(self.monitor(self.mods))
                    self.state.history.append(rec)
                    bar.set_postfix({k: f"{rec[k]:.3f}" for k in ("loss", "alignment", "uniformity", "joint_entropy")}
                                    | ({"cos": f"{rec['cosine']:.3f}"} if "cosine" in rec else {}), refresh=False)
                bar.update(1)
                if checkpoint_path is not None and s % cfg.checkpoint_every == 0:
                    self.save_checkpoint(checkpoint_path)
        except (KeyboardInterrupt, SymscopeTrainingError):  # the state is that of the last completed step
            if checkpoint_path is not None:
                self.save_checkpoint(checkpoint_path)
            raise
        finally:
            bar.close()
            if main:
                signal.signal(signal.SIGINT, previous)
        self.finish(X)
        if checkpoint_path is not None:
            self.save_checkpoint(checkpoint_path)
        return self.state

    def finish(self, X: torch.Tensor) -> None:
        """After the last step, refine the chain once (``discover/refine.py``); recorded as an event.

        Held-out judging: the rounds see ``repair_samples`` samples, the judge up to as many others,
        both drawn from the seed (``refine_split``), not from the training RNG.
        A resumed run whose checkpoint already holds the refine event does nothing here.
        """
        r = self.cfg.refine
        if not r.active or self.state.step < self.cfg.steps or any(e["event"] == "refine" for e in self.state.events):
            return
        s = self.state.step
        if self.mods.padding == 0:  # refine (like the repair) assumes an open chain
            self.state.events.append({"step": s, "event": "refine", "refined": 0.0, "skipped": "circulant padding"})
            return
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write("symscope: refining the chain (discover/refine.py) ...")
        start = time.perf_counter()
        fit, judge = refine_split(X, self.seed, self.cfg.repair_samples)
        before = self.monitor(self.mods) if self.monitor is not None else {}
        self.trained_modules = {k: v.detach().cpu().clone() for k, v in self.mods.state_dict().items()}
        event = refine(self.mods, fit, judge, **dataclasses.asdict(r), seed=self.seed)
        after = self.monitor(self.mods) if self.monitor is not None else {}
        seconds = time.perf_counter() - start
        self.state.elapsed += seconds
        self.state.events.append({"step": s, "event": "refine", **event, "seconds": round(seconds, 3),
                                  **{f"{k}_before": v for k, v in before.items()}, **after})
