"""symscope: find the hidden symmetry of unlabeled data (SymmetryLens) and put it to work."""

from ._validation import SymscopeInputError, check_data
from .data import DATASETS, PAPER_DATASETS, Dataset, load_data, make_dataset
from .measure import RecoveryReport, recovery_report

__version__ = "0.1.0"

__all__ = [
    "DATASETS",
    "PAPER_DATASETS",
    "Dataset",
    "make_dataset",
    "load_data",
    "check_data",
    "SymscopeInputError",
    "recovery_report",
    "RecoveryReport",
    "__version__",
]
