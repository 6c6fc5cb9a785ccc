"""Training callbacks, the public names: pass them to ``SymmetryLens.fit(X, callbacks=[...])``.

Each is a ``Callback`` (``training.py``) with hooks ``on_fit_start``, ``on_step_start``,
``on_step_end``, ``on_fit_end`` and, around the refinement stage, ``on_refine_start`` /
``on_refine_end``. A fit already runs the defaults (``training.default_callbacks``); extra ones run
after the history record is written, so a monitor can add fields to it.
"""

from .measure.monitor import RecoveryMonitor
from .training import (Callback, ChainRepair, Checkpoint, StepLog, HoldLens, InterruptToCheckpoint, ProgressBar,
                       Rebase, StepTimer, logged)

__all__ = ["Callback", "ChainRepair", "Checkpoint", "StepLog", "HoldLens", "InterruptToCheckpoint", "ProgressBar",
           "Rebase", "RecoveryMonitor", "StepTimer", "logged"]
