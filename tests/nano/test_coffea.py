"""The NanoAOD-like files open in coffea's NanoAODSchema without patches, as CMS NanoAOD does."""

from __future__ import annotations

import warnings

import awkward as ak
import numpy as np
import pytest

coffea_nanoevents = pytest.importorskip("coffea.nanoevents")

#: the only warnings allowed: coffea's notes about cross-references to collections this format
#: does not have (FatJet, Tau, LowPtElectron, FsrPhoton, GenVisTau) or does not link (Jet_muonIdx1 ...)
_ALLOWED = "Missing cross-reference"


def _open(path):
    factory = coffea_nanoevents.NanoEventsFactory
    schema = coffea_nanoevents.NanoAODSchema
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if str(path).endswith(".root"):
            events = factory.from_root({str(path): "Events"}, schemaclass=schema, mode="eager").events()
        else:
            events = factory.from_parquet(str(path), schemaclass=schema, mode="eager").events()
    other = [str(w.message) for w in caught if not str(w.message).startswith(_ALLOWED)]
    assert not other, other
    return events


def _dimuon_mass(events) -> np.ndarray:
    mu = events.Muon[(events.Muon.pt > 10) & (abs(events.Muon.eta) < 2.4)]
    two = mu[ak.num(mu) >= 2]
    pair = two[:, 0] + two[:, 1]
    return ak.to_numpy(pair.mass)


@pytest.fixture(scope="module")
def files(nano_path, tmp_path_factory):
    from colliderflow.flashsim.sample import SampleConfig, sample_file
    from colliderflow.nano.io import read_nano, write_nano

    root = tmp_path_factory.mktemp("coffea")
    full_root = root / "full.root"
    write_nano(full_root, read_nano(nano_path), {"source": "fullsim"})
    out = {"full.parquet": nano_path, "full.root": full_root}
    for suffix in ("root", "parquet"):
        path = root / f"flash.{suffix}"
        sample_file("cms-like", nano_path, path, SampleConfig(oversample=3, steps=4, device="cpu"), progress=False)
        out[f"flash.{suffix}"] = path
    return out


@pytest.mark.parametrize("name", ["full.root", "full.parquet", "flash.root", "flash.parquet"])
def test_opens_in_nanoaodschema_and_runs_a_dimuon_selection(files, name):
    events = _open(files[name])
    mass = _dimuon_mass(events)
    # the Z -> mumu half of the sample: most dimuon masses near the Z
    assert len(mass) >= 10 and 0.5 < np.mean((mass > 70) & (mass < 110)) <= 1
    # CMS names and cross-references resolve
    for coll in ("Muon", "Electron"):
        assert ak.all(ak.flatten(events[coll].mass) > 0)
    assert ak.all(events.PV.x == 0) and len(ak.to_numpy(events.PV.z)) == len(events)
    jets = events.Jet[events.Jet.genJetIdx >= 0]
    assert ak.all(abs(jets.matched_gen.eta - jets.eta) < 0.5)
    muons = events.Muon[events.Muon.genPartIdx >= 0]
    assert ak.all(abs(muons.matched_gen.pdgId) == 13)
    # mothers: leptons from the hard process point to their Z or W, a W to its top; the rest have none
    gp = events.GenPart
    lep = gp[(abs(gp.pdgId) == 11) | (abs(gp.pdgId) == 13)]
    hard = lep[lep.hasFlags(["fromHardProcess"])]
    assert ak.sum(ak.num(hard)) >= 20
    assert set(np.abs(ak.to_numpy(ak.flatten(hard.parent.pdgId))).tolist()) <= {23, 24}
    assert ak.all(ak.is_none(lep[~lep.hasFlags(["fromHardProcess"])].parent, axis=1))
    z_mumu = ak.sum((abs(gp.pdgId) == 13) & (abs(ak.fill_none(gp.parent.pdgId, 0)) == 23), axis=1) == 2
    assert ak.sum(z_mumu) >= 10
    w = gp[abs(gp.pdgId) == 24]
    assert ak.sum(ak.num(w)) > 0 and ak.all(abs(ak.flatten(w.parent.pdgId)) == 6)
    resonance = (abs(gp.pdgId) == 6) | ((abs(gp.pdgId) >= 23) & (abs(gp.pdgId) <= 25))
    assert ak.all((gp.status == 1) | (gp.status == 62)) and ak.all((gp.status == 62) == resonance)
    prompt = gp.hasFlags(["isPrompt"])
    assert ak.any(prompt)
    assert ak.all(events.PuppiMET.pt >= 0)


def test_replicas_have_unique_ids_and_keep_the_generator_event(files):
    full, flash = _open(files["full.root"]), _open(files["flash.root"])
    ids = set(zip(*(ak.to_numpy(flash[k]).tolist() for k in ("run", "luminosityBlock", "event"))))
    assert len(ids) == len(flash) == 3 * len(full)
    assert set(ak.to_numpy(flash.luminosityBlock).tolist()) == {1, 2, 3}
    assert set(ak.to_numpy(flash.event).tolist()) == set(ak.to_numpy(full.event).tolist())
    assert set(ak.to_numpy(full.luminosityBlock).tolist()) == {1}


def test_runs_tree_counts_the_weights(files):
    import uproot

    from colliderflow.nano.io import read_nano

    for name in ("full.root", "flash.root"):
        events = read_nano(files[name])
        with uproot.open(files[name]) as f:
            runs = f["Runs"].arrays(library="np")
        w = ak.to_numpy(events.genWeight).astype(np.float64)
        assert runs["genEventCount"].sum() == len(events)
        np.testing.assert_allclose(runs["genEventSumw"].sum(), w.sum(), rtol=1e-6)
        np.testing.assert_allclose(runs["genEventSumw2"].sum(), (w ** 2).sum(), rtol=1e-6)
        assert sorted(runs["run"].tolist()) == sorted(set(ak.to_numpy(events.run).tolist()))


def test_parquet_files_and_dataset_directories_open_with_pyarrow_and_pandas(files, nano_path):
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(files["flash.parquet"])
    assert "Jet_pt" in table.column_names and "nJet" in table.column_names
    assert len(pd.read_parquet(files["flash.parquet"])) == table.num_rows
    dataset = nano_path.parent / "ttbar"  # a dataset directory of the fixture
    assert len(pq.read_table(dataset)) == 24
    assert len(pd.read_parquet(dataset)) == 24
