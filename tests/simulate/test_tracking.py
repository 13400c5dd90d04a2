"""Track reconstruction and calorimeter impacts of propagate_and_track."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.generate.particles import GenParticles
from colliderflow.schema.elements import COMMON_FEATURES, ELEMENT_TRACK, TRACK_FEATURES
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.impacts import KIND_EM, KIND_HADRON, KIND_MIP, SURFACE_CALO, SURFACE_HF
from colliderflow.simulate.material import MaterialConfig
from colliderflow.simulate.muons import MuonConfig
from colliderflow.simulate.tracking import TrackerConfig, propagate_and_track, track_resolutions

GEOMETRY = Geometry()
TRACKER = TrackerConfig()
MUON = MuonConfig()
NO_MATERIAL = MaterialConfig(bremsstrahlung=False, conversions=False, nuclear_interactions=False)
_MASS = {211: 0.13957, 13: 0.10566, 11: 0.000511, 22: 0.0, 2112: 0.93957, 12: 0.0, 130: 0.49761}
_CHARGE = {211: 1, -211: -1, 13: -1, -13: 1, 11: -1, -11: 1}


def gun(pid, pt, eta, rng, vx=0.0, vz=0.0) -> GenParticles:
    """Particles with the given pid, pT and eta (arrays or scalars), random phi, from (vx, 0, vz)."""
    pid, pt, eta, vx, vz = np.broadcast_arrays(*(np.atleast_1d(a) for a in (pid, pt, eta, vx, vz)))
    n = len(pid)
    mass = np.array([_MASS[abs(p)] for p in pid])
    phi = rng.uniform(-np.pi, np.pi, n)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    zeros = np.zeros(n)
    return GenParticles(
        pid=pid, charge=[_CHARGE.get(p, 0) for p in pid], px=px, py=py, pz=pz,
        energy=np.sqrt(px**2 + py**2 + pz**2 + mass**2), mass=mass, vx=vx, vy=zeros, vz=vz, t=zeros,
        interaction=zeros, flags=zeros, tau_index=zeros - 1, resonance_index=zeros - 1)


def run(particles, material=NO_MATERIAL, tracker=TRACKER, seed=1):
    return propagate_and_track(particles, GEOMETRY, tracker, material, MUON, np.random.default_rng(seed))


def test_empty_input():
    out = run(GenParticles.empty(), MaterialConfig())
    assert len(out.impacts) == 0 and len(out.track_particle) == 0
    assert set(out.tracks) == set(COMMON_FEATURES + TRACK_FEATURES)


def test_track_features_are_complete_and_consistent():
    rng = np.random.default_rng(2)
    out = run(gun(211, rng.uniform(1, 20, 2000), rng.uniform(-2.4, 2.4, 2000), rng), MaterialConfig())
    tr = out.tracks
    assert set(tr) == set(COMMON_FEATURES + TRACK_FEATURES)
    assert all(v.shape == out.track_particle.shape for v in tr.values())
    assert np.all(tr["type"] == ELEMENT_TRACK)
    assert tr["px"] == pytest.approx(tr["pt"] * np.cos(tr["phi"]))
    assert tr["eta"] == pytest.approx(-np.log(np.tan(tr["theta"] / 2)))
    assert tr["lambda_"] == pytest.approx(np.pi / 2 - tr["theta"])
    assert tr["energy"] == pytest.approx(np.sqrt(tr["pt"] ** 2 + tr["pz"] ** 2 + 0.13957039**2))
    assert tr["d0"] == pytest.approx(-tr["vx"] * np.sin(tr["phi"]) + tr["vy"] * np.cos(tr["phi"]))
    assert np.all(tr["n_pixel_hits"] <= tr["n_hits"]) and np.all(tr["n_hits"] >= TRACKER.min_hits)
    barrel = np.abs(tr["eta"]) < 1.0
    assert 13 <= tr["n_hits"][barrel].mean() <= 16
    # extrapolations of these stiff tracks land near their direction
    real = out.track_particle >= 0
    assert np.all(np.abs(tr["eta_ecal"][real]) > 0)
    assert np.median(np.abs(tr["eta_ecal"] - tr["eta"])[real]) < 0.05


@pytest.mark.parametrize(("pt", "low", "high"), [(10.0, 0.008, 0.012), (100.0, 0.015, 0.02)])
def test_barrel_pion_resolution_matches_configuration(pt, low, high):
    rng = np.random.default_rng(3)
    n = 20_000
    particles = gun(211, pt, rng.uniform(-0.5, 0.5, n), rng)
    out = run(particles)
    tr, idx = out.tracks, out.track_particle
    real = idx >= 0
    true_eta = particles.eta[idx[real]]
    # Gaussian in q / pT: pt_true / pt_meas - 1 has the configured width
    residual = pt / tr["pt"][real] - 1.0
    expected = track_resolutions(np.full(real.sum(), pt), true_eta, tr["n_hits"][real], tr["n_pixel_hits"][real],
                                 TRACKER)["pt"]
    rms = np.sqrt(np.mean(expected**2))
    assert residual.std() == pytest.approx(rms, rel=0.03)
    assert low < residual.std() < high
    pull = (tr["pt"][real] - pt) / tr["pt_err"][real]
    assert 0.93 < pull.std() < 1.08


def test_endcap_resolution_is_worse_than_barrel():
    rng = np.random.default_rng(4)
    n = 10_000
    barrel = run(gun(211, 50.0, rng.uniform(-0.5, 0.5, n), rng))
    endcap = run(gun(211, 50.0, rng.uniform(1.9, 2.1, n), rng))
    width = {k: np.std(50.0 / o.tracks["pt"][o.track_particle >= 0] - 1) for k, o in (("b", barrel), ("e", endcap))}
    assert width["e"] > 2 * width["b"]


def test_pion_efficiency_with_and_without_nuclear_interactions():
    rng = np.random.default_rng(5)
    n = 20_000
    particles = gun(211, 10.0, rng.uniform(-0.8, 0.8, n), rng)
    links = run(particles).track_particle
    plain = np.unique(links[links >= 0]).size / n
    p = TRACKER.efficiency_hadron
    assert plain == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))
    out = run(particles, MaterialConfig())
    eff = np.unique(out.track_particle[out.track_particle >= 0]).size / n
    assert 0.90 < eff < 0.96


def test_efficiency_turn_on_acceptance_and_vertex_radius():
    rng = np.random.default_rng(6)
    n = 5000

    def efficiency(particles):
        idx = run(particles, tracker=TrackerConfig(fake_rate=0.0)).track_particle
        return np.unique(idx).size / len(particles)

    muons = {pt: efficiency(gun(13, pt, rng.uniform(-1, 1, n), rng)) for pt in (0.1, 0.3, 1.0, 10.0)}
    assert muons[0.1] < 0.3 < muons[0.3] < muons[1.0]
    assert muons[10.0] == pytest.approx(TRACKER.efficiency_muon, abs=0.01)
    assert efficiency(gun(13, 10.0, rng.uniform(2.6, 3.0, n), rng)) == 0.0
    assert efficiency(gun(13, 10.0, 0.3, rng, vx=np.full(n, 70.0))) == 0.0
    assert 0.3 < efficiency(gun(13, 10.0, 0.3, rng, vx=np.full(n, 25.0))) < 0.75
    electrons = efficiency(gun(11, 10.0, rng.uniform(-1, 1, n), rng))
    assert electrons < muons[10.0]


def test_fake_tracks_at_the_configured_rate():
    rng = np.random.default_rng(7)
    n = 20_000
    tracker = TrackerConfig(fake_rate=0.02)
    out = run(gun(211, 5.0, rng.uniform(-2.0, 2.0, n), rng), tracker=tracker)
    fakes = out.track_particle == -1
    expected = tracker.fake_rate * n
    assert fakes.sum() == pytest.approx(expected, abs=5 * np.sqrt(expected))
    assert np.median(out.tracks["pt"][fakes]) < 1.0
    assert np.all(out.tracks["muon_dt_hits"][fakes] == 0)


def test_electron_tracks_have_a_brem_tail():
    rng = np.random.default_rng(8)
    n = 10_000
    out = run(gun(11, 20.0, rng.uniform(-1, 1, n), rng), MaterialConfig(conversions=False))
    real = out.track_particle >= 0
    residual = out.tracks["pt"][real] / 20.0 - 1.0
    # a one-sided low tail, far beyond the 1 % Gaussian core of a muon at 20 GeV
    assert np.median(residual) < -0.01 and np.percentile(residual, 5) < -0.08
    assert np.percentile(residual, 95) < 0.03
    assert out.tracks["chi2_ndf"][real].mean() > 1.3


def test_impact_kinds_surfaces_and_drops():
    rng = np.random.default_rng(9)
    pid = np.array([22, 11, 13, 211, 2112, 12, 211, 211, 211])
    eta = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 4.0, 5.5, 0.0])
    pt = np.array([10, 10, 10, 10, 10, 10, 10, 10, 0.2])
    out = run(gun(pid, pt, eta, rng))
    imp = out.impacts
    by_particle = dict(zip(imp.particle.tolist(), range(len(imp))))
    assert set(by_particle) == {0, 1, 2, 3, 4, 6}          # no neutrino, no |eta| > 5, no looper
    kinds = {0: KIND_EM, 1: KIND_EM, 2: KIND_MIP, 3: KIND_HADRON, 4: KIND_HADRON, 6: KIND_HADRON}
    for p, kind in kinds.items():
        assert imp.kind[by_particle[p]] == kind
    hf = by_particle[6]
    assert imp.surface[hf] == SURFACE_HF and abs(imp.z[hf]) == pytest.approx(GEOMETRY.hf_z)
    assert (imp.x_hcal[hf], imp.z_hcal[hf]) == (imp.x[hf], imp.z[hf])
    assert 8 not in by_particle                              # the 0.2 GeV looper
    central = by_particle[3]
    assert imp.surface[central] == SURFACE_CALO
    assert np.hypot(imp.x[central], imp.y[central]) == pytest.approx(GEOMETRY.ecal_radius)
    assert np.hypot(imp.x_hcal[central], imp.y_hcal[central]) == pytest.approx(GEOMETRY.hcal_radius)
    assert np.isnan(imp.nuclear_depth).all()


def test_charged_impact_bends_by_the_analytic_angle():
    particles = gun(np.array([211, -211]), 2.0, 0.0, np.random.default_rng(10))
    imp = run(particles).impacts
    rad = 100.0 * 2.0 / (0.299792458 * GEOMETRY.b_field)
    shift = np.angle(np.exp(1j * (np.arctan2(imp.y, imp.x) - particles.phi[imp.particle])))
    assert shift == pytest.approx([-np.arcsin(GEOMETRY.ecal_radius / (2 * rad)), np.arcsin(GEOMETRY.ecal_radius / (2 * rad))])
    # time: path length over beta c
    assert imp.t[0] == pytest.approx(2 * rad * np.arcsin(GEOMETRY.ecal_radius / (2 * rad)) / 29.9792458
                                     * particles.energy[0] / particles.p[0])


def test_production_outside_volumes():
    rng = np.random.default_rng(11)
    n = 200
    between = gun(211, 10.0, 0.0, rng, vx=np.full(n, 120.0))     # between tracker and ECAL
    out = run(between)
    assert len(out.impacts) == n and (out.track_particle >= 0).sum() == 0
    beyond = run(gun(211, 10.0, 0.0, rng, vx=np.full(n, 140.0)))
    assert len(beyond.impacts) == 0


def test_energy_bookkeeping_and_truth_links():
    rng = np.random.default_rng(12)
    n = 6000
    pid = rng.choice([22, 11, -11, 211, -211, 2112, 130, 13], n)
    particles = gun(pid, rng.exponential(5.0, n) + 0.3, rng.uniform(-4.5, 4.5, n), rng)
    out = run(particles, MaterialConfig())
    imp = out.impacts
    deposited = np.bincount(imp.particle, imp.energy, minlength=n)
    assert np.all(deposited <= particles.energy + 1e-9)
    assert np.all(imp.energy > 0)
    assert (imp.nuclear_depth == 0).any() and set(np.unique(imp.particle[imp.nuclear_depth == 0])) <= set(
        np.flatnonzero(np.isin(np.abs(pid), [211, 2112, 130])))
    # conversion legs and brem photons keep the index of their photon / electron
    assert np.isin(imp.particle, np.arange(n)).all()
    em = imp.kind == KIND_EM
    assert set(np.unique(pid[imp.particle[em]])) <= {22, 11, -11}
    assert np.bincount(imp.particle[em]).max() > 2
    links = out.track_particle[out.track_particle >= 0]
    assert np.all((particles.charge[links] != 0) | (pid[links] == 22))
    assert (pid[links] == 22).any()                                    # tracks of conversion legs


def test_determinism():
    rng = np.random.default_rng(13)
    particles = gun(rng.choice([22, 11, 211, 2112, 13], 1000), rng.exponential(5.0, 1000) + 0.3,
                    rng.uniform(-3, 3, 1000), rng)
    a, b, c = (run(particles, MaterialConfig(), seed=s) for s in (5, 5, 6))
    for name in a.tracks:
        np.testing.assert_array_equal(a.tracks[name], b.tracks[name])
    np.testing.assert_array_equal(a.impacts.energy, b.impacts.energy)
    np.testing.assert_array_equal(a.track_particle, b.track_particle)
    assert len(a.impacts) != len(c.impacts) or not np.array_equal(a.impacts.energy, c.impacts.energy)


def test_tracker_config_validation():
    with pytest.raises(ValueError, match="TrackerConfig.pt_res_a"):
        TrackerConfig(pt_res_a=(0.01,))
    with pytest.raises(ValueError, match="TrackerConfig.hit_efficiency"):
        TrackerConfig(hit_efficiency=1.5)
