"""Hidden signal families of the SymmetryLens paper (spec §5.1–5.2).

Every function is pure: it takes the sample count, the dimension and a private
``numpy.random.Generator`` and returns an ``(n, d)`` float64 array of *untransformed*
signals on the grid ``t_i = i - (d - 1) / 2``. Nothing touches global RNG state.

The signals are sums of localised components. Each family has ``lots`` slots per sample,
each switched on with probability ``p_exist / n_families`` (one family: Binomial(5, 0.5)
components). Centres are drawn from ``[-d, d]`` (wider than the window, so components are
often partly outside it) or, in the circulant variant, inside the window with a signed
wrapped distance so that translations wrap around.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: A component shape: (signed distance ``t - c`` of shape (n, d), params (n, 1) each) -> values.
Shape = Callable[..., np.ndarray]


def grid(d: int) -> np.ndarray:
    """The sample grid ``t_i = i - (d - 1)/2`` (centred, unit spacing)."""
    return np.arange(d, dtype=np.float64) - (d - 1) / 2.0


def _offsets(d: int, centres: np.ndarray, circulant: bool) -> np.ndarray:
    """Signed distance ``t - c`` per sample and pixel; wrapped to [-d/2, d/2) if circulant."""
    delta = grid(d)[None, :] - centres
    if circulant:
        delta = (delta + d / 2.0) % d - d / 2.0
    return delta


def _draw_centres(rng: np.random.Generator, n: int, d: int, circulant: bool) -> np.ndarray:
    """Centres ~ U[-d, d], or uniform over one full period [t_0, t_0 + d) of the circle.

    The circulant range covers the whole circle (length d, not d - 1 as in the reference
    code), so a one-pixel cyclic shift of a sample is exactly as likely as the sample.
    """
    t0 = grid(d)[0]
    lo, hi = (t0, t0 + d) if circulant else (-float(d), float(d))
    return rng.uniform(lo, hi, size=(n, 1))


def gaussian_bump(delta: np.ndarray, scale: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Normalised Gaussian ``A / (sqrt(2π) σ) · exp(-(t-c)² / 2σ²)`` (paper eq. 24)."""
    return amplitude / (np.sqrt(2 * np.pi) * scale) * np.exp(-0.5 * (delta / scale) ** 2)


def associated_legendre(l: int, m: int, z: np.ndarray) -> np.ndarray:
    """Explicit ``P̃_l^m(z)`` without the ``(-1)^m 2^l`` prefactor (spec §5.2).

    Equals ``-2^{-l} · scipy.special.lpmv(1, l, z)`` for m = 1.
    """
    from scipy.special import binom, factorial

    total = np.zeros_like(z)
    for k in range(m, l + 1):
        coeff = factorial(k) / factorial(k - m) * binom(l, k) * binom((l + k - 1) / 2.0, l)
        total = total + coeff * z ** (k - m)
    return (1.0 - z**2) ** (m / 2.0) * total


def legendre_wavelet(delta: np.ndarray, length: np.ndarray, amplitude: np.ndarray, *, l: int, m: int = 1) -> np.ndarray:
    """Localised Legendre wavelet ``A · P̃_l^m(sin(π u / 2))``, ``u = clip(2(t-c)/L, -1, 1)`` (eq. 25)."""
    u = np.clip(delta / (length / 2.0), -1.0, 1.0)
    return amplitude * associated_legendre(l, m, np.sin(0.5 * np.pi * u))


def _sum_of_components(
    rng: np.random.Generator,
    n: int,
    d: int,
    families: list[tuple[Shape, tuple[float, float]]],
    *,
    amplitude: tuple[float, float],
    lots: int,
    p_exist: float,
    circulant: bool,
) -> np.ndarray:
    x = np.zeros((n, d))
    p = p_exist / len(families)
    for shape, scale_range in families:
        for _ in range(lots):
            on = rng.random((n, 1)) < p
            centres = _draw_centres(rng, n, d, circulant)
            scale = rng.uniform(*scale_range, size=(n, 1))
            amp = rng.uniform(*amplitude, size=(n, 1))
            x += np.where(on, shape(_offsets(d, centres, circulant), scale, amp), 0.0)
    return x


def gaussian_signals(
    n: int,
    d: int,
    rng: np.random.Generator,
    *,
    scale: tuple[float, float] = (0.5, 2.5),
    amplitude: tuple[float, float] = (0.5, 1.5),
    lots: int = 5,
    p_exist: float = 0.5,
    circulant: bool = False,
) -> np.ndarray:
    """Sums of Binomial(lots, p_exist) Gaussian bumps, σ ~ U[scale], A ~ U[amplitude]."""
    return _sum_of_components(
        rng, n, d, [(gaussian_bump, scale)],
        amplitude=amplitude, lots=lots, p_exist=p_exist, circulant=circulant,
    )


def legendre_signals(
    n: int,
    d: int,
    rng: np.random.Generator,
    *,
    length: tuple[float, float] = (6.0, 15.0),
    amplitude: tuple[float, float] = (0.5, 1.5),
    degrees: tuple[int, ...] = (2, 3),
    order: int = 1,
    lots: int = 5,
    p_exist: float = 0.5,
    circulant: bool = False,
) -> np.ndarray:
    """Sums of Legendre wavelets (l ∈ degrees, m = order), two families of ``lots`` slots each."""

    def family(l: int) -> Shape:
        return lambda delta, s, a: legendre_wavelet(delta, s, a, l=l, m=order)

    return _sum_of_components(
        rng, n, d, [(family(l), length) for l in degrees],
        amplitude=amplitude, lots=lots, p_exist=p_exist, circulant=circulant,
    )


def normalise_and_noise(x: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Global std normalisation (no demeaning, as in the paper) then relative Gaussian noise."""
    x = x / (x.std() + 1e-6)
    if noise > 0:
        x = x + noise * x.std() * rng.standard_normal(x.shape)
    return x


SIGNALS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": gaussian_signals,
    "legendre": legendre_signals,
}
