"""Built-in datasets with known hidden symmetries (spec §5)."""

from .actions import dst_matrix, permutation_matrix, random_orthogonal, shift_matrix, true_generator
from .dataset import DATASETS, PAPER_DATASETS, Dataset, DatasetSpec, make_dataset
from .files import load_data, load_generator

__all__ = [
    "DATASETS",
    "PAPER_DATASETS",
    "Dataset",
    "DatasetSpec",
    "make_dataset",
    "load_data",
    "load_generator",
    "shift_matrix",
    "dst_matrix",
    "permutation_matrix",
    "random_orthogonal",
    "true_generator",
]
