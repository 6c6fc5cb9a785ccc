"""Truth-free floor check of a fitted lens: did the fit learn anything, or did it fail?

Without a true generator nothing proves a learned G is the minimal one, but two failures can be
seen from the fit alone, and a fit showing either must not be reported as a result:

* **identity collapse**: G is (close to) the identity, i.e. the fit never left its start. Measured
  by the Frobenius cosine tr(G)/(‖G‖_F √d) to I; a (cropped) shift along any chain has trace 0
  and cosine 0 in every orthonormal basis, G = I has cosine 1.
* **degenerate chain**: the group convolution C (rows ψᵀGᵏ, k = −(d−1)/2 … (d−1)/2) has fewer
  than d singular values above ``rank_rtol`` of the largest: the orbit of ψ revisits directions
  or leaves the d-window (e.g. a power of the minimal generator, or ψ ≈ 0). For a good fit C is
  close to orthogonal (all singular values near 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._validation import SymscopeInputError, check_square_matrix
from .recovery import frobenius_cosine

#: Verdicts of ``generator_health``, best first.
VERDICTS = ("ok", "degenerate chain", "identity collapse")


@dataclass(frozen=True)
class HealthReport:
    """Truth-free health of a learned generator (and, when given, its group convolution).

    ``identity_cosine`` is cos_F(G, I); ``conv_rank`` the number of singular values of C above
    ``rank_rtol``·max (None without C) and ``conv_condition`` max/min singular value;
    ``near_identity`` / ``degenerate`` the two failure flags; ``verdict`` one of ``VERDICTS``;
    ``failed`` whether the verdict is a failure; ``message`` one sentence for the user.
    """

    dim: int
    identity_cosine: float
    conv_rank: int | None
    conv_condition: float | None
    near_identity: bool
    degenerate: bool
    failed: bool
    verdict: str
    message: str
    identity_threshold: float
    rank_rtol: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every field (an infinite condition number becomes None)."""
        out = asdict(self)
        if out["conv_condition"] is not None and not np.isfinite(out["conv_condition"]):
            out["conv_condition"] = None
        return out


def generator_health(generator: np.ndarray, group_conv: np.ndarray | None = None, *,
                     identity_threshold: float = 0.5, rank_rtol: float = 0.1) -> HealthReport:
    """Flag an identity collapse (cos_F(G, I) ≥ ``identity_threshold``) or a degenerate chain.

    Args:
        generator: learned generator G (d, d), e.g. ``lens.generator_``.
        group_conv: its group convolution C (d, d), e.g. ``lens.group_conv_``; without it only
            the identity check is made.
        identity_threshold: cosine to I from which G counts as (close to) the identity.
        rank_rtol: relative singular-value cut-off of C's numerical rank.
    """
    g = check_square_matrix(generator, "generator")
    d = len(g)
    if not 0 < identity_threshold <= 1:
        raise SymscopeInputError(f"identity_threshold must be in (0, 1], got {identity_threshold}")
    if not 0 < rank_rtol < 1:
        raise SymscopeInputError(f"rank_rtol must be in (0, 1), got {rank_rtol}")
    identity = frobenius_cosine(g, np.eye(d))
    rank = condition = None
    if group_conv is not None:
        c = check_square_matrix(group_conv, "group convolution")
        if c.shape != g.shape:
            raise SymscopeInputError(f"group convolution is {c.shape[0]}x{c.shape[1]} but the generator is {d}x{d}")
        s = np.linalg.svd(c, compute_uv=False)
        rank = int(np.sum(s > rank_rtol * s[0])) if s[0] > 0 else 0
        condition = float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
    near_identity = bool(identity >= identity_threshold)
    degenerate = rank is not None and rank < d
    conv = f", group convolution rank {rank} of {d}" if rank is not None else ""
    if near_identity:
        verdict = "identity collapse"
        message = (f"FAILED FIT: the generator is close to the identity (cosine to I = {identity:.3f}{conv}); "
                   "no symmetry was learned: train longer (more steps) or check the data")
    elif degenerate:
        verdict = "degenerate chain"
        message = (f"FAILED FIT: the chain is degenerate (group convolution rank {rank} of {d}: the orbit of the "
                   "filter repeats or leaves the window, e.g. a power of the minimal generator); "
                   "do not use this generator as the symmetry")
    else:
        verdict = "ok"
        message = (f"no sign of a failed fit (cosine to I = {identity:.3f}{conv}); without a truth this does "
                   "not prove that the generator is the minimal one")
    return HealthReport(dim=d, identity_cosine=identity, conv_rank=rank, conv_condition=condition,
                        near_identity=near_identity, degenerate=bool(degenerate), failed=verdict != "ok",
                        verdict=verdict, message=message, identity_threshold=float(identity_threshold),
                        rank_rtol=float(rank_rtol))
