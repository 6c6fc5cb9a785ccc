"""The learned chain as a value: ordered orthonormal sites, open or closed into a ring.

A fitted lens *is* a chain once it has been repaired or refined: its generator is the shift
along the sites (G = U S Uᵀ, ``_linalg.shift_along``) and ψ the central site, so the rows of
its group convolution are the sites. ``Chain`` is that value; ``Chain.from_group_conv`` reads it
off any group convolution C (d, d): the rows of C, orthonormalised by the polar factor, put in
the order that maximises the summed |correlation| of consecutive sites on the samples
(``repair.order_chain``), with signs fixed so that consecutive sites correlate positively.
``set_chain`` is the only function that writes a chain into the torch modules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._linalg import polar, shift_along
from .._validation import SymscopeInputError


@dataclass(frozen=True, eq=False)
class Chain:
    """Orthonormal ``sites`` (d, d), one per row in chain order; ``ring`` closes the chain (last → first)."""

    sites: np.ndarray
    ring: bool = False

    def __post_init__(self) -> None:
        sites = np.asarray(self.sites, dtype=np.float64)
        if sites.ndim != 2 or sites.shape[0] != sites.shape[1]:
            raise SymscopeInputError(f"chain sites must be a square (d, d) array, got shape {sites.shape}")
        object.__setattr__(self, "sites", sites)
        object.__setattr__(self, "ring", bool(self.ring))

    @classmethod
    def from_group_conv(cls, C: np.ndarray, X: np.ndarray) -> Chain:
        """The open chain read off a group convolution C (d, d) on standardised samples X (n, d)."""
        return cls(read_chain(C, X)[0])

    @property
    def d(self) -> int:
        return len(self.sites)

    @property
    def centre(self) -> np.ndarray:
        """The central site (d,), row ⌊(d−1)/2⌋: the filter ψ of a lens holding this chain."""
        return self.sites[(self.d - 1) // 2]

    def to_generator(self, padding: int) -> np.ndarray:
        """The orthogonal (d + 2·padding)² generator of a lens holding this chain (``_linalg.shift_along``)."""
        return shift_along(self.sites, padding, self.ring)

    def generator(self) -> np.ndarray:
        """The d × d shift along the sites (open: a partial isometry; ring: orthogonal)."""
        return shift_along(self.sites, ring=self.ring)

    def similarity(self, other: Chain) -> float:
        """Frobenius cosine between the open shifts along two chains (1: the same chain)."""
        ga, gb = shift_along(self.sites), shift_along(other.sites)
        return float((ga * gb).sum() / (np.linalg.norm(ga) * np.linalg.norm(gb)))

    def symmetry_similarity(self, other: Chain) -> float:
        """``similarity`` up to direction: a chain and its reverse generate the same group (G and G⁻¹)."""
        return max(self.similarity(other), self.similarity(Chain(other.sites[::-1], other.ring)))

    def closed(self, ring: bool = True) -> Chain:
        """The same sites, closed into a ring (or opened with ``ring=False``)."""
        return Chain(self.sites, ring)


def read_chain(C: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, list[int], float]:
    """(sites, order, gain): chain-ordered, sign-fixed orthonormal sites of a group convolution C (d, d)
    on standardised samples X (n, d), the order found, and the mean alignment gain per link."""
    from .repair import order_chain, path_weight

    Q = polar(C)
    R = np.nan_to_num(np.corrcoef(X @ Q.T, rowvar=False))
    W = np.abs(R)
    order = order_chain(W)
    gain = (path_weight(W, order) - path_weight(W, list(range(len(W))))) / (len(W) - 1)
    signs = np.ones(len(order))
    for i in range(1, len(order)):
        signs[i] = signs[i - 1] * (1.0 if R[order[i - 1], order[i]] >= 0 else -1.0)
    return Q[order] * signs[:, None], order, gain


@torch.no_grad()
def set_chain(mods: torch.nn.Module, chain: Chain) -> None:
    """Make ``LensModules`` hold ``chain``: G = the shift along its sites (base point; A = 0), ψ = its
    central site, so the rows of the group convolution are the sites."""
    gen = mods.generator
    gen.base.copy_(torch.as_tensor(chain.to_generator(mods.padding), dtype=gen.base.dtype))
    gen.P.zero_()
    mods.filter.psi.copy_(torch.as_tensor(chain.centre, dtype=mods.filter.psi.dtype))
