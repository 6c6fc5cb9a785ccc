"""``measure/``: one calling shape, ``measure_<thing>(subject, data, ...) -> Report`` with ``to_dict``."""

import json

import numpy as np
import pytest
import torch

from symscope import SymscopeInputError, make_dataset
from symscope._linalg import shift_matrix
from symscope.exploit import assert_equivariant, cyclic_group
from symscope.measure import ChainReport, EquivarianceReport, measure_chain, measure_equivariance


def test_measure_chain_finds_a_local_defect_that_the_true_chain_has_not():
    ds = make_dataset("gaussian-shift", n=6000, d=11, seed=0)
    true = ds.transform.T.copy()
    defect = true.copy()
    c, s = np.cos(0.8), np.sin(0.8)
    defect[[4, 5]] = np.array([[c, s], [-s, c]]) @ true[[4, 5]]  # sites 4 and 5 mixed
    good, bad = measure_chain(true, ds.X), measure_chain(defect, ds.X)
    assert isinstance(good, ChainReport) and len(good.toeplitz_residual) == 11
    assert bad.worst_site in (4, 5) and bad.worst_toeplitz_residual > 2 * good.worst_toeplitz_residual
    assert bad.stationarity_gap > 10 * good.stationarity_gap
    assert json.loads(json.dumps(good.to_dict()))["worst_site"] == good.worst_site
    with pytest.raises(SymscopeInputError, match="features but the chain has"):
        measure_chain(np.eye(8), ds.X)


def test_measure_equivariance_is_the_measurement_and_assert_equivariant_its_thin_wrapper():
    group = cyclic_group(shift_matrix(6, circulant=True), 6)
    x = torch.randn(4, 6, dtype=torch.float64)
    rep = measure_equivariance(lambda v: v.roll(1, -1).flip(-1).flip(-1).roll(-1, -1), x, K=group, L=group)
    assert isinstance(rep, EquivarianceReport) and rep.passed and json.loads(json.dumps(rep.to_dict()))["passed"]
    bad = measure_equivariance(lambda v: v * torch.arange(6.0, dtype=v.dtype), x, K=group, L=group)
    assert not bad.passed
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda v: v * torch.arange(6.0, dtype=v.dtype), group, group, x)
    with pytest.raises(SymscopeInputError, match="to match L"):
        measure_equivariance(lambda v: v, torch.zeros(2, 5), K=group, L=group)
