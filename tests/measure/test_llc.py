"""The LLC estimator against closed forms, its diagnostics, constrained models and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from symscope._validation import SymscopeInputError
from symscope.exploit import EquivariantLinear, set_phase
from symscope.measure import (NormalCrossing, calibrate_llc, dln_learning_coefficient, estimate_llc, llc_susceptibility,
                              rrr_learning_coefficient)


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int = 1500) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for t in range(steps):
        if t == 2 * steps // 3:
            opt.param_groups[0]["lr"] = 1e-3
        opt.zero_grad()
        (0.5 * ((model(X) - y) ** 2).sum(1).mean()).backward()
        opt.step()


def _teacher(n_out: int, n_in: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    u = np.linalg.qr(rng.standard_normal((n_out, rank)))[0]
    v = np.linalg.qr(rng.standard_normal((n_in, rank)))[0]
    return u @ np.diag(rng.uniform(0.75, 1.25, rank)) @ v.T


def _dln(widths: list[int], seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = [nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:])]
    for layer in layers:
        nn.init.normal_(layer.weight, std=0.1 / math.sqrt(layer.in_features))
    return nn.Sequential(*layers)


def _regression(widths: list[int], rank: int, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    W = _teacher(widths[-1], widths[0], rank, rng)
    X = rng.standard_normal((n, widths[0]))
    y = X @ W.T + rng.standard_normal((n, widths[-1]))
    model = _dln(widths, seed)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    _fit(model, X, y)
    return model, X, y


# ------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("widths, r, lam, mult", [
    ([12, 6, 6], 3, 27.0, 1), ([12, 6, 6], 6, 36.0, 1), ([12, 6, 6, 6], 3, 26.0, 2), ([12, 6, 6, 6], 6, 36.0, 1),
    ([3, 6, 6], 3, 9.0, 1), ([33, 6, 6], 3, 58.5, 1), ([33, 6, 6], 6, 99.0, 1), ([3, 2], 2, 3.0, 1),
])
def test_dln_closed_form_known_values(widths, r, lam, mult):
    assert dln_learning_coefficient(widths, r) == (lam, mult)


@pytest.mark.parametrize("M, H, N, r, lam", [(5, 3, 5, 0, 6.5), (5, 3, 5, 1, 8.0), (4, 3, 8, 0, 6.0),
                                             (8, 3, 4, 0, 6.0), (3, 8, 4, 0, 6.0)])
def test_rrr_closed_form_known_values(M, H, N, r, lam):
    assert rrr_learning_coefficient(M, H, N, r) == lam


def test_one_hidden_layer_dln_equals_rrr_on_a_grid():
    for M in range(1, 8):
        for H in range(1, 8):
            for N in range(1, 8):
                for r in range(min(M, H, N) + 1):
                    assert dln_learning_coefficient([M, H, N], r)[0] == rrr_learning_coefficient(M, H, N, r), (M, H, N, r)


def test_closed_forms_bounded_by_half_the_parameter_count():
    for widths in ([4, 3, 5, 2], [6, 2, 6, 2, 6], [5, 5, 5, 5]):
        d = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
        for r in range(min(widths) + 1):
            lam, m = dln_learning_coefficient(widths, r)
            assert 0 <= lam <= d / 2 and m >= 1


@pytest.mark.parametrize("call", [lambda: dln_learning_coefficient([4], 0), lambda: dln_learning_coefficient([4, 3], 4),
                                  lambda: rrr_learning_coefficient(0, 2, 2, 0), lambda: rrr_learning_coefficient(3, 2, 2, -1)])
def test_closed_forms_reject_bad_arguments(call):
    with pytest.raises(SymscopeInputError):
        call()


# ------------------------------------------------------------------------------ calibration (CI)
def test_regular_linear_model_matches_half_the_parameter_count():
    model, X, y = _regression([6, 4], 4, 800)
    res = estimate_llc(model, (X, y), lr=3e-4, num_chains=4, num_steps=1500, seed=0)
    assert res.healthy, res.diagnostics.warnings
    assert abs(res.llc - 12.0) / 12.0 <= 0.10
    assert res.per_chain.shape == (4,) and res.loss_trace.shape == (4, 1500)
    assert res.settings["num_params"] == 24 and res.settings["burnin"] == 375


def test_rrr_matches_aoyagi_watanabe():
    model, X, y = _regression([5, 3, 5], 1, 1000)
    res = estimate_llc(model, (X, y), lr=3e-4, num_chains=4, num_steps=2000, seed=0)
    truth = rrr_learning_coefficient(5, 3, 5, 1)
    assert res.healthy, res.diagnostics.warnings
    assert abs(res.llc - truth) / truth <= 0.10, res.llc


def test_dln_matches_aoyagi_and_is_below_the_regular_value():
    model, X, y = _regression([8, 4, 4], 2, 1000)
    res = estimate_llc(model, (X, y), lr=3e-4, num_chains=4, num_steps=2000, seed=0)
    truth = dln_learning_coefficient([8, 4, 4], 2)[0]  # 14, regular count would be 24
    assert abs(res.llc - truth) / truth <= 0.10, res.llc


@pytest.mark.parametrize("powers", [(0, 1), (1, 2)])
def test_normal_crossing_potential(powers):
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((500, 1)))
    model = NormalCrossing(powers)
    res = estimate_llc(model, (X, torch.zeros(500, 1)), lr=1e-3, num_chains=8, num_steps=3000, seed=0)
    truth = model.learning_coefficient
    assert abs(res.llc - truth) <= max(3.5 * res.std / math.sqrt(8), 0.0) + 0.15 * truth, (res.llc, res.std)


# ------------------------------------------------------------------------------ constrained models
def test_equivariant_subspace_is_what_the_sampler_sees():
    T = np.roll(np.eye(12), 3, axis=0)
    torch.manual_seed(0)
    model = nn.Sequential(EquivariantLinear(np.eye(6)[None], T[None], bias=False), nn.Linear(6, 6, bias=False))
    rng = np.random.default_rng(0)
    P = sum(np.linalg.matrix_power(T, j) for j in range(4)) / 4
    X = torch.as_tensor(rng.standard_normal((600, 12)))
    y = X @ torch.as_tensor(rng.standard_normal((6, 12)) @ P).T + torch.randn(600, 6)
    _fit(model, X, y)
    sub = estimate_llc(model, (X, y), lr=3e-4, num_chains=2, num_steps=600, seed=0)
    assert sub.settings["num_params"] == 18 + 36 and sub.settings["phase"] == "equivariant"
    assert sub.llc < 27 / 2 + 9  # at most half its 54 parameters; theory 9
    set_phase(model, "full")
    full = estimate_llc(model, (X, y), lr=3e-4, num_chains=2, num_steps=600, seed=0)
    assert full.settings["num_params"] == 72 + 36 and full.settings["phase"] == "full"
    assert full.llc > sub.llc + 5


def test_weight_restricted_llc_counts_only_selected_parameters():
    model, X, y = _regression([6, 4], 4, 400)
    res = estimate_llc(model, (X, y), params=lambda name: name.endswith("weight"), lr=3e-4, num_chains=2,
                       num_steps=300, seed=0)
    assert res.settings["params"] == ["0.weight"]
    with pytest.raises(SymscopeInputError, match="names no trainable"):
        estimate_llc(model, (X, y), params=["nope"])


# ------------------------------------------------------------------------------ diagnostics, options
def test_divergent_step_is_flagged_not_averaged():
    model, X, y = _regression([6, 4], 4, 400)
    res = estimate_llc(model, (X, y), lr=1.0, num_chains=2, num_steps=200, seed=0)
    assert not res.healthy and res.diagnostics.nonfinite and math.isnan(res.llc)


def test_too_short_chain_is_flagged_and_results_are_seeded():
    model, X, y = _regression([5, 3, 5], 0, 400)
    a = estimate_llc(model, (X, y), lr=1e-6, num_chains=2, num_steps=100, seed=3)
    b = estimate_llc(model, (X, y), lr=1e-6, num_chains=2, num_steps=100, seed=3)
    assert a.llc == b.llc and np.array_equal(a.loss_trace, b.loss_trace)
    assert not a.healthy and a.diagnostics.warnings  # 100 tiny steps: not mixed, flagged
    assert a.to_dict()["healthy"] is False and "loss_trace" in a.to_dict(trace=True)


def test_duplicated_data_with_half_weights_gives_the_same_chain():
    model, X, y = _regression([6, 4], 4, 300)
    a = estimate_llc(model, (X, y), n_beta=50.0, lr=3e-4, num_chains=2, num_steps=200, seed=1)
    b = estimate_llc(model, (torch.cat([X, X]), torch.cat([y, y])), n_beta=50.0, lr=3e-4, num_chains=2,
                     num_steps=200, seed=1, sample_weight=torch.ones(600))
    np.testing.assert_allclose(a.loss_trace, b.loss_trace, rtol=1e-9)


def test_minibatch_and_cross_entropy_paths():
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((600, 4)))
    labels = torch.as_tensor((X[:, 0] + 0.5 * rng.standard_normal(600).clip(-3, 3) > 0).long().numpy())
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(800):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), labels).backward()
        opt.step()
    res = estimate_llc(model, (X, labels), loss="ce", lr=1e-3, num_chains=2, num_steps=600, batch_size=200, seed=0)
    # softmax over 2 classes has a 5-dim identifiable part of the 10 parameters: λ = 2.5 in the limit
    assert 1.0 < res.llc < 6.0 and res.settings["batch_size"] == 200


def test_calibration_sweep_recommends_a_stable_setting():
    model, X, y = _regression([4, 2], 2, 400)
    rep = calibrate_llc(model, (X, y), lrs=(3e-4, 1e-3, 3e-3, 0.1), localizations=(1.0,), num_steps=1000)
    assert len(rep.rows) == 4 and rep.recommended is not None, rep.table()
    assert rep.recommended["lr"] in (1e-3, 3e-3) and rep.recommended["localization"] == 1.0
    assert not rep.rows[-1]["healthy"]  # lr 0.1 diverges
    assert "| lr |" in rep.table() and rep.to_dict()["recommended"] == rep.recommended


# ------------------------------------------------------------------------------ susceptibility
class _Scalar(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w


def test_susceptibility_matches_the_gaussian_closed_form():
    """L_h = ½ a_h w², a_h = (1−h)·1 + h·4: λ_h = ½ nβ a/(nβ a + γ), dλ/dh = ½ nβ a′ γ/(nβ a + γ)²."""
    n = 400
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((n, 1)))
    x = x / x.pow(2).mean().sqrt()  # a = 1 exactly
    zeros = torch.zeros(n, 1)
    nb, gamma = 10.0, 10.0
    res = llc_susceptibility(_Scalar(), (x, zeros), (2 * x, zeros), n_beta=nb, localization=gamma, lr=2e-3,
                             num_chains=8, num_steps=6000, seed=0)
    expect = 0.5 * nb * 3.0 * gamma / (nb + gamma) ** 2
    assert res.llc.llc == pytest.approx(0.5 * nb / (nb + gamma), rel=0.1)
    assert res.chi == pytest.approx(expect, rel=0.15), (res.chi, expect)
    assert res.chi == pytest.approx(res.chi_mean + res.chi_cov)


# ------------------------------------------------------------------------------ bad input
def test_bad_input_gets_a_clear_error():
    model = nn.Linear(3, 2)
    X, y = torch.randn(10, 3), torch.randn(10, 2)
    with pytest.raises(SymscopeInputError, match="but y has 9"):
        estimate_llc(model, (X, y[:9]))
    with pytest.raises(SymscopeInputError, match="output has per-sample shape"):
        estimate_llc(model, (X, torch.randn(10, 3)))
    with pytest.raises(SymscopeInputError, match="the model cannot be applied"):
        estimate_llc(model, (torch.randn(10, 4), y))
    bad = X.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(SymscopeInputError, match="NaN or inf"):
        estimate_llc(model, (bad, y))
    frozen = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(SymscopeInputError, match="no trainable parameters"):
        estimate_llc(frozen, (X, y))
    with pytest.raises(SymscopeInputError, match="loss must be"):
        estimate_llc(model, (X, y), loss="hinge")
    with pytest.raises(SymscopeInputError, match="integer class labels"):
        estimate_llc(model, (X, torch.rand(10)), loss="ce")
    with pytest.raises(SymscopeInputError, match="pair"):
        estimate_llc(model, X)
    with pytest.raises(SymscopeInputError, match="burnin"):
        estimate_llc(model, (X, y), num_steps=10, burnin=10)


def test_non_finite_loss_at_w_star_is_rejected():
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("inf")
    with pytest.raises(SymscopeInputError, match="non-finite"):
        estimate_llc(model, (torch.randn(10, 3), torch.randn(10, 2)))


# ------------------------------------------------------------------------------ devinterp (optional)
def test_devinterp_cross_check():
    """Our sampler against devinterp's SGMCMC.sgld on the same RRR, within 2 sd (runs only with devinterp)."""
    optim = pytest.importorskip("devinterp.optim")
    model, X, y = _regression([5, 3, 5], 1, 1000)
    nb, lr, gamma, steps, chains = 1000 / math.log(1000), 3e-4, 1.0, 2000, 4
    ours = estimate_llc(model, (X, y), n_beta=nb, lr=lr, localization=gamma, num_chains=chains, num_steps=steps,
                        burnin=0.25, seed=0)
    init = ours.init_loss
    theirs = []
    for c in range(chains):
        torch.manual_seed(c)
        m = _dln([5, 3, 5])
        m.load_state_dict(model.state_dict())
        opt = optim.SGMCMC.sgld(m.parameters(), lr=lr, noise_level=1.0, localization=gamma, nbeta=nb)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = 0.5 * ((m(X) - y) ** 2).sum(1).mean()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        theirs.append(nb * (np.mean(losses[steps // 4:]) - init))
    sd = math.hypot(ours.std, float(np.std(theirs, ddof=1))) / math.sqrt(chains)
    assert abs(ours.llc - float(np.mean(theirs))) <= 2 * max(sd, 0.02 * ours.llc)
