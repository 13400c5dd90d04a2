"""The shipped cms-like FlashSim model loads and produces physical objects from generator events."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from colliderflow.flashsim.sample import FlashSim, SampleConfig, resolve_model
from colliderflow.nano.io import read_nano


@pytest.fixture(scope="module")
def flash(nano_path):
    sim = FlashSim("cms-like", device="cpu")
    gen = read_nano(nano_path)
    return sim, gen, sim.simulate(gen, SampleConfig(oversample=4, seed=0))


def test_shipped_bundle_has_the_main_models():
    assert resolve_model("cms-like").name == "flashsim.pt"
    sim = FlashSim("cms-like", device="cpu")
    assert {"jet_genjet", "jet_pileup", "muon_genmuon", "photon_genjet", "met", "pv"} <= set(sim.models)


def test_shipped_bundle_records_what_this_code_trains():
    from colliderflow.flashsim.bundle import model_targets, read_bundle
    from colliderflow.flashsim.event import MET_CONDITION, PV_CONDITION
    from colliderflow.utils.config import to_dict

    _, bundle = read_bundle(resolve_model("cms-like"))
    assert bundle["models"]["met"]["condition"] == MET_CONDITION
    assert bundle["models"]["pv"]["condition"] == PV_CONDITION
    for name, entry in bundle["models"].items():
        assert entry["flow"]["targets"] == [to_dict(s) for s in model_targets(name)], name


def test_shipped_model_jets_follow_their_generator_jets(flash):
    _, gen, fl = flash
    j = fl.Jet[fl.Jet.genJetIdx >= 0]
    g = fl.GenJet[j.genJetIdx]
    r = ak.to_numpy(ak.flatten(j.pt / g.pt))
    gpt = ak.to_numpy(ak.flatten(g.pt))
    assert len(r[gpt > 30]) > 50
    assert 0.8 < np.median(r[gpt > 30]) < 1.25
    dr = ak.to_numpy(ak.flatten(np.hypot(j.eta - g.eta, (j.phi - g.phi + np.pi) % (2 * np.pi) - np.pi)))
    assert np.median(dr) < 0.1


def test_shipped_model_reconstructs_z_muons(flash):
    _, gen, fl = flash
    zmm = fl[fl.event >= 0][4 * 24:]  # the Z -> mu mu half of the fixture, 4 replicas each
    gmu = ak.sum((abs(zmm.GenPart.pdgId) == 13) & (zmm.GenPart.pt > 20) & (abs(zmm.GenPart.eta) < 2.4), axis=1)
    rmu = ak.sum((zmm.Muon.genPartIdx >= 0) & (zmm.Muon.pt > 15), axis=1)
    assert ak.sum(rmu) / ak.sum(gmu) > 0.6
    assert np.all(np.isfinite(ak.to_numpy(fl.PuppiMET.pt))) and ak.all(fl.PuppiMET.pt >= 0)
