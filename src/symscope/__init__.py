"""symscope: find the hidden symmetry of unlabeled data (SymmetryLens) and put it to work."""

__version__ = "0.1.0"

from ._lazy import lazy_attributes
from ._validation import SymscopeInputError, SymscopeTrainingError, check_data
from .measure import HealthReport, RecoveryReport, generator_health, recovery_report
from .config import DensityConfig, LensConfig, LossWeights, RankSchedule, RefineConfig

#: Names whose modules load torch or scipy, imported on first use (PEP 562) so that importing
#: symscope (and ``symscope --help``) stays fast: name → submodule.
_LAZY = {
    **dict.fromkeys(["DATASETS", "PAPER_DATASETS", "Dataset", "load_data", "make_dataset"], "data"),
    "SymmetryLens": "lens",
    "RecoveryMonitor": "measure",
    **dict.fromkeys([
        "EquivariantBasis", "EquivariantLinear", "EquivariantMLP", "FiniteGroup", "InvariantPool", "LensAdapter",
        "assert_equivariant", "cyclic_group", "equivariant_basis", "load_group_conv", "oracle_group_conv",
        "sample_powers", "set_phase", "symmetrize", "equivariance_gap", "train_two_phase",
    ], "exploit"),
}

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)


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
    "generator_health",
    "HealthReport",
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
    "equivariance_gap",
    "train_two_phase",
    "assert_equivariant",
    "__version__",
]
