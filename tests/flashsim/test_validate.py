"""FlashSim validation: axis labels carry units; response errors resample generator events; ratios."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.flashsim.validate import axis_label


def test_axis_labels_carry_units():
    assert axis_label("PuppiMET_pt") == "PuppiMET_pt [GeV]"
    assert axis_label("Jet_mass") == "Jet_mass [GeV]"
    assert axis_label("rho") == "rho [GeV]"
    assert axis_label("PuppiMET_phi") == "PuppiMET_phi [rad]"
    assert axis_label("dz") == "dz [cm]"
    assert axis_label("PV_z") == "PV_z"  # not dz
    assert axis_label("nJet") == "nJet"
    assert axis_label("m(mumu) [GeV]") == "m(mumu) [GeV]"


def test_response_errors_resample_generator_events_not_replicas():
    from colliderflow.flashsim.validate import _response_figures

    rng = np.random.default_rng(1)
    r = rng.normal(1.0, 0.1, 400)
    med, med_err, iqr, _, reso, _ = _response_figures(r, np.arange(400), np.random.default_rng(2))
    assert med == pytest.approx(np.median(r)) and reso == pytest.approx(iqr / med)
    assert 0.3 * 0.1 / 20 < med_err < 3 * 0.1 / 20  # about 1.25 sigma / sqrt(N)
    # ten replicas of each event: as uncertain as the 400 events, not as 4000 independent ones
    r10, folds = np.repeat(r, 10), np.repeat(np.arange(400), 10)
    _, err_folds, *_ = _response_figures(r10, folds, np.random.default_rng(2))
    _, err_naive, *_ = _response_figures(r10, np.arange(4000), np.random.default_rng(2))
    assert err_folds > 2 * err_naive
    assert np.isnan(_response_figures(r[:5], np.arange(5), rng)[0])


def test_flash_over_full_ratio_adds_relative_errors_in_quadrature():
    from colliderflow.flashsim.validate import _ratio

    ratio, err = _ratio(np.array([0.9, 1.0, np.nan]), np.array([0.03, 0.0, 0.1]),
                        np.array([1.0, 0.0, 1.0]), np.array([0.04, 0.1, 0.1]))
    assert ratio[0] == pytest.approx(0.9)
    assert err[0] == pytest.approx(0.9 * np.hypot(0.03 / 0.9, 0.04 / 1.0))
    assert not np.isfinite(ratio[1]) and np.isnan(ratio[2])  # empty Full bin, missing Flash point


def test_efficiency_error_counts_generator_events_and_never_vanishes():
    from colliderflow.flashsim.validate import _efficiency

    # Full: 50 of 100 and 20 of 20 objects, unit weights (variance = count)
    eff, err = _efficiency(np.array([50.0, 20.0]), np.array([100.0, 20.0]), np.array([100.0, 20.0]))
    np.testing.assert_allclose(eff, [0.5, 1.0])
    assert err[0] == pytest.approx(0.05)
    assert 0 < err[1] < 0.06  # all pass: about 1/n, not 0
    # K = 10 replicas of 100 generator objects with weights 1/K: the fold variance (100) counts 100
    # objects; a per-entry variance (1000 x 0.1^2 = 10) would claim 1000 and shrink the error
    _, err_naive = _efficiency(np.array([50.0]), np.array([100.0]), np.array([10.0]))
    assert err_naive[0] == pytest.approx(err[0] / np.sqrt(10))
    assert np.isnan(_efficiency(np.array([0.0]), np.array([0.0]), np.array([0.0]))[1][0])
