"""``RecoveryMonitor``: a training callback that records the recovery cosines against a known truth.

Kept apart from ``recovery.py`` (numpy only) because it needs the training loop (torch).
"""

from __future__ import annotations

from typing import Any

from .._validation import SymscopeInputError, check_square_matrix
from ..training import Callback, logged
from .recovery import recovery_report


class RecoveryMonitor(Callback):
    """Training callback: the recovery cosines against a known ``truth`` (d, d) in every history record,
    and before / after the refinement in its event. It only records; it does not influence the fit."""

    def __init__(self, truth: Any):
        self.truth = check_square_matrix(truth, "truth")

    def measure(self, mods: Any) -> dict[str, float]:
        """cosine, power2_cosine, identity_cosine of the modules' current generator."""
        g = mods.generator.cropped().cpu().double().numpy()
        if g.shape != self.truth.shape:
            raise SymscopeInputError(f"truth must be {g.shape}, got {self.truth.shape}")
        rep = recovery_report(g, self.truth)
        return {"cosine": rep.cosine, "power2_cosine": rep.power2_cosine, "identity_cosine": rep.identity_cosine}

    def on_fit_start(self, trainer: Any) -> None:
        self.measure(trainer.mods)  # a wrong shape fails now, not at the first record

    def on_step_end(self, trainer: Any, step: int, terms: dict[str, Any]) -> None:
        rec = logged(trainer, step)
        if rec is not None:
            rec.update(self.measure(trainer.mods))

    def on_refine_start(self, mods: Any) -> None:
        self._before = self.measure(mods)

    def on_refine_end(self, mods: Any, event: dict[str, Any]) -> None:
        event.update({"cosine_before": self._before["cosine"], "power2_cosine_before": self._before["power2_cosine"],
                      "identity_cosine_before": self._before["identity_cosine"], **self.measure(mods)})
