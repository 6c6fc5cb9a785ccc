"""Measuring a learned symmetry generator against a known truth (spec §6.1)."""

from .recovery import RecoveryReport, frobenius_cosine, recovery_report, rmse

__all__ = ["RecoveryReport", "recovery_report", "frobenius_cosine", "rmse"]

# the local learning coefficient (issue 20)
from .llc import CalibrationReport, LLCDiagnostics, LLCResult, NormalCrossing, SusceptibilityResult, calibrate_llc, dln_learning_coefficient, estimate_llc, llc_susceptibility, rrr_learning_coefficient  # noqa: E402,E501,I001
__all__ += ["CalibrationReport", "LLCDiagnostics", "LLCResult", "NormalCrossing", "SusceptibilityResult", "calibrate_llc", "dln_learning_coefficient", "estimate_llc", "llc_susceptibility", "rrr_learning_coefficient"]  # noqa: E501
