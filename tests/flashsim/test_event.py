"""MET and pileup-stage conditioning: which jets the MET sums come from, what the pileup stage reads, the
pileup-stage columns of the object models."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from colliderflow.flashsim.event import MET_CONDITION, PV_CONDITION, met_condition, pv_condition


def _coll(pt, phi):
    return ak.zip({"pt": ak.Array(pt), "phi": ak.Array(phi)})


@pytest.fixture
def event():
    """One event: GenMET along x; a generator jet of 50 GeV along +y; two reconstructed jets
    (60 GeV along +y, 30 GeV along -x); no leptons or photons."""
    events = ak.zip({"GenMET": ak.zip({"pt": [40.0], "phi": [0.0]}),
                     "GenJet": _coll([[50.0]], [[np.pi / 2]])}, depth_limit=1)
    empty = _coll([[]], [[]])
    reco = {"Jet": _coll([[60.0, 30.0]], [[np.pi / 2, np.pi]]), "Muon": empty, "Electron": empty, "Photon": empty}
    return events, reco, np.zeros((1, 2), np.float32)


def test_reco_mode_sums_the_reconstructed_jets(event):
    c = met_condition(*event, kind="reco")[0]
    # columns after the 2 context features: MHT par, perp (asinh(x / 20)), log(1 + HT), nJet / 10
    np.testing.assert_allclose(np.sinh(c[2:4]) * 20, [30.0, -60.0], atol=1e-3)
    np.testing.assert_allclose([np.expm1(c[4]), c[5]], [90.0, 0.2], rtol=1e-5)


def test_gen_mht_mode_takes_the_vector_from_generator_jets_and_ht_from_reconstructed(event):
    c = met_condition(*event, kind="gen_mht")[0]
    np.testing.assert_allclose(np.sinh(c[2:4]) * 20, [0.0, -50.0], atol=1e-3)
    np.testing.assert_allclose([np.expm1(c[4]), c[5]], [90.0, 0.2], rtol=1e-5)
    assert MET_CONDITION == "gen_mht"
    np.testing.assert_array_equal(met_condition(*event)[0], c)


def test_unknown_mode_is_refused(event):
    with pytest.raises(ValueError, match="MET condition 'gen'"):
        met_condition(*event, kind="gen")


def test_pileup_stage_reads_the_event_context_or_only_the_pileup_count():
    events = ak.zip({"Pileup": ak.zip({"nPU": [30, 90]})}, depth_limit=1)
    ev_feat = np.array([[0.5, 1.0, 2.0, 0.3], [1.5, 0.0, 0.1, 0.0]], np.float32)
    assert PV_CONDITION == "event"
    np.testing.assert_array_equal(pv_condition(events, ev_feat), ev_feat)
    np.testing.assert_allclose(pv_condition(events, ev_feat, "npu"), [[0.5], [1.5]])
    with pytest.raises(ValueError, match="pileup-stage condition 'rho'"):
        pv_condition(events, ev_feat, "rho")


def test_pileup_columns_follow_the_recorded_order_and_refuse_unknown_names():
    from colliderflow.flashsim.event import pileup_columns, rho_feature

    values = {"rho": np.array([0.0, 30.0]), "npvs": np.array([20, 40])}
    cols = pileup_columns(values, ["npvs", "rho"])
    assert cols.shape == (2, 2) and cols.dtype == np.float32
    np.testing.assert_allclose(cols[:, 0], [0.5, 1.0])
    np.testing.assert_allclose(cols[:, 1], rho_feature(values["rho"]))
    np.testing.assert_array_equal(pileup_columns(values, ("rho",))[:, 0], cols[:, 1])
    with pytest.raises(ValueError, match="pileup conditions \\['nvtx'\\]"):
        pileup_columns(values, ["rho", "nvtx"])
