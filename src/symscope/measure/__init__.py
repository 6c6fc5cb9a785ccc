"""Measuring a learned symmetry generator against a known truth (spec §6.1), and without one."""

from .health import HealthReport, generator_health
from .recovery import RecoveryReport, frobenius_cosine, recovery_report, rmse
from .invariance import (InvarianceReport, LieDerivativeReport, SymmetrySpectrum, consistency_penalty, flow_invariance_error, invariance_error, jacobian_symmetry_spectrum, lie_derivative, lie_derivative_report, tangent_prop)  # noqa: E501
from .lie import LensLieAlgebra, grassmann_distance, lens_lie_algebra, lie_algebra, so_basis  # noqa: E501

__all__ = ["RecoveryReport", "recovery_report", "frobenius_cosine", "rmse", "HealthReport", "generator_health"]
__all__ += ["InvarianceReport", "LieDerivativeReport", "SymmetrySpectrum", "consistency_penalty", "flow_invariance_error", "invariance_error", "jacobian_symmetry_spectrum", "lie_derivative", "lie_derivative_report", "tangent_prop"]  # noqa: E501
__all__ += ["LensLieAlgebra", "grassmann_distance", "lens_lie_algebra", "lie_algebra", "so_basis"]

# the local learning coefficient (issue 20)
from .llc import CalibrationReport, LLCDiagnostics, LLCResult, NormalCrossing, SusceptibilityResult, calibrate_llc, dln_learning_coefficient, estimate_llc, llc_susceptibility, rrr_learning_coefficient  # noqa: E402,E501,I001
__all__ += ["CalibrationReport", "LLCDiagnostics", "LLCResult", "NormalCrossing", "SusceptibilityResult", "calibrate_llc", "dln_learning_coefficient", "estimate_llc", "llc_susceptibility", "rrr_learning_coefficient"]  # noqa: E501
