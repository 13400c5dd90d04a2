"""The generator-level particle record of one event, as a struct of arrays.

Every array has shape ``(N,)`` for the ``N`` final-state particles of the event
(hard scatter and pileup together). Units: GeV, cm, ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.utils.columns import Columns

__all__ = ["GenParticles", "FLAG_FROM_B", "FLAG_FROM_C", "FLAG_FROM_TAU", "HARD_SCATTER"]

#: ``interaction`` value of the hard-scatter interaction; pileup interactions count from 1.
HARD_SCATTER = 0
#: bit in ``flags``: the particle descends from a b hadron.
FLAG_FROM_B = 1
#: bit in ``flags``: the particle descends from a c hadron.
FLAG_FROM_C = 2
#: bit in ``flags``: the particle descends from a tau lepton.
FLAG_FROM_TAU = 4

_DTYPES = {
    "pid": np.int32,
    "charge": np.int8,
    "px": np.float64,
    "py": np.float64,
    "pz": np.float64,
    "energy": np.float64,
    "mass": np.float64,
    "vx": np.float64,
    "vy": np.float64,
    "vz": np.float64,
    "t": np.float64,
    "interaction": np.int16,
    "flags": np.uint8,
    "tau_index": np.int16,
    "resonance_index": np.int16,
}


@dataclass
class GenParticles(Columns):
    """Final-state generator particles of one event.

    Attributes:
        pid: PDG id, (N,).
        charge: electric charge in units of e, (N,).
        px, py, pz, energy, mass: four-momentum and mass in GeV, (N,).
        vx, vy, vz: production vertex in the lab frame in cm, beam spot included, (N,).
        t: production time in ns, (N,).
        interaction: 0 for the hard scatter, 1..Npu for pileup interactions, (N,).
        flags: bitwise OR of ``FLAG_FROM_B``, ``FLAG_FROM_C``, ``FLAG_FROM_TAU``, (N,).
        tau_index: index of the parent tau in the event's tau list, -1 if none, (N,).
        resonance_index: index in the event's resonance list of the resonance (t, W, Z, H) whose
            decay made the particle (through copies of the particle itself: its radiation leaves
            it the same particle), -1 if none, (N,).
    """

    pid: np.ndarray
    charge: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    mass: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray
    t: np.ndarray
    interaction: np.ndarray
    flags: np.ndarray
    tau_index: np.ndarray
    resonance_index: np.ndarray

    # always a copy: callers may pass one array for several fields, and fields are later
    # modified in place (e.g. the beam-spot shift of vertices)
    _copy = True
    _dtypes = _DTYPES

    def select(self, mask: np.ndarray) -> "GenParticles":
        """Alias of :meth:`take`, kept for ``generate/event.py``."""
        return self.take(mask)

    def to_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in _DTYPES}

    @property
    def pt(self) -> np.ndarray:
        return np.hypot(self.px, self.py)

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.py, self.px)

    @property
    def p(self) -> np.ndarray:
        return np.sqrt(self.px**2 + self.py**2 + self.pz**2)

    @property
    def eta(self) -> np.ndarray:
        """Pseudorapidity of the momentum; +-1e4 for particles exactly along the beam."""
        pt = self.pt
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.arcsinh(np.where(pt > 0, self.pz / np.where(pt > 0, pt, 1.0), 0.0))
        return np.where(pt > 0, eta, np.sign(self.pz) * 1e4)
