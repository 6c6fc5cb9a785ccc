"""Loss terms on hand-made inputs whose answer is known."""

import math

import numpy as np
import pytest
import torch

from symscope.discover import losses as L
from symscope.discover.density import ConditionalMixture, MarginalMixture


def test_alignment_is_minus_one_for_identical_columns():
    col = torch.randn(500, 1, generator=torch.Generator().manual_seed(0))
    assert L.alignment(col.repeat(1, 6)).item() == pytest.approx(-1.0, abs=1e-5)


def test_alignment_near_zero_for_independent_columns_and_plus_one_for_alternating_signs():
    y = torch.randn(20000, 5, generator=torch.Generator().manual_seed(1))
    assert abs(L.alignment(y).item()) < 0.03
    col = torch.randn(500, 1, generator=torch.Generator().manual_seed(2))
    alternating = col * torch.tensor([1.0, -1.0, 1.0, -1.0])
    assert L.alignment(alternating).item() == pytest.approx(1.0, abs=1e-5)


def _data_with_covariance(lams, b=64):
    """y (b, d) whose biased sample covariance is exactly diag(lams)."""
    d = len(lams)
    z = np.random.default_rng(0).standard_normal((b, d + 1))
    z[:, 0] = 1.0
    q, _ = np.linalg.qr(z)  # orthonormal columns, the first ∝ ones
    y = q[:, 1:] * np.sqrt(b * np.asarray(lams))  # centred columns, yᵀy/b = diag(lams)
    return torch.tensor(y, dtype=torch.float64)


def test_gaussian_entropies_equal_closed_form():
    lams = [4.0, 2.0, 1.0, 0.25]
    h = L.gaussian_entropies(_data_with_covariance(lams))
    expected = [0.5 * (math.log(2 * math.pi * lam + 1e-7) + 1) for lam in lams]
    np.testing.assert_allclose(h.numpy(), expected, rtol=1e-9)


def test_ranked_entropy_follows_the_rank_schedule():
    lams = [8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.125]
    y = _data_with_covariance(lams)
    h = L.gaussian_entropies(y).numpy()
    # t = 0: essentially the top principal axis; t = 1: essentially the mean of all.
    assert L.ranked_entropy(y, 0.0, sharpness=1000.0).item() == pytest.approx(h[0], abs=1e-6)
    w = L.rank_weights(7, 1.0).numpy()
    assert w[-1] == pytest.approx(0.5) and w[0] == pytest.approx(1.0)
    assert L.ranked_entropy(y, 1.0).item() == pytest.approx(float((w * h).sum() / w.sum()), rel=1e-6)
    # entropy per rank decreases as lower-variance axes are admitted
    assert L.ranked_entropy(y, 1.0).item() < L.ranked_entropy(y, 0.3).item() < L.ranked_entropy(y, 0.0).item()


def test_kl_of_a_density_with_itself_is_zero():
    log_f = torch.randn(100, 4)
    assert torch.all(L.clipped_kl(log_f, log_f) == 0)
    same = torch.randn(50, 6)
    assert L.marginal_uniformity(same, same, same).item() == 0.0
    slot = torch.arange(50) % 6
    assert L.conditional_uniformity(same, same, same, slot).item() == 0.0


def test_marginal_uniformity_zero_for_identical_component_densities_positive_otherwise():
    est = MarginalMixture(5, generator=torch.Generator().manual_seed(0))
    y = torch.randn(400, 5, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        est.centre.copy_(torch.tensor([[-1.0, 0.0, 0.5, 1.0]]).repeat(5, 1))
    same = L.marginal_uniformity(est.log_prob(y), est.log_prob(y, -1), est.log_prob(y, 1))
    assert same.item() == pytest.approx(0.0, abs=1e-7)
    with torch.no_grad():
        est.centre[2] += 3.0  # component 2 differs from its neighbours
    assert L.marginal_uniformity(est.log_prob(y), est.log_prob(y, -1), est.log_prob(y, 1)).item() > 0.05


def test_marginal_shifted_tables_are_neighbour_densities():
    est = MarginalMixture(4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        est.centre.add_(torch.arange(4.0)[:, None])
    y = torch.randn(10, 4)
    left = est.log_prob(y, -1)  # column n: log p_{n-1}(y_n)
    for n in range(1, 4):
        y_moved = y.clone()
        y_moved[:, n - 1] = y[:, n]
        torch.testing.assert_close(left[:, n], est.log_prob(y_moved)[:, n - 1])


def test_conditional_tables_are_shifted_conditionals():
    d = 5
    est = ConditionalMixture(d, hidden=16, generator=torch.Generator().manual_seed(0))
    y = torch.randn(20, d)
    slot = torch.arange(20) % d
    minus = est.log_prob(y, slot, -1)  # column j: log q_{g-1, j-1}(y_j | y_g)
    for b in range(20):
        g = int(slot[b])
        if g == 0:
            continue
        moved = torch.zeros(1, d)
        moved[0, g - 1] = y[b, g]
        for j in range(1, d):
            moved[0, j - 1] = y[b, j] if j != g else moved[0, j - 1]
        base = est.log_prob(moved, torch.tensor([g - 1]))
        for j in range(1, d):
            if j != g:
                torch.testing.assert_close(minus[b, j], base[0, j - 1])


def test_conditional_uniformity_detects_non_stationary_pairs():
    d, b = 5, 500
    slot = torch.arange(b) % d
    log_q = torch.zeros(b, d)
    shifted = log_q.clone()
    shifted[slot == 2] -= 1.0  # pairs (2, j) differ from (1, j-1) and (3, j+1)
    assert L.conditional_uniformity(log_q, shifted, shifted, slot).item() > 0.0
