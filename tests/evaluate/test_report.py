"""dataset -> reconstruct (PF) -> derive-jec -> evaluate on a tiny sample."""

import json

import awkward as ak
import pytest

from colliderflow.cli import main
from colliderflow.reconstruct import load_candidates


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
    from colliderflow.evaluate.report import _collections

    colls = _collections(load_dataset(sample / "ds", columns=["ytarget", "truth", "event"]), {"MLPF": mlpf})
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
