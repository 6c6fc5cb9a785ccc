"""The built-in datasets really carry the hidden symmetry their ``generator`` claims."""

from __future__ import annotations

import numpy as np
import pytest

from symscope import DATASETS, PAPER_DATASETS, make_dataset
from symscope.data import dst_matrix, shift_matrix, signals
from symscope.data.actions import TRANSFORMS, transform_matrix, true_generator

SIGNAL_NAMES = tuple(signals.SIGNALS)


def _hidden(monkeypatch: pytest.MonkeyPatch, signal: str, d: int, circulant: bool, offset: float) -> np.ndarray:
    """Noise-free hidden signals from seed 3 with every component centre moved by ``offset``."""
    draw = signals._draw_centres
    monkeypatch.setattr(signals, "_draw_centres", lambda *a: draw(*a) + offset)
    try:
        return signals.SIGNALS[signal](64, d, np.random.default_rng(3), circulant=circulant)
    finally:
        monkeypatch.setattr(signals, "_draw_centres", draw)


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("circulant", [False, True])
def test_generator_maps_data_to_its_shifted_version(transform: str, circulant: bool) -> None:
    name = f"gaussian-{transform}" + ("-circulant" if circulant else "")
    ds = make_dataset(name, n=50, d=9, seed=1)
    s = shift_matrix(9, circulant)
    shifted = (s @ ds.hidden.T).T @ ds.transform.T
    np.testing.assert_allclose(ds.X @ ds.generator.T, shifted, atol=1e-12)
    np.testing.assert_allclose(ds.X, ds.hidden @ ds.transform.T, atol=1e-12)


@pytest.mark.parametrize("signal", SIGNAL_NAMES)
@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_moving_centres_by_one_pixel_is_what_the_generator_does(
    monkeypatch: pytest.MonkeyPatch, signal: str, transform: str
) -> None:
    """Signals drawn with centres at c + 1 equal G applied to those at c (away from the edge)."""
    d = 11
    u = transform_matrix(transform, d, seed=0)
    x = _hidden(monkeypatch, signal, d, circulant=False, offset=0.0)
    x_moved = _hidden(monkeypatch, signal, d, circulant=False, offset=1.0)
    g = true_generator(u, circulant=False)
    # in the hidden basis G is the shift: equal except at pixel 0, which the shift leaves empty
    diff = ((g @ (x @ u.T).T).T - x_moved @ u.T) @ u
    np.testing.assert_allclose(diff[:, 1:], 0.0, atol=1e-10)
    np.testing.assert_allclose(x_moved[:, 1:], x[:, :-1], atol=1e-10)


@pytest.mark.parametrize("signal", SIGNAL_NAMES)
@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_circulant_shift_is_a_roll(monkeypatch: pytest.MonkeyPatch, signal: str, transform: str) -> None:
    d = 10
    u = transform_matrix(transform, d, seed=2)
    x = _hidden(monkeypatch, signal, d, circulant=True, offset=0.0)
    x_moved = _hidden(monkeypatch, signal, d, circulant=True, offset=1.0)
    np.testing.assert_allclose(x_moved, np.roll(x, 1, axis=1), atol=1e-10)
    g = true_generator(u, circulant=True)
    xt = x @ u.T
    np.testing.assert_allclose(xt @ g.T, np.roll(xt @ u, 1, axis=1) @ u.T, atol=1e-10)


def test_circulant_centres_cover_the_whole_circle() -> None:
    """A one-pixel roll is equally likely only if centres are uniform over a full period."""
    d = 5
    c = signals._draw_centres(np.random.default_rng(0), 40_000, d, True).ravel()
    t = signals.grid(d)
    assert c.min() >= t[0] and c.max() < t[0] + d
    in_last_gap = np.mean(c > t[-1])  # between the last pixel and the wrap to the first
    assert abs(in_last_gap - 1 / d) < 0.01


@pytest.mark.parametrize("name", [n for n in DATASETS if n.endswith("-circulant")])
def test_circulant_generators_are_orthogonal(name: str) -> None:
    g = make_dataset(name, n=2, d=8).generator
    np.testing.assert_allclose(g.T @ g, np.eye(8), atol=1e-12)


@pytest.mark.parametrize("d", [5, 6, 33])
def test_noncyclic_shift_is_a_partial_isometry(d: int) -> None:
    s = shift_matrix(d)
    e = np.zeros(d)
    e[-1] = 1.0
    np.testing.assert_array_equal(s.T @ s, np.eye(d) - np.outer(e, e))
    assert s.sum() == d - 1 and s[1, 0] == 1.0
    x = np.arange(d, dtype=float)
    np.testing.assert_array_equal((s @ x)[1:], x[:-1])


@pytest.mark.parametrize("d", [5, 6, 33, 34])
def test_dst_is_symmetric_orthogonal_and_involutory(d: int) -> None:
    m = dst_matrix(d)
    k = np.arange(1, d + 1)
    np.testing.assert_allclose(m, np.sqrt(2 / (d + 1)) * np.sin(np.pi * np.outer(k, k) / (d + 1)), atol=1e-12)
    np.testing.assert_allclose(m, m.T, atol=1e-12)
    np.testing.assert_allclose(m @ m, np.eye(d), atol=1e-12)


def test_same_seed_same_bytes_and_different_seeds_differ() -> None:
    a = make_dataset("legendre-permuted", n=30, d=9, seed=4)
    b = make_dataset("legendre-permuted", n=30, d=9, seed=4)
    c = make_dataset("legendre-permuted", n=30, d=9, seed=5)
    assert a.X.tobytes() == b.X.tobytes() and a.generator.tobytes() == b.generator.tobytes()
    assert a.X.tobytes() != c.X.tobytes()
    np.testing.assert_array_equal(a.generator, c.generator)  # transform_seed fixes the symmetry
    other = make_dataset("legendre-permuted", n=30, d=9, seed=4, transform_seed=1)
    assert not np.array_equal(a.generator, other.generator)


@pytest.mark.parametrize("d", [5, 6, 33, 34])
@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_works_for_odd_and_even_d(name: str, d: int) -> None:
    ds = make_dataset(name, n=6, d=d, seed=0)
    assert ds.X.shape == (6, d) and ds.generator.shape == (d, d)
    assert np.all(np.isfinite(ds.X))


def test_global_rng_state_is_untouched() -> None:
    np.random.seed(123)
    before = np.random.get_state()
    for name in ("gaussian-permuted", "legendre-orthogonal-circulant", "gaussian-dst"):
        make_dataset(name, n=5, d=7, seed=1)
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_meta_does_not_alias_the_registry() -> None:
    ds = make_dataset("gaussian-shift", n=2, d=5)
    ds.meta["spec"]["signal"] = "changed"
    assert DATASETS["gaussian-shift"].signal == "gaussian"


def test_paper_datasets_are_registered() -> None:
    assert len(PAPER_DATASETS) == 6 and set(PAPER_DATASETS) <= set(DATASETS)


def test_gaussian_component_count_is_binomial_5_half() -> None:
    x = signals.gaussian_signals(4000, 9, np.random.default_rng(0), scale=(0.5, 0.6))
    # a sample with no component is exactly zero: P = 0.5**5
    assert abs(np.mean(np.all(x == 0, axis=1)) - 0.5**5) < 0.015


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(d=4), "d must be"), (dict(n=0), "positive"), (dict(noise=-1.0), "noise")],
)
def test_make_dataset_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_dataset("gaussian-shift", **kwargs)
