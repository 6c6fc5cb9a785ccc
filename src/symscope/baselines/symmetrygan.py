"""SymmetryGAN baseline (Desai, Nachman & Thaler 2022) with the settings of spec §6.3.

A candidate symmetry ``G`` (an orthogonal d×d matrix) is trained against a discriminator that
tells real samples ``x`` from transformed ones ``Gx``: when the discriminator can no longer tell
them apart, ``G`` maps the data distribution onto itself. Settings (spec §6.3):

- ``G`` is the Q factor of an unconstrained matrix ``W`` (``"qr"``, default) or ``expm`` of its
  antisymmetric part (``"expm"``); ``W`` starts from U(−1, 1).
- Discriminator: MLP d → 25 → 25 → 1 with ReLU and a sigmoid output, binary cross-entropy,
  Adam with learning rate 10⁻³ for both players.
- Each batch of 256 is split: ¼ real (label 1) and ¼ transformed (label 0) train the
  discriminator; the other ½ is transformed and passed through the (not updated) discriminator
  with label 1 to train ``G``.
- The authors report the best epoch by the power-scanning cosine of spec §6.1 (best over all
  powers ``G*ᵏ``, k = 0 … d−1, *including the identity*). That needs the truth, so it is done
  only when a ``truth`` is given, and it is an oracle choice that favours the baseline.

SymmetryGAN finds *a* symmetry, not necessarily the minimal generator: any power of the shift,
or the identity, fools the discriminator too. Score results with ``recovery_report``, which
counts only the minimal generator (either direction) as success.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import SymscopeInputError, check_data, check_square_matrix
from ..measure.recovery import frobenius_cosine


def _qr(w: torch.Tensor) -> torch.Tensor:
    q, r = torch.linalg.qr(w)
    # Fix the column signs (diag R > 0) so that W ↦ Q is the smooth Gram–Schmidt map.
    return q * torch.sign(torch.diagonal(r)).unsqueeze(0)


def _expm(w: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_exp(0.5 * (w - w.T))


#: Maps from the unconstrained parameter ``W`` (d, d) to an orthogonal ``G``.
PARAMETRIZATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"qr": _qr, "expm": _expm}


class OrthogonalCandidate(nn.Module):
    """The candidate symmetry ``G = param(W)`` with ``W ~ U(−1, 1)`` drawn from ``generator``."""

    def __init__(self, d: int, parametrization: str = "qr", *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if parametrization not in PARAMETRIZATIONS:
            raise SymscopeInputError(
                f"unknown parametrization {parametrization!r}; choose one of {sorted(PARAMETRIZATIONS)}"
            )
        self.parametrization = parametrization
        self.weight = nn.Parameter(torch.rand(d, d, generator=generator) * 2.0 - 1.0)

    def forward(self) -> torch.Tensor:
        """The orthogonal matrix ``G`` (d, d)."""
        return PARAMETRIZATIONS[self.parametrization](self.weight)


def discriminator(d: int, *, hidden: int = 25, generator: torch.Generator | None = None) -> nn.Sequential:
    """MLP d → 25 → 25 → 1 (ReLU) returning a logit; Glorot-uniform weights, zero biases (Keras defaults)."""
    net = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)
    return net


def power_scan_cosine(learned: np.ndarray, truth: np.ndarray) -> tuple[float, int]:
    """Spec §6.1 power scan: ``max_k cos(G, T^k)`` over k = 0 … d−1 and both ``T``, ``Tᵀ``.

    Returns ``(cosine, k)``; k = 0 is the identity, so a collapse scores 1 here. This is the
    authors' *selection* score, not a success criterion.
    """
    g = check_square_matrix(learned, "learned generator")
    t = check_square_matrix(truth, "true generator")
    if g.shape != t.shape:
        raise SymscopeInputError(f"learned generator is {g.shape} but the truth is {t.shape}")
    best, best_k = -np.inf, 0
    for base in (t, t.T):
        power = np.eye(len(t))
        for k in range(len(t)):
            c = frobenius_cosine(g, power)
            if c > best:
                best, best_k = c, k
            power = power @ base
    return float(best), best_k


@dataclass
class GANResult:
    """What one SymmetryGAN run returns.

    ``generator`` is the final ``G`` (d, d). With a truth: ``best_generator``/``best_epoch``/
    ``best_power_cosine`` give the epoch the authors' power scan would report (else None).
    ``history`` holds one dict per epoch (mean losses, and the power scan when scored);
    ``stopped`` says what ended the run: "epochs", "time budget", or "diverged (...)" when an
    update made ``G`` non-finite (``G`` is then the last finite one).
    """

    generator: np.ndarray
    best_generator: np.ndarray | None
    best_epoch: int | None
    best_power_cosine: float | None
    epochs: int
    steps: int
    wall_seconds: float
    stopped: str
    history: list[dict[str, Any]] = field(default_factory=list)


def _check_settings(epochs: int, steps_per_epoch: int | None, batch_size: int, lr: float,
                    time_budget: float | None) -> None:
    if int(epochs) != epochs or epochs < 1:
        raise SymscopeInputError(f"epochs must be a positive integer, got {epochs}")
    if steps_per_epoch is not None and (int(steps_per_epoch) != steps_per_epoch or steps_per_epoch < 1):
        raise SymscopeInputError(f"steps_per_epoch must be a positive integer or None, got {steps_per_epoch}")
    if int(batch_size) != batch_size or batch_size < 4 or batch_size % 4:
        raise SymscopeInputError(f"batch_size must be a positive multiple of 4, got {batch_size}")
    if not lr > 0:
        raise SymscopeInputError(f"lr must be > 0, got {lr}")
    if time_budget is not None and not time_budget > 0:
        raise SymscopeInputError(f"time_budget must be > 0 seconds or None, got {time_budget}")


def _gan_step(cand: OrthogonalCandidate, disc: nn.Module, opts: tuple[torch.optim.Optimizer, ...],
              batch: torch.Tensor) -> tuple[float, float]:
    """One discriminator and one generator update on ``batch`` (b, d); returns both losses."""
    d_opt, g_opt = opts
    q = len(batch) // 4
    bce = nn.functional.binary_cross_entropy_with_logits  # sigmoid output + BCE, stably
    g = cand()
    logits = disc(torch.cat([batch[:q], batch[q:2 * q] @ g.detach().T]))
    labels = torch.cat([torch.ones(q, 1), torch.zeros(q, 1)])
    d_loss = bce(logits, labels)
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    disc.requires_grad_(False)
    g_logits = disc(batch[2 * q:] @ g.T)
    g_loss = bce(g_logits, torch.ones_like(g_logits))
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    disc.requires_grad_(True)
    return d_loss.item(), g_loss.item()


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[torch.Tensor]:
    """Endless index batches: consecutive slices of a fresh shuffle per pass over the data."""
    while True:
        order = torch.from_numpy(rng.permutation(n))
        for j in range(0, n - batch_size + 1, batch_size):
            yield order[j:j + batch_size]


def symmetry_gan(
    X: np.ndarray,
    *,
    truth: np.ndarray | None = None,
    epochs: int = 100,
    steps_per_epoch: int | None = None,
    batch_size: int = 256,
    lr: float = 1e-3,
    parametrization: str = "qr",
    seed: int = 0,
    time_budget: float | None = None,
    progress: bool = False,
) -> GANResult:
    """Train SymmetryGAN on samples ``X`` (n, d); see the module docstring for the method.

    Args:
        X: the data; at least ``batch_size`` samples.
        truth: optional true generator (d, d), used only to pick the best epoch by the power scan.
        epochs: number of epochs; one epoch is ``steps_per_epoch`` batches (default: one pass,
            ``n // batch_size``); batches are slices of a fresh shuffle per pass over the data.
        batch_size: samples per step, a multiple of 4 (split ¼ / ¼ / ½ as in the module docstring).
        lr: Adam learning rate of both players.
        parametrization: ``"qr"`` or ``"expm"`` (``PARAMETRIZATIONS``).
        seed: seeds ``G``'s and the discriminator's initialisation and the shuffles (private RNGs).
        time_budget: stop after this many seconds (checked every step); None for no limit.
        progress: show a tqdm bar over steps with the current losses.

    >>> from symscope import make_dataset
    >>> ds = make_dataset("gaussian-shift", n=512, d=7)
    >>> res = symmetry_gan(ds.X, epochs=2, seed=0)
    >>> res.generator.shape, res.steps
    ((7, 7), 4)
    """
    _check_settings(epochs, steps_per_epoch, batch_size, lr, time_budget)
    a = check_data(X, min_samples=int(batch_size))
    n, d = a.shape
    t = None
    if truth is not None:
        t = check_square_matrix(truth, "true generator")
        if t.shape != (d, d):
            raise SymscopeInputError(f"true generator must be {d}x{d} for d={d} features, got {t.shape}")
    per_epoch = int(steps_per_epoch) if steps_per_epoch is not None else n // int(batch_size)
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(seed)
    cand = OrthogonalCandidate(d, parametrization, generator=gen)
    disc = discriminator(d, generator=gen)
    opts = (torch.optim.Adam(disc.parameters(), lr=lr), torch.optim.Adam(cand.parameters(), lr=lr))
    data = torch.from_numpy(a.astype(np.float32))

    from tqdm.auto import tqdm

    bar = tqdm(total=int(epochs) * per_epoch, disable=not progress, desc="SymmetryGAN")
    history: list[dict[str, Any]] = []
    best: tuple[float, int, np.ndarray] | None = None
    steps, stopped = 0, "epochs"
    start = time.perf_counter()
    batches = _batches(n, int(batch_size), rng)
    for epoch in range(1, int(epochs) + 1):
        losses = []
        for _ in range(per_epoch):
            last_finite = cand.weight.detach().clone()
            losses.append(_gan_step(cand, disc, opts, data[next(batches)]))
            steps += 1
            bar.update(1)
            if not torch.isfinite(cand.weight).all():  # a blown-up QR/expm gradient: keep the last finite G
                with torch.no_grad():
                    cand.weight.copy_(last_finite)
                stopped = f"diverged (non-finite G at step {steps})"
                break
            if time_budget is not None and time.perf_counter() - start > time_budget:
                stopped = "time budget"
                break
        d_mean, g_mean = np.nanmean(losses, axis=0)
        rec: dict[str, Any] = dict(epoch=epoch, steps=steps, d_loss=float(d_mean), g_loss=float(g_mean))
        g_now = cand().detach().double().numpy()
        if t is not None:
            rec["power_cosine"], rec["power"] = power_scan_cosine(g_now, t)
            if best is None or rec["power_cosine"] > best[0]:
                best = (rec["power_cosine"], epoch, g_now)
        history.append(rec)
        bar.set_postfix(d_loss=f"{d_mean:.3f}", g_loss=f"{g_mean:.3f}")
        if stopped != "epochs":
            break
    bar.close()
    return GANResult(
        generator=g_now,
        best_generator=None if best is None else best[2],
        best_epoch=None if best is None else best[1],
        best_power_cosine=None if best is None else best[0],
        epochs=len(history),
        steps=steps,
        wall_seconds=time.perf_counter() - start,
        stopped=stopped,
        history=history,
    )
