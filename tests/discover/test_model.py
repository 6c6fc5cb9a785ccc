"""Generator, filter and group convolution: orthogonality and equivariance."""

import numpy as np
import torch

from symscope.data import shift_matrix
from symscope.discover.model import OrthogonalGenerator, ResolvingFilter, group_convolution, powers_range


def test_generator_is_orthogonal_with_unit_determinant_even_far_from_identity():
    gen = OrthogonalGenerator(7, padding=7, init_std=1.0, generator=torch.Generator().manual_seed(0))
    G = gen().double()
    torch.testing.assert_close(G @ G.T, torch.eye(21, dtype=torch.float64), atol=1e-5, rtol=0)
    assert torch.linalg.det(G).item() > 0.999
    assert gen.cropped().shape == (7, 7)


def test_generator_starts_near_identity():
    gen = OrthogonalGenerator(9, padding=9, init_std=1e-4, generator=torch.Generator().manual_seed(0))
    assert (gen() - torch.eye(27)).abs().max().item() < 1e-2


def test_filter_is_unit_norm_and_noise_is_only_in_training():
    f = ResolvingFilter(5)
    assert torch.all(f() == 0)  # untrained (zero) filter stays zero, no NaN
    with torch.no_grad():
        f.psi.copy_(torch.tensor([0.0, 3.0, 4.0, 0.0, 0.0]))
    np.testing.assert_allclose(f().detach().numpy(), [0, 0.6, 0.8, 0, 0], atol=1e-6)
    noisy = f(0.5 * torch.randn(5, generator=torch.Generator().manual_seed(0)))
    assert abs(noisy.norm().item() - 1) < 1e-5 and not torch.allclose(noisy, f())


def test_powers_cover_d_rows_for_odd_and_even_d():
    assert powers_range(5).tolist() == [-2, -1, 0, 1, 2]
    assert powers_range(6).tolist() == [-2, -1, 0, 1, 2, 3]


def test_group_convolution_rows_are_filter_times_powers():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    psi = rng.standard_normal(6)
    C = group_convolution(torch.tensor(psi), torch.tensor(q), 6, 0).numpy()
    for row, k in zip(C, powers_range(6).tolist()):
        np.testing.assert_allclose(row, psi @ np.linalg.matrix_power(q, k), atol=1e-10)


def test_group_convolution_is_equivariant_for_a_true_shift_generator():
    d, p = 9, 9
    m = d + 2 * p
    G = torch.tensor(shift_matrix(m, circulant=True))  # the padded generator: a shift on R^M
    psi = torch.zeros(d, dtype=torch.float64)
    psi[d // 2] = 1.0
    C = group_convolution(psi, G, d, p).numpy()
    x = np.random.default_rng(1).standard_normal((20, d))
    S = shift_matrix(d)  # the non-cyclic shift acting on the data
    y, y_shifted = x @ C.T, (x @ S.T) @ C.T
    # y_n(Gx) = y_{n+1}(x), away from the edge
    np.testing.assert_allclose(y_shifted[:, :-1], y[:, 1:], atol=1e-12)


def test_group_convolution_equivariant_in_circulant_mode_everywhere_but_the_last_row():
    d = 7
    G = torch.tensor(shift_matrix(d, circulant=True))
    psi = torch.tensor(np.random.default_rng(2).standard_normal(d))
    C = group_convolution(psi, G, d, 0).numpy()
    x = np.random.default_rng(3).standard_normal((10, d))
    np.testing.assert_allclose((x @ G.numpy().T @ C.T)[:, :-1], (x @ C.T)[:, 1:], atol=1e-12)


def test_rebase_keeps_g_and_an_orthogonal_base_point():
    from symscope.discover.model import OrthogonalGenerator

    gen = OrthogonalGenerator(9, padding=9, init_std=0.3, generator=torch.Generator().manual_seed(0))
    before = gen().detach().double()
    gen.rebase()
    eye = torch.eye(27, dtype=torch.float64)
    assert torch.allclose(gen().detach().double(), before, atol=1e-5)
    assert float(gen.P.detach().abs().max()) == 0.0
    assert float((gen.base.T @ gen.base - eye).abs().max()) < 1e-12


def test_orthonormalise_is_the_polar_factor_of_a_nearly_orthogonal_matrix():
    from symscope.discover.model import orthonormalise

    rng = np.random.default_rng(0)
    q0 = np.linalg.qr(rng.normal(size=(40, 40)))[0]
    g = q0 + 1e-5 * rng.normal(size=(40, 40))
    u, _, vh = np.linalg.svd(g)
    q = orthonormalise(torch.tensor(g)).numpy()
    assert np.abs(q.T @ q - np.eye(40)).max() < 1e-12
    assert np.abs(q - u @ vh).max() < 1e-10  # the polar factor, which the SVD gives when it is right
