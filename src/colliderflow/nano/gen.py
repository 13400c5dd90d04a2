"""Generator-level analysis objects: GenJet (with hadron and parton flavour), GenPart, GenMET.

These are what FlashSim is conditioned on, built from the dataset's generator record
(``truth``: hard-scatter final-state particles without neutrinos; ``gen_hadrons``;
``gen_partons``; ``event``).

* GenJet: anti-kt R = 0.4 on the truth particles, pT > 10 GeV, |eta| < 5.
  ``hadronFlavour``: 5 if a weakly decaying b hadron lies within dR < 0.4 (each hadron is given to
  its closest jet), else 4 for a c hadron, else 0 (a dR version of CMS ghost association).
  ``partonFlavour``: signed PDG id of the closest hard-process parton within dR < 0.4, 0 if none.
* GenPart: electrons and muons with pT > 3 GeV and photons with pT > 10 GeV and generator
  isolation below 0.5, |eta| < 3; ``iso`` = scalar pT sum of the other truth particles within
  dR < 0.4 divided by the particle pT; ``fromTau``/``fromHF`` from the ancestry flags, also as CMS
  ``statusFlags`` bits (isPrompt, isTauDecayProduct, isPromptTauDecayProduct, isLastCopy);
  ``status`` 1. After them the hard-process resonances (t, W, Z, H at their last copy; ``status``
  62, statusFlags isPrompt, fromHardProcess, isLastCopy; charge rounded: a top has +-1).
  ``genPartIdxMother`` points from a lepton or photon to the resonance whose decay made it (through
  its own radiation: Z -> mu mu, W -> e nu) and from a resonance to its mother (W -> t), else -1;
  leptons and photons with a mother also get fromHardProcess. Datasets written before the
  resonances were recorded give none (every mother -1).
* GenMET: the neutrino pT sum of the hard scatter; Pileup.nPU: overlaid interactions (and
  ``nTrueInt``, the same number: the sample's pileup range draws the count directly).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from colliderflow.generate.particles import FLAG_FROM_B, FLAG_FROM_C, FLAG_FROM_TAU
from colliderflow.nano.io import event_ids
from colliderflow.nano.schema import GEN_COLLECTIONS, RESONANCE_STATUS, STATUS_FLAGS
from colliderflow.physics.jets import cluster_jets
from colliderflow.physics.matching import closest_within
from colliderflow.physics.neighbours import pairs_within
from colliderflow.utils.config import RangeChecked, bounded, non_negative, positive
from colliderflow.utils.jagged import per_event, to_jagged

__all__ = ["GenConfig", "gen_objects", "event_scalars"]


@dataclass
class GenConfig(RangeChecked):
    """Generator-object selections (GeV)."""

    jet_radius: float = positive(0.4)
    jet_min_pt: float = non_negative(10.0)
    jet_max_eta: float = bounded(5.0, gt=0, le=10)
    lepton_min_pt: float = non_negative(3.0)
    photon_min_pt: float = non_negative(10.0)
    photon_max_iso: float = non_negative(0.5)
    max_eta: float = bounded(3.0, gt=0, le=10)
    iso_radius: float = positive(0.4)
    flavour_radius: float = positive(0.4)


def _eta_phi(px, py, pz):
    pt = np.hypot(px, py)
    return np.arcsinh(pz / np.maximum(pt, 1e-9)), np.arctan2(py, px)


def _isolation(eta, phi, pt, all_eta, all_phi, all_pt, self_index, radius) -> np.ndarray:
    ia, ib = pairs_within(eta, phi, all_eta, all_phi, radius)
    keep = ib != self_index[ia]
    s = np.bincount(ia[keep], weights=all_pt[ib[keep]], minlength=len(eta))
    return s / np.maximum(pt, 1e-9)


def _resonance_charge(pid: np.ndarray) -> np.ndarray:
    """Charge of t, W, Z, H by PDG id, rounded to an integer (top: +-1)."""
    return np.where(np.isin(np.abs(pid), (6, 24)), np.sign(pid), 0).astype(np.int8)


def _event_gen(truth: dict, hadrons: dict, partons: dict, resonances: dict, jets: dict, cfg: GenConfig):
    jsel = np.abs(jets["eta"]) < cfg.jet_max_eta
    jets = {k: v[jsel] for k, v in jets.items()}
    nj = len(jets["pt"])
    hflav = np.zeros(nj, dtype=np.int8)
    if nj and len(hadrons["pid"]):
        heta, hphi = _eta_phi(hadrons["px"], hadrons["py"], hadrons["pz"])
        owner = closest_within(heta, hphi, jets["eta"], jets["phi"], cfg.flavour_radius)
        for flav in (4, 5):  # b overrides c
            hit = owner[(owner >= 0) & (hadrons["flavour"] == flav)]
            hflav[hit] = flav
    pflav = np.zeros(nj, dtype=np.int16)
    if nj and len(partons["pid"]):
        peta, pphi = _eta_phi(partons["px"], partons["py"], partons["pz"])
        idx = closest_within(jets["eta"], jets["phi"], peta, pphi, cfg.flavour_radius)
        pflav[idx >= 0] = partons["pid"][idx[idx >= 0]]
    genjet = {"pt": jets["pt"], "eta": jets["eta"], "phi": jets["phi"], "mass": jets["mass"],
              "hadronFlavour": hflav, "partonFlavour": pflav}

    apid = np.abs(truth["pid"])
    lep = ((apid == 11) | (apid == 13)) & (truth["pt"] > cfg.lepton_min_pt)
    pho = (apid == 22) & (truth["pt"] > cfg.photon_min_pt)
    cand = np.flatnonzero((lep | pho) & (np.abs(truth["eta"]) < cfg.max_eta))
    iso = _isolation(truth["eta"][cand], truth["phi"][cand], truth["pt"][cand], truth["eta"], truth["phi"],
                     truth["pt"], cand, cfg.iso_radius)
    keep = (apid[cand] != 22) | (iso < cfg.photon_max_iso)
    cand, iso = cand[keep], iso[keep]
    order = np.argsort(-truth["pt"][cand], kind="stable")
    cand, iso = cand[order], iso[order]
    flags = truth["flags"][cand]
    from_tau, from_hf = (flags & FLAG_FROM_TAU) != 0, (flags & (FLAG_FROM_B | FLAG_FROM_C)) != 0
    # resonances follow the leptons and photons: their indices are offset by the number of those
    n = len(cand)
    res_of = truth["resonance_index"][cand].astype(np.int64)
    from_res = res_of >= 0
    status_flags = ((~from_tau & ~from_hf) << STATUS_FLAGS["isPrompt"]
                    | from_tau << STATUS_FLAGS["isTauDecayProduct"]
                    | (from_tau & ~from_hf) << STATUS_FLAGS["isPromptTauDecayProduct"]
                    | from_res << STATUS_FLAGS["fromHardProcess"]
                    | 1 << STATUS_FLAGS["isLastCopy"])
    # resonances in decreasing pT (a generator's record order is its own: Pythia's and its HepMC file's differ)
    r_order = np.argsort(-np.hypot(resonances["px"], resonances["py"]), kind="stable")
    r_rank = np.argsort(r_order)
    resonances = {k: v[r_order] for k, v in resonances.items()}
    r_pt = np.hypot(resonances["px"], resonances["py"])
    r_eta, r_phi = _eta_phi(resonances["px"], resonances["py"], resonances["pz"])
    nr = len(r_pt)
    r_mother = resonances["mother"].astype(np.int64)
    r_mother = np.where(r_mother >= 0, r_rank[np.maximum(r_mother, 0)] if nr else -1, -1)
    res_of = np.where(from_res, r_rank[np.maximum(res_of, 0)] if nr else -1, -1)
    r_flags = np.full(nr, 1 << STATUS_FLAGS["isPrompt"] | 1 << STATUS_FLAGS["fromHardProcess"]
                      | 1 << STATUS_FLAGS["isLastCopy"], dtype=np.int64)
    genpart = {"pt": np.concatenate([truth["pt"][cand], r_pt]),
               "eta": np.concatenate([truth["eta"][cand], r_eta]),
               "phi": np.concatenate([truth["phi"][cand], r_phi]),
               "mass": np.concatenate([truth["mass"][cand], resonances["mass"]]),
               "pdgId": np.concatenate([truth["pid"][cand], resonances["pid"]]),
               "charge": np.concatenate([truth["charge"][cand], _resonance_charge(resonances["pid"])]),
               "iso": np.concatenate([iso, np.zeros(nr)]),
               "fromTau": np.concatenate([from_tau, np.zeros(nr, bool)]),
               "fromHF": np.concatenate([from_hf, np.zeros(nr, bool)]),
               "status": np.concatenate([np.ones(n, np.int32), np.full(nr, RESONANCE_STATUS, np.int32)]),
               "statusFlags": np.concatenate([status_flags, r_flags]).astype(np.int32),
               "genPartIdxMother": np.concatenate([np.where(from_res, n + res_of, -1),
                                                   np.where(r_mother >= 0, n + r_mother, -1)]).astype(np.int16)}
    return genjet, genpart


def gen_objects(data: ak.Array, config: GenConfig = GenConfig()) -> dict[str, ak.Array]:
    """Generator collections and singletons of a batch of dataset events.

    Args:
        data: dataset records with ``truth`` (with ``resonance_index``), ``gen_hadrons``,
            ``gen_partons``, ``gen_resonances`` and ``event``; ``load_dataset`` fills the last two
            fields in for chunks written before they existed.

    Returns:
        ``{"GenJet": (events, jets), "GenPart": (events, particles), "GenMET": (events,),
        "Pileup": (events,)}`` awkward arrays.
    """
    t = data.truth
    jets = cluster_jets(t.pt, t.eta, t.phi, t.energy, radius=config.jet_radius, min_pt=config.jet_min_pt)
    truth = per_event(t, ["pid", "charge", "pt", "eta", "phi", "mass", "flags", "resonance_index"])
    had = per_event(data.gen_hadrons, ["pid", "px", "py", "pz", "flavour"])
    par = per_event(data.gen_partons, ["pid", "px", "py", "pz"])
    res = per_event(data.gen_resonances, ["pid", "px", "py", "pz", "mass", "mother"])
    jet_np = per_event(jets, ["pt", "eta", "phi", "mass"])
    genjets, genparts = [], []
    for i in range(len(data)):
        gj, gp = _event_gen(truth[i], had[i], par[i], res[i], jet_np[i], config)
        genjets.append(gj)
        genparts.append(gp)
    ev = data.event
    mx, my = ak.to_numpy(ev.genmet_x).astype(np.float64), ak.to_numpy(ev.genmet_y).astype(np.float64)
    return {
        "GenJet": to_jagged(genjets, GEN_COLLECTIONS["GenJet"]),
        "GenPart": to_jagged(genparts, GEN_COLLECTIONS["GenPart"]),
        "GenMET": ak.zip({"pt": np.hypot(mx, my).astype(np.float32), "phi": np.arctan2(my, mx).astype(np.float32)}),
        "Pileup": ak.zip({"nPU": ak.to_numpy(ev.n_pu).astype(np.int32),
                          "nTrueInt": ak.to_numpy(ev.n_pu).astype(np.float32)}),
    }


def event_scalars(event: ak.Array) -> dict[str, np.ndarray]:
    """The nano scalars of generator events' ``event`` records: run (the seed), luminosityBlock,
    event (the generator index) and genWeight, each (events,)."""
    return {**event_ids(ak.to_numpy(event.seed), ak.to_numpy(event["index"])),
            "genWeight": ak.to_numpy(event.weight).astype(np.float32)}
