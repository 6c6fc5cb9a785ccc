"""Measuring a learned symmetry generator against a known truth (spec §6.1), and without one."""

from .health import HealthReport, generator_health
from .recovery import RecoveryReport, frobenius_cosine, recovery_report, rmse
from .invariance import (InvarianceReport, LieDerivativeReport, SymmetrySpectrum, consistency_penalty, flow_invariance_error, invariance_error, jacobian_symmetry_spectrum, lie_derivative, lie_derivative_report, tangent_prop)  # noqa: E501
from .lie import LensLieAlgebra, grassmann_distance, lens_lie_algebra, lie_algebra, so_basis  # noqa: E501

__all__ = ["RecoveryReport", "recovery_report", "frobenius_cosine", "rmse", "HealthReport", "generator_health"]
__all__ += ["InvarianceReport", "LieDerivativeReport", "SymmetrySpectrum", "consistency_penalty", "flow_invariance_error", "invariance_error", "jacobian_symmetry_spectrum", "lie_derivative", "lie_derivative_report", "tangent_prop"]  # noqa: E501
__all__ += ["LensLieAlgebra", "grassmann_distance", "lens_lie_algebra", "lie_algebra", "so_basis"]
