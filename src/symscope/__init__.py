"""symscope: find the hidden symmetry of unlabeled data (SymmetryLens) and put it to work."""

__version__ = "0.1.0"

from ._validation import SymscopeInputError, SymscopeTrainingError, check_data
from .data import DATASETS, PAPER_DATASETS, Dataset, load_data, make_dataset
from .measure import RecoveryMonitor, RecoveryReport, recovery_report
from .config import DensityConfig, LensConfig, LossWeights, RankSchedule, RefineConfig
from .lens import SymmetryLens
from .exploit import (
    EquivariantBasis,
    EquivariantLinear,
    EquivariantMLP,
    FiniteGroup,
    InvariantPool,
    LensAdapter,
    assert_equivariant,
    cyclic_group,
    equivariant_basis,
    load_group_conv,
    oracle_group_conv,
    sample_powers,
    set_phase,
    symmetrize,
)

__all__ = [
    "DATASETS",
    "PAPER_DATASETS",
    "Dataset",
    "make_dataset",
    "load_data",
    "check_data",
    "SymscopeInputError",
    "SymscopeTrainingError",
    "recovery_report",
    "RecoveryReport",
    "RecoveryMonitor",
    "SymmetryLens",
    "LensConfig",
    "LossWeights",
    "RankSchedule",
    "RefineConfig",
    "DensityConfig",
    "cyclic_group",
    "FiniteGroup",
    "sample_powers",
    "symmetrize",
    "equivariant_basis",
    "EquivariantBasis",
    "EquivariantLinear",
    "InvariantPool",
    "EquivariantMLP",
    "LensAdapter",
    "oracle_group_conv",
    "load_group_conv",
    "set_phase",
    "assert_equivariant",
    "__version__",
]
