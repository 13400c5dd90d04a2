"""PF particle building (section 3.3 of the MLPF paper), vectorised per event.

Order, as in CMS PF:

0. secondary tracks (no pixel hits, displaced: mostly photon-conversion legs) are set aside;
1. muons: tracks with enough muon-system hits; a MIP is removed from their linked clusters;
2. electrons: tracks whose ECAL cluster plus bremsstrahlung clusters (ECAL clusters in the
   track's eta strip, between the track's vertex phi and its ECAL impact) match the track
   momentum (E/p), with little HCAL energy and a compact shower;
3. charged hadrons from the remaining tracks, grouped around the HCAL cluster they link to
   (directly or through their ECAL cluster). In each group the calibrated calorimeter energy
   is compared with the sum of track momenta: a significant excess becomes a photon (from the
   ECAL part) and a neutral hadron; a compatible calorimeter measurement is combined with the
   track momenta, weighted by the resolutions;
4. the rest: ECAL clusters not linked to a track become photons, HCAL clusters neutral hadrons
   (an ECAL cluster linked to an HCAL cluster joins the neutral hadron beyond the tracker, and
   inside it when the HCAL cluster dominates: a hadron that started showering in the ECAL);
   HF clusters become HF-EM and HF-HAD candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.pf.calibration import HadronCalibration
from colliderflow.pf.links import Links
from colliderflow.physics.neighbours import delta_phi
from colliderflow.schema import classes as C
from colliderflow.schema.candidates import concat_candidates, empty_candidates
from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFEM, ELEMENT_HFHAD, ELEMENT_TRACK
from colliderflow.utils.config import RangeChecked, bounded, fraction, non_negative

__all__ = ["PFConfig", "build_particles"]

_PION_MASS = 0.13957
_MUON_MASS = 0.10566
_ELECTRON_MASS = 0.000511


@dataclass(frozen=True)
class PFConfig(RangeChecked):
    """Thresholds of the PF algorithm (GeV, rad).

    Attributes:
        muon_min_hits: muon-system hits (DT + CSC) for a track to be a muon.
        muon_min_pt: minimum muon pT.
        mip_ecal, mip_hcal: energy removed from a muon's linked ECAL / HCAL clusters.
        ele_eop_min, ele_eop_max: accepted range of (ECAL + brem) / p for electrons.
        ele_max_hoe: maximum H/E of an electron.
        ele_max_sigma_eta: maximum ECAL shower width in eta of an electron.
        ele_min_pt: minimum electron pT.
        brem_deta: half-width in eta of the bremsstrahlung strip.
        brem_dphi_margin: margin in phi around the track's vertex-to-ECAL phi range.
        excess_n_sigma: calorimeter excess over the track momenta, in units of the calorimeter
            resolution, above which neutral particles are created.
        min_photon_energy, min_neutral_energy: smallest photon / neutral hadron made from an excess.
        combine_tracks: combine track momenta with a compatible calorimeter measurement.
        tracker_eta_max: tracker acceptance.
        secondary_max_pixel_hits, secondary_min_d0: a track with at most this many pixel hits and
            at least this |d0| (cm) is a secondary (mostly photon-conversion legs): it makes no
            charged hadron, and the calorimeter energy linked to it stays for neutral particles.
        hadron_max_ecal_fraction: free ECAL clusters linked to a free HCAL cluster join it as one
            neutral hadron (ECAL+HCAL calibration) when their share of the energy is below this.
    """

    muon_min_hits: int = non_negative(8)
    muon_min_pt: float = non_negative(2.0)
    mip_ecal: float = non_negative(0.5)
    mip_hcal: float = non_negative(3.0)
    ele_eop_min: float = non_negative(0.75)
    ele_eop_max: float = bounded(1.35, gt="ele_eop_min")
    ele_max_hoe: float = non_negative(0.15)
    ele_max_sigma_eta: float = non_negative(0.025)
    ele_min_pt: float = non_negative(2.0)
    brem_deta: float = non_negative(0.04)
    brem_dphi_margin: float = non_negative(0.03)
    excess_n_sigma: float = non_negative(1.0)
    min_photon_energy: float = non_negative(0.5)
    min_neutral_energy: float = non_negative(1.0)
    combine_tracks: bool = True
    tracker_eta_max: float = bounded(2.5, gt=0, le=10)
    secondary_max_pixel_hits: int = non_negative(0)
    secondary_min_d0: float = non_negative(0.2)
    hadron_max_ecal_fraction: float = fraction(0.5)


def _candidates(cls, charge, pt, eta, phi, energy, element) -> dict[str, np.ndarray]:
    out = empty_candidates(len(pt))
    out.update(cls=cls, charge=charge, pt=pt, eta=eta, phi=phi, energy=energy, element=element)
    return {k: np.asarray(v) for k, v in out.items()}


def _neutrals(cls: int, energy: np.ndarray, eta: np.ndarray, phi: np.ndarray, element: np.ndarray):
    return _candidates(np.full(len(energy), cls), np.zeros(len(energy)), energy / np.cosh(eta), eta, phi,
                       energy, element)


def _track_p(x, rows):
    return x["pt"][rows] * np.cosh(x["eta"][rows])


def build_particles(x: dict[str, np.ndarray], links: Links, calib: HadronCalibration,
                    config: PFConfig = PFConfig()) -> dict[str, np.ndarray]:
    """PF candidates of one event (see ``colliderflow.schema.candidates``); ``vertex`` is filled later."""
    n = len(x["type"])
    types = x["type"].astype(np.int64)
    is_track = types == ELEMENT_TRACK
    ecal_raw = np.where(types == ELEMENT_ECAL, x["energy"], 0.0).astype(np.float64)
    ecal_em = np.where(types == ELEMENT_ECAL, x["e_corr"], 0.0).astype(np.float64)
    hcal_raw = np.where(types == ELEMENT_HCAL, x["energy"], 0.0).astype(np.float64)
    used = np.zeros(n, dtype=bool)
    parts = []
    secondary = is_track & (x["n_pixel_hits"] <= config.secondary_max_pixel_hits) & (
        np.abs(x["d0"]) >= config.secondary_min_d0)
    used[secondary] = True

    # 1. muons
    hits = x["muon_dt_hits"] + x["muon_csc_hits"]
    mu = np.flatnonzero(is_track & (hits >= config.muon_min_hits) & (x["pt"] >= config.muon_min_pt))
    if len(mu):
        used[mu] = True
        for link, mip, store in ((links.track_ecal, config.mip_ecal, (ecal_raw, ecal_em)),
                                 (links.track_hcal, config.mip_hcal, (hcal_raw,))):
            cl = link[mu][link[mu] >= 0]
            for arr in store:
                np.subtract.at(arr, cl, mip)
                np.maximum(arr, 0.0, out=arr)
        p = _track_p(x, mu)
        parts.append(_candidates(np.full(len(mu), C.MUON), x["charge"][mu], x["pt"][mu], x["eta"][mu],
                                 x["phi"][mu], np.sqrt(p**2 + _MUON_MASS**2), mu))

    # 2. electrons
    ele_parts, ele_used = _electrons(x, links, ecal_em, hcal_raw, used, config)
    if ele_parts is not None:
        parts.append(ele_parts)
        used |= ele_used
        ecal_raw[ele_used & (types == ELEMENT_ECAL)] = 0.0
        ecal_em[ele_used & (types == ELEMENT_ECAL)] = 0.0

    # 3. charged hadrons and calorimeter excesses
    parts.extend(_charged_hadrons(x, links, calib, ecal_raw, ecal_em, hcal_raw, used, config))

    # 4. leftover clusters
    parts.extend(_leftover_clusters(x, links, calib, ecal_raw, ecal_em, hcal_raw, used, config))
    return concat_candidates(parts)


def _electrons(x, links, ecal_em, hcal_raw, used, config):
    types = x["type"].astype(np.int64)
    cand = np.flatnonzero((types == ELEMENT_TRACK) & ~used & (links.track_ecal >= 0) & (x["pt"] >= config.ele_min_pt))
    if len(cand) == 0:
        return None, None
    e_cl = links.track_ecal[cand]
    p = _track_p(x, cand)
    # bremsstrahlung clusters: ECAL clusters not linked to a track, in the same block, in the strip
    linked_to_track = np.zeros(len(types), dtype=bool)
    linked_to_track[links.track_ecal[links.track_ecal >= 0]] = True
    free = np.flatnonzero((types == ELEMENT_ECAL) & ~linked_to_track)
    brem = np.zeros(len(cand))
    brem_pairs = []
    if len(free):
        same_block = links.block[free][None, :] == links.block[cand][:, None]
        deta = np.abs(x["eta"][free][None, :] - x["eta_ecal"][cand][:, None])
        phi0, phi1 = x["phi"][cand], x["phi_ecal"][cand]
        half = np.abs(delta_phi(phi1, phi0)) / 2 + config.brem_dphi_margin
        mid = phi0 + delta_phi(phi1, phi0) / 2
        dphi = np.abs(delta_phi(x["phi"][free][None, :], mid[:, None]))
        ok = same_block & (deta < config.brem_deta) & (dphi < half[:, None])
        brem = (ok * ecal_em[free][None, :]).sum(axis=1)
        brem_pairs = ok
    e_tot = ecal_em[e_cl] + brem
    h_cl = np.where(links.track_hcal[cand] >= 0, links.track_hcal[cand], links.ecal_hcal[e_cl])
    h_e = np.where(h_cl >= 0, hcal_raw[np.maximum(h_cl, 0)], 0.0)
    eop = e_tot / np.maximum(p, 1e-9)
    compact = x["sigma_eta_layer1"][e_cl] < config.ele_max_sigma_eta
    is_ele = (eop > config.ele_eop_min) & (eop < config.ele_eop_max) & (h_e < config.ele_max_hoe * e_tot) & compact
    # one electron per ECAL cluster: keep the highest-momentum track
    order = np.argsort(-p)
    seen = set()
    for k in order:
        if is_ele[k]:
            if e_cl[k] in seen:
                is_ele[k] = False
            else:
                seen.add(e_cl[k])
    sel = np.flatnonzero(is_ele)
    if len(sel) == 0:
        return None, None
    rows = cand[sel]
    ele_used = np.zeros(len(types), dtype=bool)
    ele_used[rows] = True
    ele_used[e_cl[sel]] = True
    if len(free):
        ele_used[free[brem_pairs[sel].any(axis=0)]] = True
    # energy: inverse-variance combination of the track momentum and the ECAL (+ brem) energy
    sig_p = np.maximum(x["pt_err"][rows] / np.maximum(x["pt"][rows], 1e-9), 1e-4) * p[sel]
    sig_e = np.maximum(x["e_corr_err"][e_cl[sel]], 1e-3)
    e = (p[sel] / sig_p**2 + e_tot[sel] / sig_e**2) / (1 / sig_p**2 + 1 / sig_e**2)
    eta = x["eta"][rows]
    cands = _candidates(np.full(len(rows), C.ELECTRON), x["charge"][rows], e / np.cosh(eta), eta,
                        x["phi"][rows], np.sqrt(e**2 + _ELECTRON_MASS**2), rows)
    return cands, ele_used


def _charged_hadrons(x, links, calib, ecal_raw, ecal_em, hcal_raw, used, config):
    types = x["type"].astype(np.int64)
    n = len(types)
    tracks = np.flatnonzero((types == ELEMENT_TRACK) & ~used)
    if len(tracks) == 0:
        return []
    e_of_t = links.track_ecal[tracks]
    e_of_t = np.where((e_of_t >= 0) & ~used[np.maximum(e_of_t, 0)], e_of_t, -1)
    h_of_t = links.track_hcal[tracks]
    h_via_e = np.where(e_of_t >= 0, links.ecal_hcal[np.maximum(e_of_t, 0)], -1)
    pivot = np.where(h_of_t >= 0, h_of_t, h_via_e)
    key_t = np.where(pivot >= 0, pivot, e_of_t)  # group key: an HCAL or ECAL element index, -1 alone

    # ECAL clusters join the group of their HCAL link if that HCAL is a track group, else the
    # group of the first track linked to them
    is_group = np.zeros(n, dtype=bool)
    is_group[key_t[key_t >= 0]] = True
    ecal = np.flatnonzero((types == ELEMENT_ECAL) & ~used & (ecal_raw > 0))
    key_e = np.full(n, -1, dtype=np.int64)
    eh = links.ecal_hcal[ecal]
    via_h = (eh >= 0) & is_group[np.maximum(eh, 0)]
    key_e[ecal[via_h]] = eh[via_h]
    linked = e_of_t >= 0
    first_track_key = np.full(n, -1, dtype=np.int64)
    first_track_key[e_of_t[linked][::-1]] = key_t[linked][::-1]
    take = (key_e[ecal] < 0) & (first_track_key[ecal] >= 0)
    key_e[ecal[take]] = first_track_key[ecal[take]]

    p = _track_p(x, tracks)
    sig_p = np.maximum(x["pt_err"][tracks] / np.maximum(x["pt"][tracks], 1e-9), 1e-4) * p
    grouped = key_t >= 0
    keys = np.unique(key_t[grouped])
    kidx = np.searchsorted(keys, key_t[grouped])
    P = np.bincount(kidx, weights=p[grouped], minlength=len(keys))
    sigP2 = np.bincount(kidx, weights=sig_p[grouped] ** 2, minlength=len(keys))
    in_e = np.flatnonzero(key_e >= 0)
    eidx = np.searchsorted(keys, key_e[in_e])
    E_ecal = np.bincount(eidx, weights=ecal_raw[in_e], minlength=len(keys))
    E_ecal_em = np.bincount(eidx, weights=ecal_em[in_e], minlength=len(keys))
    is_h = types[keys] == ELEMENT_HCAL
    E_hcal = np.where(is_h, hcal_raw[keys], 0.0)
    eta_k = np.where(is_h, x["eta"][keys], x["eta"][keys])
    E_calo = calib.energy(E_ecal, E_hcal, eta_k)
    sig_calo = calib.resolution(P, eta_k)
    excess = E_calo - P
    has_calo = (E_ecal + E_hcal) > 0
    neutral = has_calo & (excess > config.excess_n_sigma * sig_calo)

    # photons from the ECAL part of the excess, neutral hadrons from the rest
    photon_e = np.where(neutral, np.minimum(excess, E_ecal_em), 0.0)
    nh_e = np.where(neutral, excess - photon_e, 0.0)
    # position of the photon: the most energetic ECAL cluster of the group
    lead_e = np.full(len(keys), -1, dtype=np.int64)
    if len(in_e):
        order = np.lexsort((-ecal_raw[in_e], eidx))
        first = np.unique(eidx[order], return_index=True)[1]
        lead_e[eidx[order][first]] = in_e[order][first]
    parts = []
    ph = (photon_e > config.min_photon_energy) & (lead_e >= 0)
    parts.append(_neutrals(C.PHOTON, photon_e[ph], x["eta"][lead_e[ph]], x["phi"][lead_e[ph]], lead_e[ph]))
    nh = nh_e > config.min_neutral_energy
    parts.append(_neutrals(C.NEUTRAL_HADRON, nh_e[nh], x["eta"][keys[nh]], x["phi"][keys[nh]], keys[nh]))

    # charged hadron momenta: combined with a compatible calorimeter measurement
    scale = np.ones(len(keys))
    if config.combine_tracks:
        compatible = has_calo & ~neutral & (excess > -3.0 * sig_calo)
        comb = (P / np.maximum(sigP2, 1e-12) + E_calo / sig_calo**2) / (1 / np.maximum(sigP2, 1e-12) + 1 / sig_calo**2)
        scale = np.where(compatible, comb / np.maximum(P, 1e-9), 1.0)
    s = np.ones(len(tracks))
    s[grouped] = scale[kidx]
    pt, eta = x["pt"][tracks] * s, x["eta"][tracks]
    energy = np.sqrt((p * s) ** 2 + _PION_MASS**2)
    parts.append(_candidates(np.full(len(tracks), C.CHARGED_HADRON), x["charge"][tracks], pt, eta, x["phi"][tracks],
                             energy, tracks))
    used[tracks] = True
    used[keys] = True
    used[in_e] = True
    return parts


def _leftover_clusters(x, links, calib, ecal_raw, ecal_em, hcal_raw, used, config):
    types = x["type"].astype(np.int64)
    parts = []
    hcal = np.flatnonzero((types == ELEMENT_HCAL) & ~used)
    ecal = np.flatnonzero((types == ELEMENT_ECAL) & ~used & (ecal_em > 0))
    # an ECAL cluster linked to a free HCAL cluster is part of the hadron beyond the tracker, and
    # inside it when the HCAL cluster holds most of the energy (a hadron that started showering
    # in the ECAL); otherwise it is a photon overlapping the hadron
    eh = links.ecal_hcal[ecal]
    free_h = np.zeros(len(types), dtype=bool)
    free_h[hcal] = True
    linked = (eh >= 0) & free_h[np.maximum(eh, 0)]
    ecal_on_h = np.zeros(len(types))
    np.add.at(ecal_on_h, eh[linked], ecal_raw[ecal[linked]])
    hadronic = ecal_on_h[np.maximum(eh, 0)] < config.hadron_max_ecal_fraction * (
        ecal_on_h[np.maximum(eh, 0)] + hcal_raw[np.maximum(eh, 0)])
    joins = linked & ((np.abs(x["eta"][ecal]) > config.tracker_eta_max) | hadronic)
    e_add = np.zeros(len(types))
    np.add.at(e_add, eh[joins], ecal_raw[ecal[joins]])
    photons = ecal[~joins]
    parts.append(_neutrals(C.PHOTON, ecal_em[photons], x["eta"][photons], x["phi"][photons], photons))
    e_nh = calib.energy(e_add[hcal], hcal_raw[hcal], x["eta"][hcal])
    keep = e_nh > 0
    parts.append(_neutrals(C.NEUTRAL_HADRON, e_nh[keep], x["eta"][hcal[keep]], x["phi"][hcal[keep]], hcal[keep]))
    for etype, cls in ((ELEMENT_HFEM, C.HF_EM), (ELEMENT_HFHAD, C.HF_HAD)):
        rows = np.flatnonzero(types == etype)
        e = x["e_corr"][rows].astype(np.float64)
        parts.append(_neutrals(cls, e, x["eta"][rows], x["phi"][rows], rows))
    return parts
