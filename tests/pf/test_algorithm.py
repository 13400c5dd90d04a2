"""PF on single particles through the full detector simulation, and on hand-made blocks."""

import numpy as np
import pytest

from colliderflow.generate.guns import GunConfig, shoot
from colliderflow.pf.calibration import load_calibration
from colliderflow.pf.reconstruct import reconstruct_event
from colliderflow.schema import classes as C
from colliderflow.schema.elements import stack_elements
from colliderflow.simulate.card import load_card
from colliderflow.simulate.detector import simulate_event


@pytest.fixture(scope="module")
def setup():
    return load_card("cms-like"), load_calibration("cms-like")


def _run(setup, particle, pt, eta=(-1.0, 1.0), n=40, seed=0):
    card, calib = setup
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = shoot(GunConfig(particle, pt, pt, eta[0], eta[1]), rng)
        sim = simulate_event(p, card, rng)
        out.append((p, reconstruct_event(sim.elements, calib)))
    return out


def _leading(cands):
    return int(np.argmax(cands["energy"])) if len(cands["energy"]) else None


@pytest.mark.parametrize("particle,cls,min_frac", [("pi", C.CHARGED_HADRON, 0.85), ("mu", C.MUON, 0.9),
                                                   ("gamma", C.PHOTON, 0.8), ("k0l", C.NEUTRAL_HADRON, 0.8),
                                                   ("e", C.ELECTRON, 0.6)])
def test_single_particle_identity(setup, particle, cls, min_frac):
    results = _run(setup, particle, 20.0)
    ok = [c["cls"][_leading(c)] == cls for _, c in results if _leading(c) is not None]
    assert np.mean(ok) >= min_frac


def test_pion_energy_is_track_momentum(setup):
    results = _run(setup, "pi", 10.0)
    ratios = [c["energy"][_leading(c)] / p.energy[0] for p, c in results
              if _leading(c) is not None and c["cls"][_leading(c)] == C.CHARGED_HADRON]
    assert np.median(ratios) == pytest.approx(1.0, abs=0.03)


def test_neutral_hadron_energy_calibrated(setup):
    results = _run(setup, "k0l", 50.0, n=60)
    ratio = [(c["energy"][c["cls"] == C.NEUTRAL_HADRON].sum() + c["energy"][c["cls"] == C.PHOTON].sum())
             / p.energy[0] for p, c in results]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)


def test_empty_event_and_no_tracks(setup):
    _, calib = setup
    empty = stack_elements({"type": np.zeros(0)})
    cands = reconstruct_event(empty, calib)
    assert len(cands["pt"]) == 0
    card, _ = setup
    rng = np.random.default_rng(1)
    jets = shoot(GunConfig("pi", 5, 30, -1, 1, n_per_event=10), rng)
    sim = simulate_event(jets, card, rng)
    no_tracks = {k: v[sim.elements["type"] != 1] for k, v in sim.elements.items()}
    cands = reconstruct_event(no_tracks, calib)
    assert len(cands["pt"]) >= 3
    assert (cands["charge"] == 0).all() and (cands["vertex"] == -1).all()
