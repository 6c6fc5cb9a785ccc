"""Laws of the maths kernel (``symscope._linalg``) over random samples, in float32 and float64."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from symscope._linalg import (diagonal_means, group_convolution_rows, lags, mean_kurtosis, polar, powers_range,
                              shift_along, shift_matrix, toeplitz)
from symscope.data import true_generator
from symscope.discover.model import group_convolution
from symscope.exploit import equivariant_basis, cyclic_group, oracle_group_conv

# ``dtype`` (float32, float64) and ``tol`` (its tolerance) are the suite-wide fixtures of tests/conftest.py.


def _orthogonal(d: int, seed: int) -> np.ndarray:
    return ortho_group.rvs(d, random_state=np.random.default_rng(seed))


@pytest.mark.parametrize("d", [5, 6])
def test_powers_compose_over_random_pairs(d, dtype, tol):
    """GᵏGᵐ = Gᵏ⁺ᵐ for the rows of a group convolution: row k+m of ψ's orbit is row k of the orbit of ψGᵐ."""
    rng = np.random.default_rng(d)
    G = torch.as_tensor(_orthogonal(d, d), dtype=dtype)
    psi = torch.as_tensor(rng.standard_normal(d), dtype=dtype)
    for _ in range(10):
        k, m = (int(v) for v in rng.integers(-3, 4, 2))
        rows = group_convolution_rows(psi, G, [k + m])
        moved = group_convolution_rows(group_convolution_rows(psi, G, [m])[0], G, [k])
        torch.testing.assert_close(rows, moved, atol=tol * 10, rtol=0)


@pytest.mark.parametrize("d", [5, 6, 9, 10])
def test_the_two_group_convolution_paths_agree_for_odd_and_even_d(d, dtype, tol):
    """The lens's group convolution (padding 0) and the oracle's: one power convention."""
    G = _orthogonal(d, 1)
    psi = np.random.default_rng(2).standard_normal(d)
    lens = group_convolution(torch.as_tensor(psi, dtype=dtype), torch.as_tensor(G, dtype=dtype), d, 0)
    oracle = oracle_group_conv(G, psi)
    np.testing.assert_allclose(lens.double().numpy(), oracle, atol=tol * 100)
    assert powers_range(d)[(d - 1) // 2] == 0 and len(powers_range(d)) == d


def test_shift_along_is_the_true_generator_and_orthogonal_with_the_requested_crop():
    q = _orthogonal(7, 0)
    for ring in (False, True):
        np.testing.assert_array_equal(shift_along(q.T, ring=ring), true_generator(q, ring))
        G = shift_along(q, padding=3, ring=ring)
        np.testing.assert_allclose(G @ G.T, np.eye(13), atol=1e-12)
        np.testing.assert_allclose(G[3:10, 3:10], shift_along(q, ring=ring), atol=1e-12)
    np.testing.assert_array_equal(shift_along(np.eye(5)), shift_matrix(5))


def test_polar_equals_the_svd_polar_factor(dtype, tol):
    rng = np.random.default_rng(0)
    g = _orthogonal(8, 3) + 1e-3 * rng.standard_normal((8, 8))
    u, _, vh = np.linalg.svd(g)
    for method in ("svd", "newton-schulz"):
        q = polar(torch.as_tensor(g, dtype=dtype), method)
        np.testing.assert_allclose(q.double().numpy(), u @ vh, atol=tol * 10)
    np.testing.assert_allclose(polar(g), u @ vh, atol=1e-12)
    far = rng.standard_normal((8, 8)) * 3  # Newton–Schulz diverges here: the SVD fallback answers
    np.testing.assert_allclose(polar(far, "newton-schulz"), polar(far), atol=1e-10)
    with pytest.raises(ValueError, match="unknown polar method"):
        polar(g, "qr")


def test_toeplitz_helpers_round_trip():
    a = np.array([3.0, 2.0, 1.0, 0.5])
    T = toeplitz(a)
    assert np.array_equal(T, T.T) and np.array_equal(lags(4)[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(diagonal_means(T), a)
    assert torch.equal(toeplitz(torch.as_tensor(a)), torch.as_tensor(T))


def test_mean_kurtosis_is_one_implementation_for_numpy_and_torch(dtype, tol):
    Y = np.random.default_rng(0).standard_t(5, (4000, 6))
    Y = Y - Y.mean(0)
    k_np = float(mean_kurtosis(Y))
    k_t = float(mean_kurtosis(torch.as_tensor(Y, dtype=dtype)))
    assert k_np == pytest.approx(k_t, rel=tol * 10) and k_np > 3.5  # heavy tails: above Gaussian 3


def test_the_equivariant_projector_is_an_orthogonal_projection(dtype, tol):
    """P² = P = Pᵀ for the projector onto the equivariant maps, on random matrices."""
    group = cyclic_group(shift_matrix(5, circulant=True), 5)
    basis = equivariant_basis(group, group)
    B = basis.basis.reshape(basis.dim, -1)
    P = B.T @ B  # the projector on vec(W)
    np.testing.assert_allclose(P @ P, P, atol=1e-10)
    np.testing.assert_allclose(P, P.T, atol=1e-10)
    rng = np.random.default_rng(0)
    for _ in range(5):
        W = torch.as_tensor(rng.standard_normal((5, 5)), dtype=dtype).numpy()
        once = basis.project(W)
        np.testing.assert_allclose(basis.project(once), once, atol=tol * 10)
        np.testing.assert_allclose(once.reshape(-1), P @ W.reshape(-1).astype(np.float64), atol=tol * 10)
