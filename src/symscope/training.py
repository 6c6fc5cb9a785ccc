"""The training loop of a SymmetryLens fit, and the callbacks that act inside it.

``Trainer`` owns the two Adam optimisers (lens: G and ψ; density estimators), the mini-batch RNG,
the step counter and the checkpointable state. One step (spec §3.3, §4.1) builds y = X Cᵀ once
and takes two gradients from the same forward graph: the model loss w.r.t. (G, ψ) with the
estimators held fixed, and the estimators' negative log-likelihood w.r.t. their own parameters
with y treated as data. Everything else that happens during training is a ``Callback``, run in
list order: ``on_fit_start``, ``on_step_start(step)`` before a step, ``on_step_end(step, terms)``
after it (``step`` = steps completed), ``on_fit_end(error)`` always, with the exception that
ended the loop or None. ``default_callbacks`` gives those of a plain fit: chain repair, rebase,
history, progress bar, checkpoint and Ctrl-C handling; ``measure.RecoveryMonitor`` adds the
recovery cosine to the history when the truth is known.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ._validation import SymscopeTrainingError
from .config import LensConfig
from .discover.modules import LOSS_NAMES, LensModules, filter_noise, initialise_spectral, lr_schedule, rank_time
from .discover.repair import repair

__all__ = ["Callback", "ChainRepair", "Checkpoint", "StepLog", "HoldLens", "InterruptToCheckpoint", "LOSS_NAMES",
           "LensModules", "ProgressBar", "Rebase", "StepTimer", "TrainState", "Trainer", "default_callbacks",
           "initialise_spectral"]


@dataclass
class TrainState:
    """The loop's own state (plain Python): steps done, history records, seconds spent, events."""

    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    elapsed: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)


class Callback:
    """Hooks of the training loop; each does nothing unless overridden."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_step_start(self, trainer: Trainer, step: int) -> None: ...

    def on_step_end(self, trainer: Trainer, step: int, terms: dict[str, torch.Tensor]) -> None: ...

    def on_fit_end(self, trainer: Trainer, error: BaseException | None) -> None: ...

    def on_refine_start(self, mods: LensModules) -> None:
        """Before the refinement stage (``SymmetryLens.refine``) changes the modules."""

    def on_refine_end(self, mods: LensModules, event: dict[str, Any]) -> None:
        """After it; ``event`` is the refine record about to be stored (callbacks may add fields)."""


def _check_finite(step: int, what: str, values: dict[str, torch.Tensor | tuple[torch.Tensor, ...]]) -> None:
    """Stop with a clear error (not a failure deep inside torch later) when a loss or gradient is NaN/inf."""
    bad = [name for name, v in values.items()
           if not all(bool(torch.isfinite(t).all()) for t in (v if isinstance(v, tuple) else (v,)))]
    if bad:
        raise SymscopeTrainingError(
            f"training diverged at step {step}: non-finite {what} ({', '.join(bad)}); the parameters are those "
            "of the last finite step (saved to the checkpoint, if any). Try a lower lr / estimator_lr in the "
            "config, or check the data for extreme values")


class Trainer:
    """Runs (or resumes) the optimisation of ``LensModules`` on standardised data X (n, d)."""

    def __init__(self, mods: LensModules, cfg: LensConfig, seed: int, device: torch.device,
                 callbacks: Sequence[Callback] = ()):
        self.mods, self.cfg, self.seed, self.device, self.callbacks = mods, cfg, seed, device, list(callbacks)
        self.opt_lens = torch.optim.Adam(
            [{"params": list(mods.generator.parameters()), "scale": 1.0},
             {"params": list(mods.filter.parameters()), "scale": cfg.filter_lr_scale}], lr=cfg.lr, eps=1e-7)
        self.opt_est = torch.optim.Adam([{"params": mods.estimator_parameters(), "scale": 1.0}],
                                        lr=cfg.estimator_lr, eps=1e-7)
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.state = TrainState()
        self.hold_lens = False  # set by callbacks in on_step_start: this step only the estimators learn
        self.lr, self.t = lr_schedule(cfg), rank_time(cfg)

    def checkpoint(self) -> dict[str, Any]:
        """Optimisers, RNG and loop state: tensors and plain values only (``weights_only=True`` loads them)."""
        return dict(opt_lens=self.opt_lens.state_dict(), opt_est=self.opt_est.state_dict(), rng=self.rng.get_state(),
                    step=self.state.step, elapsed=self.state.elapsed)

    def restore(self, ckpt: dict[str, Any], history: list[dict[str, float]], events: list[dict[str, Any]]) -> None:
        """Continue from ``checkpoint()`` output (the modules are loaded by the caller)."""
        self.opt_lens.load_state_dict(ckpt["opt_lens"])
        self.opt_est.load_state_dict(ckpt["opt_est"])
        self.rng.set_state(ckpt["rng"])
        self.state = TrainState(int(ckpt["step"]), list(history), float(ckpt["elapsed"]), list(events))

    def step(self, X: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a random mini-batch of X (n, d) already on the device."""
        cfg, s, mods = self.cfg, self.state.step, self.mods
        for opt, base in ((self.opt_lens, cfg.lr), (self.opt_est, cfg.estimator_lr)):
            for group in opt.param_groups:
                group["lr"] = base * group["scale"] * float(self.lr[s])
        idx = torch.randint(0, X.shape[0], (min(cfg.batch_size, X.shape[0]),), generator=self.rng)
        noise = filter_noise(cfg, s) * torch.randn(mods.d, generator=self.rng)
        y = X[idx.to(self.device)] @ mods.group_conv(noise.to(self.device)).T
        terms = mods.terms(y, float(self.t[s]), cfg)
        _check_finite(s, "loss term", {k: terms[k] for k in LOSS_NAMES})
        est_p, lens_p, lens_g = mods.estimator_parameters(), mods.lens_parameters(), None
        if not self.hold_lens:  # while held, the lens gradient is not needed
            lens_g = torch.autograd.grad(terms["loss"], lens_p, retain_graph=True)
        est_g = torch.autograd.grad(terms["estimator_nll"], est_p)
        _check_finite(s, "gradient", {"lens": lens_g or (), "estimators": est_g})
        for params, grads, opt in ((lens_p, lens_g, self.opt_lens), (est_p, est_g, self.opt_est)):
            if grads is not None:  # both checks passed before any parameter moves
                for p, g in zip(params, grads):
                    p.grad = g
                opt.step()
        self.state.step += 1
        return terms

    def run(self, X: torch.Tensor) -> TrainState:
        """Train until ``cfg.steps`` (nothing to do when resumed at the end), calling the callbacks."""
        self.X, error = X, None
        start = time.perf_counter() - self.state.elapsed
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.state.step < self.cfg.steps:
                self.hold_lens = False
                for cb in self.callbacks:
                    cb.on_step_start(self, self.state.step)
                terms = self.step(self.X)  # a callback may swap the data
                self.state.elapsed = time.perf_counter() - start
                for cb in self.callbacks:
                    cb.on_step_end(self, self.state.step, terms)
        except BaseException as exc:
            error = exc
            raise
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self, error)
        return self.state


class HoldLens(Callback):
    """Hold the lens (only the estimators learn) in the first ``until`` steps."""

    def __init__(self, until: int):
        self.until = until

    def on_step_start(self, trainer: Trainer, step: int) -> None:
        trainer.hold_lens |= step < self.until


class ChainRepair(Callback):
    """Repair the chain (``discover/repair.py``) at fractions ``at`` of training, then hold the lens ``hold`` steps.

    The repair reads the chain's correlations on ``samples`` samples drawn from the training RNG.
    """

    def __init__(self, at: Sequence[float], hold: int, samples: int):
        self.at, self.hold, self.samples = tuple(at), hold, samples

    def on_step_start(self, trainer: Trainer, step: int) -> None:
        steps = sorted({int(round(f * trainer.cfg.steps)) for f in self.at})
        if step in steps:
            X = trainer.X
            take = torch.randperm(X.shape[0], generator=trainer.rng)[: self.samples]
            event = repair(trainer.mods, X[take.to(trainer.device)])
            trainer.opt_lens.state.clear()
            trainer.state.events.append({"step": step, "event": "repair", **event})
        trainer.hold_lens |= any(r <= step < r + self.hold for r in steps)


class Rebase(Callback):
    """Fold expm(A) into G's base point every ``every`` steps (``OrthogonalGenerator.rebase``)."""

    def __init__(self, every: int):
        self.every = every

    def on_step_end(self, trainer: Trainer, step: int, terms: dict[str, torch.Tensor]) -> None:
        if self.every and step % self.every == 0:
            trainer.mods.generator.rebase()


class StepLog(Callback):
    """Append a record (step, time, rank time t, filter noise, every loss term) every ``every`` steps,
    at the first and at the last step."""

    def __init__(self, every: int):
        self.every = every

    def on_step_end(self, trainer: Trainer, step: int, terms: dict[str, torch.Tensor]) -> None:
        if step % self.every == 0 or step == trainer.cfg.steps or step == 1:
            rec = {"step": step, "time": round(trainer.state.elapsed, 3), "t": float(trainer.t[step - 1]),
                   "filter_noise": filter_noise(trainer.cfg, step - 1)}
            rec.update({k: float(terms[k].detach()) for k in LOSS_NAMES})
            trainer.state.history.append(rec)


def logged(trainer: Trainer, step: int) -> dict[str, float] | None:
    """The history record of ``step`` when it was just written (for callbacks after ``StepLog``)."""
    history = trainer.state.history
    return history[-1] if history and history[-1]["step"] == step else None


class ProgressBar(Callback):
    """A tqdm bar over the steps, showing the losses (and the cosine, when monitored) of the last record."""

    KEYS = ("loss", "alignment", "uniformity", "joint_entropy")

    def on_fit_start(self, trainer: Trainer) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.cfg.steps, initial=trainer.state.step, desc="symscope", unit="step",
                        dynamic_ncols=True)

    def on_step_end(self, trainer: Trainer, step: int, terms: dict[str, torch.Tensor]) -> None:
        rec = logged(trainer, step)
        if rec is not None:
            self.bar.set_postfix({k: f"{rec[k]:.3f}" for k in self.KEYS}
                                 | ({"cos": f"{rec['cosine']:.3f}"} if "cosine" in rec else {}), refresh=False)
        self.bar.update(1)

    def on_fit_end(self, trainer: Trainer, error: BaseException | None) -> None:
        self.bar.close()


class Checkpoint(Callback):
    """Write ``payload(trainer)`` to ``path`` every ``every`` steps, at the end of training, and when a
    Ctrl-C or a divergence stops it (the state of the last completed step). Atomic: tmp file, then rename."""

    def __init__(self, path: str | Path, every: int, payload: Callable[[Trainer], dict[str, Any]]):
        self.path, self.every, self.payload = Path(path), every, payload

    def save(self, trainer: Trainer) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save(self.payload(trainer), tmp)
        tmp.replace(self.path)

    def on_fit_start(self, trainer: Trainer) -> None:
        if not self.path.exists():  # resumable from the first moment of training
            self.save(trainer)

    def on_step_end(self, trainer: Trainer, step: int, terms: dict[str, torch.Tensor]) -> None:
        if step % self.every == 0:
            self.save(trainer)

    def on_fit_end(self, trainer: Trainer, error: BaseException | None) -> None:
        if error is None or isinstance(error, (KeyboardInterrupt, SymscopeTrainingError)):
            self.save(trainer)


class InterruptToCheckpoint(Callback):
    """Defer Ctrl-C to the end of the current step, then stop with ``KeyboardInterrupt`` (a second
    Ctrl-C stops at once). Active only in the main thread, where signals are delivered."""

    def on_fit_start(self, trainer: Trainer) -> None:
        self.flag, self.previous = False, None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.flag:
            raise KeyboardInterrupt
        self.flag = True

    def on_step_start(self, trainer: Trainer, step: int) -> None:
        if self.flag:
            raise KeyboardInterrupt

    def on_fit_end(self, trainer: Trainer, error: BaseException | None) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class StepTimer(Callback):
    """Wall seconds of each step after the first ``warmup`` (``seconds``), for timing benchmarks."""

    def __init__(self, warmup: int = 0):
        self.warmup, self.seconds = warmup, []

    def on_step_start(self, trainer: Trainer, step: int) -> None:
        self._start = time.perf_counter()

    def on_step_end(self, trainer: Trainer, step: int, terms: dict[str, torch.Tensor]) -> None:
        if step > self.warmup:
            self.seconds.append(time.perf_counter() - self._start)


def default_callbacks(cfg: LensConfig, extra: Sequence[Callback] = (), progress: bool = True) -> list[Callback]:
    """The callbacks of a plain fit, in order: Ctrl-C, the lens's surgeries, the history, then ``extra``
    (monitors that add to the history record), then the progress bar."""
    out: list[Callback] = [InterruptToCheckpoint(), HoldLens(cfg.hold_start),
                           ChainRepair(cfg.repair_at, cfg.repair_hold, cfg.repair_samples),
                           Rebase(cfg.rebase_every), StepLog(cfg.log_every), *extra]
    return out + ([ProgressBar()] if progress else [])
