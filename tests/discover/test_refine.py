"""The refinement stage: local defects of an otherwise exact chain are re-solved; exact chains are kept."""

import json

import numpy as np
import pytest
import torch
from scipy.linalg import expm
from scipy.stats import ortho_group

from symscope import LensConfig, RefineConfig, make_dataset, recovery_report
from symscope._linalg import dst_matrix, shift_matrix
from symscope.discover.chain import Chain
from symscope.discover.refine import (CANDIDATES, STEPS, RefineReport, chain_similarity, consistency, polish_sites,
                                      refine, resolve_defects, stationarity_gap, stationary_projection,
                                      structure_ratio, toeplitz_residual)

D = 21


def _cosine(sites: np.ndarray, truth: np.ndarray) -> float:
    return recovery_report(sites.T @ shift_matrix(len(sites)) @ sites, truth).cosine


def refined_sites(C: np.ndarray, X_fit: np.ndarray, X_judge: np.ndarray, **settings) -> tuple[np.ndarray | None, RefineReport]:
    """(kept sites, or None when the lens would be left as trained; the report) for a group convolution C."""
    seed = settings.pop("seed", 0)
    chain, report = refine(Chain.from_group_conv(C, X_fit), X_fit, X_judge, RefineConfig(**settings), seed=seed)
    return (chain.sites if report.refined else None), report


@pytest.fixture(scope="module")
def chain():
    """(X, true sites, defective sites): sites 9–12 of the true chain mixed by a rotation of their span."""
    ds = make_dataset("gaussian-shift", n=24_000, d=D, seed=3)
    X = (ds.X - ds.X.mean()) / ds.X.std()
    truth = np.ascontiguousarray(ds.transform.T)
    defective = truth.copy()
    defective[9:13] = ortho_group.rvs(4, random_state=1) @ truth[9:13] * 0.6 + truth[9:13] * 0.4
    u, _, vh = np.linalg.svd(defective)
    return X, truth, u @ vh, ds.generator


def test_toeplitz_residual_singles_out_the_non_stationary_row():
    idx = np.arange(12)
    cov = 0.8 ** np.abs(idx[:, None] - idx[None, :])
    cov[5, 2] = cov[2, 5] = cov[2, 5] + 0.5
    residual = toeplitz_residual(cov + 1e-3 * np.random.default_rng(0).standard_normal((12, 12)))
    assert set(np.argsort(residual)[-2:]) == {2, 5}
    assert np.median(residual) == pytest.approx(1.0)


@pytest.mark.slow
def test_resolve_defects_unmixes_a_rotated_pair_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    d, n = 12, 20_000
    spikes = rng.standard_normal((n, d + 8)) * (rng.random((n, d + 8)) < 0.1)  # sparse, stationary sources
    kernel = np.exp(-0.5 * (np.arange(-4, 5) / 1.2) ** 2)
    X = np.stack([np.convolve(row, kernel, mode="valid") for row in spikes])[:, :d]
    sites = np.eye(d)
    c, s = np.cos(0.5), np.sin(0.5)
    sites[5:7, 5:7] = [[c, s], [-s, c]]  # one defect: sites 5 and 6 mixed
    new, rows = resolve_defects(sites, X)
    assert {5, 6} <= set(rows)
    assert np.allclose(new @ new.T, np.eye(d))
    assert np.all(np.abs(new[5:7]).max(1) > 0.99)  # back to one true site each (was 0.88)
    untouched = [i for i in range(d) if i not in rows]
    assert untouched and np.allclose(new[untouched], sites[untouched])


def test_stationarity_gap_is_zero_for_alike_columns_and_grows_with_difference():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(5000)
    assert stationarity_gap(np.stack([z, 3 * z + 1, z], 1)) == pytest.approx(0.0, abs=1e-12)
    heavy = rng.standard_t(3, 5000)
    assert stationarity_gap(np.stack([z, heavy], 1)) > 0.01


def test_resolve_defects_repairs_a_local_defect_and_leaves_the_rest(chain):
    X, truth, defective, G = chain
    before = _cosine(defective, G)
    assert before < 0.97
    sites, rows = resolve_defects(defective, X[:14_000], starts=2)
    assert rows and min(rows) >= 5 and max(rows) <= 16  # only the defect region (and neighbours) moves
    untouched = [k for k in range(D) if k not in rows]
    np.testing.assert_array_equal(sites[untouched], defective[untouched])
    np.testing.assert_allclose(sites @ sites.T, np.eye(D), atol=1e-8)
    assert _cosine(sites, G) > max(0.98, before + 0.02)


@pytest.mark.slow
def test_trust_region_keeps_the_trained_chain_when_no_candidate_is_close_enough(chain):
    X, truth, defective, G = chain
    assert chain_similarity(truth, truth) == pytest.approx(1.0)
    assert chain_similarity(truth, truth[::-1]) == pytest.approx(1.0)  # reversed: the inverse shift, the same group
    assert 0.5 < chain_similarity(truth, defective) < 1.0
    local = dict(rounds=1, starts=2, polish=False, spectral=False, bandpass=False)  # the local re-solve only (fast)
    sites, info = refined_sites(defective, X[:14_000], X[14_000:], **local, min_similarity=1.0)
    assert sites is None and info.kept == "trained" and info.outside_trust_region == 1
    sites, info = refined_sites(defective, X[:14_000], X[14_000:], **local, min_similarity=0.9)
    assert sites is not None and info.similarity >= 0.9 and _cosine(sites, G) > 0.98


def test_structure_ratio_tells_a_stationary_chain_from_one_without_structure(chain):
    X, truth, defective, _ = chain
    scrambled = ortho_group.rvs(D, random_state=4)
    assert structure_ratio(truth, X) < 0.1 and structure_ratio(defective, X) < 0.3  # a few defects: still structure
    assert 0.5 < structure_ratio(scrambled, X) < 2.0
    assert structure_ratio(truth, X, seed=1) == pytest.approx(structure_ratio(truth, X, seed=1))  # seeded null


def test_a_start_without_structure_is_judged_but_not_re_solved(chain):
    """The re-solves are spent on candidates with shift structure only (``RefineConfig.structure``)."""
    X, _, _, G = chain
    scrambled = ortho_group.rvs(D, random_state=4)
    settings = dict(rounds=2, starts=1, bandpass=False, polish_iters=20, converge_iters=0)
    _, gated = refined_sites(scrambled, X[:8_000], X[14_000:], **settings)
    labels = [label for label, _ in gated.rivals if not label.endswith("±")]  # ±: a re-solved chain's sign flips
    assert labels == ["trained", "spectral", "polished-spectral"] and gated.rounds_run == 0
    _, every = refined_sites(scrambled, X[:8_000], X[14_000:], structure=0.0, **settings)
    polished = [label for label, _ in every.rivals if label.startswith("polished-") and not label.endswith("±")]
    assert every.rounds_run >= 1 and len(polished) == 2  # one of the trained chain's family, and spectral
    assert polished[0] in {"polished-trained", *(f"polished-local{r + 1}" for r in range(every.rounds_run))}


def test_the_global_re_solve_takes_one_chain_per_family_the_best_on_the_fitting_samples(chain):
    """The trained chain and its local rounds are one family: only its best member is polished."""
    X, _, defective, _ = chain
    settings = dict(rounds=2, starts=2, spectral=False, bandpass=False, polish_iters=20, converge_iters=0)
    _, info = refined_sites(defective, X[:8_000], X[14_000:], **settings)
    family = [(label, s) for label, s in info.rivals if label == "trained" or label.startswith("local")]
    polished = [label for label, _ in info.rivals if label.startswith("polished-") and not label.endswith("±")]
    best = min(family, key=lambda c: consistency(c[1], X[:8_000], 0.03, RefineConfig().entropy_weight))[0]
    assert len(family) >= 2 and polished == [f"polished-{best}"]


def test_refine_keeps_an_exact_chain_as_trained(chain):
    X, truth, _, G = chain
    sites, info = refined_sites(truth, X[:8_000], X[14_000:], rounds=1, starts=2, spectral=False, bandpass=False, polish_iters=100)
    assert sites is None and not info.refined and info.kept == "trained" and info.steps == ()
    assert info.score_after == info.score_before and info.similarity == 1.0


def test_the_candidates_built_from_an_exact_chain_stay_on_it(chain):
    """Were the judge to prefer one of them, the refined chain would still be the exact one."""
    X, truth, _, G = chain
    assert _cosine(polish_sites(truth, X[:8_000], iters=100), G) > 0.995
    local, _ = resolve_defects(truth, X[:8_000], starts=2)
    assert _cosine(local, G) > 0.995


def test_polish_undoes_a_rotation_of_the_whole_chain_which_the_local_re_solve_cannot(chain):
    """A defect that is not local: every site rotated a little (one random rotation of all of them)."""
    X, truth, _, G = chain
    K = np.random.default_rng(2).standard_normal((D, D))
    rotated = expm(0.1 * (K - K.T)) @ truth
    before = _cosine(rotated, G)
    assert before < 0.8
    polished = polish_sites(rotated, X[:8_000], iters=200)
    np.testing.assert_allclose(polished @ polished.T, np.eye(D), atol=1e-8)
    assert _cosine(polished, G) > 0.99
    # the judge, on other samples, prefers the polished chain and the truth to the rotated one
    assert consistency(polished, X[14_000:]) < consistency(rotated, X[14_000:])
    assert consistency(truth, X[14_000:]) < consistency(rotated, X[14_000:])


def test_the_kept_polished_chain_is_re_solved_further_when_the_judge_prefers_it(chain):
    """A short global re-solve leaves the rotated chain part-way; the continuation finishes it."""
    X, truth, _, G = chain
    K = np.random.default_rng(2).standard_normal((D, D))
    rotated = expm(0.05 * (K - K.T)) @ truth  # small enough that the chain order survives
    settings = dict(rounds=0, spectral=False, bandpass=False, polish_iters=5)
    short, info_short = refined_sites(rotated, X[:8_000], X[14_000:], converge_iters=0, **settings)
    longer, info_long = refined_sites(rotated, X[:8_000], X[14_000:], converge_iters=300, **settings)
    assert info_short.kept == "polished-trained" and info_short.steps == ()
    assert info_long.kept == "polished-trained" and info_long.steps == ("converged",)
    assert info_long.label == "polished-trained+"
    assert info_long.score_after < info_short.score_after
    assert _cosine(short, G) < 0.98
    assert _cosine(longer, G) > 0.995


def test_the_spectral_chain_is_a_candidate_and_the_judge_can_keep_it(chain):
    X, truth, _, G = chain
    scrambled = ortho_group.rvs(D, random_state=4)  # a trained chain that learned nothing
    assert _cosine(scrambled, G) < 0.3
    sites, info = refined_sites(scrambled, X[:8_000], X[14_000:], rounds=0, polish=False, spectral=True, bandpass=False, seed=1)
    assert info.kept == "spectral" and info.candidates == 2 and info.score_after < info.score_before
    assert _cosine(sites, G) > 0.8


@pytest.mark.slow
def test_refine_returns_a_typed_report_and_the_kept_chain(chain):
    X, _, defective, G = chain
    kept, report = refine(Chain(defective), X[:14_000], X[14_000:], RefineConfig(rounds=1, starts=2, spectral=False, bandpass=False,
                                                                                polish_iters=100))
    assert isinstance(report.refined, bool) and isinstance(report.ring, bool) and isinstance(report.steps, tuple)
    assert report.refined and report.score_after < report.score_before
    assert json.loads(json.dumps(report.to_dict()))["kept"] == report.kept
    assert recovery_report(kept.generator(), G).cosine > 0.98
    assert list(CANDIDATES) == ["trained", "local", "spectral", "bandpass", "global", "signed"]
    assert list(STEPS) == ["converged", "rounded", "signs"]
    for switch, _ in [*CANDIDATES.values(), *STEPS.values()]:  # every entry is switched by one config field
        assert switch is None or switch in RefineConfig.__dataclass_fields__


def _small_fit(tmp_path, **cfg):
    from symscope import SymmetryLens

    ds = make_dataset("gaussian-shift", n=2000, d=9, seed=0)
    config = LensConfig(steps=20, batch_size=256, **{"staged": False, **cfg})
    ckpt = tmp_path / "ck.pt"
    lens = SymmetryLens(config, seed=0, progress=False).fit(ds.X, checkpoint_path=ckpt, truth=ds.generator)
    return lens, ds, ckpt


def test_fit_refines_once_and_a_resumed_finished_run_does_not_refine_again(tmp_path):
    from symscope import SymmetryLens

    lens, ds, ckpt = _small_fit(tmp_path)
    (event,) = [e for e in lens.events_ if e["event"] == "refine"]
    assert event["step"] == 20 and "cosine_before" in event and "cosine" in event
    again = SymmetryLens(seed=0, progress=False).fit(ds.X, resume_from=ckpt)
    assert [e["event"] for e in again.events_].count("refine") == 1
    assert "trained_modules" in torch.load(ckpt, weights_only=True)  # the trained state survives the resume
    np.testing.assert_allclose(again.generator_, lens.generator_, atol=1e-6)


def test_refine_can_be_switched_off_and_is_skipped_for_circulant_padding(tmp_path):
    from symscope import RefineConfig

    off, _, _ = _small_fit(tmp_path, refine=RefineConfig(enabled=False))
    assert not [e for e in off.events_ if e["event"] == "refine"]
    (tmp_path / "cyclic").mkdir()
    cyclic, _, _ = _small_fit(tmp_path / "cyclic", padding=0)
    (event,) = [e for e in cyclic.events_ if e["event"] == "refine"]
    assert event["refined"] is False and event["skipped"] == "circulant padding"


@pytest.mark.parametrize("bad", [dict(rounds=-1), dict(starts=0), dict(threshold=0.0), dict(kurtosis_weight=-1.0),
                                 dict(min_similarity=1.5), dict(polish_iters=0),
                                 dict(converge_iters=-1)])
def test_bad_refine_config_is_a_clear_error(bad):
    from symscope import RefineConfig, SymscopeInputError

    assert LensConfig.from_dict({"refine": {"rounds": 1}}).refine == RefineConfig(rounds=1)
    with pytest.raises(SymscopeInputError, match=r"config: refine\.\w+ must be"):
        LensConfig(refine=RefineConfig(**bad))


@pytest.fixture(scope="module")
def ring():
    """(X, true sites, true cyclic generator) of circulant data: the chain closes into a ring."""
    ds = make_dataset("gaussian-shift-circulant", n=24_000, d=D, seed=3)
    X = (ds.X - ds.X.mean()) / ds.X.std()
    return X, np.ascontiguousarray(ds.transform.T), ds.generator


def test_closes_ring_tells_circulant_data_from_an_open_chain(chain, ring):
    from symscope.discover.refine import closes_ring

    assert closes_ring(ring[1], ring[0][:10_000])
    assert not closes_ring(chain[1], chain[0][:10_000])
    cut = np.roll(ring[1], 7, axis=0)  # the same ring cut elsewhere is still a ring
    assert closes_ring(cut, ring[0][:10_000])


@pytest.mark.slow
def test_refine_closes_the_ring_on_circulant_data_and_beats_the_open_chain_ceiling(ring):
    X, sites, G = ring
    assert _cosine(sites, G) < 0.98  # the open shift along the true sites: √((d−1)/d) at best
    trained = Chain(np.roll(sites, 5, axis=0))
    settings = dict(rounds=1, starts=2, spectral=False, bandpass=False, polish_iters=50, converge_iters=0)
    kept, report = refine(trained, X[:12_000], X[12_000:], RefineConfig(**settings))
    assert report.ring and report.refined and kept.ring
    assert recovery_report(kept.generator(), G).cosine > 0.99
    kept, report = refine(trained, X[:12_000], X[12_000:], RefineConfig(**settings, ring=False))
    assert not report.ring and not kept.ring
    assert recovery_report(kept.generator(), G).cosine < 0.98


def test_stationary_projection_rounds_a_perturbed_chain_to_the_exact_one():
    """Data whose covariance is exactly W Λ Wᵀ (W the DST-I basis): the exact chain is the identity."""
    d, n = 15, 3_000
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((n, d))
    Q, _ = np.linalg.qr(Z - Z.mean(0))
    X = Q * np.sqrt(n - 1) @ np.diag(np.sqrt(np.linspace(3.0, 0.2, d))) @ dst_matrix(d).T
    K = rng.standard_normal((d, d))
    perturbed = expm(0.04 * (K - K.T))  # the identity chain, every site rotated a little
    assert _cosine(perturbed, shift_matrix(d)) < 0.99
    rounded = stationary_projection(perturbed, X)
    assert any(np.allclose(np.abs(rounded), exact, atol=1e-9) for exact in (np.eye(d), np.eye(d)[::-1]))
    assert _cosine(rounded, shift_matrix(d)) > 0.9999


def test_project_rounds_a_chain_whose_highest_frequencies_are_mixed(chain):
    """The global re-solve's spurious optima mix the highest frequencies; rounding the kept chain to
    the nearest exact stationary chain leaves them, and the judge keeps the rounded one."""
    X, truth, _, G = chain
    W = dst_matrix(D)
    K = np.random.default_rng(2).standard_normal((7, 7))
    R = np.eye(D)
    R[14:, 14:] = expm(0.6 * (K - K.T))  # frequencies 14-20 of the truth rotated among themselves
    mixed = W @ R @ W.T @ truth
    settings = dict(rounds=0, spectral=False, bandpass=False, polish_iters=100, converge_iters=0)
    plain, info_plain = refined_sites(mixed, X[:8_000], X[14_000:], **settings)
    rounded, info = refined_sites(mixed, X[:8_000], X[14_000:], project=True, **settings)
    assert info_plain.kept == "polished-trained" and info_plain.steps == ()
    assert info.kept == "polished-trained" and info.steps == ("rounded",) and info.label == "polished-trained~"
    assert info.score_after < info_plain.score_after
    assert _cosine(rounded, G) > _cosine(plain, G) + 0.01
