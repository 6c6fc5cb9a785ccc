"""Peer baselines: Fiedler ordering (second order) and SymmetryGAN (spec §6.3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symscope import SymscopeInputError, make_dataset, recovery_report
from symscope.baselines import fiedler_generator, power_scan_cosine, shift_along, symmetry_gan
from symscope.baselines.symmetrygan import OrthogonalCandidate, _gan_step, discriminator
from symscope.data import shift_matrix


@pytest.fixture(scope="module")
def permuted17():
    return make_dataset("gaussian-permuted", n=5000, d=17, seed=0)


def test_fiedler_recovers_the_permuted_shift(permuted17) -> None:
    g, order = fiedler_generator(permuted17.X, power=2.0)
    assert sorted(order) == list(range(17))
    rep = recovery_report(g, permuted17.generator)
    assert rep.minimal and rep.cosine == pytest.approx(1.0)
    assert np.array_equal(g, permuted17.generator) or np.array_equal(g, permuted17.generator.T)


def test_fiedler_cannot_undo_a_change_of_basis() -> None:
    ds = make_dataset("gaussian-dst", n=5000, d=17, seed=0)
    for power in (1.0, 2.0):
        rep = recovery_report(fiedler_generator(ds.X, power=power)[0], ds.generator)
        assert not rep.minimal and rep.cosine < 0.5


def test_squared_weights_rescue_the_long_gaussian_chain() -> None:
    # The weak anti-correlations of distant pixels swamp the |corr| graph's small spectral gap.
    ds = make_dataset("gaussian-shift", n=5000, d=17, seed=0)
    assert not recovery_report(fiedler_generator(ds.X)[0], ds.generator).minimal
    assert recovery_report(fiedler_generator(ds.X, power=2.0)[0], ds.generator).minimal


def test_shift_along_identity_order_is_the_shift() -> None:
    assert np.array_equal(shift_along(np.arange(6)), shift_matrix(6))
    assert np.array_equal(shift_along(np.arange(6), circulant=True), shift_matrix(6, circulant=True))
    with pytest.raises(SymscopeInputError, match="permutation"):
        shift_along(np.array([0, 0, 1]))


def test_fiedler_rejects_bad_input(permuted17) -> None:
    with pytest.raises(SymscopeInputError, match="constant column"):
        X = permuted17.X.copy()
        X[:, 3] = 1.0
        fiedler_generator(X)
    with pytest.raises(SymscopeInputError, match="NaN"):
        fiedler_generator(np.full((10, 5), np.nan))
    with pytest.raises(SymscopeInputError, match="power"):
        fiedler_generator(permuted17.X, power=0.0)


def test_power_scan_includes_the_identity() -> None:
    t = shift_matrix(9, circulant=True)
    assert power_scan_cosine(np.eye(9), t) == pytest.approx((1.0, 0))
    assert power_scan_cosine(np.linalg.matrix_power(t, 3), t) == pytest.approx((1.0, 3))
    cos, k = power_scan_cosine(t.T, t)
    assert cos == pytest.approx(1.0) and k in (1, 8)


@pytest.fixture(scope="module")
def tiny():
    return make_dataset("gaussian-shift-circulant", n=1024, d=7, seed=0)


@pytest.mark.parametrize("parametrization", ["qr", "expm"])
def test_gan_returns_orthogonal_generators(tiny, parametrization: str) -> None:
    res = symmetry_gan(tiny.X, truth=tiny.generator, epochs=3, steps_per_epoch=20, parametrization=parametrization)
    for g in (res.generator, res.best_generator):
        assert g.shape == (7, 7)
        np.testing.assert_allclose(g @ g.T, np.eye(7), atol=1e-5)
    assert res.steps == 60 and res.epochs == 3 and res.stopped == "epochs"
    assert res.best_power_cosine == max(h["power_cosine"] for h in res.history)
    assert res.best_power_cosine == res.history[res.best_epoch - 1]["power_cosine"]


def test_gan_is_reproducible_and_seed_dependent(tiny) -> None:
    a, b, c = (symmetry_gan(tiny.X, epochs=2, steps_per_epoch=15, seed=s).generator for s in (1, 1, 2))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_gan_without_truth_reports_no_best_epoch(tiny) -> None:
    res = symmetry_gan(tiny.X, epochs=1, steps_per_epoch=5)
    assert res.best_generator is None and res.best_epoch is None and res.best_power_cosine is None
    assert "power_cosine" not in res.history[0]


def test_gan_time_budget_stops_early(tiny) -> None:
    res = symmetry_gan(tiny.X, epochs=1000, steps_per_epoch=100, time_budget=0.05)
    assert res.stopped == "time budget" and res.steps < 100_000


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(X=np.ones((300, 7))), "constant"),
        (dict(X=np.zeros((100, 7)) + np.arange(7)), "samples"),
        (dict(X=np.random.default_rng(0).normal(size=(300, 2))), "features"),
        (dict(epochs=0), "epochs"),
        (dict(steps_per_epoch=0), "steps_per_epoch"),
        (dict(batch_size=30), "multiple of 4"),
        (dict(lr=-1.0), "lr"),
        (dict(time_budget=0.0), "time_budget"),
        (dict(parametrization="cayley"), "parametrization"),
        (dict(truth=np.eye(5)), "7x7"),
    ],
)
def test_gan_rejects_bad_input(tiny, kwargs: dict, match: str) -> None:
    args = dict(X=tiny.X, epochs=1, steps_per_epoch=1) | kwargs
    with pytest.raises(SymscopeInputError, match=match):
        symmetry_gan(**args)


def test_each_player_updates_only_itself(tiny) -> None:
    gen = torch.Generator().manual_seed(0)
    cand, disc = OrthogonalCandidate(7, generator=gen), discriminator(7, generator=gen)
    d_opt, g_opt = torch.optim.Adam(disc.parameters(), 1e-3), torch.optim.Adam(cand.parameters(), 1e-3)
    batch = torch.tensor(tiny.X[:256], dtype=torch.float32)
    w0, d0 = cand.weight.detach().clone(), [p.detach().clone() for p in disc.parameters()]
    _gan_step(cand, disc, (d_opt, torch.optim.SGD(cand.parameters(), lr=0.0)), batch)
    assert torch.equal(cand.weight, w0)  # the discriminator update leaves G alone
    assert any(not torch.equal(p, q) for p, q in zip(disc.parameters(), d0))
    d1 = [p.detach().clone() for p in disc.parameters()]
    _gan_step(cand, disc, (torch.optim.SGD(disc.parameters(), lr=0.0), g_opt), batch)
    assert all(torch.equal(p, q) for p, q in zip(disc.parameters(), d1))  # G's update leaves D alone
    assert not torch.equal(cand.weight, w0)


def test_discriminator_learns_structure_but_not_isotropic_noise(tiny) -> None:
    # On isotropic Gaussian data every orthogonal G is a symmetry: D stays at chance (ln 2).
    # On bump signals a random G is detectable: D's loss falls well below ln 2.
    noise = np.random.default_rng(0).normal(size=(4096, 7))
    iso = symmetry_gan(noise, epochs=1, steps_per_epoch=300, seed=0).history[-1]["d_loss"]
    bumps = make_dataset("gaussian-shift-circulant", n=4096, d=7, seed=0).X
    struct = symmetry_gan(bumps, epochs=1, steps_per_epoch=300, seed=0).history[-1]["d_loss"]
    assert iso == pytest.approx(np.log(2), abs=0.05)
    assert struct < np.log(2) - 0.15
