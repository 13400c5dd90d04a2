"""Target construction on hand-made events with known answers."""

import numpy as np
import pytest

from colliderflow.generate.particles import GenParticles
from colliderflow.schema import classes as C
from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFHAD, ELEMENT_TRACK, stack_elements
from colliderflow.simulate.simevent import SimEvent
from colliderflow.target.build import build_target, truth_mask


def _particles(rows):
    """rows: (pid, charge, px, py, pz, interaction)."""
    pid, charge, px, py, pz, inter = map(np.array, zip(*rows))
    e = np.sqrt(px**2 + py**2 + pz**2 + 0.02)
    n = len(rows)
    z = np.zeros(n)
    return GenParticles(pid=pid, charge=charge, px=px, py=py, pz=pz, energy=e, mass=z, vx=z, vy=z, vz=z,
                        t=z, interaction=inter, flags=z, tau_index=np.full(n, -1),
                        resonance_index=np.full(n, -1))


def _sim(types, track_particle, links):
    elements = stack_elements({"type": np.array(types, dtype=float)})
    le, lp, lv = (np.array(x) for x in zip(*links)) if links else (np.zeros(0, int),) * 3
    return SimEvent(elements=elements, n_tracks=len(track_particle), track_particle=np.array(track_particle),
                    link_element=le.astype(int), link_particle=lp.astype(int), link_energy=lv.astype(float))


@pytest.fixture
def event():
    particles = _particles([
        (211, 1, 10.0, 0.0, 1.0, 0),    # 0: tracked pion -> charged hadron on track 0
        (-211, -1, 0.0, 5.0, 0.0, 0),   # 1: pion without track -> neutral hadron on its HCAL cluster
        (22, 0, 3.0, 3.0, 0.0, 0),      # 2: photon, largest deposit in ECAL cluster 2
        (22, 0, 1.0, 1.0, 0.0, 3),      # 3: pileup photon merged into the same cluster
        (130, 0, -4.0, 0.0, 40.0, 0),   # 4: forward K0L -> HF-HAD
        (14, 0, 9.0, 0.0, 0.0, 0),      # 5: neutrino: no signal, not truth
        (2112, 0, 0.0, -2.0, 0.0, 0),   # 6: neutron below threshold: no links, not reconstructable
        (11, -1, -2.0, -2.0, 0.0, 1),   # 7: tracked pileup electron
        (13, -1, 3.0, -1.0, 0.0, 0),    # 8: muon: track 2, also a MIP link in HCAL (ignored, it has a track)
        (22, 0, 0.0, 9.0, 0.0, 0),      # 9: converted photon: a leg track (element 6) but it goes to ECAL 3
    ])
    # elements: 0 track(p0), 1 track(p7), 2 track(p8), 3 track (conversion leg of p9), 4 ECAL, 5 HCAL,
    # 6 HF-HAD
    types = [ELEMENT_TRACK, ELEMENT_TRACK, ELEMENT_TRACK, ELEMENT_TRACK, ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFHAD]
    sim = _sim(types, [0, 7, 8, 9], [
        (4, 2, 4.0), (4, 3, 1.2), (5, 3, 0.1),  # photons in ECAL cluster 4
        (5, 1, 3.0), (4, 1, 0.5),               # untracked pion: most in HCAL cluster 5
        (5, 0, 6.0),                            # tracked pion also deposits: ignored for assignment
        (6, 4, 30.0),                           # K0L in HF
        (5, 8, 2.0),
        (4, 9, 2.5), (5, 9, 0.2),               # the converted photon (energy below photon 2's 4.0)
    ])
    return particles, sim


def test_assignment(event):
    particles, sim = event
    t = build_target(particles, sim)
    assert list(t.particle_element) == [0, 5, 4, 4, 6, -1, -1, 1, 2, 4]
    assert list(t.cls) == [C.CHARGED_HADRON, C.ELECTRON, C.MUON, C.NONE, C.PHOTON, C.NEUTRAL_HADRON, C.HF_HAD]
    assert list(t.charge) == [1, -1, -1, 0, 0, 0, 0]


def test_energy_bookkeeping(event):
    particles, sim = event
    t = build_target(particles, sim)
    assigned = t.particle_element >= 0
    assert t.energy.sum() == pytest.approx(particles.energy[assigned].sum(), rel=1e-6)
    # merged photons: summed four-momentum (3+1+0, 3+1+9)
    assert t.pt[4] == pytest.approx(np.hypot(4.0, 13.0), rel=1e-6)


def test_pileup_fraction(event):
    particles, sim = event
    t = build_target(particles, sim)
    e2, e3, e9 = particles.energy[2], particles.energy[3], particles.energy[9]
    assert t.pu_frac[4] == pytest.approx(e3 / (e2 + e3 + e9), rel=1e-6)
    assert t.pu_frac[1] == 1.0 and t.pu_frac[0] == 0.0


def test_truth_mask(event):
    particles, _ = event
    assert list(np.flatnonzero(truth_mask(particles))) == [0, 1, 2, 4, 6, 8, 9]


def test_empty_event():
    particles = GenParticles.empty()
    t = build_target(particles, _sim([], [], []))
    assert len(t.cls) == 0 and len(t.particle_element) == 0
