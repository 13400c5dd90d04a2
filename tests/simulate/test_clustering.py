"""PF clustering: seeding, topological clusters, energy sharing, features and truth links."""

import dataclasses

import numpy as np
import pytest

from colliderflow.schema.elements import (
    CLUSTER_FEATURES, COMMON_FEATURES, ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFEM, ELEMENT_HFHAD,
)
from colliderflow.simulate.calo_config import EcalConfig, HcalConfig, HfConfig
from colliderflow.simulate.calorimeter import CaloOutput, invert_response, simulate_calorimeters
from colliderflow.simulate.cells import build_cells
from colliderflow.simulate.clustering import ClusteringConfig, cluster_plane
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.impacts import KIND_EM, KIND_HADRON, KIND_MIP, CaloImpacts
from tests.simulate.calo_gun import projective_impacts

GEO = Geometry()
ECAL, HCAL, HF, CLU = EcalConfig(), HcalConfig(), HfConfig(), ClusteringConfig()
CELLS = build_cells(GEO, ECAL, HCAL, HF)
N_PHI = ECAL.barrel_phi_cells
DPHI = 2 * np.pi / N_PHI
QUIET = dataclasses.replace(ECAL, noise_barrel=0.0, noise_endcap=0.0)
QUIET_HCAL = dataclasses.replace(HCAL, noise=0.0)
QUIET_HF = dataclasses.replace(HF, noise=0.0)
ALL_LINKS = dataclasses.replace(CLU, min_link_energy=0.0)


def run(impacts, seed=0, ecal=ECAL, hcal=HCAL, hf=HF, clustering=CLU) -> CaloOutput:
    return simulate_calorimeters(impacts, GEO, ecal, hcal, hf, clustering, np.random.default_rng(seed))


def crystal(ieta, iphi):
    edges = CELLS.eb_eta_edges
    return 0.5 * (edges[ieta] + edges[ieta + 1]), -np.pi + (iphi + 0.5) * DPHI


def photon_pair(separation, energies=(20.0, 20.0), ieta=100, iphi=50):
    eta, phi = crystal(ieta, iphi)
    return projective_impacts([eta, eta], [phi, phi + separation * DPHI], list(energies), KIND_EM, GEO)


def ecal_clusters(out):
    sel = out.clusters["type"] == ELEMENT_ECAL
    return {k: v[sel] for k, v in out.clusters.items()}


# --- end to end ------------------------------------------------------------------------------

@pytest.mark.parametrize("quiet", [True, False])
def test_empty_input(quiet):
    cfg = {"ecal": QUIET, "hcal": QUIET_HCAL, "hf": QUIET_HF} if quiet else {}
    out = run(CaloImpacts.empty(), **cfg)
    assert set(out.clusters) == set(COMMON_FEATURES + CLUSTER_FEATURES)
    assert all(v.shape == (0,) for v in out.clusters.values())
    assert out.link_cluster.shape == out.link_particle.shape == out.link_energy.shape == (0,)
    # no cells above threshold at all: empty too
    soft = projective_impacts([0.5], [0.0], 0.01, KIND_EM, GEO)
    assert run(soft, ecal=QUIET, hcal=QUIET_HCAL, hf=QUIET_HF).n_clusters == 0


def test_noise_rarely_seeds():
    soft = projective_impacts([0.5], [0.0], 0.01, KIND_EM, GEO)  # far below any threshold
    n = [run(soft, seed=s).n_clusters for s in range(10)]
    assert np.mean(n) < 0.5


def test_separated_photons():
    out = run(photon_pair(30, (20.0, 50.0)), ecal=QUIET)
    c = ecal_clusters(out)
    assert len(c["energy"]) == 2
    order = np.argsort(c["energy"])
    assert c["e_corr"][order] == pytest.approx([20.0, 50.0], rel=0.03)
    assert c["e_ecal"] == pytest.approx(c["energy"]) and np.all(c["e_hcal"] == 0)
    assert np.all(c["e_corr_err"] > 0) and np.all(c["e_corr_err"] < 0.05 * c["e_corr"])


@pytest.mark.parametrize("separation, n_clusters", [(1, 1), (2, 2), (3, 2), (6, 2)])
def test_overlapping_photons_merge_or_split(separation, n_clusters):
    for seed in range(5):
        out = run(photon_pair(separation), seed=seed)
        assert len(ecal_clusters(out)["energy"]) == n_clusters


@pytest.mark.parametrize("separation", [2, 3])
def test_shared_energy_adds_up_to_the_topological_cluster(separation):
    imp = photon_pair(separation, (30.0, 10.0))
    out = run(imp, ecal=QUIET)
    c = ecal_clusters(out)
    topo = out.clusters["energy"][out.clusters["type"] == ELEMENT_ECAL].sum()
    # the cells of both showers form one topological cluster whose energy is shared
    assert len(c["energy"]) == 2
    assert c["energy"].sum() == pytest.approx(topo)
    e = np.sort(c["energy"])
    total = e.sum()
    assert e[1] / total == pytest.approx(0.75, abs=0.04)


def test_energy_sharing_kernel_on_handmade_cells():
    """Two equal seeds three crystals apart with two cells between them: the Gaussian-mixture
    fixed point, computed here directly, against the clustering kernel."""
    grid = CELLS.ecal
    energy = np.zeros(len(grid))
    cells = CELLS.eb_cell_id[100, 50:54]  # seed, middle, middle, seed
    energy[cells] = [10.0, 1.0, 1.0, 10.0]
    active = energy > 0.08
    seed = np.full(len(grid), 0.23)
    r = 1.5
    tight = dataclasses.replace(CLU, tolerance=1e-9, max_iterations=1000)
    pc = cluster_plane(energy, active, seed, grid, grid.position, r, 0.0, tight)
    assert pc.n_clusters == 2
    assert np.bincount(pc.cell, pc.fraction, minlength=len(grid))[active] == pytest.approx(1.0)
    e = np.bincount(pc.cluster, pc.fraction * energy[pc.cell])
    assert e == pytest.approx([11.0, 11.0], rel=1e-9)  # symmetric

    pos = grid.position[cells]
    centre = pos[[0, 3]].copy()
    e_clu = np.array([10.0, 10.0])
    for _ in range(1000):
        d2 = ((pos[1:3, None, :] - centre[None, :, :]) ** 2).sum(axis=2) / r**2  # (middle cell, cluster)
        g = e_clu * np.exp(-0.5 * d2)
        f = g / g.sum(axis=1, keepdims=True)
        e_clu = 10.0 + f.sum(axis=0)
        centre = (10.0 * pos[[0, 3]] + f.T @ pos[1:3]) / e_clu[:, None]
    cluster_of_first = np.flatnonzero(pc.seed == cells[0])[0]
    f_kernel = [pc.fraction[(pc.cell == c) & (pc.cluster == cluster_of_first)][0] for c in cells[1:3]]
    assert f_kernel == pytest.approx(f[:, 0], rel=1e-6)
    assert 0.5 < f[0, 0] < 0.99  # shared, mostly to the nearer seed

    # adjacent seeds: only the larger one is a local maximum
    energy[cells] = [10.0, 8.0, 0.0, 0.0]
    pc = cluster_plane(energy, energy > 0.08, seed, grid, grid.position, r, 0.0, CLU)
    assert pc.n_clusters == 1 and pc.seed[0] == cells[0]


def test_phi_wrap_around():
    """A photon on the phi = +-pi boundary gives one cluster, not two."""
    eta, _ = crystal(100, 0)
    imp = projective_impacts([eta], [np.pi - 1e-4], 30.0, KIND_EM, GEO)
    out = run(imp, ecal=QUIET)
    c = ecal_clusters(out)
    assert len(c["energy"]) == 1
    assert abs(c["phi"][0]) == pytest.approx(np.pi, abs=DPHI)
    assert c["sigma_phi_layer1"][0] < 2 * DPHI
    assert c["e_corr"][0] == pytest.approx(30.0, rel=0.03)


def test_links_add_up_to_noise_free_cluster_content():
    rng = np.random.default_rng(5)
    n = 60
    eta = rng.uniform(-0.4, 0.4, n)
    phi = rng.uniform(-0.4, 0.4, n)  # a dense jet: overlapping showers
    kind = rng.choice([KIND_EM, KIND_HADRON, KIND_MIP], n, p=[0.45, 0.5, 0.05])
    imp = projective_impacts(eta, phi, rng.exponential(8.0, n) + 0.5, kind, GEO, particle=np.arange(n) + 100)
    out = run(imp, ecal=QUIET, hcal=QUIET_HCAL, hf=QUIET_HF, clustering=ALL_LINKS)
    # without noise the cluster energy is the sum of the particles' shared true deposits
    per_cluster = np.bincount(out.link_cluster, out.link_energy, minlength=out.n_clusters)
    assert per_cluster == pytest.approx(out.clusters["energy"], rel=1e-6)
    assert np.all(out.link_energy > 0)
    assert set(out.link_particle) <= set(range(100, 100 + n))
    # clusters are shared: several particles per cluster and several clusters per particle
    assert np.bincount(out.link_cluster).max() > 2
    assert np.bincount(out.link_particle - 100).max() > 2
    # the default threshold drops only negligible links
    default = run(imp, ecal=QUIET, hcal=QUIET_HCAL, hf=QUIET_HF)
    assert len(default.link_energy) < len(out.link_energy)
    assert default.link_energy.sum() == pytest.approx(out.link_energy.sum(), rel=1e-3)


def test_determinism():
    rng = np.random.default_rng(9)
    n = 200
    imp = projective_impacts(rng.uniform(-5, 5, n), rng.uniform(-np.pi, np.pi, n), rng.exponential(10.0, n),
                             rng.choice([KIND_EM, KIND_HADRON, KIND_MIP], n), GEO)
    a, b, c = run(imp, seed=1), run(imp, seed=1), run(imp, seed=2)
    for name in a.clusters:
        np.testing.assert_array_equal(a.clusters[name], b.clusters[name])
    np.testing.assert_array_equal(a.link_energy, b.link_energy)
    assert a.n_clusters != c.n_clusters or not np.array_equal(a.clusters["energy"], c.clusters["energy"])
    assert {ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFEM, ELEMENT_HFHAD} <= set(a.clusters["type"].astype(int))


# --- features and calibration ----------------------------------------------------------------

def test_cluster_features():
    eta = np.array([0.5, 0.5, 4.0, -4.0])
    phi = np.array([-2.0, 1.0, 0.0, 2.0])
    kind = np.array([KIND_EM, KIND_HADRON, KIND_EM, KIND_HADRON])
    imp = projective_impacts(eta, phi, 80.0, kind, GEO, nuclear_depth=np.array([np.nan, 2.0, np.nan, np.nan]))
    out = run(imp)
    c = out.clusters
    assert all(v.dtype == np.float64 and v.shape == (out.n_clusters,) for v in c.values())
    assert np.all(np.isfinite(np.stack(list(c.values()))))
    assert c["pt"] == pytest.approx(c["energy"] / np.cosh(c["eta"]))
    layers = sum(c[f"e_layer{i}"] for i in range(1, 5))
    assert layers == pytest.approx(c["energy"])
    big = c["energy"] > 5
    ecal = big & (c["type"] == ELEMENT_ECAL)
    hcal = big & (c["type"] == ELEMENT_HCAL)
    assert ecal.sum() == 1 and hcal.sum() == 1
    assert np.all(c["e_layer2"][ecal] == 0) and np.all(c["sigma_z"][ecal] < 3.0)
    assert np.all(c["e_layer3"][hcal] > 0) and np.all(c["sigma_z"][hcal] > 5.0)  # depth profile
    assert c["sigma_x"][hcal] > 2 * c["sigma_x"][ecal]  # hadron showers are wide
    assert c["sigma_eta_layer1"][ecal] < 0.02 and c["n_cells"][ecal] >= 9
    assert c["eta"][ecal] == pytest.approx(0.5, abs=0.005) and c["phi"][ecal] == pytest.approx(-2.0, abs=0.005)
    assert c["time_err"][ecal] < 0.15 and c["time_err"][hcal] > c["time_err"][ecal]
    # HF: the electron lands in HF-EM, the hadron in both HF-EM and HF-HAD; HF clusters are single
    # cells (hf_towers), so the showers' cores are single-cell clusters next to (eta, phi) of the impacts
    hfem = big & (c["type"] == ELEMENT_HFEM)
    hfhad = big & (c["type"] == ELEMENT_HFHAD)
    assert np.sum(hfem & (c["eta"] > 0)) >= 1 and np.sum(hfhad & (c["eta"] < 0)) >= 1
    assert np.all(c["n_cells"][c["type"] == ELEMENT_HFEM] == 1)
    lead = np.argmax(np.where(c["type"] == ELEMENT_HFEM, c["energy"], 0) * (c["eta"] > 0))
    assert c["eta"][lead] == pytest.approx(4.0, abs=0.2) and c["energy"][lead] > 20
    assert np.all(c["e_ecal"][hfem] == c["energy"][hfem]) and np.all(c["e_hcal"][hfhad] == c["energy"][hfhad])


def test_invert_response():
    energies, response = (1.0, 10.0, 100.0), (0.5, 0.7, 0.8)
    e = np.array([2.0, 10.0, 50.0, 300.0])
    raw = e * np.interp(np.log(e), np.log(energies), response)
    assert invert_response(raw, energies, response) == pytest.approx(e, rel=1e-4)


@pytest.mark.parametrize("energy", [10.0, 50.0])
def test_photon_cluster_calibration(energy):
    eta, phi = crystal(100, np.arange(12) * 30)
    e_corr = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        imp = projective_impacts(eta + rng.uniform(-0.01, 0.01, 12), phi + rng.uniform(-0.01, 0.01, 12),
                                 energy, KIND_EM, GEO)
        e_corr.append(ecal_clusters(run(imp, seed=seed))["e_corr"])
    e_corr = np.concatenate(e_corr)
    assert len(e_corr) == 120
    assert e_corr.mean() == pytest.approx(energy, rel=0.01)
    expected = np.sqrt(ECAL.stochastic**2 / energy + (3 * ECAL.noise_barrel / energy) ** 2 + ECAL.constant**2)
    assert expected < e_corr.std() / energy < 2.5 * expected  # PF clusters: thresholds and more cells


def test_pion_response_after_calibration():
    """ECAL + HCAL raw response ~0.7 at 50 GeV; calibrated HCAL-only showers close to 1."""
    energy = 50.0
    phi = np.arange(8) * 2 * np.pi / 8 - np.pi
    raw, corr = [], []
    for seed in range(15):
        imp = projective_impacts(np.full(8, 0.5), phi + 0.1 * seed, energy, KIND_HADRON, GEO)
        out = run(imp, seed=seed)
        c = out.clusters
        for p in range(8):
            dphi = (c["phi"] - phi[p] - 0.1 * seed + np.pi) % (2 * np.pi) - np.pi
            near = np.hypot(c["eta"] - 0.5, dphi) < 0.4
            e_ecal = c["energy"][near & (c["type"] == ELEMENT_ECAL)].sum()
            e_hcal = c["energy"][near & (c["type"] == ELEMENT_HCAL)].sum()
            raw.append((e_ecal + e_hcal) / energy)
            if e_ecal < 0.5:
                corr.append(c["e_corr"][near & (c["type"] == ELEMENT_HCAL)].sum() / energy)
    raw = np.array(raw)
    assert 0.6 < raw.mean() < 0.8  # non-compensating calorimeters plus threshold losses
    q16, q50, q84 = np.percentile(raw, [16, 50, 84])
    assert 0.10 < (q84 - q16) / 2 / q50 < 0.25  # ~100%/sqrt(E) (+) 5% = 15%
    assert np.mean(corr) == pytest.approx(1.0, abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("n_impacts, budget_ms", [(1000, 15.0), (10000, 150.0)])
def test_timing_budget(n_impacts, budget_ms):
    """Minimum-bias-like impacts (pT ~ 0.1 + Exp(0.5) GeV, |eta| < 5), 5% from a hard process
    (pT ~ Exp(10) GeV, |eta| < 2.5); run with ``pytest -m slow -s`` to see the timings."""
    import time

    rng = np.random.default_rng(0)
    hard = rng.random(n_impacts) < 0.05
    eta = np.where(hard, rng.uniform(-2.5, 2.5, n_impacts), rng.uniform(-5, 5, n_impacts))
    pt = np.where(hard, 0.5 + rng.exponential(10.0, n_impacts), 0.1 + rng.exponential(0.5, n_impacts))
    kind = rng.choice([KIND_EM, KIND_HADRON, KIND_MIP], n_impacts, p=[0.45, 0.54, 0.01])
    imp = projective_impacts(eta, rng.uniform(-np.pi, np.pi, n_impacts), pt * np.cosh(eta), kind, GEO)
    run(imp)  # JIT and cell building
    times = []
    for seed in range(7):
        start = time.perf_counter()
        run(imp, seed=seed)
        times.append(1e3 * (time.perf_counter() - start))
    print(f"\n{n_impacts} impacts: median {np.median(times):.1f} ms (budget {budget_ms:.0f} ms)")
    assert np.median(times) < 3 * budget_ms  # generous: shared test machines
