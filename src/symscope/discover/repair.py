"""Defect repair: re-order the learned orbit into one consistent chain (a discrete move).

Why this exists. Trained with a fast schedule (thousands of steps instead of the reference's
10⁶), the generator leaves the identity in many places at once and the 1-D chain it builds
often forms *domains*: stretches that shift one way joined to stretches that shift the other
way, or folded back through the padding (e.g. the orbit of ψ visits pixels 17…0 then 18…32).
Each such defect costs little locality (one bad neighbour pair), so gradient descent cannot
remove it: undoing it means re-ordering half the chain. It is the Kibble–Zurek picture of a
fast quench, and the reference avoids it only by annealing very slowly.

The repair reads the chain off the learned representation: the rows of the group convolution C
(orthonormalised by the polar factor Q) are the chain's sites; it finds the open path through
the sites that maximises the summed |Pearson correlation| of consecutive sites — the alignment
term of the loss — by local search (segment reversal, 2-opt, and segment relocation, or-opt),
fixes signs so consecutive sites correlate positively, and rebuilds the generator as the shift
along that path (``chain.set_chain``): G = U S Uᵀ with U = diag(I_p, Q'ᵀ, I_p) and S the cyclic
shift on R^M, whose central crop is Q'ᵀ S_d Q'. Training then continues from there, so the gradient phase polishes
the repaired state and the full loss remains the judge.
"""

from __future__ import annotations

import numpy as np
import torch

from .chain import Chain, read_chain, set_chain


def path_weight(W: np.ndarray, order: list[int]) -> float:
    """Σ W[o_i, o_{i+1}] along an open path."""
    return float(sum(W[a, b] for a, b in zip(order[:-1], order[1:])))


def _best_move(W: np.ndarray, o: list[int]) -> tuple[float, list[int]] | None:
    """The best improving 2-opt or or-opt move from path ``o`` (or None)."""
    d = len(o)
    best, best_order = 1e-9, None
    # 2-opt: reverse o[i..j]
    for i in range(d):
        for j in range(i + 1, d):
            g = 0.0
            if i > 0:
                g += W[o[i - 1], o[j]] - W[o[i - 1], o[i]]
            if j < d - 1:
                g += W[o[i], o[j + 1]] - W[o[j], o[j + 1]]
            if g > best:
                best, best_order = g, o[:i] + o[i : j + 1][::-1] + o[j + 1 :]
    # or-opt: move segment o[i..j] (optionally reversed) to another gap. The gain of every gap k is
    # computed at once from the edges that change (O(1) each), not by re-summing the new path: the
    # old per-candidate re-sum made a move O(d⁴) and a d = 129 repair take hours.
    oa = np.asarray(o)
    for i in range(d):
        for j in range(i, min(d, i + d // 2 + 1)):
            rest = np.concatenate([oa[:i], oa[j + 1 :]])
            if len(rest) == 0:
                continue
            removed = 0.0
            if i > 0:
                removed -= W[o[i - 1], o[i]]
            if j < d - 1:
                removed -= W[o[j], o[j + 1]]
            if i > 0 and j < d - 1:
                removed += W[o[i - 1], o[j + 1]]
            prev, nxt = rest[:-1], rest[1:]  # gaps 1 … L−1 lie between rest[k−1] and rest[k]
            gains = np.empty((len(rest) + 1, 2))
            for col, (first, last) in enumerate(((o[i], o[j]), (o[j], o[i]))):  # segment as is, reversed
                gains[0, col] = W[last, rest[0]]
                gains[-1, col] = W[rest[-1], first]
                gains[1:-1, col] = W[prev, first] + W[last, nxt] - W[prev, nxt]
            gains += removed
            gains[i] = -np.inf  # the segment's own gap
            k, col = divmod(int(np.argmax(gains)), 2)  # first maximum in (gap, orientation) order
            if gains[k, col] > best:
                seg = o[i : j + 1] if col == 0 else o[i : j + 1][::-1]
                r = rest.tolist()
                best, best_order = float(gains[k, col]), r[:k] + seg + r[k:]
    return None if best_order is None else (best, best_order)


def order_chain(W: np.ndarray, max_moves: int = 200) -> list[int]:
    """Local-search maximum-weight open path over the sites, starting from the current order."""
    order = list(range(len(W)))
    for _ in range(max_moves):
        move = _best_move(W, order)
        if move is None:
            break
        order = move[1]
    return order


def repaired_rotation(C: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, list[int], float]:
    """(Q', order, gain): chain-ordered, sign-fixed orthonormal sites and the alignment gain (``chain.read_chain``)."""
    return read_chain(C, X)


@torch.no_grad()
def repair(mods: torch.nn.Module, X: torch.Tensor, min_gain: float = 1e-3) -> dict[str, float]:
    """Apply the repair to ``LensModules`` in place when it raises the alignment by ≥ ``min_gain``."""
    C = mods.group_conv().double().cpu().numpy()
    sites, order, gain = read_chain(C, X.double().cpu().numpy())
    moved = order != sorted(order)
    if moved and gain >= min_gain:
        set_chain(mods, Chain(sites))
        return {"repaired": 1.0, "alignment_gain": gain}
    return {"repaired": 0.0, "alignment_gain": gain}
