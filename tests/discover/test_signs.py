"""The signs step: frequency-component flips chosen by the sites' marginal entropy."""

from __future__ import annotations

import numpy as np
import pytest

from symscope import RefineConfig, make_dataset, recovery_report
from symscope.discover.chain import Chain
from symscope.discover.refine import refine
from symscope.discover.spectral import entropy_signs, mean_marginal_entropy


def _data(name: str, d: int = 13, n: int = 16_000):
    ds = make_dataset(name, n=n, d=d, seed=0)
    X = (ds.X - ds.X.mean()) / ds.X.std()
    U = (ds.transform if ds.transform is not None else np.eye(d)).T  # the true sites, rows in chain order
    return X[: n // 2], X[n // 2 :], U, ds.generator


def _flip(S: np.ndarray, X: np.ndarray, ks: list[int]) -> np.ndarray:
    _, Q = np.linalg.eigh(S @ np.cov(X, rowvar=False) @ S.T)
    return S - 2 * Q[:, ks] @ (Q[:, ks].T @ S)


def _cos(S: np.ndarray, G: np.ndarray) -> float:
    return recovery_report(Chain(S).generator(), G).cosine


def test_gaussian_columns_have_the_gaussian_entropy_and_sparse_ones_less():
    rng = np.random.default_rng(0)
    assert abs(mean_marginal_entropy(rng.standard_normal((20_000, 3))) - 0.5 * np.log(2 * np.pi * np.e)) < 0.01
    assert mean_marginal_entropy(rng.laplace(size=(20_000, 3))) < 1.38  # Laplace: 1 + ½ log 2 = 1.347


def test_flips_leave_second_order_alone_and_the_search_undoes_them_on_sparse_data():
    fit, judge, U, G = _data("legendre-shift")
    S = _flip(U, fit, [2, 5, 7, 11])
    C = np.cov(fit, rowvar=False)
    np.testing.assert_allclose(S @ C @ S.T, U @ C @ U.T, atol=1e-10)  # the flips are invisible at second order
    assert _cos(S, G) < 0.98
    new, gain = entropy_signs(S, fit, judge)
    assert new is not None and gain > 0.01
    np.testing.assert_allclose(new @ new.T, np.eye(len(U)), atol=1e-9)
    assert _cos(new, G) > 0.999


def test_no_flip_is_kept_on_gaussian_data():
    fit, judge, U, _ = _data("gaussian-shift")
    new, gain = entropy_signs(U, fit, judge)
    assert new is None and gain <= 0.01


def test_refine_runs_the_step_and_reports_its_gain():
    fit, judge, U, G = _data("legendre-shift")
    S = _flip(U, fit, [3, 8])
    cfg = RefineConfig(rounds=0, polish=False, spectral=False, bandpass=False)
    chain, report = refine(Chain(S), fit, judge, cfg)
    assert report.steps == ("signs",) and report.sign_gain > 0.01 and report.label == "trained±"
    assert _cos(chain.sites, G) > 0.999
    _, off = refine(Chain(S), fit, judge, RefineConfig(rounds=0, polish=False, spectral=False, bandpass=False,
                                                           signs=False))
    assert off.steps == () and off.sign_gain == 0.0


@pytest.mark.parametrize("value", [-0.1, "x"])
def test_config_checks_the_gain(value):
    with pytest.raises(Exception, match="signs_min_gain"):
        RefineConfig(signs_min_gain=value)
