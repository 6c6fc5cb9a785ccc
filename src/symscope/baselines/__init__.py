"""Peer baselines for hidden-symmetry discovery, scored with the same metrics as SymmetryLens.

- ``fiedler``: second-order baseline (order the coordinates by the Fiedler vector of the
  correlation graph; shift along that order). Undoes permutations only.
- ``symmetrygan``: SymmetryGAN (Desai, Nachman & Thaler 2022), an orthogonal candidate
  generator trained against a discriminator of ``x`` versus ``Gx`` (spec §6.3).
"""

from .fiedler import correlation_graph, fiedler_generator, fiedler_order, shift_along
from .symmetrygan import GANResult, PARAMETRIZATIONS, power_scan_cosine, symmetry_gan

__all__ = [
    "correlation_graph",
    "fiedler_order",
    "fiedler_generator",
    "shift_along",
    "symmetry_gan",
    "GANResult",
    "PARAMETRIZATIONS",
    "power_scan_cosine",
]
