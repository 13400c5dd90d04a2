"""Target validation (Figure 1 of the MLPF paper): target with pileup removed vs generator truth.

Compares particle pT, AK4 jet pT, the jet response of target jets to truth jets, and MET.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from colliderflow.dataset.read import load_dataset, missing_chunks
from colliderflow.physics.jets import cluster_jets, match_jets
from colliderflow.physics.met import met
from colliderflow.plotting import hist2d, hist_ratio
from colliderflow.utils.atomic import atomic_dir, atomic_write_text

__all__ = ["validate_target", "pileup_label", "PU_THRESHOLD"]

#: a target particle counts as pileup when more than half its energy comes from pileup
PU_THRESHOLD = 0.5


def pileup_label(n_pu: np.ndarray) -> str:
    """'no pileup', 'pileup 60' or 'pileup 55-75' for the per-event pileup counts."""
    lo, hi = int(np.min(n_pu)), int(np.max(n_pu))
    return "no pileup" if hi == 0 else f"pileup {lo}" if lo == hi else f"pileup {lo}-{hi}"


def _quantiles(x: np.ndarray) -> dict[str, float]:
    if len(x) == 0:
        return {"n": 0}
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    return {"n": int(len(x)), "median": float(q50), "iqr_over_median": float((q75 - q25) / q50) if q50 else float("nan"),
            "mean": float(np.mean(x))}


def validate_target(path: str | os.PathLike, out: str | os.PathLike, allow_partial: bool = False) -> dict[str, Any]:
    """Write the Figure-1 plots and ``metrics.json`` for the dataset at ``path`` into ``out``.

    ``out`` appears whole or not at all. ``allow_partial`` accepts a dataset whose manifest lists
    missing chunks; ``metrics.json`` then records how many.
    """
    with atomic_dir(out) as tmp:
        return _validate_target(path, tmp, allow_partial)


def _validate_target(path: str | os.PathLike, out: Path, allow_partial: bool) -> dict[str, Any]:
    data = load_dataset(path, columns=["ytarget", "truth", "event"], allow_partial=allow_partial)
    y, truth = data.ytarget, data.truth
    target = y[(y.cls > 0) & (y.pu_frac < PU_THRESHOLD)]
    process = ", ".join(sorted(set(ak.to_list(data.event.process))))
    npu = ak.to_numpy(data.event.n_pu)
    title = f"{process}, {pileup_label(npu)}, {len(data)} events"
    plots = []

    tpt, ypt = ak.to_numpy(ak.flatten(truth.pt)), ak.to_numpy(ak.flatten(target.pt))
    bins = np.geomspace(0.1, 500, 40)
    plots.append(hist_ratio({"truth": tpt, "target (PU removed)": ypt}, bins, "particle $p_T$ [GeV]",
                            out / "particle_pt.png", logx=True, title=title))

    jets_truth = cluster_jets(truth.pt, truth.eta, truth.phi, truth.energy, 0.4, min_pt=10.0)
    jets_target = cluster_jets(target.pt, target.eta, target.phi, target.energy, 0.4, min_pt=10.0)
    jbins = np.geomspace(10, 1000, 30)
    plots.append(hist_ratio({"truth jets": ak.to_numpy(ak.flatten(jets_truth.pt)),
                             "target jets": ak.to_numpy(ak.flatten(jets_target.pt))}, jbins,
                            "AK4 jet $p_T$ [GeV]", out / "jet_pt.png", logx=True, title=title))

    idx = match_jets(jets_target, jets_truth, 0.2)
    matched = idx >= 0
    gen_pt = ak.to_numpy(ak.flatten(jets_truth.pt[matched]))
    reco_pt = ak.to_numpy(ak.flatten(jets_target.pt[idx[matched]]))
    response = reco_pt / gen_pt if len(gen_pt) else np.zeros(0)
    plots.append(hist_ratio({"target / truth": response}, np.linspace(0, 2, 41), "jet response $p_T^{target}/p_T^{truth}$",
                            out / "jet_response.png", logy=False, title=title))

    met_truth, _ = met(truth.pt, truth.phi)
    met_target, _ = met(target.pt, target.phi)
    top = max(float(np.percentile(np.concatenate([met_truth, met_target]), 99)), 20.0)
    mbins = np.linspace(0, top, 25)
    plots.append(hist2d(met_truth, met_target, (mbins, mbins), "truth $p_T^{miss}$ [GeV]",
                        "target $p_T^{miss}$ [GeV]", out / "met.png", title=title))

    metrics = {
        "events": int(len(data)), "process": process, "missing_chunks": len(missing_chunks(path)[0]),
        "particles": {"truth": int(len(tpt)), "target_pu_removed": int(len(ypt)),
                      "truth_pt_gt1": int((tpt > 1).sum()), "target_pt_gt1": int((ypt > 1).sum())},
        "energy_fraction_target_over_truth_eta5": float(ak.sum(target.energy[abs(target.eta) < 5])
                                                         / ak.sum(truth.energy[abs(truth.eta) < 5])),
        "pt_fraction_target_over_truth_eta2p5": float(ak.sum(target.pt[abs(target.eta) < 2.5])
                                                      / ak.sum(truth.pt[abs(truth.eta) < 2.5])),
        "pt_fraction_target_over_truth_eta2p5_pt1": float(
            ak.sum(target.pt[(abs(target.eta) < 2.5) & (target.pt > 1)])
            / ak.sum(truth.pt[(abs(truth.eta) < 2.5) & (truth.pt > 1)])),
        "jets_pt_gt10": {"truth": int(ak.sum(ak.num(jets_truth))), "target": int(ak.sum(ak.num(jets_target)))},
        "jet_matching_efficiency": float(ak.sum(matched) / max(int(ak.sum(ak.num(jets_truth))), 1)),
        "jet_response": _quantiles(response),
        "jet_response_pt_gt30": _quantiles(response[gen_pt > 30]),
        "met": {"truth_mean": float(np.mean(met_truth)), "target_mean": float(np.mean(met_target)),
                "correlation": float(np.corrcoef(met_truth, met_target)[0, 1]) if len(met_truth) > 1 else float("nan")},
        "plots": [p.name for p in plots],
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return metrics
