"""Single-particle guns for calibration and resolution studies (no Pythia needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from particle import Particle

from colliderflow.generate.particles import GenParticles
from colliderflow.utils.config import RangeChecked, bounded, positive

__all__ = ["GunConfig", "shoot", "GUN_PARTICLES"]

#: particle names accepted by the gun, with their PDG ids
GUN_PARTICLES = {"e": 11, "gamma": 22, "mu": 13, "pi": 211, "k0l": 130, "n": 2112}


@dataclass(frozen=True)
class GunConfig(RangeChecked):
    """A particle gun.

    Attributes:
        particle: one of ``GUN_PARTICLES`` (e, gamma, mu, pi, k0l, n).
        pt_min, pt_max: transverse momentum range in GeV, sampled log-uniformly.
        eta_min, eta_max: pseudorapidity range, sampled uniformly.
        n_per_event: particles per event (each with a random charge sign where it applies).
    """

    particle: str = "pi"
    pt_min: float = positive(1.0)
    pt_max: float = bounded(200.0, ge="pt_min")
    eta_min: float = bounded(-2.5, ge=-10, le=10)
    eta_max: float = bounded(2.5, ge="eta_min", le=10)
    n_per_event: int = positive(1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.particle not in GUN_PARTICLES:
            raise ValueError(f"gun particle {self.particle!r} unknown; choose one of {sorted(GUN_PARTICLES)}")


def shoot(config: GunConfig, rng: np.random.Generator) -> GenParticles:
    """Particles of one gun event, produced at the origin (the beam spot is added by the caller)."""
    n = config.n_per_event
    base = GUN_PARTICLES[config.particle]
    info = Particle.from_pdgid(base)
    mass = (info.mass or 0.0) / 1000.0
    charged = info.charge != 0
    sign = rng.choice([-1, 1], size=n) if charged else np.ones(n, dtype=int)
    pid = base * sign if charged else np.full(n, base)
    # ignore: the charge is a Fraction (None only for user-defined particles, never the gun's), and
    # the Python 3.10 stubs give Fraction no __int__ (int() goes through __trunc__ there)
    charge = (np.int8(info.charge) * sign).astype(np.int8) if charged else np.zeros(n, np.int8)  # type: ignore[arg-type]
    log_pt = rng.uniform(np.log(config.pt_min), np.log(config.pt_max), n)
    pt = np.exp(log_pt)
    eta = rng.uniform(config.eta_min, config.eta_max, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    zeros = np.zeros(n)
    return GenParticles(
        pid=pid, charge=charge, px=px, py=py, pz=pz, energy=energy, mass=np.full(n, mass),
        vx=zeros, vy=zeros, vz=zeros, t=zeros, interaction=zeros, flags=zeros, tau_index=np.full(n, -1),
        resonance_index=np.full(n, -1),
    )
