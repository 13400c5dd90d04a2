"""Event-level models: the pileup stage (vertices and rho), and MET conditioned on the reconstructed objects.

The pileup stage comes first: ``pv`` samples the number of reconstructed vertices, the PV z and
the pileup density rho from the number of pileup interactions and the event context (bundles
trained before the context was added: the pileup count only). Every object model and MET is
conditioned on rho and on the number of reconstructed vertices as well (``PILEUP_FEATURES``: the
full-simulation values in training, the sampled ones in FlashSim):

* rho carries the event-by-event pileup activity that makes, for example, the isolation of the
  two muons of a Z decay correlated, which nPU alone does not;
* PUPPI's pT cuts grow with the number of reconstructed vertices (docs/pf.md), so at a fixed nPU
  an event with more reconstructed vertices has fewer and softer PUPPI jets: in full-simulation
  ttbar and Z -> mu mu nano with 55-75 pileup, the jet count and ``PV_npvs`` correlate by -0.23
  and -0.26 at fixed nPU. Bundles conditioned on rho alone drew the vertices and the jets
  independently (+0.07 and +0.04).

MET (FlashSim, CHEP 2024: "MET is conditioned on the various reconstructed objects") is learned
in the frame of the generator MET: with phi0 = GenMET phi, the targets are the components of
the reconstructed MET parallel and perpendicular to the generator MET (``asinh(x / 10 GeV)``)
and log sumEt; the conditions are the event context plus the jets' MHT and the reconstructed
lepton/photon pT sum in the same frame, HT and object counts. In training the reconstructed
objects are the full-simulation ones; in sampling they are FlashSim's own (sampled first).

Which jets (the bundle's MET entry records it as ``condition``; bundles without it: ``"reco"``):

* ``"reco"``: MHT, HT and jet count of the reconstructed jets. FlashSim draws each jet's response
  on its own, so its jets lack the event-wide correlations of full-simulation jets (a common
  pileup offset that cancels in the vector sum), and MET conditioned on their MHT reads the extra
  imbalance as MET (MET pT Wasserstein 4.7 times its floor).
* ``"gen_mht"`` (what ``flashsim train`` does now): the MHT vector of the generator jets, which is
  the same in training and sampling, so the flow learns the jets' share of the MET smearing
  itself; HT and jet count still of the reconstructed jets, which keeps sumEt correlated with the
  event's HT (with every jet sum from generator jets, MET was right but sumEt lost that
  correlation: 0.85 against 0.96, event-level AUC 0.605).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from colliderflow.flashsim.transforms import TargetSpec

__all__ = ["CONDITIONS", "TRAINED_CONDITIONS", "UNRECORDED_CONDITIONS", "MET_CONDITIONS", "MET_CONDITION", "MET_TARGETS",
           "PV_CONDITIONS", "PV_CONDITION", "PV_TARGETS",
           "PILEUP_FEATURES", "UNRECORDED_PILEUP_FEATURES", "met_condition", "met_targets", "met_from_targets",
           "pv_condition", "pv_targets", "rho_of", "rho_feature", "npvs_feature", "pileup_columns"]

MET_TARGETS = [TargetSpec("par", "asinh", scale=10.0), TargetSpec("perp", "asinh", scale=10.0),
               TargetSpec("sumEt", "log")]
#: what MET can be conditioned on: the jets' sums from generator MHT or reconstructed jets (module docstring)
MET_CONDITIONS = ("gen_mht", "reco")
#: what ``flashsim train`` conditions MET on; the bundle's MET entry records it as ``condition``
MET_CONDITION = "gen_mht"
#: what the pileup stage can be conditioned on (:func:`pv_condition`), and what ``flashsim train`` uses
PV_CONDITIONS = ("event", "npu")
PV_CONDITION = "event"
#: per event-level model: the conditions a bundle entry may record, what ``flashsim train`` records,
#: and what bundles from before the record were trained with
CONDITIONS = {"met": MET_CONDITIONS, "pv": PV_CONDITIONS}
TRAINED_CONDITIONS = {"met": MET_CONDITION, "pv": PV_CONDITION}
UNRECORDED_CONDITIONS = {"met": "reco", "pv": "npu"}
PV_TARGETS = [TargetSpec("npvs", "integer"), TargetSpec("z", "linear"), TargetSpec("rho", "log")]
#: the pileup-stage quantities every object model and MET is conditioned on, in this order, as
#: ``flashsim train`` records them per model (``pileup``); bundles without the record: rho only
PILEUP_FEATURES = ("rho", "npvs")
UNRECORDED_PILEUP_FEATURES = ("rho",)


def _np(a) -> np.ndarray:
    return ak.to_numpy(a).astype(np.float64)


def _vec_sum(coll: ak.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    px = _np(ak.sum(coll.pt * np.cos(coll.phi), axis=1))
    py = _np(ak.sum(coll.pt * np.sin(coll.phi), axis=1))
    return px, py, _np(ak.sum(coll.pt, axis=1))


def _rotate(px, py, phi0):
    c, s = np.cos(phi0), np.sin(phi0)
    return px * c + py * s, -px * s + py * c


def met_condition(events: ak.Array, reco: dict[str, ak.Array], ev_feat: np.ndarray, kind: str = MET_CONDITION
                  ) -> np.ndarray:
    """(E, F + 8) MET conditioning from the event context (E, F) and the collections.

    Args:
        events: generator-level events (GenMET, GenJet).
        reco: reconstructed Jet, Muon, Electron and Photon collections (pT in GeV).
        ev_feat: event context features (E, F).
        kind: ``"gen_mht"``: the MHT vector from ``events.GenJet``, HT and count from ``reco["Jet"]``;
            ``"reco"``: all three from ``reco["Jet"]``.
    """
    if kind not in MET_CONDITIONS:
        raise ValueError(f"MET condition {kind!r}: choose from {MET_CONDITIONS}")
    phi0 = _np(events.GenMET.phi)
    jx, jy, ht = _vec_sum(reco["Jet"])
    if kind == "gen_mht":
        jx, jy, _ = _vec_sum(events.GenJet)
    lx, ly, lt = np.zeros(len(phi0)), np.zeros(len(phi0)), np.zeros(len(phi0))
    for name in ("Muon", "Electron", "Photon"):
        x, y, t = _vec_sum(reco[name])
        lx, ly, lt = lx + x, ly + y, lt + t
    jpar, jperp = _rotate(-jx, -jy, phi0)
    lpar, lperp = _rotate(-lx, -ly, phi0)
    n_obj = sum(_np(ak.num(reco[n])) for n in ("Muon", "Electron", "Photon"))
    return np.column_stack([ev_feat, np.arcsinh(jpar / 20), np.arcsinh(jperp / 20), np.log1p(ht),
                            _np(ak.num(reco["Jet"])) / 10, np.arcsinh(lpar / 20), np.arcsinh(lperp / 20),
                            np.log1p(lt), n_obj / 5]).astype(np.float32)


def met_targets(events: ak.Array) -> dict[str, np.ndarray]:
    phi0 = _np(events.GenMET.phi)
    pt, phi = _np(events.PuppiMET.pt), _np(events.PuppiMET.phi)
    par, perp = _rotate(pt * np.cos(phi), pt * np.sin(phi), phi0)
    return {"par": par, "perp": perp, "sumEt": _np(events.PuppiMET.sumEt)}


def met_from_targets(t: dict[str, np.ndarray], genmet_phi: np.ndarray) -> dict[str, np.ndarray]:
    """MET pt, phi, sumEt from the rotated components."""
    c, s = np.cos(genmet_phi), np.sin(genmet_phi)
    mx = t["par"] * c - t["perp"] * s
    my = t["par"] * s + t["perp"] * c
    return {"pt": np.hypot(mx, my), "phi": np.arctan2(my, mx), "sumEt": t["sumEt"]}


def pv_condition(events: ak.Array, ev_feat: np.ndarray, kind: str = PV_CONDITION) -> np.ndarray:
    """Conditioning of the pileup stage: (E, 1) nPU / 60 (``"npu"``), or the (E, F) event context
    ``ev_feat`` (``"event"``, whose first column is nPU / 60): rho also holds the hard process's
    share (the underlying event and its jets), 3 GeV more in ttbar than in Z -> mu mu events at
    the same pileup."""
    if kind not in PV_CONDITIONS:
        raise ValueError(f"pileup-stage condition {kind!r}: choose from {PV_CONDITIONS}")
    if kind == "event":
        return np.asarray(ev_feat, np.float32)
    return (_np(events.Pileup.nPU) / 60.0)[:, None].astype(np.float32)


def pv_targets(events: ak.Array) -> dict[str, np.ndarray]:
    return {"npvs": _np(events.PV.npvs), "z": _np(events.PV.z), "rho": rho_of(events)}


def rho_of(events: ak.Array) -> np.ndarray:
    """The full-simulation pileup density rho (E,), GeV per unit area."""
    return _np(events.Rho.fixedGridRhoFastjetAll)


def rho_feature(rho: np.ndarray) -> np.ndarray:
    """Conditioning column from rho: log(1 + rho / 10 GeV)."""
    return np.log1p(np.maximum(rho, 0.0) / 10.0).astype(np.float32)


def npvs_feature(npvs: np.ndarray) -> np.ndarray:
    """Conditioning column from the number of reconstructed vertices: npvs / 40."""
    return (np.asarray(npvs, np.float64) / 40.0).astype(np.float32)


_PILEUP_FEATURE = {"rho": rho_feature, "npvs": npvs_feature}


def pileup_columns(values: dict[str, np.ndarray], names: tuple[str, ...] | list[str]) -> np.ndarray:
    """(E, len(names)) conditioning columns from the pileup stage.

    Args:
        values: ``rho`` (E,) in GeV per unit area and ``npvs`` (E,) reconstructed vertices.
        names: which of ``PILEUP_FEATURES``, in the order a model was trained with.
    """
    unknown = [n for n in names if n not in _PILEUP_FEATURE]
    if unknown:
        raise ValueError(f"pileup conditions {unknown}: choose from {PILEUP_FEATURES}")
    return np.column_stack([_PILEUP_FEATURE[n](values[n]) for n in names]).astype(np.float32)
