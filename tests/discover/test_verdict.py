"""The truth-free verdict (discover/verdict.py) and the staged fit that acts on it (lens.py)."""

import dataclasses

import numpy as np
import pytest
import torch

from symscope import LensConfig, SymmetryLens, make_dataset, recovery_report
from symscope.discover.chain import Chain
from symscope.discover.refine import initial_chain, refine, refine_split
from symscope.discover.verdict import LABELS, Verdict, judge_chain


def _split(ds, seed=0, samples=8000):
    X = torch.as_tensor((ds.X - ds.X.mean()) / ds.X.std(), dtype=torch.float32)
    return tuple(a.double().numpy() for a in refine_split(X, seed, samples))


@pytest.fixture(scope="module")
def shift_data():
    return make_dataset("gaussian-shift", n=20_000, d=11, seed=0)


def test_the_true_chain_of_a_shift_dataset_is_found(shift_data):
    fit, judge = _split(shift_data)
    v = judge_chain(Chain(np.eye(11)), [], fit, judge)
    assert v.found and v.settled and v.label == "found"
    assert v.null_z >= 5 and v.alignment > v.null_alignment + 0.3
    assert v.runner_up is None and v.margin_z is None


def test_white_noise_has_no_symmetry():
    X = np.random.default_rng(0).normal(size=(8000, 11))
    v = judge_chain(Chain(np.eye(11)), [], X[:4000], X[4000:])
    assert not v.found and not v.settled and v.label == "no symmetry"
    assert "no symmetry" in v.message


def test_a_rival_that_scores_as_well_makes_the_verdict_ambiguous(shift_data):
    fit, judge = _split(shift_data)
    truth = np.eye(11)
    rival = truth.copy()
    rival[[4, 6]] = rival[[6, 4]]  # a different chain (two sites swapped)
    better = judge_chain(Chain(truth), [("swapped", rival)], fit, judge)
    assert better.runner_up == "swapped" and better.margin_z > 3 and better.found
    worse = judge_chain(Chain(rival), [("truth", truth)], fit, judge)  # the kept chain is the worse one
    assert worse.margin_z < 0 and worse.settled and worse.label == "ambiguous"


def test_reversed_chain_is_the_same_symmetry(shift_data):
    fit, judge = _split(shift_data)
    v = judge_chain(Chain(np.eye(11)), [("reversed", np.eye(11)[::-1])], fit, judge)
    assert v.runner_up is None  # G and G⁻¹ generate the same group: not a rival
    assert Chain(np.eye(5)).symmetry_similarity(Chain(np.eye(5)[::-1])) == pytest.approx(1.0)


def test_verdict_round_trips_through_its_dict(shift_data):
    fit, judge = _split(shift_data)
    v = judge_chain(Chain(np.eye(11)), [], fit, judge)
    assert Verdict(**v.to_dict()) == v and v.label in LABELS


def test_initial_chain_seriates_permuted_coordinates():
    ds = make_dataset("gaussian-permuted", n=10_000, d=11, seed=1)
    fit, _ = _split(ds, seed=1)
    chain = initial_chain(fit)
    assert recovery_report(chain.generator(), ds.generator).cosine > 0.99


def test_refine_judges_extra_chains_and_reports_its_rivals(shift_data):
    fit, judge = _split(shift_data)
    scrambled = Chain(np.linalg.qr(np.random.default_rng(0).normal(size=(11, 11)))[0])
    chain, report = refine(scrambled, fit, judge, extra=[("given", Chain(np.eye(11)))])
    assert "given" in [label for label, _ in report.rivals]
    assert "rivals" not in report.to_dict()
    assert chain.symmetry_similarity(Chain(np.eye(11))) > 0.98


CFG = LensConfig(steps=8, batch_size=128, log_every=2, checkpoint_every=4)


def test_staged_fit_stops_after_the_first_stage_when_it_is_settled(shift_data):
    lens = SymmetryLens(CFG, seed=0, progress=False).fit(shift_data.X)
    first = lens.events_[0]
    assert first["event"] == "refine" and first["stage"] == "initial" and first["trains"] is False
    assert lens.run_record_["steps"] == 0 and lens.history_ == []
    assert lens.verdict_.settled and lens.verdict_.null_z >= 5
    assert recovery_report(lens.generator_, shift_data.generator).minimal  # the shift along the kept chain


def test_staged_fit_trains_when_the_first_stage_finds_nothing():
    X = np.random.default_rng(0).normal(size=(3000, 7))
    lens = SymmetryLens(CFG, seed=0, progress=False).fit(X)
    stages = [e["stage"] for e in lens.events_ if e["event"] == "refine"]
    assert stages == ["initial", "trained"] and lens.run_record_["steps"] == 8
    assert lens.refine_event_["stage"] == "trained" and not lens.verdict_.found
    assert "initial" in lens.refine_event_["kept"] or lens.refine_event_["candidates"] >= 2


def test_the_generator_is_the_shift_along_the_kept_chain_even_when_it_is_the_trained_one(shift_data):
    lens = SymmetryLens(dataclasses.replace(CFG, steps=1, staged=False), seed=0, progress=False).fit(shift_data.X)
    chain = Chain(lens.group_conv_)  # the rows of the group convolution are the kept sites
    assert recovery_report(lens.generator_, chain.generator()).cosine > 0.999
    assert recovery_report(lens.generator_, shift_data.generator).verdict != "identity collapse"


def test_a_saved_staged_lens_keeps_its_verdict(tmp_path, shift_data):
    lens = SymmetryLens(CFG, seed=0, progress=False).fit(shift_data.X)
    lens.save(tmp_path / "lens.pt")
    back = SymmetryLens.load(tmp_path / "lens.pt")
    assert back.verdict_ == lens.verdict_
    np.testing.assert_allclose(back.generator_, lens.generator_)


def test_restarts_keep_the_best_verdict_and_list_every_restart(tmp_path, shift_data):
    lens = SymmetryLens(CFG, seed=5, progress=False, restarts=2).fit(shift_data.X, checkpoint_path=tmp_path / "c.pt")
    event = lens.events_[-1]
    assert event["event"] == "restarts" and [r["seed"] for r in event["restarts"]] == [5, 6]
    assert event["kept_seed"] == lens.seed_ and lens.run_record_["restarts"] == 2
    assert (tmp_path / "c-restart0.pt").is_file() and (tmp_path / "c-restart1.pt").is_file()
    assert lens.verdict_.found and lens.transform(shift_data.X[:3]).shape == (3, 11)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_restarts_are_refused(bad, shift_data):
    from symscope import SymscopeInputError

    with pytest.raises(SymscopeInputError, match="restarts must be an integer >= 1"):
        SymmetryLens(CFG, restarts=bad, progress=False).fit(shift_data.X)


def test_train_if_not_found_trains_when_the_first_stage_is_only_ambiguous(monkeypatch):
    import functools

    import symscope.lens

    # a verdict that can never be "found" (no chain pins every sign to a cosine above 1): settled, not found
    monkeypatch.setattr(symscope.lens, "judge_chain", functools.partial(judge_chain, min_similarity=1.01))
    ds = make_dataset("gaussian-permuted", n=8000, d=9, seed=0)
    base = SymmetryLens(CFG, seed=0, progress=False).fit(ds.X)
    assert base.verdict_.settled and not base.verdict_.found and base.run_record_["steps"] == 0
    lens = SymmetryLens(dataclasses.replace(CFG, train_if="not-found"), seed=0, progress=False).fit(ds.X)
    assert lens.events_[0]["trains"] is True and lens.run_record_["steps"] == CFG.steps
    assert lens.refine_event_["stage"] == "trained"


def test_train_if_is_checked():
    from symscope import SymscopeInputError

    with pytest.raises(SymscopeInputError, match="train_if must be 'no-structure' or 'not-found'"):
        LensConfig(train_if="always")
