"""Particle-level efficiency and misidentification rate (section 6.1 of the MLPF paper).

Generator particles and candidates with pT > 1 GeV are matched uniquely within dR < 0.15,
closest pair first. Efficiency of a generator type: matched fraction (and the fraction matched
to a candidate of the same class: the identification efficiency). Fake rate of a candidate
class: fraction of candidates of that class with no generator match. Every fraction comes
with its binomial error.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from colliderflow.physics.matching import match_closest
from colliderflow.physics.uncertainty import binomial_error
from colliderflow.schema import classes as C

__all__ = ["match_particles", "efficiency_fake"]

TYPES = {C.CHARGED_HADRON: "charged hadron", C.NEUTRAL_HADRON: "neutral hadron", C.PHOTON: "photon",
         C.ELECTRON: "electron", C.MUON: "muon", C.HF_EM: "HF-EM", C.HF_HAD: "HF-HAD"}


def match_particles(gen: ak.Array, reco: ak.Array, pt_min: float = 1.0, dr_max: float = 0.15):
    """Flat arrays of matched information over all events.

    Returns:
        dict with gen_{cls,pt,eta,matched,match_cls,match_pt} and reco_{cls,pt,eta,matched}.
    """
    out: dict[str, list[np.ndarray]] = {k: [] for k in (
        "gen_cls", "gen_pt", "gen_eta", "gen_matched", "match_cls", "match_pt", "reco_cls", "reco_pt", "reco_eta",
        "reco_matched")}
    g_sel = gen[gen.pt * gen.weight > pt_min]
    r_sel = reco[(reco.pt * reco.weight > pt_min)]
    for g, r in zip(g_sel, r_sel):
        geta, gphi = ak.to_numpy(g.eta), ak.to_numpy(g.phi)
        reta, rphi = ak.to_numpy(r.eta), ak.to_numpy(r.phi)
        m = match_closest(geta, gphi, reta, rphi, dr_max)
        rcls, rpt = ak.to_numpy(r.cls), ak.to_numpy(r.pt * r.weight)
        ok = m >= 0
        out["gen_cls"].append(ak.to_numpy(g.cls))
        out["gen_pt"].append(ak.to_numpy(g.pt))
        out["gen_eta"].append(geta)
        out["gen_matched"].append(ok)
        out["match_cls"].append(np.where(ok, rcls[np.maximum(m, 0)] if len(rcls) else 0, 0))
        out["match_pt"].append(np.where(ok, rpt[np.maximum(m, 0)] if len(rpt) else 0, 0))
        rm = np.zeros(len(reta), dtype=bool)
        rm[m[ok]] = True
        out["reco_cls"].append(rcls)
        out["reco_pt"].append(rpt)
        out["reco_eta"].append(reta)
        out["reco_matched"].append(rm)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def _binned_fraction(values, passed, edges):
    n = np.histogram(values, edges)[0]
    k = np.histogram(values[passed], edges)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(n > 0, k / n, np.nan)
    return f, binomial_error(k, n), n


def _fraction(passed: np.ndarray) -> tuple[float, float]:
    """Fraction of True in ``passed`` and its binomial error."""
    k, n = int(passed.sum()), len(passed)
    return k / n, float(binomial_error(k, n))


def efficiency_fake(m: dict[str, np.ndarray], pt_edges: np.ndarray, eta_edges: np.ndarray) -> dict:
    """Efficiencies and fake rates per type, integrated and versus pT and eta.

    Every fraction carries its binomial error (:func:`colliderflow.physics.uncertainty.binomial_error`):
    ``efficiency_err``, ``id_efficiency_err``, ``fake_rate_err`` and ``error`` in the binned entries.
    """
    out = {}
    for code, name in TYPES.items():
        g = m["gen_cls"] == code
        r = m["reco_cls"] == code
        entry: dict[str, Any] = {"n_gen": int(g.sum()), "n_reco": int(r.sum())}
        if g.any():
            identified = m["gen_matched"][g] & (m["match_cls"][g] == code)
            entry["efficiency"], entry["efficiency_err"] = _fraction(m["gen_matched"][g])
            entry["id_efficiency"], entry["id_efficiency_err"] = _fraction(identified)
            for axis, edges in (("pt", pt_edges), ("eta", eta_edges)):
                f, err, n = _binned_fraction(m[f"gen_{axis}"][g], m["gen_matched"][g], edges)
                entry[f"efficiency_vs_{axis}"] = {"edges": edges.tolist(), "value": f.tolist(), "error": err.tolist(),
                                                  "n": n.tolist()}
        if r.any():
            entry["fake_rate"], entry["fake_rate_err"] = _fraction(~m["reco_matched"][r])
            for axis, edges in (("pt", pt_edges), ("eta", eta_edges)):
                f, err, n = _binned_fraction(m[f"reco_{axis}"][r], ~m["reco_matched"][r], edges)
                entry[f"fake_vs_{axis}"] = {"edges": edges.tolist(), "value": f.tolist(), "error": err.tolist(),
                                            "n": n.tolist()}
        out[name] = entry
    return out
