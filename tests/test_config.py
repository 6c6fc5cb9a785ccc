"""LensConfig checking: every field's type and range, named by its dotted path, one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from symscope import DensityConfig, LensConfig, LossWeights, RankSchedule, RefineConfig, SymscopeInputError

SUBS = {"refine": RefineConfig, "weights": LossWeights, "rank": RankSchedule, "density": DensityConfig}


@pytest.mark.parametrize(
    "data, match",
    [
        ({"filter_noise": "0.1"}, r"^config: filter_noise must be a number, got '0\.1' \(str\)$"),
        ({"init_std": "1e-4"}, r"^config: init_std must be a number, got '1e-4' \(str\)$"),
        ({"batch_size": 100.5}, r"^config: batch_size must be an integer, got 100\.5 \(float\)$"),
        ({"steps": 10.5}, r"^config: steps must be an integer, got 10\.5 \(float\)$"),
        ({"steps": True}, r"^config: steps must be an integer, got True \(bool\)$"),
        ({"steps": 0}, r"^config: steps must be > 0, got 0$"),
        ({"density": {"kernels": 0}}, r"^config: density\.kernels must be > 0, got 0$"),
        ({"density": {"hidden": -1}}, r"^config: density\.hidden must be > 0, got -1$"),
        ({"density": {"hidden": "wide"}}, r"^config: density\.hidden must be an integer, got 'wide' \(str\)$"),
        ({"density": {"l2": -1e-3}}, r"^config: density\.l2 must be >= 0, got -0\.001$"),
        ({"weights": {"uniformity": None}}, r"^config: weights\.uniformity must be a number, got None"),
        ({"rank": {"end": 1.5}}, r"^config: rank\.end must be in \(0, 1\], got 1\.5$"),
        ({"refine": {"rounds": -1}}, r"^config: refine\.rounds must be >= 0, got -1$"),
        ({"refine": {"polish": 1}}, r"^config: refine\.polish must be true or false, got 1 \(int\)$"),
        ({"refine": {"min_similarity": 1.5}}, r"^config: refine\.min_similarity must be in \[-1, 1\], got 1\.5$"),
        ({"lr": float("inf")}, r"^config: lr must be a finite number, got inf \(float\)$"),
        ({"lr": -1}, r"^config: lr must be > 0, got -1\.0$"),
        ({"padding": -1}, r"^config: padding must be >= 0, got -1$"),
        ({"padding": 1.5}, r"^config: padding must be an integer or null, got 1\.5 \(float\)$"),
        ({"repair_at": [0.5, 1.0]}, r"^config: repair_at must have every entry in \(0, 1\), got \[0\.5, 1\.0\]$"),
        ({"repair_at": 0.5}, r"^config: repair_at must be a list of numbers, got 0\.5 \(float\)$"),
        ({"init": "random"}, r"^config: init must be 'identity' or 'spectral', got 'random'$"),
        ({"density": 3}, r"^config: density must be a table, got 3 \(int\)$"),
        ({"density": {"width": 3}}, r"^config: unknown key\(s\) \['density\.width'\]; valid keys of density: "),
        ({"stepz": 3}, r"^config: unknown key\(s\) \['stepz'\]; valid keys: "),
    ],
)
def test_bad_fields_are_named_by_their_dotted_path(data: dict, match: str) -> None:
    with pytest.raises(SymscopeInputError, match=match):
        LensConfig.from_dict(data)


def test_every_field_has_a_rule() -> None:
    """A field added without a type/range rule would go unchecked: this test names it."""
    for cls in (LensConfig, *SUBS.values()):
        assert set(cls._rules) == {f.name for f in dataclasses.fields(cls)}, cls.__name__


def test_python_construction_is_checked_too() -> None:
    with pytest.raises(SymscopeInputError, match=r"^config: density\.hidden must be > 0, got 0$"):
        DensityConfig(hidden=0)
    with pytest.raises(SymscopeInputError, match=r"^config: density must be a DensityConfig"):
        LensConfig(density={"hidden": 3})  # type: ignore[arg-type]


def test_values_are_normalised() -> None:
    cfg = LensConfig(steps=np.int64(7), lr=1, repair_at=[0.25], density=DensityConfig(kernels=np.int32(2)))
    assert type(cfg.steps) is int and cfg.steps == 7
    assert type(cfg.lr) is float and cfg.lr == 1.0
    assert cfg.repair_at == (0.25,) and type(cfg.density.kernels) is int
    assert LensConfig.from_dict(cfg.to_dict()) == cfg
    assert LensConfig(padding=None).padding is None and LensConfig(repair_at=[]).repair_at == ()


def test_file_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[density]\nkernels = 0\n")
    with pytest.raises(SymscopeInputError, match=r"^config: density\.kernels must be > 0, got 0$"):
        LensConfig.from_file(tmp_path / "c.toml")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(SymscopeInputError, match="must hold a table/object at top level"):
        LensConfig.from_file(tmp_path / "list.json")
