"""Measurements: ``measure_<thing>(subject, data, ...) -> <Thing>Report`` (frozen, with ``to_dict``)."""

from .chain import ChainReport, measure_chain, stationarity_gap, toeplitz_residual
from .equivariance import EquivarianceReport, check_equivariance, measure_equivariance
from .recovery import RecoveryMonitor, RecoveryReport, frobenius_cosine, recovery_report, rmse

__all__ = [
    "ChainReport",
    "EquivarianceReport",
    "RecoveryMonitor",
    "RecoveryReport",
    "check_equivariance",
    "frobenius_cosine",
    "measure_chain",
    "measure_equivariance",
    "recovery_report",
    "rmse",
    "stationarity_gap",
    "toeplitz_residual",
]
