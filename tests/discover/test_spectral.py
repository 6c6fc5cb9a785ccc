"""Spectral initialisation: orthonormal sites, right signs on Gaussian data, blind to the hidden basis."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symscope import LensConfig, make_dataset, recovery_report
from symscope._validation import SymscopeInputError
from symscope._linalg import dst_matrix, shift_along
from symscope.discover.modules import LensModules, initialise_spectral
from symscope.discover.spectral import mean_kurtosis, spectral_sites


def _init_cosine(name: str, d: int = 9) -> float:
    ds = make_dataset(name, n=5000, d=d, seed=0)
    X = (ds.X - ds.X.mean()) / ds.X.std()
    S = spectral_sites(X, seed=0)
    assert np.allclose(S @ S.T, np.eye(d), atol=1e-9)  # orthonormal sites
    return recovery_report(shift_along(S, d)[d : 2 * d, d : 2 * d], ds.generator).cosine


def test_dst_basis_is_orthonormal_and_ordered_by_frequency():
    W = dst_matrix(9)  # the basis the init maps the principal components onto
    assert np.allclose(W @ W.T, np.eye(9))
    i, k = np.meshgrid(np.arange(1, 10), np.arange(1, 10), indexing="ij")
    assert np.allclose(W, np.sqrt(2 / 10) * np.sin(np.pi * i * k / 10))  # column k: frequency k


def test_mean_kurtosis_of_gaussian_and_sparse_columns():
    rng = np.random.default_rng(0)
    assert mean_kurtosis(rng.standard_normal((200_000, 3))) == pytest.approx(3.0, abs=0.05)
    sparse = rng.standard_normal((200_000, 3)) * (rng.random((200_000, 3)) < 0.1)
    assert mean_kurtosis(sparse) > 20  # the criterion that picks the signs favours sparse sites


def test_spectral_init_finds_the_minimal_generator_on_gaussian_bumps():
    assert _init_cosine("gaussian-shift") > 0.98


@pytest.mark.parametrize("name", ["gaussian-dst", "gaussian-orthogonal"])
def test_spectral_init_does_not_depend_on_the_hidden_basis(name):
    # the data differ only by an orthogonal change of basis, which the init undoes exactly
    assert _init_cosine(name) == pytest.approx(_init_cosine("gaussian-shift"), abs=1e-6)


def test_initialise_spectral_sets_generator_and_filter():
    ds = make_dataset("gaussian-dst", n=5000, d=9, seed=0)
    X = torch.as_tensor((ds.X - ds.X.mean()) / ds.X.std(), dtype=torch.float32)
    mods = LensModules(9, LensConfig(init="spectral"), 0)
    initialise_spectral(mods, X, 0)
    G = mods.generator.cropped().double().numpy()
    assert recovery_report(G, ds.generator).cosine > 0.98
    assert float(mods.filter().detach().norm()) == pytest.approx(1.0, abs=1e-5)
    assert float(mods.generator.P.detach().abs().max()) == 0.0


def test_config_rejects_unknown_init():
    with pytest.raises(SymscopeInputError, match="init"):
        LensConfig(init="random")
