"""Reconstructed analysis objects from PF candidates with PUPPI: Jet, Muon, Electron, Photon, MET, PV.

Definitions (jets and MET use PUPPI-weighted candidates, as CMS Run-3 PUPPI objects):

* Jet: anti-kt R = 0.4 (fastjet), corrected with the shipped PF+PUPPI jet energy corrections of
  the card, pT > 15 GeV, |eta| < 4.7. Energy fractions over the jet energy: ``chHEF`` (charged
  hadrons), ``neHEF`` (neutral hadrons and HF-HAD), ``chEmEF`` (electrons), ``neEmEF`` (photons
  and HF-EM), ``muEF``. ``jetId`` = 2 (tight: neHEF < 0.9, neEmEF < 0.9, > 1 constituent and,
  inside the tracker, chHEF > 0) + 4 (lepton veto: also muEF < 0.8 and chEmEF < 0.8), as CMS.
  ``btag``: a track-counting discriminant. For charged constituents with pT > 1 GeV and a pixel
  hit, the lifetime-signed transverse impact-parameter significance S = sign(PCA . jet) |d0|/sigma(d0);
  with S2 the second largest, ``btag = 1 / (1 + exp(-(S2 - 2.5) / 1.2))`` (0.02 without two
  tracks). ``genJetIdx``: closest GenJet within dR < 0.2.
* Muon (PF muons, pT > 3 GeV), Electron (pT > 5 GeV), Photon (pT > 10 GeV, |eta| < 2.5):
  delta-beta-corrected relative PF isolation (dR < 0.4 for muons, 0.3 for e/gamma; see ``_iso``), ``dxy`` = d0 and ``dz`` =
  z0 - z(PV) of the track (cm). Muon ``mediumId``: >= 2 muon-station hits, track chi2/ndf < 3,
  >= 6 tracker hits; ``tightId``: medium and a pixel hit, |dxy| < 0.2, |dz| < 0.5. Electron
  ``cutBased`` 0-4 (fail, veto, loose, medium, tight) from isolation and impact parameters,
  Photon ``cutBased`` 0-3 from isolation. ``genPartIdx``: closest GenPart within dR < 0.1 (muons:
  generator muons; electrons and photons: generator electrons or photons).
* MET: PUPPI missing transverse momentum and sumEt; PV: reconstructed vertices and the PV z.
* Rho: the event's pileup density, the median over a 10 x 10 (eta, phi) grid on |eta| < 2.5 of
  the PF candidates' scalar pT sum per unit area (CMS's fixedGridRho, on a fixed grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import awkward as ak
import numpy as np

from colliderflow.nano.schema import LEPTON_MASS, RECO_COLLECTIONS
from colliderflow.physics.jets import cluster_jets
from colliderflow.physics.matching import closest_within
from colliderflow.physics.met import met as missing_et
from colliderflow.physics.neighbours import delta_r, pairs_within
from colliderflow.physics.resolution import JetCorrections
from colliderflow.schema import classes as C
from colliderflow.schema.elements import ELEMENT_TRACK
from colliderflow.utils.config import RangeChecked, bounded, non_negative, positive
from colliderflow.utils.jagged import per_event, to_jagged

__all__ = ["RecoConfig", "reco_objects", "TRACK_FIELDS", "object_selections"]

#: element features the reco objects need
TRACK_FIELDS = ["type", "pt", "d0", "d0_err", "vx", "vy", "vz", "n_hits", "n_pixel_hits", "chi2_ndf",
                "muon_dt_hits", "muon_csc_hits"]
_CAND_FIELDS = ["cls", "charge", "pt", "eta", "phi", "energy", "element", "puppi_weight", "vertex"]


@dataclass
class RecoConfig(RangeChecked):
    """Reconstructed-object selections (GeV, cm)."""

    jet_radius: float = positive(0.4)
    jet_min_pt: float = non_negative(15.0)
    jet_max_eta: float = bounded(4.7, gt=0, le=10)
    jet_raw_min_pt: float = non_negative(5.0)
    muon_min_pt: float = non_negative(3.0)
    electron_min_pt: float = non_negative(5.0)
    photon_min_pt: float = non_negative(10.0)
    photon_max_eta: float = bounded(2.5, gt=0, le=10)
    btag_track_min_pt: float = non_negative(1.0)
    genjet_match_radius: float = positive(0.2)
    genpart_match_radius: float = positive(0.1)


def btag_discriminant(s2: float | np.ndarray) -> float | np.ndarray:
    """Map the second-largest signed IP significance to [0, 1]."""
    return 1.0 / (1.0 + np.exp(-(s2 - 2.5) / 1.2))


def _jets(c, x, w, jets_raw, consts, genjet, jec, cfg):
    pt_raw = jets_raw["pt"]
    corr = jec(pt_raw, jets_raw["eta"]) if (jec is not None and len(pt_raw)) else np.ones(len(pt_raw))
    pt = pt_raw * corr
    sel = np.flatnonzero((pt > cfg.jet_min_pt) & (np.abs(jets_raw["eta"]) < cfg.jet_max_eta))
    sel = sel[np.argsort(-pt[sel], kind="stable")]
    out: dict[str, np.ndarray] = {k: np.zeros(len(sel), dtype=dt) for k, dt in RECO_COLLECTIONS["Jet"].items()}
    e_w = c["energy"] * w
    is_trk = x["type"] == ELEMENT_TRACK
    for o, j in enumerate(sel):
        idx = consts[j]
        cls = c["cls"][idx]
        e = e_w[idx]
        etot = max(float(e.sum()), 1e-9)
        frac = {name: float(e[np.isin(cls, k)].sum()) / etot for name, k in (
            ("chHEF", [C.CHARGED_HADRON]), ("neHEF", [C.NEUTRAL_HADRON, C.HF_HAD]), ("chEmEF", [C.ELECTRON]),
            ("neEmEF", [C.PHOTON, C.HF_EM]), ("muEF", [C.MUON]))}
        n_charged = int((c["charge"][idx] != 0).sum())
        eta = jets_raw["eta"][j]
        central = abs(eta) < 2.6
        tight = (frac["neHEF"] < 0.9) and (frac["neEmEF"] < 0.9) and len(idx) > 1 and (
            not central or (frac["chHEF"] > 0 and n_charged > 0))
        lepveto = tight and frac["muEF"] < 0.8 and (not central or frac["chEmEF"] < 0.8)
        # track-counting b tag
        el = c["element"][idx]
        trk = (c["charge"][idx] != 0) & (el >= 0)
        el = el[trk]
        el = el[is_trk[el] & (x["pt"][el] > cfg.btag_track_min_pt) & (x["n_pixel_hits"][el] >= 1)]
        s2 = -5.0
        if len(el) >= 2:
            phi = jets_raw["phi"][j]
            sign = np.sign(x["vx"][el] * np.cos(phi) + x["vy"][el] * np.sin(phi))
            sign[sign == 0] = 1.0
            s = sign * np.abs(x["d0"][el]) / np.maximum(x["d0_err"][el], 1e-6)
            s2 = float(np.sort(s)[-2])
        out["pt"][o], out["eta"][o], out["phi"][o] = pt[j], eta, jets_raw["phi"][j]
        out["mass"][o] = jets_raw["mass"][j] * corr[j]
        out["btag"][o] = btag_discriminant(s2)
        out["nConstituents"][o] = len(idx)
        for k, v in frac.items():
            out[k][o] = v
        out["jetId"][o] = 2 * int(tight) + 4 * int(lepveto)
    out["genJetIdx"][:] = closest_within(out["eta"], out["phi"], genjet["eta"], genjet["phi"], cfg.genjet_match_radius)
    return out


def _iso(i_sel, c, radius):
    """Delta-beta-corrected PF isolation / pT (NanoAOD's pfRelIso definition): charged hadrons of the
    PV + max(0, neutrals beyond dR 0.01 - 0.5 x charged not from the PV), within ``radius``.

    PUPPI-weighted sums are not used: PUPPI gives neutrals next to a hard lepton high weights (the
    lepton counts as PV activity), which is why CMS isolates with PF + delta-beta or PUPPI-no-lepton.
    """
    eta, phi = c["eta"], c["phi"]
    ia, ib = pairs_within(eta[i_sel], phi[i_sel], eta, phi, radius)
    keep = ib != i_sel[ia]
    ia, ib = ia[keep], ib[keep]
    pt, charged, pv = c["pt"][ib], c["charge"][ib] != 0, c["vertex"][ib] == 0
    dr = delta_r(eta[ib], phi[ib], eta[i_sel[ia]], phi[i_sel[ia]])
    n = len(i_sel)
    ch_pv = np.bincount(ia, weights=pt * (charged & pv), minlength=n)
    ch_pu = np.bincount(ia, weights=pt * (charged & ~pv), minlength=n)
    neu = np.bincount(ia, weights=pt * (~charged & (dr > 0.01)), minlength=n)
    return (ch_pv + np.maximum(neu - 0.5 * ch_pu, 0.0)) / np.maximum(c["pt"][i_sel], 1e-9)


def _track_ip(i_sel, c, x, pv_z):
    el = c["element"][i_sel]
    good = (el >= 0)
    el_safe = np.where(good, el, 0)
    trk = good & (x["type"][el_safe] == ELEMENT_TRACK)
    dxy = np.where(trk, x["d0"][el_safe], 0.0)
    dz = np.where(trk, x["vz"][el_safe] - pv_z, 0.0)
    return el_safe, trk, dxy, dz


def _leptons(c, x, pv_z, genpart, cfg):
    gpdg = np.abs(genpart["pdgId"])
    out = {}
    # muons
    i = np.flatnonzero((c["cls"] == C.MUON) & (c["pt"] > cfg.muon_min_pt))
    i = i[np.argsort(-c["pt"][i], kind="stable")]
    el, trk, dxy, dz = _track_ip(i, c, x, pv_z)
    mu_hits = x["muon_dt_hits"][el] + x["muon_csc_hits"][el]
    medium = trk & (mu_hits >= 2) & (x["chi2_ndf"][el] < 3.0) & (x["n_hits"][el] >= 6)
    tight = medium & (x["n_pixel_hits"][el] >= 1) & (np.abs(dxy) < 0.2) & (np.abs(dz) < 0.5)
    gmu = np.flatnonzero(gpdg == 13)
    m = closest_within(c["eta"][i], c["phi"][i], genpart["eta"][gmu], genpart["phi"][gmu], cfg.genpart_match_radius)
    out["Muon"] = {"pt": c["pt"][i], "eta": c["eta"][i], "phi": c["phi"][i], "mass": np.full(len(i), LEPTON_MASS["Muon"]),
                   "charge": c["charge"][i],
                   "pfRelIso04_all": _iso(i, c, 0.4), "dxy": dxy, "dz": dz, "looseId": np.ones(len(i), bool),
                   "mediumId": medium, "tightId": tight, "genPartIdx": _gen_index(m, gmu)}
    # electrons
    i = np.flatnonzero((c["cls"] == C.ELECTRON) & (c["pt"] > cfg.electron_min_pt))
    i = i[np.argsort(-c["pt"][i], kind="stable")]
    el, trk, dxy, dz = _track_ip(i, c, x, pv_z)
    iso = _iso(i, c, 0.3)
    adxy, adz = np.abs(dxy), np.abs(dz)
    level = _nested([iso < 0.3, (iso < 0.2) & (adxy < 0.1) & (adz < 0.2),
                            (iso < 0.12) & (adxy < 0.05) & (adz < 0.1), (iso < 0.08) & (adxy < 0.02) & (adz < 0.1)])
    geg = np.flatnonzero((gpdg == 11) | (gpdg == 22))
    m = closest_within(c["eta"][i], c["phi"][i], genpart["eta"][geg], genpart["phi"][geg], cfg.genpart_match_radius)
    out["Electron"] = {"pt": c["pt"][i], "eta": c["eta"][i], "phi": c["phi"][i],
                       "mass": np.full(len(i), LEPTON_MASS["Electron"]), "charge": c["charge"][i],
                       "pfRelIso03_all": iso, "dxy": dxy, "dz": dz, "cutBased": level,
                       "genPartIdx": _gen_index(m, geg)}
    # photons
    i = np.flatnonzero((c["cls"] == C.PHOTON) & (c["pt"] > cfg.photon_min_pt) & (np.abs(c["eta"]) < cfg.photon_max_eta))
    i = i[np.argsort(-c["pt"][i], kind="stable")]
    iso = _iso(i, c, 0.3)
    m = closest_within(c["eta"][i], c["phi"][i], genpart["eta"][geg], genpart["phi"][geg], cfg.genpart_match_radius)
    out["Photon"] = {"pt": c["pt"][i], "eta": c["eta"][i], "phi": c["phi"][i], "pfRelIso03_all": iso,
                     "cutBased": _nested([iso < 0.4, iso < 0.2, iso < 0.1]),
                     "genPartIdx": _gen_index(m, geg)}
    return out


def _gen_index(m: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Indices into GenPart from indices into the subset ``pool`` (-1 stays -1)."""
    out = np.full(len(m), -1, dtype=np.int64)
    out[m >= 0] = pool[m[m >= 0]]
    return out


def _nested(passes: list[np.ndarray]) -> np.ndarray:
    """Highest working point passed, requiring all looser ones (0 = none)."""
    level = np.zeros(len(passes[0]), dtype=np.int8)
    ok = np.ones(len(passes[0]), dtype=bool)
    for k, p in enumerate(passes, start=1):
        ok &= p
        level[ok] = k
    return level


def _jet_constituents(jets: ak.Array) -> list[list[np.ndarray]]:
    """Per event, per jet: the candidate indices of its constituents (from ``cluster_jets``)."""
    n_jets = ak.to_numpy(ak.num(jets.constituents, axis=1))
    n_const = ak.to_numpy(ak.flatten(ak.num(jets.constituents, axis=2)))
    per_jet = np.split(ak.to_numpy(ak.flatten(jets.constituents, axis=None)), np.cumsum(n_const)[:-1])
    bounds = np.concatenate([[0], np.cumsum(n_jets)])
    return [per_jet[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def rho(eta: np.ndarray, phi: np.ndarray, pt: np.ndarray, max_eta: float = 2.5, n_eta: int = 10,
        n_phi: int = 10) -> float:
    """Median scalar pT density (GeV per unit eta-phi area) over a fixed grid."""
    sel = np.abs(eta) < max_eta
    ie = np.clip(((eta[sel] + max_eta) / (2 * max_eta) * n_eta).astype(np.int64), 0, n_eta - 1)
    ip = np.clip(((phi[sel] + np.pi) / (2 * np.pi) * n_phi).astype(np.int64), 0, n_phi - 1)
    cells = np.bincount(ie * n_phi + ip, weights=pt[sel], minlength=n_eta * n_phi)
    return float(np.median(cells) / (2 * max_eta / n_eta * 2 * np.pi / n_phi))


def object_selections(config: RecoConfig = RecoConfig()) -> dict[str, tuple[float, float]]:
    """(minimum pT [GeV], maximum |eta|) of each reconstructed collection under ``config``; FlashSim
    applies the same selection to what it samples (leptons have no |eta| cut of their own)."""
    return {"Jet": (config.jet_min_pt, config.jet_max_eta), "Muon": (config.muon_min_pt, math.inf),
            "Electron": (config.electron_min_pt, math.inf), "Photon": (config.photon_min_pt, config.photon_max_eta)}


def reco_objects(X: ak.Array, cands: ak.Array, vertices: dict[str, np.ndarray], genjets: list[dict],
                 genparts: list[dict], jec: JetCorrections | None,
                 config: RecoConfig = RecoConfig()) -> dict[str, ak.Array]:
    """Reconstructed collections of a batch of events.

    Args:
        X: dataset elements (events, elements) with at least ``TRACK_FIELDS``.
        cands: PF candidates (events, candidates) with PUPPI weights.
        vertices: ``pv_z`` (events,) primary-vertex z in cm and ``npvs`` (events,), as PF found them
            (the candidates file's vertex fields, ``colliderflow.schema.candidates``).
        genjets, genparts: per-event numpy dicts of the generator collections (for matching).
        jec: PF+PUPPI jet corrections, or None for raw jets.

    Returns:
        ``{"Jet", "Muon", "Electron", "Photon"}`` jagged arrays and ``{"MET" (PF), "PuppiMET", "PV", "Rho"}``
        records.
    """
    if len(X) != len(cands):
        raise ValueError(f"{len(cands)} events of candidates for {len(X)} dataset events; reconstruct the same dataset")
    jets = cluster_jets(cands.pt, cands.eta, cands.phi, cands.energy, radius=config.jet_radius,
                        min_pt=config.jet_raw_min_pt, weight=cands.puppi_weight, return_constituents=True)
    jets_raw, consts = per_event(jets, ["pt", "eta", "phi", "mass"]), _jet_constituents(jets)
    xs = per_event(X, TRACK_FIELDS)
    cs = per_event(cands, _CAND_FIELDS)
    per: dict[str, list[dict[str, np.ndarray]]] = {k: [] for k in ("Jet", "Muon", "Electron", "Photon")}
    pv_zs = np.asarray(vertices["pv_z"], dtype=np.float64)
    rhos = np.zeros(len(X), dtype=np.float64)
    for i in range(len(X)):
        x, c = xs[i], cs[i]
        w = c["puppi_weight"].astype(np.float64)
        pv_z = float(pv_zs[i])
        rhos[i] = rho(c["eta"], c["phi"], c["pt"])
        per["Jet"].append(_jets(c, x, w, jets_raw[i], consts[i], genjets[i], jec, config))
        for k, v in _leptons(c, x, pv_z, genparts[i], config).items():
            per[k].append(v)
    out = {k: to_jagged(v, RECO_COLLECTIONS[k]) for k, v in per.items()}
    pt, phi, w = (ak.values_astype(cands[f], np.float64) for f in ("pt", "phi", "puppi_weight"))
    for name, weight in (("MET", None), ("PuppiMET", w)):
        met_pt, met_phi = missing_et(pt, phi, weight)
        sum_et = ak.sum(pt if weight is None else pt * weight, axis=1)
        out[name] = ak.zip({"pt": met_pt.astype(np.float32), "phi": met_phi.astype(np.float32),
                            "sumEt": ak.to_numpy(sum_et).astype(np.float32)})
    zeros = np.zeros(len(X), np.float32)
    out["PV"] = ak.zip({"npvs": np.asarray(vertices["npvs"]).astype(np.int16), "x": zeros, "y": zeros,
                        "z": pv_zs.astype(np.float32)})
    out["Rho"] = ak.zip({"fixedGridRhoFastjetAll": rhos.astype(np.float32)})
    return out

