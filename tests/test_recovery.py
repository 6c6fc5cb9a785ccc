"""Recovery metrics: direction ambiguity, powers, identity collapse, noise."""

from __future__ import annotations

import numpy as np
import pytest

from symscope import RecoveryReport, SymscopeInputError, make_dataset, recovery_report
from symscope.data import random_orthogonal, shift_matrix
from symscope.measure import frobenius_cosine, rmse

TRUTHS = {
    "shift": shift_matrix(33),
    "shift-circulant": shift_matrix(33, circulant=True),
    "dst": make_dataset("gaussian-dst", n=2, d=33).generator,
    "permuted": make_dataset("legendre-permuted", n=2, d=34).generator,
}


@pytest.mark.parametrize("truth", TRUTHS.values(), ids=TRUTHS.keys())
def test_truth_scores_one(truth: np.ndarray) -> None:
    rep = recovery_report(truth, truth)
    assert rep.cosine == pytest.approx(1.0) and rep.rmse == pytest.approx(0.0)
    assert rep.interior_cosine == pytest.approx(1.0) and rep.interior_rmse == pytest.approx(0.0)
    assert not rep.inverse_matched and rep.minimal and not rep.collapse and rep.verdict == "minimal"


@pytest.mark.parametrize("truth", TRUTHS.values(), ids=TRUTHS.keys())
def test_transpose_is_the_other_direction(truth: np.ndarray) -> None:
    rep = recovery_report(truth.T, truth)
    assert rep.cosine == pytest.approx(1.0) and rep.rmse == pytest.approx(0.0)
    assert rep.inverse_matched and rep.minimal and rep.verdict == "minimal"


@pytest.mark.parametrize("truth", TRUTHS.values(), ids=TRUTHS.keys())
@pytest.mark.parametrize("k", [2, 3])
def test_powers_are_not_minimal(truth: np.ndarray, k: int) -> None:
    for learned in (np.linalg.matrix_power(truth, k), np.linalg.matrix_power(truth.T, k)):
        rep = recovery_report(learned, truth)
        assert not rep.minimal and rep.verdict == f"power {k}"
        assert getattr(rep, f"power{k}_cosine") == pytest.approx(1.0)
        assert rep.cosine < 0.5


@pytest.mark.parametrize("truth", TRUTHS.values(), ids=TRUTHS.keys())
def test_identity_is_a_collapse(truth: np.ndarray) -> None:
    rep = recovery_report(np.eye(len(truth)), truth)
    assert rep.collapse and not rep.minimal and rep.verdict == "identity collapse"
    assert rep.identity_cosine == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_random_orthogonal_is_not_recovered(seed: int) -> None:
    rep = recovery_report(random_orthogonal(33, seed), TRUTHS["dst"])
    assert rep.verdict == "not recovered" and not rep.minimal and not rep.collapse
    assert abs(rep.cosine) < 0.5


def test_noisy_truth_is_still_minimal_and_scale_matters_only_for_rmse() -> None:
    truth = TRUTHS["shift"]
    noisy = truth + 0.01 * np.random.default_rng(0).standard_normal(truth.shape)
    rep = recovery_report(noisy, truth)
    assert rep.minimal and 0.98 < rep.cosine < 1.0 and rep.rmse == pytest.approx(0.01, rel=0.1)
    half = recovery_report(0.5 * truth, truth)
    assert half.cosine == pytest.approx(1.0) and half.rmse == pytest.approx(0.5 * np.sqrt(32 / 33**2))


def test_interior_ignores_the_edges() -> None:
    truth = TRUTHS["shift"]
    learned = truth.copy()
    learned[0, -1] = 1.0  # the circulant corner: an edge effect only
    rep = recovery_report(learned, truth)
    assert rep.cosine < 1.0 and rep.interior_cosine == pytest.approx(1.0) and rep.interior_rmse == 0.0


def test_metric_helpers() -> None:
    a = np.arange(9.0).reshape(3, 3)
    assert frobenius_cosine(a, 2 * a) == pytest.approx(1.0)
    assert frobenius_cosine(a, np.zeros((3, 3))) == 0.0
    assert rmse(a, a + 2.0) == pytest.approx(2.0)


def test_report_to_dict_is_json_ready() -> None:
    d = recovery_report(TRUTHS["shift"], TRUTHS["shift"]).to_dict()
    assert {"cosine", "rmse", "inverse_matched", "minimal", "collapse", "verdict"} <= set(d)
    assert isinstance(d["minimal"], bool) and isinstance(d["cosine"], float)
    rep = RecoveryReport(**d)
    with pytest.raises(AttributeError):
        rep.cosine = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "learned, truth, match",
    [
        (np.eye(4), np.eye(5), "4x4 but the truth is 5x5"),
        (np.ones((3, 4)), np.eye(3), "square"),
        (np.full((3, 3), np.nan), np.eye(3), "NaN"),
        (np.eye(2), np.eye(2), "at least 3x3"),
        (np.array([["a"] * 3] * 3), np.eye(3), "non-numeric"),
    ],
)
def test_bad_matrices_are_rejected(learned: np.ndarray, truth: np.ndarray, match: str) -> None:
    with pytest.raises(SymscopeInputError, match=match):
        recovery_report(learned, truth)


def test_data_weighted_error_ignores_directions_the_data_do_not_visit():
    from symscope.measure.recovery import data_weighted_error

    rng = np.random.default_rng(0)
    X = np.zeros((500, 6))
    X[:, :3] = rng.normal(size=(500, 3))  # the data live in the first three coordinates only
    truth = np.eye(6)
    off = np.eye(6)
    off[3:, 3:] = -np.eye(3)  # differs only where the data have no variance
    assert data_weighted_error(off, truth, X) == pytest.approx(0.0, abs=1e-12)
    assert data_weighted_error(-truth, truth, X) == pytest.approx(4.0)
    with pytest.raises(SymscopeInputError, match="needs X"):
        data_weighted_error(truth, truth, X[:, :4])
