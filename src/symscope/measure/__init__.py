"""Measuring a learned symmetry generator against a known truth (spec §6.1), and without one."""

from .health import HealthReport, generator_health
from .recovery import RecoveryReport, frobenius_cosine, recovery_report, rmse

__all__ = ["RecoveryReport", "recovery_report", "frobenius_cosine", "rmse", "HealthReport", "generator_health"]
