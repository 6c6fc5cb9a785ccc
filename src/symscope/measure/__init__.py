"""Measuring a learned symmetry generator against a known truth (spec §6.1)."""

from .recovery import RecoveryReport, frobenius_cosine, recovery_report, rmse

__all__ = ["RecoveryReport", "recovery_report", "frobenius_cosine", "rmse"]
