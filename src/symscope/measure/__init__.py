"""Measurements: ``measure_<thing>(subject, data, ...) -> <Thing>Report`` (frozen, with ``to_dict``).

Against a known truth (recovery, spec §6.1) and without one (health, chain diagnostics,
equivariance, invariance through Jacobians, the local learning coefficient). Modules that need
torch are imported on first use (PEP 562), so that ``import symscope`` and ``symscope --help``
stay fast.
"""

from __future__ import annotations

from .._lazy import lazy_attributes
from .health import HealthReport, generator_health
from .recovery import RecoveryReport, frobenius_cosine, recovery_report, rmse

#: name → submodule, for the names whose modules load torch.
_LAZY = {
    "RecoveryMonitor": "monitor",
    **dict.fromkeys(["ChainReport", "measure_chain", "stationarity_gap", "toeplitz_residual"], "chain"),
    **dict.fromkeys(["EquivarianceReport", "check_equivariance", "measure_equivariance"], "equivariance"),
    **dict.fromkeys([
        "InvarianceReport", "LieDerivativeReport", "SymmetrySpectrum", "consistency_penalty", "flow_invariance_error",
        "invariance_error", "jacobian_symmetry_spectrum", "lie_derivative", "lie_derivative_report", "tangent_prop",
    ], "invariance"),
    **dict.fromkeys(["LensLieAlgebra", "grassmann_distance", "lens_lie_algebra", "lie_algebra", "so_basis"], "lie"),
    **dict.fromkeys([
        "CalibrationReport", "LLCDiagnostics", "LLCResult", "NormalCrossing", "SusceptibilityResult", "calibrate_llc",
        "dln_learning_coefficient", "estimate_llc", "llc_susceptibility", "rrr_learning_coefficient",
    ], "llc"),
}

__all__ = ["HealthReport", "RecoveryReport", "frobenius_cosine", "generator_health", "recovery_report", "rmse", *_LAZY]

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
