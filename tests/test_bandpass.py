"""The band-pass spectral chain: unimodal frequency assignments, Toeplitz bases, fast sign flips."""

from __future__ import annotations

import numpy as np
import pytest

from symscope import RefineConfig, make_dataset, recovery_report
from symscope._linalg import diagonal_means, dst_matrix, lags, mean_kurtosis
from symscope._validation import SymscopeInputError
from symscope.discover.chain import Chain, read_chain
from symscope.discover.refine import refine
from symscope.discover.spectral import _SignSearch, bandpass_sites, spectral_sites, toeplitz_basis, unimodal_order


def _cosine(sites: np.ndarray, X: np.ndarray, truth: np.ndarray) -> float:
    return recovery_report(Chain(read_chain(sites, X)[0]).generator(), truth).cosine


@pytest.fixture(scope="module")
def legendre():
    """Band-pass stationary data: Legendre wavelets under a random orthogonal transform, d = 13."""
    ds = make_dataset("legendre-orthogonal", n=12_000, d=13, seed=0)
    return (ds.X - ds.X.mean()) / ds.X.std(), ds.generator


def test_bandpass_chain_beats_the_monotone_spectral_chain_on_band_pass_data(legendre):
    X, G = legendre
    S = bandpass_sites(X, seed=0)
    np.testing.assert_allclose(S @ S.T, np.eye(13), atol=1e-9)
    band, monotone = _cosine(S, X, G), _cosine(spectral_sites(X, max_samples=10_000), X, G)
    assert band > 0.88 and band > monotone + 0.2  # measured 0.913 against 0.604


def test_unimodal_order_is_a_permutation_peaking_where_asked():
    np.testing.assert_array_equal(unimodal_order(9, 0.5), np.arange(9))  # peak below 1: monotone
    perm = unimodal_order(9, 4.0, rate=1.0)
    assert sorted(perm) == list(range(9)) and perm[3] == 0  # frequency 4 (0-based 3) has the most variance
    assert list(perm[:3]) == sorted(perm[:3], reverse=True) and list(perm[3:]) == sorted(perm[3:])  # unimodal
    assert unimodal_order(9, 4.5, rate=3.0)[3] > unimodal_order(9, 4.5, rate=0.5)[3]  # steeper lower flank


def test_toeplitz_basis_is_exact_for_a_tridiagonal_spectrum_and_fits_a_band_pass_one():
    d = 11
    k = np.arange(1, d + 1)
    Q, residual = toeplitz_basis(3 + 2 * np.cos(np.pi * k / (d + 1)))  # spectrum of Toeplitz(3, 1, 0, ...)
    np.testing.assert_allclose(Q, dst_matrix(d), atol=1e-8)
    assert residual < 1e-16
    mu = np.exp(-0.5 * ((k - 4) / 1.5) ** 2) + 0.01  # band-pass, peak at frequency 4
    Q, residual = toeplitz_basis(mu)
    np.testing.assert_allclose(Q.T @ Q, np.eye(d), atol=1e-10)
    C = (dst_matrix(d) * mu) @ dst_matrix(d)
    dst_residual = ((C - diagonal_means(C)[lags(d)]) ** 2).sum()
    assert residual < 0.5 * dst_residual  # measured 0.055 against 0.123: closer to Toeplitz, not exact


def test_sign_search_ends_where_no_single_flip_raises_the_kurtosis():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((4000, 7)) * (rng.random((4000, 7)) < 0.3)
    Z = np.linalg.qr(Z - Z.mean(0))[0] * np.sqrt(4000)  # uncorrelated columns, as principal components are
    Q, perm = dst_matrix(7), rng.permutation(7)
    value, s = _SignSearch(Z).run(Q, perm, np.ones(7))
    assert value == pytest.approx(float(mean_kurtosis(Z[:, perm] @ (Q * s).T)), rel=1e-10)
    for k in range(7):  # brute force: every single flip from the end point scores no higher
        t = s.copy()
        t[k] = -t[k]
        assert float(mean_kurtosis(Z[:, perm] @ (Q * t).T)) <= value + 1e-9
    assert value >= float(mean_kurtosis(Z[:, perm] @ Q.T)) - 1e-12


def test_refine_builds_the_bandpass_candidate_when_switched_on(legendre):
    X, G = legendre
    start = Chain(read_chain(np.eye(13), X[:6000])[0])
    config = dict(rounds=0, polish=False, converge_iters=0, spectral=False)
    _, without = refine(start, X[:6000], X[6000:], RefineConfig(bandpass=False, **config))
    kept, report = refine(start, X[:6000], X[6000:], RefineConfig(bandpass=True, **config))
    assert (without.candidates, report.candidates) == (1, 2)
    assert report.kept == "bandpass" and report.score_after < without.score_after
    assert recovery_report(kept.generator(), G).cosine > 0.85


@pytest.mark.parametrize("X, kwargs, message", [
    (np.full((50, 9), np.nan), {}, "NaN or inf"),
    (np.zeros(9), {}, "must be 2-D"),
    (np.random.default_rng(0).standard_normal((50, 4)), {}, "d >= 5"),
    (np.random.default_rng(0).standard_normal((50, 9)), {"rates": (1.0, -1.0)}, "rates"),
    (np.random.default_rng(0).standard_normal((50, 9)), {"top": 0}, "top"),
])
def test_bad_input_gets_a_clear_error(X, kwargs, message):
    with pytest.raises(SymscopeInputError, match=message):
        bandpass_sites(X, **kwargs)


def test_config_checks_the_switch():
    with pytest.raises(SymscopeInputError, match="bandpass"):
        RefineConfig(bandpass="yes")


def test_a_zero_trust_region_keeps_candidates_of_negative_similarity(legendre, monkeypatch):
    """min_similarity = 0 means no trust region: an unrelated chain (similarity < 0) may still be kept."""
    from symscope.discover import refine as refine_module

    X, _ = legendre
    monkeypatch.setattr(refine_module, "chain_similarity", lambda a, b: -0.01)
    start = Chain(read_chain(np.eye(13), X[:6000])[0])
    config = dict(rounds=0, polish=False, converge_iters=0, spectral=False, bandpass=True)
    _, off = refine(start, X[:6000], X[6000:], RefineConfig(**config))
    _, on = refine(start, X[:6000], X[6000:], RefineConfig(min_similarity=0.5, **config))
    assert off.kept == "bandpass" and off.outside_trust_region == 0
    assert on.kept == "trained" and on.outside_trust_region == 1
