"""ODE solvers for flow-matching sampling: dx/dt = v(x, t), t from 0 to 1.

Fixed-step Euler (1 evaluation per step), midpoint (2) and classical Runge-Kutta 4 (4) run in
torch on the whole batch; the adaptive reference is SciPy's DOP853 (explicit Runge-Kutta of
order 8 with step-size control) at tight tolerances, used to measure the integration error of
the fixed-step solvers (bench/bench_flashsim.py).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = ["SOLVERS", "integrate", "integrate_adaptive", "evaluations"]

SOLVERS = ("euler", "midpoint", "rk4", "adaptive")
_EVALS = {"euler": 1, "midpoint": 2, "rk4": 4}

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def evaluations(method: str, steps: int) -> int:
    """Network evaluations of a fixed-step solve."""
    return _EVALS[method] * steps


@torch.no_grad()
def integrate(f: Field, x0: torch.Tensor, method: str = "midpoint", steps: int = 10) -> torch.Tensor:
    """x(1) from x(0) = x0 (B, D) with a fixed-step solver; f(x, t) with t a 0-d tensor."""
    if method == "adaptive":
        return integrate_adaptive(f, x0)
    if method not in _EVALS:
        raise ValueError(f"unknown ODE solver {method!r}; choose one of {SOLVERS}")
    if steps < 1:
        raise ValueError(f"ODE steps must be >= 1, got {steps}")
    h = 1.0 / steps
    x = x0
    for i in range(steps):
        t = torch.tensor(i * h, dtype=x.dtype, device=x.device)
        if method == "euler":
            x = x + h * f(x, t)
        elif method == "midpoint":
            x = x + h * f(x + 0.5 * h * f(x, t), t + 0.5 * h)
        else:
            k1 = f(x, t)
            k2 = f(x + 0.5 * h * k1, t + 0.5 * h)
            k3 = f(x + 0.5 * h * k2, t + 0.5 * h)
            k4 = f(x + h * k3, t + h)
            x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@torch.no_grad()
def integrate_adaptive(f: Field, x0: torch.Tensor, rtol: float = 1e-7, atol: float = 1e-8) -> torch.Tensor:
    """Reference solution with SciPy's adaptive DOP853 on the flattened batch (float64)."""
    from scipy.integrate import solve_ivp

    shape, dtype, device = x0.shape, x0.dtype, x0.device

    def rhs(t, y):
        x = torch.as_tensor(y.reshape(shape), dtype=dtype, device=device)
        return f(x, torch.tensor(t, dtype=dtype, device=device)).detach().cpu().double().numpy().ravel()

    sol = solve_ivp(rhs, (0.0, 1.0), x0.detach().cpu().double().numpy().ravel(), method="DOP853",
                    rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"adaptive ODE solve failed: {sol.message}")
    return torch.as_tensor(np.asarray(sol.y[:, -1]).reshape(shape), dtype=dtype, device=device)
