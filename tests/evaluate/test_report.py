"""dataset -> reconstruct (PF) -> derive-jec -> evaluate on a tiny sample."""

import json
import math

import awkward as ak
import pytest

from colliderflow.cli import main
from colliderflow.schema.candidates import load_candidates


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    assert main(["dataset", "--process", "ttbar", "--events", "6", "--chunk-size", "3", "--seed", "8",
                 "--out", str(root / "ds"), "--quiet"]) == 0
    assert main(["reconstruct", "--input", str(root / "ds"), "--output", str(root / "pf"), "--quiet"]) == 0
    return root


def test_candidates_layout(sample):
    cands = load_candidates(sample / "pf")
    assert len(cands) == 6
    assert set(ak.to_numpy(ak.flatten(cands.cls))) <= set(range(1, 8))
    charged = cands[cands.charge != 0]
    assert ak.all(charged.vertex >= -1)
    assert ak.all((cands.puppi_weight >= 0) & (cands.puppi_weight <= 1))


def test_reconstruct_resumes(sample, capsys):
    assert main(["reconstruct", "--input", str(sample / "ds"), "--output", str(sample / "pf"), "--quiet"]) == 0
    assert "0 chunk(s) built, 2 reused" in capsys.readouterr().out


def test_evaluate_report(sample):
    assert main(["derive-jec", "--dataset", str(sample / "ds"), "--reco", f"PF={sample / 'pf'}",
                 "--out", str(sample / "jec.json")]) == 0
    out = sample / "report"
    assert main(["evaluate", "--dataset", str(sample / "ds"), "--reco", f"PF={sample / 'pf'}", "--jec",
                 str(sample / "jec.json"), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["collections"]) == {"target", "PF", "PF+CHS", "PF+PUPPI"}
    assert metrics["jec_source"].endswith("jec.json")
    assert metrics["particles"]["PF"]["charged hadron"]["n_gen"] > 0
    report = (out / "report.md").read_text()
    for plot in metrics["plots"]:
        assert (out / plot).stat().st_size > 10_000
        assert plot in report
    # every MET and particle figure carries its error, in metrics.json and as 'value ± error' in report.md
    for name, e in metrics["met"].items():
        assert math.isfinite(e["resolution_xy_gev_err"]) and e["resolution_xy_gev_err"] > 0
        row = next(line for line in report.splitlines() if line.startswith(f"| {name} | {e['mean']:.1f} |"))
        assert f"{e['resolution_xy_gev']:.1f} ± {e['resolution_xy_gev_err']:.1f}" in row
        assert set(e["type1"]) >= {"mean", "resolution_xy_gev", "resolution_xy_gev_err"}
        # L123 - L1 for the jets that keep pileup; PUPPI has no offset step (as in CMS)
        assert e["type1"]["offset_subtracted"] == (name in ("PF", "PF+CHS"))
        assert sum(b["events"] for b in e["vs_pileup"]) == metrics["events"]
    # jets in the four |eta| regions, every efficiency with its error, in metrics.json and report.md
    for name, bins in metrics["jets_eta"].items():
        assert [(b["lo"], b["hi"]) for b in bins] == [(0.0, 1.3), (1.3, 2.5), (2.5, 3.0), (3.0, 5.0)]
        for b in bins:
            assert b["n_gen"] == 0 or 0 <= b["efficiency"] <= 1 and b["efficiency_err"] > 0
    assert "## Jets in |η| regions" in report and "type-1" in report
    ch = metrics["particles"]["PF"]["charged hadron"]
    assert 0 < ch["efficiency_err"] < 0.5 and 0 < ch["id_efficiency_err"] < 0.5
    row = next(line for line in report.splitlines() if line.startswith("| PF | charged hadron |"))
    assert f"{100 * ch['efficiency']:.1f}% ± {100 * ch['efficiency_err']:.1f}%" in row
    assert row.count("±") == 2 + ("fake_rate" in ch)


def test_load_dataset_reads_only_the_first_events(sample, monkeypatch):
    # evaluate's event display reads X this way: only the chunks (3 events each) that hold the first events
    from colliderflow.dataset import read

    events = read.load_dataset(sample / "ds", columns=["event"])
    chunks_read = []
    read_chunk = read._read_chunk

    def counting_read_chunk(path, columns):
        chunks_read.append(path)
        return read_chunk(path, columns)

    monkeypatch.setattr(read, "_read_chunk", counting_read_chunk)
    for stop, n_chunks in ((2, 1), (3, 1), (4, 2), (10, 2)):
        chunks_read.clear()
        first = read.load_dataset(sample / "ds", columns=["event"], stop=stop)
        assert ak.to_list(first.event.index) == ak.to_list(events.event.index[:stop])
        assert len(chunks_read) == n_chunks
    with pytest.raises(ValueError, match="stop must be >= 1"):
        read.load_dataset(sample / "ds", stop=0)


def test_evaluate_rejects_mismatched_reco(sample, tmp_path, capsys):
    assert main(["dataset", "--process", "ttbar", "--events", "2", "--seed", "9", "--out", str(tmp_path / "other"),
                 "--quiet"]) == 0
    assert main(["evaluate", "--dataset", str(tmp_path / "other"), "--reco", f"PF={sample / 'pf'}",
                 "--out", str(tmp_path / "r")]) == 1
    assert "reconstruct the same dataset" in capsys.readouterr().err


def test_shipped_corrections_are_the_default(sample):
    out = sample / "report_default"
    assert main(["evaluate", "--dataset", str(sample / "ds"), "--reco", f"PF={sample / 'pf'}", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["jec_sources"]["PF+PUPPI"].endswith("cms-like.json")
    out = sample / "report_self"
    assert main(["evaluate", "--dataset", str(sample / "ds"), "--reco", f"PF={sample / 'pf'}", "--jec", "self",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["jec_sources"].values()) == {"self-calibrated"}


def test_mlpf_collections_and_corrections_missing_from_the_file(sample, element_predictor, capsys):
    mlpf = sample / "mlpf"
    assert main(["reconstruct", "--algo", "mlpf", "--model", "element-rule.pt", "--input", str(sample / "ds"),
                 "--output", str(mlpf), "--pileup-threshold", "0.35", "--quiet"]) == 0
    # +PU: the pileup score below the threshold stored in the candidates' header
    from colliderflow.dataset.read import load_dataset
    from colliderflow.evaluate.report import evaluated_collections

    colls = evaluated_collections(load_dataset(sample / "ds", columns=["ytarget", "truth", "event"]), {"MLPF": mlpf})
    pu_score = ak.flatten(load_candidates(mlpf).pu_score)
    assert ak.all(ak.flatten(colls["MLPF+PU"].weight) == (pu_score < 0.35))
    assert 0 < ak.sum(pu_score < 0.35) < ak.sum(pu_score < 0.5)
    recos = ["--reco", f"PF={sample / 'pf'}", "--reco", f"MLPF={mlpf}"]
    jec = sample / "jec_all.json"
    assert main(["derive-jec", "--dataset", str(sample / "ds"), *recos, "--out", str(jec)]) == 0
    data = json.loads(jec.read_text())
    expected = ["target", "PF", "PF+CHS", "PF+PUPPI", "MLPF", "MLPF+CHS", "MLPF+PUPPI", "MLPF+PU"]
    assert list(data["corrections"]) == expected
    del data["corrections"]["MLPF+PUPPI"]
    jec.write_text(json.dumps(data))
    capsys.readouterr()
    out = sample / "report_mlpf"
    assert main(["evaluate", "--dataset", str(sample / "ds"), *recos, "--jec", str(jec), "--out", str(out)]) == 0
    assert "MLPF+PUPPI not in the corrections file; calibrated on this sample" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["collections"] == expected
    assert metrics["jec_sources"]["MLPF+PUPPI"] == "self-calibrated"
    assert all(v == str(jec) for k, v in metrics["jec_sources"].items() if k != "MLPF+PUPPI")
    report = (out / "report.md").read_text()
    assert "self-calibrated on the evaluated sample (MLPF+PUPPI: not in the corrections file)" in report
    assert "| self-calibrated |" in report and "| jec_all.json |" in report
