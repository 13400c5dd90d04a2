"""Build the MLPF target and the generator truth of one event (section 5.1 of the MLPF paper).

Target: every generator particle (hard scatter or pileup) that leaves a signal, directly or
through its descendants (brem photons, conversion legs, nuclear-interaction secondaries), is
assigned to exactly one primary element: a charged particle to its track, any other to the
cluster that got most of its energy. Several particles on one element are merged (summed
four-momenta) and take the class of the particle with the largest deposit there. Each target
particle carries its energy-weighted pileup fraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.generate.particles import GenParticles
from colliderflow.schema.classes import CHARGED_HADRON, ELECTRON, HF_EM, HF_HAD, MUON, NEUTRAL_HADRON, NONE, PHOTON
from colliderflow.schema.elements import ELEMENT_HFEM, ELEMENT_HFHAD
from colliderflow.simulate.simevent import SimEvent

__all__ = ["Target", "build_target", "class_of_pid", "truth_mask", "NEUTRINOS"]

NEUTRINOS = (12, 14, 16)


def class_of_pid(pid: np.ndarray, charge: np.ndarray, has_track: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Target class of particles from their PDG id.

    Args:
        pid, charge: (N,) PDG id and charge.
        has_track: (N,) whether the particle is reconstructed as a track (its primary element).
        forward: (N,) whether the primary element is an HF cluster.

    Returns:
        (N,) int8 class codes. Charged particles without a track become neutral: a charged
        hadron (or a muon) becomes a neutral hadron, an electron a photon.
    """
    a = np.abs(pid)
    em = (a == 11) | (a == 22)
    cls = np.where(em, PHOTON, NEUTRAL_HADRON)
    tracked = has_track & (charge != 0)
    cls = np.where(tracked, np.select([a == 11, a == 13], [ELECTRON, MUON], CHARGED_HADRON), cls)
    cls = np.where(forward & ~tracked, np.where(em, HF_EM, HF_HAD), cls)
    return cls.astype(np.int8)


@dataclass
class Target:
    """The target, aligned with the elements, and the particle-to-element assignment.

    Attributes:
        cls: (E,) int8 target class on each element (0 = no target particle).
        charge: (E,) int8.
        pt, eta, phi, energy: (E,) float32 summed four-momentum of the particles on the element
            (GeV, rad); zero where ``cls == 0``.
        pu_frac: (E,) float32 energy-weighted fraction of the target energy from pileup.
        particle_element: (N,) int64 primary element of each generator particle, -1 if the
            particle is not reconstructable.
    """

    cls: np.ndarray
    charge: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    pu_frac: np.ndarray
    particle_element: np.ndarray


def truth_mask(particles: GenParticles) -> np.ndarray:
    """The generator truth: hard-scatter final-state particles, neutrinos excluded. (N,) bool."""
    return (particles.interaction == 0) & ~np.isin(np.abs(particles.pid), NEUTRINOS)


def build_target(particles: GenParticles, sim: SimEvent) -> Target:
    """Assign reconstructable particles to primary elements and merge them per element."""
    n_part = len(particles)
    n_elem = sim.n_elements
    element_of = np.full(n_part, -1, dtype=np.int64)
    deposit = np.zeros(n_part)

    # charged particles with a reconstructed track: the track is the primary element (tracks of
    # photon-conversion legs carry the photon's index; a photon is neutral and goes to a cluster)
    tp = sim.track_particle
    trk = np.flatnonzero((tp >= 0) & (particles.charge[np.maximum(tp, 0)] != 0))
    element_of[sim.track_particle[trk]] = trk
    deposit[sim.track_particle[trk]] = np.inf
    has_track = element_of >= 0

    # everything else: the cluster holding most of the particle's (and its descendants') energy
    keep = (sim.link_energy > 0) & ~has_track[sim.link_particle]
    lp, le, lv = sim.link_particle[keep], sim.link_element[keep], sim.link_energy[keep]
    if len(lp):
        best_e = np.zeros(n_part)
        np.maximum.at(best_e, lp, lv)
        hit = np.flatnonzero(lv == best_e[lp])
        first = hit[np.unique(lp[hit], return_index=True)[1]]  # ties: the first link listed
        element_of[lp[first]] = le[first]
        deposit[lp[first]] = lv[first]

    assigned = np.flatnonzero(element_of >= 0)
    elem = element_of[assigned]
    e = particles.energy[assigned]
    types = sim.elements["type"]
    forward = np.isin(types[elem], (ELEMENT_HFEM, ELEMENT_HFHAD))
    pclass = class_of_pid(particles.pid[assigned], particles.charge[assigned], has_track[assigned], forward)

    def summed(values: np.ndarray) -> np.ndarray:
        return np.bincount(elem, weights=values, minlength=n_elem)

    px, py, pz = summed(particles.px[assigned]), summed(particles.py[assigned]), summed(particles.pz[assigned])
    energy = summed(e)
    pu_energy = summed(e * (particles.interaction[assigned] > 0))

    cls = np.full(n_elem, NONE, dtype=np.int8)
    charge = np.zeros(n_elem, dtype=np.int8)
    if len(assigned):
        # class (and charge) of the largest contributor on each element
        order = np.lexsort((-deposit[assigned], elem))
        first = np.unique(elem[order], return_index=True)[1]
        lead = order[first]
        cls[elem[lead]] = pclass[lead]
        charge[elem[lead]] = np.where(has_track[assigned[lead]], particles.charge[assigned[lead]], 0)

    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), 0.0)
        pu_frac = np.where(energy > 0, pu_energy / np.where(energy > 0, energy, 1.0), 0.0)
    phi = np.where(pt > 0, np.arctan2(py, px), 0.0)
    return Target(
        cls=cls, charge=charge, pt=pt.astype(np.float32), eta=eta.astype(np.float32),
        phi=phi.astype(np.float32), energy=energy.astype(np.float32), pu_frac=pu_frac.astype(np.float32),
        particle_element=element_of,
    )
