"""symscope: find the hidden symmetry of unlabeled data (SymmetryLens) and put it to work."""

from .data import DATASETS, PAPER_DATASETS, Dataset, make_dataset

__version__ = "0.1.0"

__all__ = ["DATASETS", "PAPER_DATASETS", "Dataset", "make_dataset", "__version__"]
