"""Density estimators trained jointly with the lens (spec §3): KNIFE-style mixtures.

* ``MarginalMixture``: one K-kernel 1-D Gaussian mixture per output component.
* ``ConditionalMixture``: one masked mixture-density network for all d(d−1) conditionals
  q_{g,j}(y_j | y_g): the input is the value y_g placed in slot g (all else zero), the outputs are
  mixture parameters for every slot j. Since the input is one-hot-times-value, the first layer is
  a column gather ``v·W₁[:, g]`` rather than a matmul (same function, d× cheaper).

All log-densities carry the reference's +1e-7 floor, which bounds the KL terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

_LOG_FLOOR = math.log(1e-7)
_LOG_2PI = math.log(2 * math.pi)


def _floored_log_mixture(u: torch.Tensor, log_w: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log(Σ_k w_k N(u; μ_k, σ_k²) + 1e-7) over the last axis (kernels); u broadcasts."""
    u = u.unsqueeze(-1)
    log_kernel = -0.5 * (_LOG_2PI + log_var + (u - mean) ** 2 * torch.exp(-log_var))
    lse = torch.logsumexp(log_w + log_kernel, dim=-1)
    return torch.logaddexp(lse, torch.full_like(lse, _LOG_FLOOR))


def _shifted_eval(y: torch.Tensor, shift: int, log_density: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Evaluate per-slot densities on y moved by ``shift`` slots, then move the table back.

    ``log_density(u)[:, j']`` is the density of slot j' at u[:, j']; rolling y by ``shift`` feeds
    y_j to slot j+shift. Rolling (rather than slicing the parameter tensors) keeps every tensor
    full-size, which avoids large zero-filled gradient buffers in the backward pass.
    """
    if shift == 0:
        return log_density(y)
    return torch.roll(log_density(torch.roll(y, shift, dims=1)), -shift, dims=1)


class MarginalMixture(nn.Module):
    """Per-component 1-D Gaussian mixtures p_n (d components × K kernels)."""

    def __init__(self, d: int, kernels: int = 4, clip: float = 4.5, generator: torch.Generator | None = None):
        super().__init__()
        self.clip = clip
        self.centre = nn.Parameter((torch.rand(d, kernels, generator=generator) - 0.5) * 0.1)
        self.logit = nn.Parameter(torch.ones(d, kernels))
        self.log_var = nn.Parameter(torch.ones(d, kernels))

    def log_prob(self, y: torch.Tensor, shift: int = 0) -> torch.Tensor:
        """Table (B, d) whose column n holds log p_{n+shift}(y_n).

        Columns with n+shift outside 0…d−1 hold wrapped values and must be ignored.
        """
        log_w = torch.log_softmax(self.logit.clamp(-self.clip, self.clip), dim=-1)
        log_var = self.log_var.clamp(-self.clip, self.clip)
        return _shifted_eval(y, shift, lambda u: _floored_log_mixture(u, log_w, self.centre, log_var))


class _Head(nn.Module):
    """One masked MLP body: value at slot g → hidden (LeakyReLU 0.2) → d·K outputs."""

    def __init__(self, d: int, hidden: int, out: int, generator: torch.Generator | None):
        super().__init__()
        b1, b2 = math.sqrt(6.0 / (d + hidden)), math.sqrt(6.0 / (hidden + out))  # Glorot-uniform
        self.W1 = nn.Parameter((torch.rand(d, hidden, generator=generator) * 2 - 1) * b1)
        self.b1 = nn.Parameter(torch.zeros(hidden))
        self.W2 = nn.Parameter((torch.rand(hidden, out, generator=generator) * 2 - 1) * b2)
        self.b2 = nn.Parameter(torch.zeros(out))

    def forward(self, value: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        hid = torch.nn.functional.leaky_relu(torch.addcmul(self.b1, value[:, None], self.W1[slot]), 0.2)
        return torch.addmm(self.b2, hid, self.W2)


class ConditionalMixture(nn.Module):
    """Masked MDN: q_{g,j}(y_j | y_g) for all g ≠ j with one network (3 heads: w, μ, σ²)."""

    def __init__(self, d: int, kernels: int = 4, hidden: int | None = None, generator: torch.Generator | None = None):
        super().__init__()
        self.d, self.K = d, kernels
        h = hidden or 16 * d
        self.weights, self.means, self.variances = (_Head(d, h, d * kernels, generator) for _ in range(3))

    def slots(self, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The given slot of each of ``batch`` samples (B,): g_b = b mod d, every slot equally often."""
        return torch.arange(batch, device=device) % self.d

    def params(self, value: torch.Tensor, slot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture parameters (B, d, K) for every slot given ``value`` (B,) at ``slot`` (B,)."""
        shape = (-1, self.d, self.K)
        log_w = torch.log_softmax(3.5 * torch.tanh(self.weights(value, slot).view(shape)), dim=-1)
        mean = self.means(value, slot).view(shape)  # linear mean head (spec §8 #8)
        log_var = 3.5 * torch.tanh(self.variances(value, slot).view(shape))
        return log_w, mean, log_var

    def log_prob(self, y: torch.Tensor, slot: torch.Tensor, shift: int = 0) -> torch.Tensor:
        """Table (B, d) whose column j holds log q_{g+s, j+s}(y_j | y_g), g = slot[b], s = shift.

        Rows whose shifted slot g+s and columns whose j+s fall outside 0…d−1 hold meaningless
        (clamped or wrapped) values and must be masked by the caller.
        """
        d = y.shape[1]
        given = y.gather(1, slot[:, None]).squeeze(1)
        log_w, mean, log_var = self.params(given, (slot + shift).clamp(0, d - 1))
        return _shifted_eval(y, shift, lambda u: _floored_log_mixture(u, log_w, mean, log_var))

    def l2_penalty(self) -> torch.Tensor:
        """Σ‖W‖_F over the six weight matrices (un-squared, biases excluded; spec §3.2)."""
        return sum(h.W1.norm() + h.W2.norm() for h in (self.weights, self.means, self.variances))
