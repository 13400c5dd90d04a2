"""FlashSim end to end on a small full-simulation sample: sources, training, sampling with
oversampling, reproducibility, validation report and the CLI."""

from __future__ import annotations

import dataclasses
import json

import awkward as ak
import numpy as np
import pytest

from colliderflow.cli import main
from colliderflow.flashsim.sample import FlashSim, SampleConfig, sample_file
from colliderflow.nano.reco import RecoConfig, object_selections
from colliderflow.flashsim.sources import MODELS, source_table
from colliderflow.flashsim.train import FlashSimTrainConfig, NetConfig, train_flashsim
from colliderflow.nano.io import read_nano, read_nano_header


@pytest.fixture(scope="module")
def model_dir(nano_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("fs")
    cfg = FlashSimTrainConfig(train=[str(nano_path)], out=str(out), min_objects=5, threads=1, device="cpu",
                              net=NetConfig(steps=60, batch_size=256, flow_hidden=32, clf_hidden=16))
    report = train_flashsim(cfg, progress=False)
    return out, report


def test_every_reco_object_has_exactly_one_source(nano_path):
    ev = read_nano(nano_path)
    for coll in ("Jet", "Muon", "Electron", "Photon"):
        n = 0
        for spec in MODELS.values():
            if spec.collection == coll:
                t = source_table(ev, spec, with_targets=True)
                n += int(t.count.sum())
                assert len(t.obj_source) == t.count.sum()
                assert np.all(t.count <= spec.max_multiplicity)
        assert n == int(ak.sum(ak.num(ev[coll]))), coll


def test_training_writes_bundle_report_and_plots(model_dir):
    out, report = model_dir
    assert (out / "flashsim.pt").exists() and (out / "losses.png").exists() and (out / "reliability.png").exists()
    assert {"jet_genjet", "muon_genmuon", "met", "pv"} <= set(report["models"])
    assert set(report["models"]) | set(report["skipped"]) == {*MODELS, "met", "pv"}
    rel = report["models"]["jet_genjet"]["classifier"]["reliability"]["head0"]
    assert 0 <= rel["ece"] <= 1 and sum(rel["n"]) > 0
    saved = json.loads((out / "training.json").read_text())
    assert set(saved["models"]) == set(report["models"])


def test_sampling_with_oversampling(model_dir, nano_path, tmp_path):
    out, _ = model_dir
    gen = read_nano(nano_path)
    K = 3
    r = sample_file(out, nano_path, tmp_path / "flash.parquet", SampleConfig(oversample=K, seed=5, batch_size=20,
                                                                           device="cpu"), progress=False)
    assert r["events"] == K * len(gen)
    fl = read_nano(tmp_path / "flash.parquet")
    assert read_nano_header(tmp_path / "flash.parquet")["oversample"] == K
    assert np.array_equal(ak.to_numpy(fl.event), np.repeat(ak.to_numpy(gen.event), K))
    assert np.array_equal(ak.to_numpy(fl.FlashSim.replica), np.tile(np.arange(K), len(gen)))
    assert ak.all(fl.GenJet.pt == gen.GenJet.pt[np.repeat(np.arange(len(gen)), K)])
    sim = FlashSim(out, device="cpu")
    assert sim.selections == object_selections(RecoConfig())  # the training files' (default) cuts, via the bundle
    for coll, (min_pt, max_eta) in sim.selections.items():
        assert ak.all(fl[coll].pt > min_pt) and ak.all(abs(fl[coll].eta) < max_eta)
        assert ak.all(fl[coll].pt[:, :-1] >= fl[coll].pt[:, 1:])
    # gen-matched jets point at their generator jet
    assert ak.all(fl.Jet.genJetIdx < ak.num(fl.GenJet))
    # replicas of one generator event differ (fresh draws), and FlashSim makes jets
    j = ak.to_list(fl.Jet.pt[:K])
    assert j[0] != j[1] or j[1] != j[2]
    assert ak.sum(ak.num(fl.Jet)) > 0 and np.all(np.isfinite(ak.to_numpy(fl.PuppiMET.pt)))


def test_sampling_is_reproducible_and_seeded(model_dir, nano_path, tmp_path):
    out, _ = model_dir
    gen = read_nano(nano_path)[:16]
    sim = FlashSim(out, device="cpu")
    a = sim.simulate(gen, SampleConfig(oversample=2, seed=1))
    b = sim.simulate(gen, SampleConfig(oversample=2, seed=1))
    c = sim.simulate(gen, SampleConfig(oversample=2, seed=2))
    assert ak.to_list(a) == ak.to_list(b)
    assert ak.to_list(a.Jet.pt) != ak.to_list(c.Jet.pt)


def test_rk4_and_euler_agree_roughly(model_dir, nano_path):
    out, _ = model_dir
    gen = read_nano(nano_path)
    sim = FlashSim(out, device="cpu")
    n = {s: ak.sum(ak.num(sim.simulate(gen, SampleConfig(oversample=4, seed=3, solver=s, steps=8)).Jet))
         for s in ("euler", "rk4")}
    assert n["euler"] == pytest.approx(n["rk4"], rel=0.3)


def test_cli_sample_validate_and_errors(model_dir, nano_path, tmp_path, capsys):
    out, _ = model_dir
    flash = tmp_path / "flash.root"
    assert main(["flashsim", "sample", "--model", str(out), "--input", str(nano_path), "--output", str(flash),
                 "--oversample", "2", "--quiet", "--steps", "4"]) == 0
    assert "events/s" in capsys.readouterr().out
    rep = tmp_path / "val"
    assert main(["flashsim", "validate", "--flash", str(flash), "--full", str(nano_path), "--reference",
                 str(nano_path), "--out", str(rep), "--quiet", "--c2st-epochs", "3"]) == 0
    m = json.loads((rep / "metrics.json").read_text())
    assert m["oversample"] == 2 and m["shared_generator_events"] == 48
    assert 0 <= m["collections"]["Jet"]["c2st"]["auc"] <= 1
    assert set(m["toys"]) == {"zmumu", "ttbar"}
    z = m["toys"]["zmumu"]
    assert z["full"]["yield"] > 0 and z["flash"]["error"] >= z["flash"]["naive_error"] - 1e-9
    assert (rep / "report.md").exists() and (rep / "jet_variables.png").exists() and (rep / "toy_zmumu.png").exists()
    # errors: missing bundle, corrupt bundle, gen-less input
    assert main(["flashsim", "sample", "--model", str(tmp_path / "none"), "--input", str(nano_path), "--output",
                 str(tmp_path / "x.root"), "--quiet"]) == 1
    (tmp_path / "bad.pt").write_bytes(b"not a bundle")
    assert main(["flashsim", "sample", "--model", str(tmp_path / "bad.pt"), "--input", str(nano_path), "--output",
                 str(tmp_path / "x.root"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no FlashSim bundle" in err and "not a readable FlashSim bundle" in err
    assert not (tmp_path / "x.root").exists()


def test_events_without_objects_and_bad_inputs(model_dir, nano_path, tmp_path):
    from colliderflow.nano.io import write_nano

    out, _ = model_dir
    gen = read_nano(nano_path)[:3]
    empty = ak.with_field(gen, gen.GenJet[:, :0], "GenJet")
    empty = ak.with_field(empty, empty.GenPart[:, :0], "GenPart")
    fl = FlashSim(out, device="cpu").simulate(empty, SampleConfig(oversample=2))
    assert len(fl) == 6 and np.all(np.isfinite(ak.to_numpy(fl.PuppiMET.pt)))
    assert ak.all(fl.Jet.genJetIdx < 0)  # only pileup jets can appear
    bad = ak.with_field(gen, ak.where(ak.local_index(gen.GenJet) == 0, np.nan, gen.GenJet.pt), ["GenJet", "pt"])
    write_nano(tmp_path / "bad.parquet", bad)
    with pytest.raises(ValueError, match=r"event 0: GenJet_pt is NaN or inf"):
        sample_file(out, tmp_path / "bad.parquet", tmp_path / "o.parquet", SampleConfig(device="cpu"), progress=False)
    assert not (tmp_path / "o.parquet").exists()


def test_training_selections_come_from_the_nano_headers(nano_path, tmp_path):
    from colliderflow.flashsim.train import training_selections
    from colliderflow.nano.io import write_nano
    from colliderflow.utils.config import to_dict

    events = read_nano(nano_path)[:3]
    tight = to_dict(RecoConfig(jet_min_pt=25.0))
    write_nano(tmp_path / "a.parquet", events, {"reco_config": tight})
    write_nano(tmp_path / "b.parquet", events, {"reco_config": tight})
    write_nano(tmp_path / "c.parquet", events, {})
    sel = training_selections([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")])
    assert sel["Jet"] == [25.0, 4.7]
    assert training_selections([str(tmp_path / "c.parquet")])["Jet"] == [15.0, 4.7]  # no header: nano defaults
    with pytest.raises(ValueError, match="differ"):
        training_selections([str(tmp_path / "a.parquet"), str(tmp_path / "c.parquet")])


def test_met_and_pv_entries_record_their_condition_and_old_met_reads_as_reco(model_dir, nano_path, tmp_path):
    from colliderflow.flashsim.bundle import read_bundle, save_bundle
    from colliderflow.utils.parquet import FileFormatError

    out, report = model_dir
    _, bundle = read_bundle(out / "flashsim.pt")
    assert bundle["models"]["met"]["condition"] == report["models"]["met"]["condition"] == "gen_mht"
    assert bundle["models"]["pv"]["condition"] == "event"
    gen = read_nano(nano_path)[:4]
    cfg = SampleConfig(oversample=2, seed=1, device="cpu")
    new = FlashSim(out, device="cpu").simulate(gen, cfg)
    del bundle["models"]["met"]["condition"]  # a bundle from before the record: MET on reconstructed jets
    save_bundle(tmp_path / "old.pt", bundle["config"], bundle["models"], bundle["skipped"], bundle["selections"])
    old_sim = FlashSim(tmp_path / "old.pt", device="cpu")
    assert old_sim.models["met"].condition == "reco"
    old = old_sim.simulate(gen, cfg)
    assert ak.all(old.Jet.pt == new.Jet.pt)  # only MET's condition differs
    assert not np.array_equal(ak.to_numpy(old.PuppiMET.pt), ak.to_numpy(new.PuppiMET.pt))
    bundle["models"]["met"]["condition"] = "calo"
    save_bundle(tmp_path / "bad.pt", bundle["config"], bundle["models"], bundle["skipped"], bundle["selections"])
    with pytest.raises(FileFormatError, match="conditioned on 'calo'"):
        FlashSim(tmp_path / "bad.pt", device="cpu")


def test_bundle_carries_its_target_transforms(model_dir, nano_path, tmp_path):
    from colliderflow.flashsim.bundle import model_targets, read_bundle, save_bundle
    from colliderflow.utils.config import to_dict

    out, _ = model_dir
    _, bundle = read_bundle(out / "flashsim.pt")
    for name, entry in bundle["models"].items():
        assert entry["flow"]["targets"] == [to_dict(s) for s in model_targets(name)], name
    # sampling decodes with the bundle's transforms, not this code's: change one and the output follows
    gen = read_nano(nano_path)
    cfg = SampleConfig(seed=2, device="cpu")
    before = FlashSim(out, device="cpu").simulate(gen, cfg)
    assert ak.sum(before.Muon.pfRelIso04_all > 0) > 0
    muon = bundle["models"]["muon_genmuon"]["flow"]["targets"]
    iso = next(t for t in muon if t["name"] == "pfRelIso04_all")
    iso["scale"] *= 10
    save_bundle(tmp_path / "b.pt", bundle["config"], bundle["models"], bundle["skipped"], bundle["selections"])
    after = FlashSim(tmp_path / "b.pt", device="cpu").simulate(gen, cfg)
    assert ak.all(after.Jet.pt == before.Jet.pt)
    assert not ak.all(ak.flatten(after.Muon.pfRelIso04_all) == ak.flatten(before.Muon.pfRelIso04_all))


def test_draws_outside_the_selection_are_drawn_again(model_dir, nano_path, monkeypatch):
    import colliderflow.flashsim.sample as sample_module

    out, _ = model_dir
    gen = read_nano(nano_path)
    sim = FlashSim(out, device="cpu")
    cfg = SampleConfig(oversample=3, seed=4, device="cpu")
    # jet_genjet runs first, so its first draws are the same with and without the redraws
    matched = {}
    for rounds in (0, 3):
        monkeypatch.setattr(sample_module, "_REDRAWS", rounds)
        fl = sim.simulate(gen, cfg)
        matched[rounds] = int(ak.sum(fl.Jet.genJetIdx >= 0))
        min_pt, max_eta = sim.selections["Jet"]
        assert ak.all(fl.Jet.pt > min_pt) and ak.all(abs(fl.Jet.eta) < max_eta)
    assert matched[3] > matched[0]


def test_object_models_record_the_pileup_stage_they_are_conditioned_on(model_dir, nano_path, tmp_path, monkeypatch):
    import colliderflow.flashsim.train as train_mod
    from colliderflow.flashsim.bundle import read_bundle, save_bundle
    from colliderflow.utils.parquet import FileFormatError

    out, report = model_dir
    _, bundle = read_bundle(out / "flashsim.pt")
    assert "pileup" not in bundle["models"]["pv"]  # the pileup stage itself: sampled first
    ev = read_nano(nano_path)
    jets = source_table(ev, MODELS["jet_genjet"])
    for name, entry in bundle["models"].items():
        if name != "pv":
            assert entry["pileup"] == report["models"][name]["pileup"] == ["rho", "npvs"]
    assert bundle["models"]["jet_genjet"]["classifier"]["cond_dim"] == jets.cond.shape[1] + 2
    # a bundle from before the record was conditioned on rho alone and had a smaller pileup-jet cap: it
    # still samples, with its own conditions and cap
    cfg = FlashSimTrainConfig(train=[str(nano_path)], out=str(tmp_path / "old"), min_objects=5, threads=1, device="cpu",
                              models=["jet_genjet", "jet_pileup", "pv"],
                              net=NetConfig(steps=60, batch_size=256, flow_hidden=16, clf_hidden=8))
    with monkeypatch.context() as mp:
        mp.setattr(train_mod, "PILEUP_FEATURES", ("rho",))
        mp.setitem(MODELS, "jet_pileup", dataclasses.replace(MODELS["jet_pileup"], max_multiplicity=3))
        train_flashsim(cfg, progress=False)
    _, old = read_bundle(tmp_path / "old" / "flashsim.pt")
    assert old["models"]["jet_genjet"]["classifier"]["cond_dim"] == jets.cond.shape[1] + 1
    del old["models"]["jet_genjet"]["pileup"]
    save_bundle(tmp_path / "old.pt", old["config"], old["models"], old["skipped"], old["selections"])
    sim = FlashSim(tmp_path / "old.pt", device="cpu")
    assert sim.models["jet_genjet"].pileup == ("rho",)
    assert sim.models["jet_pileup"].max_multiplicity == 3 < MODELS["jet_pileup"].max_multiplicity
    flash = sim.simulate(ev[:20], SampleConfig(oversample=2, seed=1, device="cpu"))
    assert len(flash) == 40 and ak.max(ak.sum(flash.Jet.genJetIdx < 0, axis=1)) <= 3
    old["models"]["jet_genjet"]["pileup"] = ["rho", "nvtx"]
    save_bundle(tmp_path / "bad.pt", old["config"], old["models"], old["skipped"], old["selections"])
    with pytest.raises(FileFormatError, match="pileup features"):
        FlashSim(tmp_path / "bad.pt", device="cpu")


def test_training_steps_leave_room_for_the_warm_up():
    with pytest.raises(ValueError, match="steps"):
        NetConfig(steps=5)
    assert NetConfig(steps=10, min_steps=0, max_epochs=1, batch_size=1024).steps_for(100) == 10
    assert NetConfig().steps_for(10**6) == 20000
