"""NanoAOD-like objects from the full chain: fields, ranges, matching, ROOT/Parquet I/O, bad files."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from colliderflow.nano.io import FileFormatError, read_nano, read_nano_header, write_nano
from colliderflow.nano.schema import COLLECTIONS, SINGLETONS


@pytest.fixture(scope="module")
def events(nano_path):
    return read_nano(nano_path)


def test_every_schema_field_is_present(events):
    for coll, fields in COLLECTIONS.items():
        assert set(events[coll].fields) == set(fields), coll
    for single in ("GenMET", "Pileup", "MET", "PV"):
        assert set(events[single].fields) == set(SINGLETONS[single]), single
    assert len(events) == 48


def test_jet_properties_are_physical(events):
    j = ak.flatten(events.Jet)
    assert ak.all(j.pt > 15) and ak.all(abs(j.eta) < 4.7)
    fr = sum(ak.to_numpy(j[f]) for f in ("chHEF", "neHEF", "chEmEF", "neEmEF", "muEF"))
    assert np.all(fr <= 1.0 + 1e-4) and np.all(fr > 0.5)
    assert set(np.unique(ak.to_numpy(j.jetId))) <= {0, 2, 6}
    assert np.all((ak.to_numpy(j.btag) >= 0) & (ak.to_numpy(j.btag) <= 1))
    # pT-sorted, and genJetIdx points inside the event's GenJet list
    assert ak.all(events.Jet.pt[:, :-1] >= events.Jet.pt[:, 1:])
    assert ak.all(events.Jet.genJetIdx < ak.num(events.GenJet))


def test_btag_separates_b_jets(events):
    j = events.Jet
    m = j.genJetIdx >= 0
    flav = ak.to_numpy(ak.flatten(ak.where(m, events.GenJet.hadronFlavour[ak.where(m, j.genJetIdx, 0)], -1)))
    b = ak.to_numpy(ak.flatten(j.btag))
    assert (flav == 5).sum() >= 10
    assert b[flav == 5].mean() > b[flav == 0].mean() + 0.2


def test_gen_objects(events):
    gp = ak.flatten(events.GenPart)
    final = ak.to_numpy(gp.status) == 1
    pdg = np.abs(ak.to_numpy(gp.pdgId))
    assert set(np.unique(pdg[final])) <= {11, 13, 22}
    assert set(np.unique(pdg[~final])) == {6, 23, 24}  # the resonances of ttbar and Z -> mu mu
    # a resonance's daughters follow their mother's index inside the event
    mother = events.GenPart.genPartIdxMother
    assert ak.all(mother < ak.num(events.GenPart)) and ak.all(mother >= -1)
    assert ak.all(events.Pileup.nPU == 10)
    # Z -> mu mu events carry two prompt generator muons, and their reco muons match them
    zmm = events[24:]
    assert ak.mean(ak.sum(abs(zmm.GenPart.pdgId) == 13, axis=1)) >= 1.5
    mu = ak.flatten(zmm.Muon)
    assert ak.mean(mu.genPartIdx >= 0) > 0.7
    assert ak.all(abs(ak.flatten(events.GenJet.hadronFlavour)) <= 5)


def test_root_roundtrip_nanoaod_branches(events, tmp_path):
    import uproot

    path = write_nano(tmp_path / "nano.root", events[:10], {"source": "test"})
    with uproot.open(path) as f:
        tree = f["Events"]
        assert tree.classname == "TTree"
        for b in ("nJet", "Jet_pt", "Jet_btag", "nMuon", "Muon_pfRelIso04_all", "MET_pt", "PuppiMET_pt",
                  "GenJet_hadronFlavour", "GenPart_statusFlags", "run", "luminosityBlock", "event"):
            assert b in tree.keys()
    back = read_nano(path)
    assert read_nano_header(path)["source"] == "test"
    for coll in ("Jet", "Muon", "GenJet", "GenPart"):
        for f in events[coll].fields:
            assert ak.all(back[coll][f] == events[coll][f][:10]), (coll, f)
    assert ak.all(back.MET.pt == events.MET.pt[:10]) and ak.all(back.PuppiMET.pt == events.PuppiMET.pt[:10])
    assert not ak.all(events.MET.pt == events.PuppiMET.pt)  # PF and PUPPI MET differ


def test_bad_files_give_clear_errors(events, tmp_path):
    path = write_nano(tmp_path / "nano.root", events[:5])
    data = path.read_bytes()
    (tmp_path / "cut.root").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="cut.root"):
        read_nano(tmp_path / "cut.root")
    with pytest.raises(ValueError, match="unknown NanoAOD output format"):
        write_nano(tmp_path / "nano.txt", events[:5])
    from colliderflow.utils.parquet import write_parquet

    write_parquet(tmp_path / "other.parquet", ak.Array([{"a": 1}]), {"kind": "candidates", "schema_version": 1})
    with pytest.raises(FileFormatError, match="expected 'nanoaod'"):
        read_nano(tmp_path / "other.parquet")
    # a failed write leaves nothing behind
    with pytest.raises(Exception):
        write_nano(tmp_path / "bad.root", ak.Array([{"Jet": [{"pt": "x"}]}]))
    assert not (tmp_path / "bad.root").exists()


@pytest.mark.parametrize("suffix", ["root", "parquet"])
def test_iter_nano_streams_the_same_events(events, tmp_path, suffix):
    from colliderflow.nano.io import iter_nano, nano_entries

    path = write_nano(tmp_path / f"nano.{suffix}", events, {"source": "test"})
    assert nano_entries(path) == len(events)
    whole = read_nano(path)
    parts = list(iter_nano(path, 7))
    assert [len(p) for p in parts[:-1]] == [7] * (len(parts) - 1)
    joined = ak.concatenate(parts)
    for coll in ("Jet", "GenPart"):
        for f in whole[coll].fields:
            assert ak.all(joined[coll][f] == whole[coll][f]), (coll, f)
    gen_only = next(iter_nano(path, 5, only=("GenJet", "run", "event")))
    assert set(gen_only.fields) == {"GenJet", "run", "event"}
