"""Material budget and material processes against closed-form expectations."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.helix import Helix, intersect_surface
from colliderflow.simulate.impacts import KIND_EM, KIND_HADRON
from colliderflow.simulate.material import (
    ELECTRON_MASS, MaterialConfig, ParticleState, bethe_heitler_mean, conversion_probability, convert_photons,
    depth_at_fraction, interact_hadrons, interaction_length_budget, material_fraction, radiate,
    radiation_length_budget, sample_bethe_heitler, sample_pair_split,
)

GEOMETRY = Geometry()
CONFIG = MaterialConfig()


def _states(n: int, pid: int, charge: float, mass: float, energy: float, eta: float, kind: int,
            rng: np.random.Generator) -> ParticleState:
    """n particles from the origin with a common energy and |eta|, random azimuth."""
    p = np.sqrt(energy**2 - mass**2)
    phi = rng.uniform(-np.pi, np.pi, n)
    pt = p / np.cosh(eta)
    zeros = np.zeros(n)
    return ParticleState(np.arange(n), np.full(n, pid), np.full(n, kind), np.full(n, charge), zeros, zeros, zeros,
                         pt * np.cos(phi), pt * np.sin(phi), np.full(n, pt * np.sinh(eta)), np.full(n, energy),
                         np.full(n, mass), zeros, zeros, np.zeros(n, bool))


def test_budget_is_cms_like():
    x0 = radiation_length_budget(np.array([0.0, -1.5, 2.5]), CONFIG)
    assert x0 == pytest.approx([0.4, 1.8, 1.0])
    lam = interaction_length_budget(np.linspace(-3, 3, 61), CONFIG)
    assert lam.min() >= 0.1 and lam.max() <= 0.5


def test_depth_profile_inverts():
    u = np.linspace(0.0, 0.92, 50)
    assert depth_at_fraction(material_fraction(u, CONFIG), CONFIG) == pytest.approx(u)
    assert material_fraction(np.array([1.0]), CONFIG)[0] == 1.0


@pytest.mark.parametrize(("field", "value"), [("radiation_lengths", (0.4,)), ("depth_fractions", (0, 0.5, 0.4, 0.9, 1)),
                                              ("nuclear_secondaries", (3, 2)), ("max_brem_photons", 0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=f"MaterialConfig.{field}"):
        MaterialConfig(**{field: value})


@pytest.mark.parametrize("t", [0.2, 1.0])
def test_bethe_heitler_moments(t):
    # -ln z ~ Gamma(t / ln 2): E[z^k] = (1 + k)^(-t / ln 2); k = 1 gives exp(-t)
    z = sample_bethe_heitler(np.full(400_000, t), np.random.default_rng(2))
    c = t / np.log(2)
    assert bethe_heitler_mean(np.array([t]))[0] == pytest.approx(np.exp(-t)) == pytest.approx(2.0 ** -c)
    assert z.mean() == pytest.approx(np.exp(-t), abs=4 * z.std() / np.sqrt(z.size))
    assert (z**2).mean() == pytest.approx(3.0 ** -c, rel=0.01)


def test_electrons_lose_the_bethe_heitler_fraction():
    n, energy = 20_000, 50.0
    electrons = _states(n, 11, -1.0, ELECTRON_MASS, energy, 0.0, KIND_EM, np.random.default_rng(3))
    brem = radiate(electrons, CONFIG, GEOMETRY, np.random.default_rng(4))
    t = radiation_length_budget(np.array([0.0]), CONFIG)[0]
    retained = brem.electrons.energy / energy
    assert retained.mean() == pytest.approx(np.exp(-t), abs=4 * retained.std() / np.sqrt(n))
    assert brem.alive.all()
    assert brem.lost_fraction == pytest.approx(1.0 - retained)
    # 1-3 photons each, carrying the lost energy (photons below brem_min_energy are not followed)
    counts = np.bincount(brem.photons.index, minlength=n)
    assert counts.max() <= 3 and counts.mean() > 1.5
    radiated = np.bincount(brem.photons.index, brem.photons.energy, minlength=n)
    assert np.all(brem.electrons.energy + radiated <= energy + 1e-9)
    assert np.all(brem.electrons.energy + radiated >= energy - 3 * CONFIG.brem_min_energy - 1e-9)
    assert np.all(brem.photons.kind == KIND_EM) and np.all(brem.photons.charge == 0)


def test_brem_photons_leave_tangent_to_the_helix_at_random_radii():
    n = 5000
    rng = np.random.default_rng(5)
    electrons = _states(n, 11, -1.0, ELECTRON_MASS, 5.0, 0.0, KIND_EM, rng)
    brem = radiate(electrons, CONFIG, GEOMETRY, np.random.default_rng(6))
    ph = brem.photons
    radius = np.hypot(ph.x, ph.y)
    assert radius.min() < 10.0 and radius.max() > 100.0
    # tangent: the photon direction equals the momentum direction of the electron's helix there
    start = electrons.take(ph.index)
    hit = intersect_surface(start.helix(GEOMETRY.b_field), radius, 1e4)
    assert np.arctan2(ph.py, ph.px) == pytest.approx(np.arctan2(hit.py, hit.px), abs=1e-9)
    # an electron (charge -1) bends counter-clockwise: later photons point at larger azimuth
    dphi = np.angle(np.exp(1j * (np.arctan2(ph.py, ph.px) - np.arctan2(start.py, start.px))))
    assert np.all(dphi > -1e-12) and np.ptp(dphi) > 0.05


def test_conversion_probability_matches_7_9_t():
    n = 60_000
    for eta in (0.0, 1.5):
        photons = _states(n, 22, 0.0, 0.0, 20.0, eta, KIND_EM, np.random.default_rng(7))
        conv = convert_photons(photons, CONFIG, GEOMETRY, np.random.default_rng(8))
        t = radiation_length_budget(np.array([eta]), CONFIG)[0]
        expected = 1.0 - np.exp(-7.0 / 9.0 * t)
        assert conversion_probability(np.array([t]))[0] == pytest.approx(expected)
        assert conv.converted.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))
        assert len(conv.legs) == 2 * conv.converted.sum()


def test_conversion_legs_share_the_energy_and_bend_apart():
    n = 20_000
    photons = _states(n, 22, 0.0, 0.0, 4.0, 0.0, KIND_EM, np.random.default_rng(9))
    conv = convert_photons(photons, CONFIG, GEOMETRY, np.random.default_rng(10))
    legs = conv.legs
    k = len(legs) // 2
    electron, positron = legs.take(np.arange(k)), legs.take(np.arange(k, 2 * k))
    assert np.all(electron.charge == -1) and np.all(positron.charge == 1)
    np.testing.assert_array_equal(electron.index, positron.index)
    assert electron.energy + positron.energy == pytest.approx(photons.energy[electron.index])
    assert np.hypot(electron.x, electron.y) == pytest.approx(np.hypot(positron.x, positron.y))
    radius = np.hypot(electron.x, electron.y)
    assert radius.min() < 5.0 and np.median(radius) > 20.0
    # both legs reaching the ECAL: the electron ends at larger azimuth than the positron
    at = {}
    for name, leg in (("e", electron), ("p", positron)):
        hit = intersect_surface(leg.helix(GEOMETRY.b_field), GEOMETRY.ecal_radius, GEOMETRY.ecal_z)
        at[name] = (hit.hit, np.arctan2(hit.y, hit.x))
    both = at["e"][0] & at["p"][0]
    assert both.sum() > 0.5 * k
    assert np.all(np.angle(np.exp(1j * (at["e"][1] - at["p"][1])))[both] > 0)


def test_pair_split_follows_the_complete_screening_spectrum():
    x = sample_pair_split(400_000, np.random.default_rng(11))
    assert x.min() >= 0 and x.max() <= 1
    # E[x] = 1/2, E[x^2] = 9/7 * (1/3 - 1/3 + 4/15) = 12/35 (a flat spectrum would give 1/3)
    assert x.mean() == pytest.approx(0.5, abs=0.002)
    assert (x**2).mean() == pytest.approx(12.0 / 35.0, abs=0.002)


def test_nuclear_interactions_replace_hadrons_by_secondaries():
    n, energy = 40_000, 30.0
    hadrons = _states(n, 211, 1.0, 0.13957, energy, 0.0, KIND_HADRON, np.random.default_rng(12))
    nuc = interact_hadrons(hadrons, CONFIG, GEOMETRY, np.random.default_rng(13))
    lam = interaction_length_budget(np.array([0.0]), CONFIG)[0]
    expected = 1.0 - np.exp(-lam)
    assert nuc.interacted.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))
    sec = nuc.secondaries
    counts = np.bincount(sec.index, minlength=n)
    assert np.all(counts[nuc.interacted] >= 2) and np.all(counts[nuc.interacted] <= 4)
    assert np.all(counts[~nuc.interacted] == 0)
    total = np.bincount(sec.index, sec.energy, minlength=n)[nuc.interacted]
    assert np.all(total <= energy + 1e-9) and np.all(total >= (1 - CONFIG.nuclear_invisible_fraction) * energy - 1e-9)
    assert np.all(sec.interacted) and np.all(sec.kind == KIND_HADRON)
    # they start at the interaction point, inside the tracker material, in a cone around the parent
    assert np.all(sec.x == nuc.x[sec.index])
    parent_phi = np.arctan2(hadrons.py, hadrons.px)[sec.index]
    assert np.median(np.abs(np.angle(np.exp(1j * (np.arctan2(sec.py, sec.px) - parent_phi))))) < 0.1


def test_switched_off_processes_change_nothing():
    rng = np.random.default_rng(14)
    off = MaterialConfig(bremsstrahlung=False, conversions=False, nuclear_interactions=False)
    states = _states(100, 11, -1.0, ELECTRON_MASS, 10.0, 0.5, KIND_EM, rng)
    assert len(radiate(states, off, GEOMETRY, rng).photons) == 0
    assert not convert_photons(states, off, GEOMETRY, rng).converted.any()
    assert not interact_hadrons(states, off, GEOMETRY, rng).interacted.any()


def test_particle_state_checks_shapes():
    with pytest.raises(ValueError, match="ParticleState.x"):
        ParticleState(*([np.zeros(2)] * 4), np.zeros(3), *([np.zeros(2)] * 10))
    assert len(ParticleState.concatenate([])) == 0
    assert isinstance(ParticleState.empty().helix(3.8), Helix)
