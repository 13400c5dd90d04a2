"""Calorimeter cells, shower deposition, noise and timing against closed-form expectations."""

import dataclasses

import numpy as np
import pytest

from colliderflow.simulate.calo_config import EcalConfig, HcalConfig, HfConfig
from colliderflow.simulate.calorimeter import simulate_hits
from colliderflow.simulate.cells import build_cells
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.impacts import KIND_EM, KIND_HADRON, KIND_MIP, CaloImpacts
from colliderflow.simulate.showers import em_leakage_fraction, hadron_em_fraction, sample_moyal
from colliderflow.utils.config import ConfigError, from_dict, to_dict
from tests.simulate.calo_gun import projective_impacts

GEO = Geometry()
ECAL, HCAL, HF = EcalConfig(), HcalConfig(), HfConfig()
CELLS = build_cells(GEO, ECAL, HCAL, HF)
N_PHI = ECAL.barrel_phi_cells


def eb_centre(ieta, iphi):
    """Direction of the centre of EB crystal (ieta, iphi)."""
    edges = CELLS.eb_eta_edges
    ieta, iphi = np.asarray(ieta), np.asarray(iphi)
    return 0.5 * (edges[ieta] + edges[ieta + 1]), -np.pi + (iphi + 0.5) * 2 * np.pi / N_PHI


def eb_window(ieta, iphi, half):
    """Cell ids of the (2 half + 1)^2 EB crystals around (ieta, iphi), shape (M, n, n)."""
    off = np.arange(-half, half + 1)
    return CELLS.eb_cell_id[np.asarray(ieta)[:, None, None] + off[None, :, None],
                            (np.asarray(iphi)[:, None, None] + off[None, None, :]) % N_PHI]


def ring_of(energy, kind, ieta, n=12, seed=0, **kwargs):
    """``n`` particles at EB crystal centres of ring ``ieta``, 30 crystals apart in phi."""
    iphi = np.arange(n) * (N_PHI // n) + seed % 7
    eta, phi = eb_centre(np.full(n, ieta), iphi)
    return projective_impacts(eta, phi, energy, kind, GEO, **kwargs), iphi


# --- configuration and cells --------------------------------------------------------------

def test_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="EcalConfig.moliere_radius"):
        EcalConfig(moliere_radius=0.0)
    with pytest.raises(ValueError, match="HcalConfig.depth_edges"):
        HcalConfig(depth_edges=(0.0, 1.0, 2.0))
    with pytest.raises(ValueError, match="EcalConfig.response_barrel"):
        EcalConfig(response_barrel=(1.0,))
    with pytest.raises(ConfigError, match="hf.bogus|bogus"):
        from_dict(HfConfig, {"bogus": 1.0}, where="hf")
    assert from_dict(HcalConfig, to_dict(HCAL)) == HCAL
    assert from_dict(EcalConfig, to_dict(ECAL)) == ECAL


def test_cell_geometry():
    ecal, hcal, hf = CELLS.ecal, CELLS.hcal, CELLS.hf
    n_eb = 2 * 85 * N_PHI
    assert (~ecal.endcap).sum() == n_eb
    rho = np.hypot(ecal.x[:, 0], ecal.y[:, 0])
    assert rho[:n_eb] == pytest.approx(GEO.ecal_radius)
    assert np.abs(ecal.z[n_eb:, 0]) == pytest.approx(GEO.ecal_z)
    assert 6000 < (ecal.endcap & (ecal.z[:, 0] > 0)).sum() < 10000  # CMS: 7324 crystals per endcap
    eta_ee = np.abs(ecal.eta[n_eb:])
    assert eta_ee.min() > GEO.ecal_barrel_eta_max - 0.02 and eta_ee.max() < GEO.calo_eta_max + 0.02
    # HCAL depth layers lie behind each other along the tower direction
    r = np.sqrt(hcal.x**2 + hcal.y**2 + hcal.z**2)
    assert np.all(np.diff(r, axis=1) > 0)
    assert np.all(np.hypot(hcal.x[:, 0], hcal.y[:, 0])[~hcal.endcap] > GEO.hcal_radius)
    assert len(hf) == 2 * 11 * 36
    assert np.all(np.abs(hf.eta) > GEO.hf_eta_min) and np.all(np.abs(hf.z) == GEO.hf_z)
    for grid in (ecal, hcal, hf):
        nb = grid.neighbours
        assert nb.max() < len(grid)
        i, k = np.nonzero(nb >= 0)
        # symmetric: if j is a neighbour of i then i is a neighbour of j
        assert np.all((nb[nb[i, k]] == i[:, None]).any(axis=1))
    # phi wraps around: crystal 0 and crystal 359 of a ring are neighbours
    a, b = CELLS.eb_cell_id[10, 0], CELLS.eb_cell_id[10, N_PHI - 1]
    assert b in ecal.neighbours[a]


# --- EM showers ------------------------------------------------------------------------------

def test_photon_containment_and_lateral_profile():
    ecal = dataclasses.replace(ECAL, stochastic=0.0, constant=0.0)
    energy = 100.0
    imp, iphi = ring_of(energy, KIND_EM, ieta=60, n=12)
    hits = simulate_hits(imp, GEO, ecal, HCAL, HF, np.random.default_rng(1))
    per_ecal = np.bincount(hits.ecal.entry_particle, hits.ecal.entry_energy, minlength=12)
    per_hcal = np.bincount(hits.hcal.entry_particle, hits.hcal.entry_energy, minlength=12)
    # energy is conserved: what leaks out of the back of the ECAL is in the HCAL
    assert per_ecal + per_hcal == pytest.approx(energy, rel=1e-9)
    leak = 1.0 - per_ecal / energy
    assert np.all(leak >= 0) and leak.mean() < 0.02

    # 3x3 and 5x5 fractions against a Monte Carlo of the core + tail profile
    true = hits.ecal.true
    total = true.sum()
    f33 = true[eb_window(np.full(12, 60), iphi, 1)].sum() / total
    f55 = true[eb_window(np.full(12, 60), iphi, 2)].sum() / total
    rng = np.random.default_rng(2)
    n = 400_000
    sigma = np.where(rng.random(n) < ecal.lateral_tail_fraction, ecal.lateral_tail, ecal.lateral_core)
    u, v = (sigma * ecal.moliere_radius * rng.standard_normal(n) for _ in range(2))
    eta0, _ = eb_centre(60, 0)
    du = GEO.ecal_radius * (CELLS.eb_eta_edges[61] - CELLS.eb_eta_edges[60])
    dv = GEO.ecal_radius * 2 * np.pi / N_PHI
    inside = [np.mean((np.abs(u) < k * du / 2) & (np.abs(v) < k * dv / 2)) for k in (3, 5)]
    assert f33 == pytest.approx(inside[0], abs=0.003)
    assert f55 == pytest.approx(inside[1], abs=0.003)
    assert 0.90 < f33 < 0.96 and 0.96 < f55 < 0.99  # ~90% in 3x3, ~97% in 5x5


def test_leakage_grows_with_energy():
    e = np.array([1.0, 10.0, 100.0, 1000.0])
    leak = em_leakage_fraction(e, np.zeros(4), ECAL.radiation_lengths, ECAL.critical_energy, ECAL.longitudinal_b)
    assert np.all(np.diff(leak) > 0) and leak[-1] < 0.02
    assert em_leakage_fraction(e, np.full(4, 100.0), 25.8, 0.0086, 0.6) == pytest.approx(1.0)


@pytest.mark.parametrize("energy", [10.0, 50.0])
def test_em_resolution_matches_formula(energy):
    """3x3 sums of noisy crystals around the impact of photons hitting crystal centres."""
    sums = []
    for ev in range(25):
        ieta = 40 + ev
        imp, iphi = ring_of(energy, KIND_EM, ieta=ieta, seed=ev)
        hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(ev))
        sums.append(hits.ecal.energy[eb_window(np.full(12, ieta), iphi, 1)].sum(axis=(1, 2)))
    x = np.concatenate(sums)  # 300 photons
    q16, q50, q84 = np.percentile(x, [16, 50, 84])
    measured = (q84 - q16) / 2 / q50
    expected = np.sqrt(ECAL.stochastic**2 / energy + (3 * ECAL.noise_barrel / energy) ** 2 + ECAL.constant**2)
    assert measured == pytest.approx(expected, rel=0.2)


def test_sparse_noise_occupancy():
    """Without deposits, the number of ECAL cells above threshold follows the Gaussian tail."""
    counts = [simulate_hits(CaloImpacts.empty(), GEO, ECAL, HCAL, HF, np.random.default_rng(s)).ecal.active
              for s in range(5)]
    expected = CELLS.ecal.noise_tail.sum()
    mean = np.mean([c.sum() for c in counts])
    assert mean == pytest.approx(expected, rel=0.05)
    noisy = simulate_hits(CaloImpacts.empty(), GEO, ECAL, HCAL, HF, np.random.default_rng(0))
    e = noisy.ecal.energy
    assert np.all(e[noisy.ecal.active] >= CELLS.ecal.threshold[noisy.ecal.active])
    assert np.all(e[~noisy.ecal.active] == 0)
    assert noisy.ecal.true.sum() == 0 and len(noisy.ecal.entry_cell) == 0


# --- hadrons and MIPs ----------------------------------------------------------------------------

def test_hadron_energy_conservation_and_mean_response():
    """With a deep HCAL and no sampling fluctuations, deposits follow f_em + (1 - f_em) h/e."""
    hcal = dataclasses.replace(HCAL, depth_edges=(0.0, 1.0, 2.5, 4.0, 40.0), sampling_stochastic=0.0)
    energy = 50.0
    visible, ecal_share = [], []
    for h_over_e in (1.0, 0.55):
        ecal = dataclasses.replace(ECAL, hadron_response=h_over_e)
        hc = dataclasses.replace(hcal, hadron_response=h_over_e)
        tot = []
        for ev in range(20):
            imp, _ = ring_of(energy, KIND_HADRON, ieta=50, seed=ev)
            hits = simulate_hits(imp, GEO, ecal, hc, HF, np.random.default_rng(ev))
            e_ecal = np.bincount(hits.ecal.entry_particle, hits.ecal.entry_energy, minlength=12)
            e_hcal = np.bincount(hits.hcal.entry_particle, hits.hcal.entry_energy, minlength=12)
            tot.append(e_ecal + e_hcal)
            ecal_share.append(e_ecal)
        visible.append(np.concatenate(tot) / energy)
    assert visible[0] == pytest.approx(1.0, rel=1e-6)  # compensating: everything is seen
    # the MIP part before the first interaction is at the EM scale
    f_em = hadron_em_fraction(np.full(200_000, energy), HCAL.em_fraction_e0, HCAL.em_fraction_exponent,
                              HCAL.em_fraction_spread, np.random.default_rng(3))
    expected = np.mean(f_em + (1 - f_em) * 0.55)
    assert visible[1].mean() == pytest.approx(expected, abs=0.02)
    assert 0.70 < visible[1].mean() < 0.85  # non-compensating: pions read ~0.75 of photons
    # some hadrons start showering in the ECAL (1.1 lambda_I: 1 - exp(-1.1) = 67%), others leave a MIP
    e_ecal = np.concatenate(ecal_share)
    showering = np.mean(e_ecal > 1.0)
    assert 0.45 < showering < 0.75
    assert np.mean(e_ecal < 0.5) > 0.2


def test_hadrons_interacting_in_tracker_start_at_the_face():
    imp, _ = ring_of(30.0, KIND_HADRON, ieta=50, nuclear_depth=np.zeros(12))
    hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(0))
    e_ecal = np.bincount(hits.ecal.entry_particle, hits.ecal.entry_energy, minlength=12)
    assert np.all(e_ecal > 2.0)


def test_hadron_showers_are_wide():
    """A 50 GeV pion spreads over several HCAL towers, a photon stays within a few crystals."""
    imp, _ = ring_of(50.0, KIND_HADRON, ieta=50)
    hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(0))
    per_particle_towers = np.bincount(hits.hcal.entry_particle[hits.hcal.entry_energy > 0.1], minlength=12)
    assert np.median(per_particle_towers) >= 4


def test_mip_deposits():
    imp, _ = ring_of(50.0, KIND_MIP, ieta=50, n=12)
    e_ecal, e_hcal = [], []
    for ev in range(10):
        hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(ev))
        e_ecal.append(np.bincount(hits.ecal.entry_particle, hits.ecal.entry_energy, minlength=12))
        e_hcal.append(np.bincount(hits.hcal.entry_particle, hits.hcal.entry_energy, minlength=12))
    assert np.median(e_ecal) == pytest.approx(0.3, abs=0.05)
    assert 1.8 < np.median(e_hcal) < 3.0
    # capped by the particle energy
    imp, _ = ring_of(1.0, KIND_MIP, ieta=50, n=12)
    hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(0))
    assert hits.ecal.entry_energy.sum() + hits.hcal.entry_energy.sum() <= 12 * 1.0 + 1e-9


def test_moyal_has_a_landau_tail():
    x = sample_moyal(1.0, 0.1, 100_000, np.random.default_rng(0))
    assert np.median(x) == pytest.approx(1.0 + 0.1 * 0.7875, abs=0.01)  # median of Moyal: 0.7875
    assert np.mean(x) > np.median(x) and x.min() > 0.6  # sharp lower edge, long upper tail
    assert np.percentile(x, 99) > 1.0 + 0.1 * 5


# --- HF, acceptance, timing -----------------------------------------------------------------

def test_hf_long_and_short_fibres():
    eta = np.full(6, 4.0)
    phi = np.linspace(-3, 3, 6)
    em = simulate_hits(projective_impacts(eta, phi, 100.0, KIND_EM, GEO), GEO, ECAL, HCAL, HF,
                       np.random.default_rng(0))
    had = simulate_hits(projective_impacts(eta, phi, 100.0, KIND_HADRON, GEO), GEO, ECAL, HCAL, HF,
                        np.random.default_rng(0))
    # EM showers: long >> short, so HF-EM carries almost everything
    assert em.hfem.true.sum() > 8 * em.hfhad.true.sum()
    # hadrons: the non-EM part is shared by both fibres, 2 x short measures it
    assert had.hfhad.true.sum() > 0.3 * had.hfem.true.sum()
    assert em.ecal.true.sum() == 0 and em.hcal.true.sum() == 0


def test_outside_acceptance_is_dropped():
    imp = projective_impacts([5.5, -5.6], [0.0, 1.0], 50.0, KIND_EM, GEO)
    hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(0))
    assert hits.hfem.true.sum() == 0 and hits.hfhad.true.sum() == 0


def test_cell_times():
    imp, iphi = ring_of(20.0, KIND_EM, ieta=50, t=np.full(12, 3.0))
    hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(0))
    centre = eb_window(np.full(12, 50), iphi, 0).ravel()
    t = hits.ecal.time[centre, 0]
    err = hits.ecal.time_err[centre, 0]
    assert np.all(err < 0.15) and np.all(err >= ECAL.time_constant)
    assert np.mean(t) == pytest.approx(3.0 + ECAL.shower_delay, abs=3 * 0.15 / np.sqrt(12))
    # the HCAL is slower and coarser in time
    imp, _ = ring_of(50.0, KIND_HADRON, ieta=50, t=np.full(12, 3.0))
    hits = simulate_hits(imp, GEO, ECAL, HCAL, HF, np.random.default_rng(0))
    on = hits.hcal.active
    assert np.all(hits.hcal.time_err[on] >= HCAL.time_constant)
    assert np.median(hits.hcal.time[on]) > 3.0 + HCAL.shower_delay
