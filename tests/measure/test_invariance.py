"""Invariance through Jacobians: Lie algebra, Lie derivative, invariance errors, spectra, regularisers."""

import numpy as np
import pytest
import scipy.linalg
import torch

from symscope import LensConfig, SymmetryLens, make_dataset
from symscope._validation import SymscopeInputError
from symscope.data import permutation_matrix, shift_matrix
from symscope.exploit import EquivariantMLP, cyclic_group, mlp
from symscope.measure import (
    consistency_penalty,
    flow_invariance_error,
    grassmann_distance,
    invariance_error,
    jacobian_symmetry_spectrum,
    lie_algebra,
    lie_derivative,
    lie_derivative_report,
    so_basis,
    tangent_prop,
)

torch.set_num_threads(1)


def circulant_quadratic(d: int, q: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """Symmetric circulant M = Σ_k c_k (Sᵏ + S⁻ᵏ) conjugated by the permutation q, and A = log(q S qᵀ)."""
    s = shift_matrix(d, circulant=True)
    c = np.random.default_rng(0).standard_normal(d // 2 + 1)
    m = sum(ck * (np.linalg.matrix_power(s, k) + np.linalg.matrix_power(s.T, k)) for k, ck in enumerate(c))
    return torch.as_tensor(q @ m @ q.T), lie_algebra(q @ s @ q.T)


def test_lie_algebra_of_a_cyclic_shift_and_its_errors():
    q = permutation_matrix(9, seed=3)
    g = q @ shift_matrix(9, circulant=True) @ q.T
    a = lie_algebra(torch.as_tensor(g))
    assert np.allclose(a, -a.T, atol=0)
    assert np.abs(scipy.linalg.expm(a) - g).max() < 1e-12
    assert np.abs(np.linalg.eigvals(a)).max() < np.pi
    with pytest.raises(SymscopeInputError, match="not orthogonal"):
        lie_algebra(shift_matrix(9))  # non-circulant: a partial isometry
    with pytest.raises(SymscopeInputError, match="eigenvalue −1"):
        lie_algebra(np.diag([-1.0, -1.0, 1.0]))  # a rotation by π
    with pytest.raises(SymscopeInputError, match="determinant"):
        lie_algebra(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(SymscopeInputError, match="square"):
        lie_algebra(np.ones((3, 4)))
    with pytest.raises(SymscopeInputError, match="NaN"):
        lie_algebra(np.full((3, 3), np.nan))


def test_lie_derivative_vanishes_along_the_generator_of_a_flow_invariant_function():
    d = 9
    m, a = circulant_quadratic(d, permutation_matrix(d, seed=3))

    def f(x):  # f(x) = (xᵀMx, ‖x‖²): invariant under every exp(tA) since M commutes with A
        return torch.stack([torch.einsum("ni,ij,nj->n", x, m, x), x.pow(2).sum(-1)], -1)

    x = torch.as_tensor(np.random.default_rng(1).standard_normal((50, d)))
    assert float(lie_derivative(f, x, a).abs().max()) <= 1e-10
    wrong = lie_algebra(permutation_matrix(d, seed=7) @ shift_matrix(d, circulant=True) @ permutation_matrix(d, seed=7).T)
    assert float(lie_derivative(f, x, wrong).abs().max()) > 1e-2
    rep = lie_derivative_report(f, x, a, wrong=[wrong], n_random=4)
    assert rep.mean_sq <= 1e-20 and rep.mean_abs <= 1e-10
    assert rep.wrong_sq[0] > 1e-4 and rep.random_sq.min() > 1e-4
    assert rep.ratio_wrong_sq < 1e-12 and rep.ratio_random_abs < 1e-8
    assert set(rep.to_dict()) >= {"mean_sq", "mean_abs", "ratio_random_sq", "ratio_wrong_abs"}


def test_lie_derivative_matches_a_finite_difference_and_validates_input():
    torch.manual_seed(0)
    net = mlp(5, 3, width=16).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    a = torch.as_tensor(so_basis(5)[2] * 0.7)
    h = 1e-6
    fd = (net(x @ torch.linalg.matrix_exp(h * a).T) - net(x @ torch.linalg.matrix_exp(-h * a).T)) / (2 * h)
    assert torch.allclose(lie_derivative(net, x, a), fd, atol=1e-7)
    assert lie_derivative(net, x.numpy(), a.numpy()).shape == (7, 3)  # numpy in
    with pytest.raises(SymscopeInputError, match="features"):
        lie_derivative(net, x, np.eye(4))
    with pytest.raises(SymscopeInputError, match="2-D"):
        lie_derivative(net, x[0], a)
    with pytest.raises(SymscopeInputError, match="NaN"):
        lie_derivative(net, x * np.nan, a)


def test_discrete_and_flow_invariance_are_reported_apart():
    """An equivariant MLP is exactly invariant under its cyclic group, not under the flow exp(tA)."""
    torch.manual_seed(0)
    q = permutation_matrix(9, seed=3)
    s = shift_matrix(9, circulant=True)
    g = q @ s @ q.T
    net = EquivariantMLP(g, s, n_out=3, channels=4).double()
    x = torch.randn(64, 9, dtype=torch.float64)
    disc = invariance_error(net, x, cyclic_group(g))
    assert len(disc.tv) == 8 and disc.tv_worst < 1e-10 and disc.flip_worst == 0
    flow = flow_invariance_error(net, x, lie_algebra(g), times=(0.5, 1.5))
    assert flow.rel_worst > 1e-3
    keys = set(disc.to_dict()) | set(flow.to_dict())
    assert {"discrete_tv_mean", "discrete_tv_worst", "flow_tv_mean", "flow_flip_worst"} <= keys
    plain = invariance_error(mlp(9, 3, 32).double(), x, cyclic_group(g), elements=[1, 4])
    assert plain.tv_mean > 1e-4 and plain.worst in (1.0, 4.0)
    with pytest.raises(SymscopeInputError, match="acts on"):
        invariance_error(net, x, np.eye(5)[None])


def test_spectrum_finds_the_algebra_of_a_synthetic_invariant_function():
    """f(x₁, x₂) = (‖x₁‖², ‖x₂‖², x₁·x₂) on R³ ⊕ R³ is invariant exactly under so(3) acting on both."""
    def f(x):
        a, b = x[:, :3], x[:, 3:]
        return torch.stack([a.pow(2).sum(-1), b.pow(2).sum(-1), (a * b).sum(-1)], -1)

    x = torch.as_tensor(np.random.default_rng(0).standard_normal((40, 6)))
    spec = jacobian_symmetry_spectrum(f, x)
    assert spec.dim == 3 and spec.gap_ratio > 1e6 and spec.rule == "gap"
    diag = np.stack([scipy.linalg.block_diag(e, e) for e in so_basis(3)])
    assert grassmann_distance(spec.generators, diag) < 1e-6
    assert spec.percentile(diag[0]) == 0.0
    one_sided = scipy.linalg.block_diag(so_basis(3)[0], np.zeros((3, 3)))  # rotates x₁ only: breaks x₁·x₂
    assert spec.residual(one_sided) > 1e3 * spec.threshold and spec.percentile(one_sided) >= 20
    gl = jacobian_symmetry_spectrum(f, x, basis="gl")  # gl(6): still so(3) diagonal (the invariants are O(3)'s)
    assert gl.dim == 3
    with pytest.raises(SymscopeInputError, match="basis"):
        jacobian_symmetry_spectrum(f, x, basis="sp")


def test_regularisers_are_differentiable_and_vanish_on_invariant_models():
    torch.manual_seed(0)
    q = permutation_matrix(9, seed=3)
    s = shift_matrix(9, circulant=True)
    g = q @ s @ q.T
    x = torch.randn(32, 9)
    net = mlp(9, 3, 32)
    tp = tangent_prop(net, x, lie_algebra(g))
    cp = consistency_penalty(net, x, cyclic_group(g), generator=torch.Generator().manual_seed(0))
    (tp + cp).backward()
    grads = [p.grad for p in net.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert tp.item() > 0 and cp.item() > 0
    eq = EquivariantMLP(g, s, n_out=3, channels=4)
    assert consistency_penalty(eq, x, cyclic_group(g)).item() < 1e-9
    soft, out = tangent_prop(net, x, lie_algebra(g), on="softmax", return_output=True)
    ref = lie_derivative(net, x, lie_algebra(g), on="softmax").pow(2).sum(-1).mean()
    assert torch.allclose(soft, ref, rtol=1e-4) and torch.allclose(out, net(x))
    fd = tangent_prop(net, x, tangent=x @ torch.as_tensor(g, dtype=torch.float32).T - x)
    assert fd.item() > 0
    with pytest.raises(SymscopeInputError, match="exactly one"):
        tangent_prop(net, x)


def test_lens_exported_algebra_exponentiates_to_its_generator():
    ds = make_dataset("gaussian-permuted", n=400, d=7, seed=0)
    lens = SymmetryLens(LensConfig(steps=3, batch_size=128), progress=False, device="cpu").fit(ds.X)
    la = lens.lie_algebra_
    m = 7 + 2 * la.padding
    assert la.algebra.shape == (m, m) and np.allclose(la.algebra, -la.algebra.T)
    g = la.generator()
    assert np.abs(g - la.base @ scipy.linalg.expm(la.relative)).max() < 1e-6
    p = la.padding
    assert np.abs(g[p : p + 7, p : p + 7] - lens.generator_).max() < 1e-5
    assert la.crop().shape == (7, 7)
    with pytest.raises(SymscopeInputError, match="not fitted"):
        _ = SymmetryLens().lie_algebra_
