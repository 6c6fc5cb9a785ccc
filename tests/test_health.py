"""The truth-free health check: identity collapse and degenerate chains are flagged, good fits are not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from symscope import SymscopeInputError, generator_health
from symscope.data import dst_matrix, shift_matrix
from symscope.exploit import oracle_group_conv

D = 9


def test_a_shift_and_its_group_convolution_are_healthy() -> None:
    S = shift_matrix(D)
    rep = generator_health(S, oracle_group_conv(shift_matrix(D, circulant=True)))
    assert rep.verdict == "ok" and not rep.failed and rep.conv_rank == D
    assert rep.identity_cosine == pytest.approx(0.0) and rep.conv_condition == pytest.approx(1.0)
    U = dst_matrix(D)  # the same shift in a rotated basis: still healthy (the check is basis-free)
    assert generator_health(U @ S @ U.T).verdict == "ok"


def test_identity_collapse_is_flagged() -> None:
    rep = generator_health(np.eye(D) + 1e-3 * shift_matrix(D), np.tile(np.eye(D)[D // 2], (D, 1)))
    assert rep.verdict == "identity collapse" and rep.failed and rep.near_identity
    assert rep.identity_cosine > 0.99 and rep.conv_rank == 1
    assert "FAILED FIT: the generator is close to the identity" in rep.message


def test_a_degenerate_chain_is_flagged_without_a_truth() -> None:
    S = shift_matrix(D, circulant=True)
    c, ks = D // 2, range(-(D // 2), D - D // 2)  # rows psi^T G^(2k), psi = e_c: the orbit leaves the window
    power2 = np.array([np.eye(D)[c + 2 * k] if 0 <= c + 2 * k < D else np.zeros(D) for k in ks])
    rep = generator_health(S @ S, power2)
    assert rep.verdict == "degenerate chain" and rep.failed and rep.conv_rank < D
    assert generator_health(S, np.zeros((D, D))).conv_rank == 0  # a zero filter


def test_report_is_json_and_inputs_are_checked() -> None:
    rep = generator_health(shift_matrix(D), np.zeros((D, D)))
    assert json.loads(json.dumps(rep.to_dict()))["conv_condition"] is None  # inf is not JSON
    with pytest.raises(SymscopeInputError, match="square matrix"):
        generator_health(np.ones((3, 4)))
    with pytest.raises(SymscopeInputError, match="group convolution is 4x4 but the generator is 9x9"):
        generator_health(shift_matrix(D), np.eye(4))
    with pytest.raises(SymscopeInputError, match="identity_threshold"):
        generator_health(shift_matrix(D), identity_threshold=0)
