"""Networks of FlashSim: multiplicity (efficiency + duplicate) classifiers and flow-matching vector fields.

* :class:`MultiplicityNet` outputs M logits; logit k models P(n > k | n >= k) for a source
  object, so head 0 is the reconstruction efficiency, head 1 the duplicate probability given
  one object, and so on (a chain of binary classifiers trained with binary cross-entropy, as
  FlashSim's efficiency and duplicate models).
* :class:`VectorField` is v(x_t, t | c) of conditional flow matching (Lipman et al.
  arXiv:2210.02747, Tong et al. arXiv:2302.00482) with the optimal-transport path
  x_t = (1 - (1 - sigma_min) t) x_0 + t x_1, target velocity u = x_1 - (1 - sigma_min) x_0,
  x_0 ~ N(0, 1). Sampling integrates dx/dt = v from t = 0 to 1 (:mod:`colliderflow.flashsim.ode`).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

__all__ = ["MLP", "MultiplicityNet", "VectorField", "multiplicity_loss", "cfm_loss", "SIGMA_MIN"]

SIGMA_MIN = 1e-4


class MLP(nn.Module):
    """in_dim -> [hidden, SiLU] x layers -> out_dim."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, layers: int = 3):
        super().__init__()
        mods: list[nn.Module] = []
        d = in_dim
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.SiLU()]
            d = hidden
        mods.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the same operations as self.net(x), without a module call per layer: sampling evaluates
        # small networks tens of thousands of times per batch, where that call is a visible cost
        for layer in self.net:
            x = nn.functional.linear(x, layer.weight, layer.bias) if isinstance(layer, nn.Linear) else \
                nn.functional.silu(x)
        return x


class _Standardise(nn.Module):
    # buffers (register_buffer), declared for the type checker
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def set(self, mean, std) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MultiplicityNet(nn.Module):
    """Conditioning (B, C) -> logits (B, M) of P(n > k | n >= k), k = 0..M-1."""

    def __init__(self, cond_dim: int, max_multiplicity: int, hidden: int = 64, layers: int = 3):
        super().__init__()
        self.norm = _Standardise(cond_dim)
        self.mlp = MLP(cond_dim, max_multiplicity, hidden, layers)
        self.max_multiplicity = max_multiplicity

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.norm(cond))

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generator: torch.Generator | None = None,
               chunks: Sequence[slice] | None = None) -> torch.Tensor:
        """Multiplicities (B,) int64: one Bernoulli draw per head while the chain survives.

        ``chunks``: row slices covering the batch, evaluated one at a time (to stay in the CPU
        cache); the draws are the same.
        """
        p = torch.sigmoid(self(cond) if chunks is None else torch.cat([self(cond[s]) for s in chunks]))
        u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
        passed = torch.cumprod((u < p).to(torch.int64), dim=1)
        return passed.sum(dim=1)


def multiplicity_loss(logits: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Masked BCE of the chain: head k sees sources with n >= k and has label n > k."""
    k = torch.arange(logits.shape[1], device=logits.device)
    label = (count[:, None] > k[None, :]).to(logits.dtype)
    mask = (count[:, None] >= k[None, :]).to(logits.dtype)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, label, reduction="none")
    return (bce * mask).sum() / mask.sum().clamp_min(1.0)


class VectorField(nn.Module):
    """v(x (B, D), t (B,), cond (B, C)) -> (B, D); conditioning standardised inside."""

    freq: torch.Tensor  # buffer (register_buffer), declared for the type checker

    def __init__(self, dim: int, cond_dim: int, hidden: int = 128, layers: int = 3, n_freq: int = 4):
        super().__init__()
        self.norm = _Standardise(cond_dim)
        self.register_buffer("freq", math.pi * 2.0 ** torch.arange(n_freq, dtype=torch.float32))
        self.mlp = MLP(dim + cond_dim + 1 + 2 * n_freq, dim, hidden, layers)
        self.dim = dim

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self._field(x, t, self.norm(cond))

    def _field(self, x: torch.Tensor, t: torch.Tensor, cond_std: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, 1).to(x.dtype).expand(x.shape[0], 1)
        ft = t * self.freq[None, :]
        return self.mlp(torch.cat([x, cond_std, t, torch.sin(ft), torch.cos(ft)], dim=1))

    def at(self, cond: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The field for fixed conditioning cond (B, C) as f(x (B, D), t 0-d) -> (B, D), the form
        :func:`colliderflow.flashsim.ode.integrate` takes (inference only: no gradients).

        The first layer is linear in its input [x, c, time features], so its conditioning part
        (and the bias) is computed once here, and the time part once per step for the whole
        batch (t is a scalar); each evaluation then multiplies only x (B, D) into the first layer.
        Mathematically :meth:`forward`; the float sums differ at the level of rounding.
        """
        layers = list(self.mlp.net)
        first: nn.Linear = layers[0]  # type: ignore[assignment]
        d, c = self.dim, cond.shape[1]
        w = first.weight
        w_x, w_c, w_t = w[:, :d], w[:, d:d + c], w[:, d + c:]
        h_c = nn.functional.linear(self.norm(cond), w_c, first.bias)  # (B, H)
        rest = layers[1:]

        def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            t1 = t.reshape(1).to(x.dtype)
            ft = t1 * self.freq
            h_t = w_t @ torch.cat([t1, torch.sin(ft), torch.cos(ft)])  # (H,), the same for every row
            h = torch.addmm(h_c + h_t, x, w_x.t())
            for layer in rest:
                h = nn.functional.linear(h, layer.weight, layer.bias) if isinstance(layer, nn.Linear) else \
                    nn.functional.silu(h, inplace=True)
            return h

        return field


def cfm_loss(field: VectorField, x1: torch.Tensor, cond: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Conditional flow-matching loss || v(x_t, t | c) - u_t ||^2 on a batch of targets x1 (B, D)."""
    x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    t = torch.rand((x1.shape[0], 1), generator=generator, device=x1.device, dtype=x1.dtype)
    xt = (1.0 - (1.0 - SIGMA_MIN) * t) * x0 + t * x1
    u = x1 - (1.0 - SIGMA_MIN) * x0
    return ((field(xt, t, cond) - u) ** 2).mean()
