"""Chain-defect repair: a folded orbit is re-ordered into the true chain."""

import numpy as np
import pytest
import torch

from symscope import LensConfig, make_dataset, recovery_report
from symscope._linalg import shift_along, shift_matrix
from symscope.discover.modules import LensModules
from symscope.discover.repair import order_chain, path_weight, repair, repaired_rotation


def test_order_chain_undoes_a_fold_and_a_moved_segment():
    d = 15
    idx = np.arange(d)
    W_true = np.exp(-np.abs(idx[:, None] - idx[None, :]))  # neighbours most similar
    scrambled = [*range(6, -1, -1), *range(11, 15), *range(7, 11)]  # fold + displaced segment
    W = W_true[np.ix_(scrambled, scrambled)]
    order = order_chain(W)
    chain = [scrambled[i] for i in order]
    assert chain in (list(range(d)), list(range(d))[::-1])
    assert path_weight(W, order) == pytest.approx(path_weight(W_true, list(range(d))))


def test_shift_along_has_the_requested_crop_and_is_orthogonal():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    G = shift_along(q, padding=7)
    np.testing.assert_allclose(G @ G.T, np.eye(21), atol=1e-12)
    np.testing.assert_allclose(G[7:14, 7:14], q.T @ shift_matrix(7) @ q, atol=1e-12)


def test_repaired_rotation_recovers_the_generator_from_a_folded_lens():
    ds = make_dataset("gaussian-permuted", n=20_000, d=21, seed=0)
    X = (ds.X - ds.X.mean()) / ds.X.std()
    hidden_rows = ds.transform.T  # rows: the hidden pixels expressed in data coordinates
    folded = [*range(9, -1, -1), *range(10, 21)]  # the orbit visits 9…0 then 10…20
    C = hidden_rows[folded]
    assert recovery_report(C.T @ shift_matrix(21) @ C, ds.generator).cosine < 0.9
    Qp, _, gain = repaired_rotation(C, X)
    assert gain > 0
    assert recovery_report(Qp.T @ shift_matrix(21) @ Qp, ds.generator).cosine > 0.999


def test_repair_updates_the_lens_modules_in_place():
    ds = make_dataset("gaussian-shift", n=20_000, d=9, seed=1)
    X = torch.tensor((ds.X - ds.X.mean()) / ds.X.std())
    mods = LensModules(9, LensConfig(), seed=0).double()
    folded = np.eye(9)[[4, 3, 2, 1, 0, 5, 6, 7, 8]]
    with torch.no_grad():
        mods.generator.base.copy_(torch.tensor(shift_along(folded, 9)))
        mods.generator.P.zero_()
        mods.filter.psi.copy_(torch.tensor(folded[4]))
    before = recovery_report(mods.generator.cropped().numpy(), ds.generator).cosine
    event = repair(mods, X)
    after = recovery_report(mods.generator.cropped().numpy(), ds.generator).cosine
    assert event["repaired"] == 1.0 and before < 0.8 and after > 0.999
    assert repair(mods, X)["repaired"] == 0.0  # nothing left to repair


def test_shift_along_a_ring_is_orthogonal_and_its_crop_is_the_cyclic_shift_along_the_sites():
    q = np.linalg.qr(np.random.default_rng(2).normal(size=(7, 7)))[0]
    G = shift_along(q, padding=4, ring=True)
    assert np.allclose(G @ G.T, np.eye(15))
    crop = G[4:11, 4:11]
    assert np.allclose(crop @ q[0], q[1]) and np.allclose(crop @ q[-1], q[0])  # the last site shifts to the first
    assert np.allclose(np.linalg.matrix_power(crop, 7), np.eye(7))  # a ring of 7 sites: G⁷ = I


def _brute_force_best_gain(W, o):
    """Largest gain of any 2-opt or or-opt move, by building and summing every candidate path."""
    from symscope.discover.repair import path_weight

    d, base, best = len(o), path_weight(W, o), 0.0
    for i in range(d):
        for j in range(i + 1, d):
            best = max(best, path_weight(W, o[:i] + o[i : j + 1][::-1] + o[j + 1 :]) - base)
        for j in range(i, min(d, i + d // 2 + 1)):
            seg, rest = o[i : j + 1], o[:i] + o[j + 1 :]
            for k in range(len(rest) + 1):
                if k != i:
                    for s in (seg, seg[::-1]):
                        best = max(best, path_weight(W, rest[:k] + s + rest[k:]) - base)
    return best


def test_best_move_finds_the_largest_gain_and_its_path_has_it():
    from symscope.discover.repair import _best_move, path_weight

    rng = np.random.default_rng(4)
    for _ in range(25):
        d = int(rng.integers(3, 14))
        A = np.abs(rng.normal(size=(d, d)))
        W = (A + A.T) / 2
        o = [int(x) for x in rng.permutation(d)]
        move, brute = _best_move(W, o), _brute_force_best_gain(W, o)
        if move is None:
            assert brute <= 1e-9
            continue
        gain, new = move
        assert sorted(new) == list(range(d))
        assert abs(gain - brute) < 1e-12
        assert abs(path_weight(W, new) - path_weight(W, o) - gain) < 1e-12
