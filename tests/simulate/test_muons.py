"""Muon chamber hits: acceptance, momentum reach, punch-through."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.generate.particles import GenParticles
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.material import MaterialConfig
from colliderflow.simulate.muons import MuonConfig, muon_station_hits
from colliderflow.simulate.tracking import TrackerConfig, propagate_and_track

CONFIG = MuonConfig()
ETA_MAX = Geometry().muon_eta_max


def hits(eta, p, muon=True, n=4000, seed=1, config=CONFIG):
    eta, p = np.full(n, eta, float), np.full(n, p, float)
    is_muon = np.full(n, muon)
    return muon_station_hits(p, eta, p, is_muon, ~is_muon, config, ETA_MAX, np.random.default_rng(seed))


def test_barrel_muons_leave_dt_hits_only():
    dt, csc = hits(0.5, 20.0)
    assert np.all(csc == 0)
    assert 35 < dt.mean() <= sum(CONFIG.dt_hits_per_station)
    assert dt.max() <= sum(CONFIG.dt_hits_per_station)


def test_endcap_muons_leave_csc_hits_only():
    dt, csc = hits(2.0, 50.0)
    assert np.all(dt == 0)
    assert 18 < csc.mean() <= 4 * CONFIG.csc_hits_per_station


def test_overlap_region_has_both_and_outside_has_none():
    dt, csc = hits(1.0, 50.0)
    assert dt.mean() > 10 and csc.mean() > 10
    dt, csc = hits(2.45, 50.0)
    assert np.all(dt == 0) and np.all(csc == 0)


def test_station_reach_needs_momentum():
    dt, csc = hits(0.2, 2.0)
    assert np.all(dt + csc == 0)
    # just above the station-1 threshold of 3 GeV: mostly the first stations only
    dt, _ = hits(0.2, 3.8)
    assert 0 < dt.mean() < 30
    # the forward threshold is about 5 GeV: a 3.5 GeV muon reaches nothing at |eta| = 2.2
    dt_fwd, csc_fwd = hits(2.2, 3.5)
    assert np.mean(csc_fwd + dt_fwd > 0) < 0.01
    assert np.mean(hits(2.2, 8.0)[1] > 0) > 0.95


def test_punch_through_is_rare_and_shallow():
    n = 200_000
    dt, csc = hits(0.5, 40.0, muon=False, n=n)
    expected = CONFIG.punch_through_probability * np.sqrt(40.0 / 10.0) * CONFIG.station_efficiency
    fired = (dt + csc) > 0
    assert fired.mean() == pytest.approx(expected, abs=5 * np.sqrt(expected / n))
    assert dt.max() <= CONFIG.dt_hits_per_station[0]
    low_dt, low_csc = hits(0.5, 3.0, muon=False, n=n)
    assert np.all(low_dt + low_csc == 0)


def test_only_muon_tracks_carry_muon_hits():
    rng = np.random.default_rng(2)
    n = 6000
    pid = rng.choice([13, -13, 211, -211], n)
    pt, eta, phi = rng.uniform(5, 50, n), rng.uniform(-2.3, 2.3, n), rng.uniform(-np.pi, np.pi, n)
    mass = np.where(np.abs(pid) == 13, 0.10566, 0.13957)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    zeros = np.zeros(n)
    particles = GenParticles(pid=pid, charge=np.where(pid > 0, 1, -1) * np.where(np.abs(pid) == 13, -1, 1),
                             px=px, py=py, pz=pz, energy=np.sqrt(pt**2 + pz**2 + mass**2), mass=mass,
                             vx=zeros, vy=zeros, vz=zeros, t=zeros, interaction=zeros, flags=zeros, tau_index=zeros - 1,
                             resonance_index=zeros - 1)
    out = propagate_and_track(particles, Geometry(), TrackerConfig(), MaterialConfig(), CONFIG, np.random.default_rng(3))
    tr, link = out.tracks, out.track_particle
    has_hits = (tr["muon_dt_hits"] + tr["muon_csc_hits"]) > 0
    is_muon = (link >= 0) & (np.abs(pid[np.maximum(link, 0)]) == 13)
    assert has_hits[is_muon].mean() > 0.95
    assert has_hits[~is_muon].mean() < 0.02
    barrel, endcap = np.abs(tr["eta"]) < 0.8, np.abs(tr["eta"]) > 1.3
    assert np.all(tr["muon_csc_hits"][barrel] == 0) and np.all(tr["muon_dt_hits"][endcap] == 0)


def test_config_validation():
    with pytest.raises(ValueError, match="MuonConfig.dt_eta_max"):
        MuonConfig(dt_eta_max=(1.2,))
    with pytest.raises(ValueError, match="MuonConfig.hit_efficiency"):
        MuonConfig(hit_efficiency=2.0)
