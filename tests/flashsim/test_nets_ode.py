"""ODE solver orders, the multiplicity chain, and a flow-matching model that must learn a conditional density."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from colliderflow.flashsim.nets import MultiplicityNet, VectorField, cfm_loss, multiplicity_loss
from colliderflow.flashsim.ode import evaluations, integrate


def _linear(x, t):
    return -1.3 * x + torch.sin(3 * t) * 0.0 + 0.5 * t * x


def _exact(x0):
    # dx/dt = (-1.3 + 0.5 t) x  ->  x(1) = x0 exp(-1.3 + 0.25)
    return x0 * math.exp(-1.3 + 0.25)


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_solvers_converge_at_their_order(method, order):
    x0 = torch.ones(4, 2, dtype=torch.float64)
    errs = [float((integrate(_linear, x0, method, n) - _exact(x0)).abs().max()) for n in (8, 16)]
    assert errs[0] / errs[1] == pytest.approx(2**order, rel=0.25)


def test_adaptive_reference_is_accurate():
    x0 = torch.full((3, 2), 2.0, dtype=torch.float64)
    assert torch.allclose(integrate(_linear, x0, "adaptive"), _exact(x0), rtol=1e-7)
    assert evaluations("rk4", 5) == 20
    with pytest.raises(ValueError, match="unknown ODE solver"):
        integrate(_linear, x0, "leapfrog", 3)


def test_multiplicity_chain_sampling_and_loss():
    net = MultiplicityNet(1, 2)
    with torch.no_grad():
        for p in net.mlp.parameters():
            p.zero_()
        net.mlp.net[-1].bias.copy_(torch.tensor([math.log(0.8 / 0.2), math.log(0.25 / 0.75)]))
    gen = torch.Generator().manual_seed(0)
    n = net.sample(torch.zeros(200_000, 1), gen).numpy()
    frac = np.bincount(n, minlength=3) / len(n)
    assert frac == pytest.approx([0.2, 0.8 * 0.75, 0.8 * 0.25], abs=0.005)
    # head 1 must not be trained on sources with zero objects
    logits = torch.tensor([[0.0, 50.0]])
    assert float(multiplicity_loss(logits, torch.tensor([0]))) == pytest.approx(math.log(2), rel=1e-5)


def test_flow_matching_learns_a_conditional_density():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    n = 4000
    c = torch.randint(0, 2, (n, 1), generator=gen).float() * 2 - 1
    x = 2.0 * c + 0.5 * torch.randn(n, 1, generator=gen)
    vf = VectorField(1, 1, hidden=64, layers=2)
    opt = torch.optim.Adam(vf.parameters(), lr=3e-3)
    for _ in range(600):
        idx = torch.randint(0, n, (256,), generator=gen)
        loss = cfm_loss(vf, x[idx], c[idx], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    vf.eval()
    for cv in (-1.0, 1.0):
        cond = torch.full((3000, 1), cv)
        x1 = integrate(lambda z, t: vf(z, t.expand(z.shape[0]), cond), torch.randn(3000, 1, generator=gen), "rk4", 20)
        assert float(x1.mean()) == pytest.approx(2 * cv, abs=0.15)
        assert float(x1.std()) == pytest.approx(0.5, abs=0.12)
