"""Per-element diagnostics on hand-made events, and the scoreboard table of bench/mlpf_scoreboard.py."""

import importlib.util
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from colliderflow.evaluate.elements import missed_target_pt, ratio_of_sums, target_pt_sum, untargeted_cluster_pt
from colliderflow.physics.uncertainty import binomial_error

# two events; element types 1 track, 2 ECAL, 3 HCAL; target classes 0 none, 1 charged hadron, 2 neutral hadron, 3 photon
TYPES = ak.Array([[1, 2, 3, 3], [2, 3]])
CLS = ak.Array([[1, 0, 0, 2], [3, 2]])
PT = ak.Array([[10.0, 0.0, 0.0, 5.0], [4.0, 6.0]])


def test_untargeted_cluster_pt():
    # event 0: a charged hadron from the track, a neutral from the charged hadron's HCAL cluster (counted twice),
    # one from the neutral hadron's own cluster; event 1: a photon from its ECAL cluster only
    element = ak.Array([[0, 2, 3], [0]])
    pt = ak.Array([[10.0, 3.0, 5.0], [4.0]])
    assert untargeted_cluster_pt(TYPES, CLS, element, pt) == pytest.approx([3.0, 0.0])
    # a candidate from a target-less track is not a calorimeter double count
    assert untargeted_cluster_pt(ak.Array([[1, 1]]), ak.Array([[1, 0]]), ak.Array([[1]]), ak.Array([[2.0]])) == \
        pytest.approx([0.0])


def test_missed_target_pt():
    element = ak.Array([[0, 2], [1]])  # event 0 misses its neutral hadron (element 3); event 1 finds it
    assert missed_target_pt(CLS, PT, element) == pytest.approx([5.0, 0.0])
    assert missed_target_pt(CLS, PT, ak.Array([[], []])) == pytest.approx([5.0, 6.0])
    assert missed_target_pt(CLS, PT, ak.Array([[], []]), cls=3) == pytest.approx([0.0, 4.0])


def test_target_pt_sum():
    assert target_pt_sum(CLS, PT) == pytest.approx([15.0, 10.0])
    assert target_pt_sum(CLS, PT, cls=2) == pytest.approx([5.0, 6.0])


def test_candidates_must_match_elements():
    with pytest.raises(ValueError, match="event 1: element index 2 outside"):
        missed_target_pt(CLS, PT, ak.Array([[0], [2]]))
    with pytest.raises(ValueError, match="1 events for 2 events"):
        missed_target_pt(CLS, PT, ak.Array([[0]]))


def test_ratio_of_sums():
    num, den = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 10.0, 10.0, 10.0])
    value, err = ratio_of_sums(num, den, np.random.default_rng(0))
    assert value == pytest.approx(0.25)
    assert 0 < err < 0.1
    # same seed, same error; constant per-event ratios have no spread
    assert ratio_of_sums(num, den, np.random.default_rng(0))[1] == err
    assert ratio_of_sums(den, den, np.random.default_rng(1))[1] == 0.0
    assert np.isnan(ratio_of_sums(num, 0 * den, np.random.default_rng(0))[0])


@pytest.fixture(scope="module")
def scoreboard():
    path = Path(__file__).parents[2] / "bench" / "mlpf_scoreboard.py"
    spec = importlib.util.spec_from_file_location("mlpf_scoreboard", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _metrics(pf_res, mlpf_res):
    jets = {"target": {"gauss_sigma_over_mean": 0.02, "gauss_sigma_over_mean_err": 0.001},
            "PF": {"gauss_sigma_over_mean": pf_res, "gauss_sigma_over_mean_err": 0.01},
            "PF+PUPPI": {"gauss_sigma_over_mean": 0.15, "gauss_sigma_over_mean_err": 0.01},
            "MLPF": {"gauss_sigma_over_mean": mlpf_res, "gauss_sigma_over_mean_err": 0.01},
            "MLPF+PU": {"gauss_sigma_over_mean": float("nan"), "gauss_sigma_over_mean_err": float("nan")}}
    def fraction(k, n):  # as evaluate writes it: the fraction and its binomial error
        return {"value": k / n, "err": float(binomial_error(k, n))}

    def entry(**fractions):
        out = {}
        for key, f in fractions.items():
            out[key], out[f"{key}_err"] = f["value"], f["err"]
        return out

    particles = {"PF": {"neutral hadron": entry(efficiency=fraction(50, 100), fake_rate=fraction(20, 50)),
                        "electron": entry(id_efficiency=fraction(3, 10))},
                 "MLPF": {"neutral hadron": entry(efficiency=fraction(60, 100), fake_rate=fraction(18, 60)),
                          "electron": entry(id_efficiency=fraction(0, 10))}}
    met = {"PF": {"resolution_xy_gev": 14.0, "resolution_xy_gev_err": 0.5},
           "MLPF": {"resolution_xy_gev": 20.0, "resolution_xy_gev_err": 1.0},
           "MLPF+PU": {"resolution_xy_gev": 25.0, "resolution_xy_gev_err": float("nan")}}
    return {"jets_30_100": jets, "met": met, "particles": particles}


def test_scoreboard_table(scoreboard):
    sb = scoreboard
    elements = {"calo_pt_counted_twice": {"PF": sb.figure(0.05, 0.004), "MLPF": sb.figure(0.02, 0.003)}}
    samples = {}
    for name, pileup, pf_res, mlpf_res in (("ttbar_nopu", "0", 0.09, 0.20), ("ttbar_pu", "55-75", 0.20, 0.22)):
        figures = sb.sample_figures(_metrics(pf_res, mlpf_res), elements)
        samples[name] = {"label": name.replace("_", " "), "events": 20, "jec": "self-calibrated",
                         "figures": figures, "ratios": sb.sample_ratios(figures, pileup)}
    results = {"samples": samples, "targets": sb.scoreboard_targets(samples)}
    text = sb.format_table(results)
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ttbar nopu")}
    assert len(rows) == 1  # the sample label on its first row only
    lines = text.splitlines()
    jet_row = next(line for line in lines if "jet σ/μ" in line)
    # target, PF, PF+CHS (absent), PF+PUPPI, MLPF, MLPF+CHS (absent), MLPF+PUPPI (absent), MLPF+PU (NaN)
    assert jet_row.split(" | ")[2:10] == ["2.0 ± 0.1", "9.0 ± 1.0", "–", "15.0 ± 1.0", "20.0 ± 1.0", "–", "–", "–"]
    # ratio MLPF / PF without pileup: 20/9 with errors added in quadrature
    r = 20 / 9 * np.hypot(1 / 20, 1 / 9)
    assert f"2.222 ± {r:.3f} (MLPF/PF)" in jet_row
    # errors as evaluate wrote them: MET (a NaN error is shown without one), binomial 0.5 of 100 and 0 of 10
    met_row = next(line for line in lines if "MET x/y" in line)
    assert met_row.split(" | ")[2:10] == ["–", "14.0 ± 0.5", "–", "–", "20.0 ± 1.0", "–", "–", "25.0"]
    assert "50.0 ± 5.0" in next(line for line in lines if "neutral hadron efficiency" in line)
    assert "0.0 ± 9.5" in next(line for line in lines if "electron ID" in line)
    assert "5.00 ± 0.40" in next(line for line in lines if "counted twice" in line)
    targets = {(t["target"], t["sample"]): t for t in results["targets"]}
    assert targets[("jet resolution without pileup: MLPF ≤ PF", "ttbar_nopu")]["met"] is False
    assert targets[("jet resolution without pileup: MLPF ≤ PF", "ttbar_nopu")]["margin_sigma"] == \
        pytest.approx(-0.11 / np.hypot(0.01, 0.01))
    nh = targets[("neutral hadrons: efficiency ≥ PF at fake rate ≤ PF", "ttbar_nopu")]
    assert nh["met"] is True and nh["margin_sigma"] > 0
    assert targets[("electron ID efficiency ≥ PF", "ttbar_nopu")]["met"] is False
    # MLPF+PUPPI and the QCD sample are missing: undecided, shown as '–'
    assert targets[("jet resolution: MLPF+PUPPI ≤ PF+PUPPI", "ttbar_pu")]["met"] is None
    assert targets[("jet resolution: MLPF+PUPPI ≤ PF+PUPPI", "qcd_pu")]["met"] is None
    assert "| **not met** |" in text and "| met |" in text and "| – | – |" in text


def test_corrections_applied(scoreboard):
    def metrics(raw, corrected):
        return {"jets": {"PF": {"raw": [{"median": raw}, {}], "corrected": [{"median": corrected}, {}]}}}

    assert scoreboard.corrections_applied(metrics(0.8, 1.0))
    assert not scoreboard.corrections_applied(metrics(0.8, 0.8 * (1 + 1e-15)))  # factors of 1 (too few jets)
