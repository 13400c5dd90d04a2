"""One generated event: final-state particles plus the generator records needed downstream."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from colliderflow.generate.particles import GenParticles

__all__ = ["GenEvent", "EventInfo", "HardScatter", "HADRON_FIELDS", "TAU_FIELDS", "PARTON_FIELDS",
           "RESONANCE_FIELDS", "RESONANCE_IDS", "empty_record"]

#: weakly decaying b and c hadrons (for ghost-association jet flavour); ``flavour`` is 5 or 4
HADRON_FIELDS: dict[str, type] = {"pid": np.int32, "px": np.float64, "py": np.float64, "pz": np.float64,
                                  "energy": np.float64, "flavour": np.int8}
#: hadronically decaying taus: visible four-momentum, charge and decay mode
#: (decay_mode = 5 * (n_charged - 1) + n_pi0, as in CMS)
TAU_FIELDS: dict[str, type] = {"px": np.float64, "py": np.float64, "pz": np.float64, "energy": np.float64,
                               "charge": np.int8, "decay_mode": np.int8}
#: outgoing partons of the hard process (for parton flavour)
PARTON_FIELDS: dict[str, type] = {"pid": np.int32, "px": np.float64, "py": np.float64, "pz": np.float64,
                                  "energy": np.float64}
#: |PDG id| of the hard-process resonances the generator record keeps: top, Z, W, Higgs
RESONANCE_IDS = (6, 23, 24, 25)
#: hard-process resonances at their last copy (after recoil, before decay): four-momentum, mass and
#: ``mother``, the index in the same list of the resonance whose decay made it (W of a top), -1 if none
RESONANCE_FIELDS: dict[str, type] = {"pid": np.int32, "px": np.float64, "py": np.float64, "pz": np.float64,
                                     "energy": np.float64, "mass": np.float64, "mother": np.int16}


def empty_record(fields: dict[str, type]) -> dict[str, np.ndarray]:
    return {name: np.zeros(0, dtype=dt) for name, dt in fields.items()}


class HardScatter:
    """One hard-scatter event as a generator gives it (Pythia, a particle gun, a HepMC file), before
    it is placed at a beam-spot vertex and pileup is added (``colliderflow.generate.source``).

    Attributes:
        particles: final-state particles, vertices relative to the interaction point.
        hadrons, taus, partons, resonances: the generator records of :class:`GenEvent` (empty by default).
        weight: the generator weight.
    """

    __slots__ = ("particles", "hadrons", "taus", "partons", "weight", "resonances")

    def __init__(self, particles: GenParticles, hadrons: dict[str, np.ndarray] | None = None,
                 taus: dict[str, np.ndarray] | None = None, partons: dict[str, np.ndarray] | None = None,
                 weight: float = 1.0, resonances: dict[str, np.ndarray] | None = None) -> None:
        self.particles = particles
        self.hadrons = empty_record(HADRON_FIELDS) if hadrons is None else hadrons
        self.taus = empty_record(TAU_FIELDS) if taus is None else taus
        self.partons = empty_record(PARTON_FIELDS) if partons is None else partons
        self.weight = weight
        self.resonances = empty_record(RESONANCE_FIELDS) if resonances is None else resonances


@dataclass
class EventInfo:
    """Per-event information. Vertex in cm, time in ns, sqrt_s in TeV."""

    process: str
    index: int
    seed: int
    sqrt_s: float
    weight: float = 1.0
    n_pu: int = 0
    pv_x: float = 0.0
    pv_y: float = 0.0
    pv_z: float = 0.0
    pv_t: float = 0.0


@dataclass
class GenEvent:
    """A generated event.

    Attributes:
        particles: final-state particles of the hard scatter (interaction 0) and of every
            overlaid pileup interaction (none in a generator-only sample, whose ``info.n_pu``
            still gives the pileup count), vertices in the lab frame.
        hadrons: weakly decaying b/c hadrons of the hard scatter, ``HADRON_FIELDS``, each (H,).
        taus: hadronic taus of the hard scatter, ``TAU_FIELDS``, each (U,).
        partons: outgoing hard-process partons, ``PARTON_FIELDS``, each (P,).
        resonances: hard-process resonances, ``RESONANCE_FIELDS``, each (R,); the particles'
            ``resonance_index`` points into them.
        info: event information.
    """

    particles: GenParticles
    info: EventInfo
    hadrons: dict[str, np.ndarray] = field(default_factory=lambda: empty_record(HADRON_FIELDS))
    taus: dict[str, np.ndarray] = field(default_factory=lambda: empty_record(TAU_FIELDS))
    partons: dict[str, np.ndarray] = field(default_factory=lambda: empty_record(PARTON_FIELDS))
    resonances: dict[str, np.ndarray] = field(default_factory=lambda: empty_record(RESONANCE_FIELDS))

    @property
    def hard(self) -> GenParticles:
        """The hard-scatter final-state particles (the generator truth before neutrino removal)."""
        return self.particles.select(self.particles.interaction == 0)
