import awkward as ak
import numpy as np
import pytest

from colliderflow.physics.jets import cluster_jets, delta_r, match_jets
from colliderflow.physics.matching import closest_within, match_closest
from colliderflow.physics.met import (
    met,
    met_projected_response_median,
    met_response_median,
    met_xy_resolution,
    type1_met,
)
from colliderflow.physics.resolution import derive_jec, summarise_response


def test_two_separated_particles_make_two_jets():
    pt = ak.Array([[50.0, 30.0, 1.0]])
    eta = ak.Array([[0.0, 1.5, 0.05]])
    phi = ak.Array([[0.0, 2.0, 0.05]])
    e = pt * np.cosh(eta)
    jets = cluster_jets(pt, eta, phi, e, 0.4, min_pt=5.0)
    assert ak.num(jets)[0] == 2
    assert jets.pt[0][0] == pytest.approx(51.0, rel=1e-3)   # soft particle clustered into the leading jet
    assert jets.n_constituents[0][0] == 2
    weighted = cluster_jets(pt, eta, phi, e, 0.4, min_pt=5.0, weight=ak.Array([[1.0, 0.0, 1.0]]))
    assert ak.num(weighted)[0] == 1


def test_met_closed_form():
    m, phi = met(ak.Array([[10.0, 10.0]]), ak.Array([[0.0, np.pi / 2]]))
    assert m[0] == pytest.approx(np.sqrt(200))
    assert phi[0] == pytest.approx(-3 * np.pi / 4)


def _gaussian_met_residuals(n, sigma=10.0, seed=0):
    return np.random.default_rng(seed).normal(0, sigma, (2, n))


def test_met_xy_resolution_and_its_error():
    # 16-84% half-width of a Gaussian: 0.9945 sigma; its standard error, from the quantile variance
    # q(1-q) / (n f(x_q)^2) of the 2N pooled residuals (with the q16-q84 covariance): 0.68 sigma / sqrt(N)
    dx, dy = _gaussian_met_residuals(1000)
    value, err = met_xy_resolution(dx, dy, np.random.default_rng(0), n_boot=400)
    assert value == pytest.approx(0.9945 * 10, rel=0.05)
    assert err == pytest.approx(0.68 * 10 / np.sqrt(1000), rel=0.25)
    # reproducible with the same seed
    assert met_xy_resolution(dx, dy, np.random.default_rng(0), n_boot=400) == (value, err)
    # 4x the events, half the error
    dx4, dy4 = _gaussian_met_residuals(4000, seed=1)
    _, err4 = met_xy_resolution(dx4, dy4, np.random.default_rng(0), n_boot=400)
    assert err4 / err == pytest.approx(0.5, rel=0.25)


def test_met_response_median_and_its_error():
    # median of a Gaussian response N(0.9, 0.1): standard error sqrt(pi/2) 0.1 / sqrt(N)
    rng = np.random.default_rng(5)
    gen = np.full(1000, 50.0)
    reco = gen * rng.normal(0.9, 0.1, 1000)
    value, err = met_response_median(reco, gen, np.random.default_rng(0), n_boot=400)
    assert value == pytest.approx(0.9, abs=0.01)
    assert err == pytest.approx(np.sqrt(np.pi / 2) * 0.1 / np.sqrt(1000), rel=0.25)
    assert met_response_median(reco, gen, np.random.default_rng(0), n_boot=400) == (value, err)
    gen4 = np.full(4000, 50.0)
    _, err4 = met_response_median(gen4 * rng.normal(0.9, 0.1, 4000), gen4, np.random.default_rng(0), n_boot=400)
    assert err4 / err == pytest.approx(0.5, rel=0.25)
    # events without true MET (gen <= 20 GeV) are left out; too few left: not measured
    assert met_response_median(np.array([10.0, 5.0, 40.0]), np.array([10.0, 10.0, 50.0]), np.random.default_rng(0),
                               min_events=1)[0] == pytest.approx(0.8)
    assert np.isnan(met_response_median(reco[:9], gen[:9], np.random.default_rng(0))[0])


def test_projected_met_response_measures_the_scale_where_the_magnitude_ratio_measures_the_noise():
    # a MET with scale s and Gaussian x/y smearing of 36 GeV on a ttbar-like generator MET spectrum
    rng = np.random.default_rng(11)
    gen = rng.gamma(2.0, 30.0, 20000)
    phi = rng.uniform(-np.pi, np.pi, gen.size)
    gx, gy = gen * np.cos(phi), gen * np.sin(phi)
    for scale in (1.0, 0.8):
        mx, my = scale * gx + rng.normal(0, 36, gen.size), scale * gy + rng.normal(0, 36, gen.size)
        value, err = met_projected_response_median(mx, my, gx, gy, np.random.default_rng(0), n_boot=100)
        assert value == pytest.approx(scale, abs=3 * err + 0.01)
        assert 0 < err < 0.02
        magnitude, _ = met_response_median(np.hypot(mx, my), gen, np.random.default_rng(0), n_boot=10)
        assert magnitude > value + 0.1  # the smearing pushes the magnitude ratio up, not the projection
    # without smearing both are the scale; events with gen MET <= 20 GeV are left out
    mx, my = 0.9 * gx, 0.9 * gy
    assert met_projected_response_median(mx, my, gx, gy, np.random.default_rng(0), n_boot=10)[0] == pytest.approx(0.9)
    assert np.isnan(met_projected_response_median(mx[:9], my[:9], gx[:9], gy[:9], np.random.default_rng(0))[0])
    small = np.full(20, 10.0)
    assert np.isnan(met_projected_response_median(small, small, small, small, np.random.default_rng(0))[0])


def test_matching_is_unique_and_closest_first():
    # gen 0 and gen 1 both near reco 0; gen 1 is closer and wins; gen 0 takes reco 1 if within the cone
    eta_g, phi_g = np.array([0.0, 0.05]), np.array([0.0, 0.0])
    eta_r, phi_r = np.array([0.06, 0.1]), np.array([0.0, 0.0])
    m = match_closest(eta_g, phi_g, eta_r, phi_r, 0.15)
    assert list(m) == [1, 0]
    assert list(match_closest(eta_g, phi_g, eta_r[:1], phi_r[:1], 0.15)) == [-1, 0]
    # phi wrap-around
    assert match_closest(np.array([0.0]), np.array([3.13]), np.array([0.0]), np.array([-3.13]), 0.05)[0] == 0
    assert delta_r(0.0, 3.13, 0.0, -3.13) == pytest.approx(2 * np.pi - 6.26, abs=1e-9)


def test_jet_matching():
    reco = ak.Array([[{"eta": 0.0, "phi": 0.0}, {"eta": 2.0, "phi": 1.0}]])
    gen = ak.Array([[{"eta": 2.05, "phi": 1.0}, {"eta": -1.0, "phi": 0.0}]])
    assert ak.to_list(match_jets(reco, gen, 0.2)) == [[1, -1]]


def test_gaussian_resolution_recovered():
    rng = np.random.default_rng(0)
    r = rng.normal(0.95, 0.1, 20000)
    s = summarise_response(r)
    assert s.gauss_sigma_over_mean == pytest.approx(0.1 / 0.95, rel=0.05)
    assert s.iqr_resolution == pytest.approx(0.1 / 0.95, rel=0.05)
    assert s.median == pytest.approx(0.95, abs=0.005)
    assert 0 < s.gauss_sigma_over_mean_err < 0.01


def test_jec_closes():
    rng = np.random.default_rng(1)
    gen_pt = np.exp(rng.uniform(np.log(20), np.log(1000), 40000))
    gen_eta = rng.uniform(-4.5, 4.5, len(gen_pt))
    true_response = 0.7 + 0.05 * np.log10(gen_pt) - 0.03 * np.abs(gen_eta)
    reco_pt = gen_pt * true_response * rng.normal(1, 0.1, len(gen_pt))
    jec = derive_jec(gen_pt, gen_eta, reco_pt)
    corrected = reco_pt * jec(reco_pt, gen_eta)
    for lo, hi in ((30, 60), (100, 200), (400, 800)):
        sel = (gen_pt > lo) & (gen_pt < hi) & (np.abs(gen_eta) < 1.3)
        assert np.median(corrected[sel] / gen_pt[sel]) == pytest.approx(1.0, abs=0.03)


def test_jet_constituents_index_the_input_particles():
    rng = np.random.default_rng(4)
    n = [30, 0, 12]
    pt = ak.unflatten(rng.uniform(1, 40, sum(n)), n)
    eta = ak.unflatten(rng.uniform(-2, 2, sum(n)), n)
    phi = ak.unflatten(rng.uniform(-np.pi, np.pi, sum(n)), n)
    energy = pt * np.cosh(eta)
    weight = ak.unflatten(np.where(rng.random(sum(n)) < 0.3, 0.0, 1.0), n)  # weight 0 removes a particle
    jets = cluster_jets(pt, eta, phi, energy, min_pt=5.0, weight=weight, return_constituents=True)
    assert ak.all(ak.num(jets.constituents, axis=2) == jets.n_constituents)
    for i in range(len(n)):
        e = np.asarray(energy[i] * weight[i])
        for j in range(len(jets[i])):
            idx = np.asarray(jets.constituents[i][j])
            assert np.all(e[idx] > 0)
            assert np.sum(e[idx]) == pytest.approx(float(jets.energy[i][j]), rel=1e-9)


def test_closest_within_is_not_unique():
    idx = closest_within(np.array([0.0, 0.05, 3.0]), np.zeros(3), np.array([0.0, 1.0]), np.zeros(2), 0.2)
    assert idx.tolist() == [0, 0, -1]


def test_type1_met_propagates_the_corrections_of_jets_above_threshold():
    # event 0: a jet corrected from 20 to 30 GeV at phi = 0 and one below 15 GeV after correction;
    # event 1: no jets
    pt = ak.Array([[20.0, 10.0], []])
    phi = ak.Array([[0.0, np.pi / 2], []])
    corrected = ak.Array([[30.0, 14.0], []])
    mx, my = type1_met(np.array([5.0, 1.0]), np.array([0.0, 2.0]), pt, phi, corrected, min_pt=15.0)
    assert mx == pytest.approx([5.0 - 10.0, 1.0]) and my == pytest.approx([0.0, 2.0])


def test_gaussian_fit_with_singular_covariance_gives_nan_error_and_no_warning():
    import warnings

    rng = np.random.default_rng(272)
    r = rng.normal(1, 0.1, int(rng.integers(10, 30)))  # 12 entries: the fit's covariance is singular
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = summarise_response(r).to_dict()
    assert np.isfinite(s["gauss_sigma_over_mean"]) and np.isnan(s["gauss_sigma_over_mean_err"])
