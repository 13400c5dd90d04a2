"""Jet performance: anti-kt jets from every collection, matched to truth jets, with corrections."""

from __future__ import annotations

import awkward as ak
import numpy as np

from colliderflow.physics.jets import cluster_jets, match_jets
from colliderflow.physics.resolution import JetCorrections, binned_response, derive_jec, summarise_response
from colliderflow.physics.uncertainty import binomial_error

__all__ = ["collection_jets", "matched_jets", "derive_corrections", "jet_performance", "jet_performance_eta",
           "PT_EDGES", "ETA_BINS"]

PT_EDGES = np.array([20, 30, 40, 60, 80, 100, 150, 200, 300, 500, 1000, 3000], dtype=float)

#: |eta| regions of the jet figures: barrel, endcap inside the tracker, endcap beyond it, HF
ETA_BINS = ((0.0, 1.3), (1.3, 2.5), (2.5, 3.0), (3.0, 5.0))


def collection_jets(coll: ak.Array, radius: float = 0.4, min_pt: float = 5.0) -> ak.Array:
    return cluster_jets(coll.pt, coll.eta, coll.phi, coll.energy, radius=radius, min_pt=min_pt, weight=coll.weight)


def matched_jets(reco_jets: ak.Array, gen_jets: ak.Array, dr_max: float = 0.2) -> dict[str, np.ndarray]:
    """Flat arrays of gen pT, gen eta and matched raw reco pT (NaN where unmatched) over all gen jets."""
    idx = match_jets(reco_jets, gen_jets, dr_max)
    gen_pt = ak.to_numpy(ak.flatten(gen_jets.pt))
    flat_idx = ak.to_numpy(ak.flatten(idx))
    # global index of the matched reco jet in the flattened reco array
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(reco_jets)))])[:-1]
    ev = np.repeat(np.arange(len(gen_jets)), ak.to_numpy(ak.num(gen_jets)))
    reco_flat = ak.to_numpy(ak.flatten(reco_jets.pt))
    reco_pt = np.where(flat_idx >= 0, reco_flat[np.where(flat_idx >= 0, offsets[ev] + flat_idx, 0)]
                       if len(reco_flat) else np.nan, np.nan)
    return {"gen_pt": gen_pt, "gen_eta": ak.to_numpy(ak.flatten(gen_jets.eta)), "reco_pt": reco_pt}


def derive_corrections(m: dict[str, np.ndarray]) -> JetCorrections:
    ok = np.isfinite(m["reco_pt"]) & (m["reco_pt"] > 0)
    return derive_jec(m["gen_pt"][ok], m["gen_eta"][ok], m["reco_pt"][ok])


def jet_performance(m: dict[str, np.ndarray], jec: JetCorrections, eta_max: float = 2.5,
                    pt_edges: np.ndarray = PT_EDGES) -> dict:
    """Raw and corrected response/resolution versus gen pT for |eta| < eta_max, and the matching efficiency."""
    central = np.abs(m["gen_eta"]) < eta_max
    matched = np.isfinite(m["reco_pt"])
    sel = central & matched
    raw = m["reco_pt"][sel] / m["gen_pt"][sel]
    corr_pt = m["reco_pt"][sel] * jec(m["reco_pt"][sel], m["gen_eta"][sel])
    corrected = corr_pt / m["gen_pt"][sel]
    eff_n = np.histogram(m["gen_pt"][central], pt_edges)[0]
    eff_k = np.histogram(m["gen_pt"][central & matched], pt_edges)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = np.where(eff_n > 0, eff_k / eff_n, np.nan)
    return {
        "raw": binned_response(m["gen_pt"][sel], raw, pt_edges),
        "corrected": binned_response(m["gen_pt"][sel], corrected, pt_edges),
        "matching_efficiency": {"edges": pt_edges.tolist(), "value": eff.tolist()},
        "raw_response_values": raw, "corrected_response_values": corrected, "gen_pt_values": m["gen_pt"][sel],
    }


def jet_performance_eta(m: dict[str, np.ndarray], jec: JetCorrections, eta_bins=ETA_BINS,
                        min_gen_pt: float = 30.0, max_gen_pt: float = 100.0) -> list[dict]:
    """Jet efficiency and corrected resolution in |eta| bins of the gen jet.

    Efficiency: fraction of gen jets with pT > ``min_gen_pt`` matched to a reco jet (binomial
    error); resolution: :func:`summarise_response` of the corrected response at gen pT in
    [``min_gen_pt``, ``max_gen_pt``).

    Args:
        m: :func:`matched_jets` output.

    Returns:
        one dict per bin: ``lo``, ``hi``, ``n_gen``, ``efficiency``, ``efficiency_err`` and the
        response summary fields (``n``, ``median``, ``gauss_sigma_over_mean``, ...).
    """
    ae = np.abs(m["gen_eta"])
    matched = np.isfinite(m["reco_pt"])
    out = []
    for lo, hi in eta_bins:
        inside = (ae >= lo) & (ae < hi) & (m["gen_pt"] > min_gen_pt)
        n, k = int(inside.sum()), int((inside & matched).sum())
        sel = inside & matched & (m["gen_pt"] < max_gen_pt)
        corrected = m["reco_pt"][sel] * jec(m["reco_pt"][sel], m["gen_eta"][sel]) / m["gen_pt"][sel]
        entry = {"lo": float(lo), "hi": float(hi), "n_gen": n,
                 "efficiency": k / n if n else float("nan"),
                 "efficiency_err": float(binomial_error(k, n)) if n else float("nan")}
        entry.update(summarise_response(corrected).to_dict())
        out.append(entry)
    return out
