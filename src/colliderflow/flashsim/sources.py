"""Sources of reconstructed objects: which generator object (or event) each one comes from.

A reconstructed object has one *source* (FlashSim, CHEP 2024: "a reconstructed object may
originate from multiple sources ... an efficiency model and a properties model for each source"):

=============  ======================================================================
collection     sources, in the order an object is assigned
=============  ======================================================================
Jet            the generator jet it matches (``genJetIdx``); else pileup/fake (event)
Muon           the generator muon (``genPartIdx``); else the closest generator jet within
               dR < 0.4 (non-prompt and fake muons); else the event
Electron       the generator electron, or the generator photon (conversions, ``genPartIdx``);
               else the closest generator jet within dR < 0.4; else the event
Photon         the generator photon, or the generator electron; else the closest generator
               jet within dR < 0.4 (pi0 photons); else the event
=============  ======================================================================

Every source object of a model has a *multiplicity*: how many reconstructed objects it produced
(0 = inefficiency, 2+ = duplicates); objects from the event source are counted per event.
:func:`source_table` gives, per model, the conditioning features of every source object and,
for training, the multiplicities and the properties of the produced objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from colliderflow.flashsim.transforms import TargetSpec
from colliderflow.physics.neighbours import delta_r
from colliderflow.utils.config import RangeChecked, positive

__all__ = ["ModelSpec", "SourceTable", "MODELS", "source_table", "event_features", "reco_targets"]
_FAKE_JET_RADIUS = 0.4


@dataclass
class ModelSpec(RangeChecked):
    """One (collection, source) model: an efficiency/multiplicity classifier and a property flow."""

    name: str
    collection: str
    source: str  # "GenJet", "GenPart:<|pdgId|>" or "Event"
    max_multiplicity: int = positive()
    targets: list[TargetSpec] = field(default_factory=list)


def _jet_targets(relative: bool) -> list[TargetSpec]:
    return _kin(relative) + [TargetSpec("mass", "logeps", scale=1.0), TargetSpec("btag", "unit", scale=1e-3),
                  TargetSpec("nConstituents", "integer"), TargetSpec("chHEF", "unit", scale=1e-3),
                  TargetSpec("neHEF", "unit", scale=1e-3), TargetSpec("chEmEF", "unit", scale=1e-3),
                  TargetSpec("neEmEF", "unit", scale=1e-3), TargetSpec("muEF", "unit", scale=1e-3),
                  TargetSpec("jetId", "categorical")]


def _kin(relative: bool) -> list[TargetSpec]:
    """Kinematics relative to the source object, or absolute for event sources. The detector is
    symmetric in phi, so objects from the event source get phi uniform in [-pi, pi) (not learned)."""
    if relative:
        return [TargetSpec("pt", "logratio", "pt"), TargetSpec("eta", "delta", "eta"), TargetSpec("phi", "dphi", "phi")]
    return [TargetSpec("pt", "log"), TargetSpec("eta", "linear")]


def _muon_targets(relative: bool, signed: bool) -> list[TargetSpec]:
    charge = TargetSpec("charge", "sign", "charge") if signed else TargetSpec("charge", "categorical")
    return _kin(relative) + [charge, TargetSpec("pfRelIso04_all", "logeps", scale=1e-3),
                             TargetSpec("dxy", "asinh", scale=0.002), TargetSpec("dz", "asinh", scale=0.005),
                             TargetSpec("mediumId", "categorical"), TargetSpec("tightId", "categorical")]


def _electron_targets(relative: bool, signed: bool) -> list[TargetSpec]:
    charge = TargetSpec("charge", "sign", "charge") if signed else TargetSpec("charge", "categorical")
    return _kin(relative) + [charge, TargetSpec("pfRelIso03_all", "logeps", scale=1e-3),
                             TargetSpec("dxy", "asinh", scale=0.002), TargetSpec("dz", "asinh", scale=0.005),
                             TargetSpec("cutBased", "categorical")]


def _photon_targets(relative: bool) -> list[TargetSpec]:
    return _kin(relative) + [TargetSpec("pfRelIso03_all", "logeps", scale=1e-3), TargetSpec("cutBased", "categorical")]


MODELS: dict[str, ModelSpec] = {m.name: m for m in [
    ModelSpec("jet_genjet", "Jet", "GenJet", 2, _jet_targets(True)),
    ModelSpec("jet_pileup", "Jet", "Event", 12, _jet_targets(False)),
    ModelSpec("muon_genmuon", "Muon", "GenPart:13", 2, _muon_targets(True, True)),
    ModelSpec("muon_genjet", "Muon", "GenJet", 2, _muon_targets(True, False)),
    ModelSpec("muon_pileup", "Muon", "Event", 2, _muon_targets(False, False)),
    ModelSpec("electron_genelectron", "Electron", "GenPart:11", 2, _electron_targets(True, True)),
    ModelSpec("electron_genphoton", "Electron", "GenPart:22", 2, _electron_targets(True, False)),
    ModelSpec("electron_genjet", "Electron", "GenJet", 2, _electron_targets(True, False)),
    ModelSpec("electron_pileup", "Electron", "Event", 2, _electron_targets(False, False)),
    ModelSpec("photon_genphoton", "Photon", "GenPart:22", 2, _photon_targets(True)),
    ModelSpec("photon_genelectron", "Photon", "GenPart:11", 2, _photon_targets(True)),
    ModelSpec("photon_genjet", "Photon", "GenJet", 4, _photon_targets(True)),
    ModelSpec("photon_pileup", "Photon", "Event", 10, _photon_targets(False)),
]}

#: the reconstructed fields FlashSim produces per collection (the rest of the schema is bookkeeping)
def reco_targets(collection: str) -> list[str]:
    return [t.name for t in next(m for m in MODELS.values() if m.collection == collection).targets]


@dataclass
class SourceTable:
    """Source objects of one model in a batch of events.

    Attributes:
        cond: (Ns, C) float32 conditioning features.
        event: (Ns,) event index in the batch.
        index: (Ns,) index of the source object in its generator collection (-1 for the event).
        ref: source fields used by the transforms (pt, eta, phi, mass, charge), each (Ns,).
        count: (Ns,) multiplicity (training only, else None).
        obj_source: (No,) row in this table of each produced object (training only).
        obj_rank: (No,) rank of the object among those of its source (0 for the first).
        obj: properties of the produced objects, field -> (No,) (training only).
    """

    cond: np.ndarray
    event: np.ndarray
    index: np.ndarray
    ref: dict[str, np.ndarray]
    count: np.ndarray | None = None
    obj_source: np.ndarray | None = None
    obj_rank: np.ndarray | None = None
    obj: dict[str, np.ndarray] | None = None


def _np(a) -> np.ndarray:
    return ak.to_numpy(a).astype(np.float64)


def event_features(events: ak.Array) -> np.ndarray:
    """(E, 4) event context: nPU / 60, log(1 + GenMET), log(1 + gen HT / 100), n gen jets (pT > 20) / 10."""
    gj = events.GenJet
    hard = gj.pt > 20.0
    ht = _np(ak.sum(ak.where(hard, gj.pt, 0.0), axis=1))
    return np.column_stack([_np(events.Pileup.nPU) / 60.0, np.log1p(_np(events.GenMET.pt)), np.log1p(ht / 100.0),
                            _np(ak.sum(hard, axis=1)) / 10.0]).astype(np.float32)


def _flat_with_event(coll: ak.Array) -> tuple[ak.Array, np.ndarray, np.ndarray]:
    counts = ak.to_numpy(ak.num(coll))
    event = np.repeat(np.arange(len(counts)), counts)
    index = ak.to_numpy(ak.flatten(ak.local_index(coll)))
    return ak.flatten(coll), event, index


def _genjet_features(events: ak.Array, ev_feat: np.ndarray):
    gj = events.GenJet
    # distance to the closest other generator jet (pT > 10 GeV), clipped at 1.5
    d = delta_r(gj.eta[:, :, None], gj.phi[:, :, None], gj.eta[:, None, :], gj.phi[:, None, :])
    d = ak.where(ak.local_index(gj)[:, :, None] == ak.local_index(gj)[:, None, :], 9.0, d)
    dmin = ak.fill_none(ak.min(d, axis=2), 9.0)
    flat, event, index = _flat_with_event(gj)
    dmin = np.minimum(_np(ak.flatten(dmin)), 1.5)
    hf = _np(flat.hadronFlavour)
    pf = np.abs(_np(flat.partonFlavour))
    cond = np.column_stack([np.log(_np(flat.pt)), _np(flat.eta), np.log1p(_np(flat.mass)), hf == 5, hf == 4,
                            pf == 21, (pf >= 1) & (pf <= 3), pf == 0, dmin, ev_feat[event]])
    ref = {"pt": _np(flat.pt), "eta": _np(flat.eta), "phi": _np(flat.phi), "mass": _np(flat.mass),
           "charge": np.zeros(len(event))}
    return cond, event, index, ref


def _genpart_features(events: ak.Array, ev_feat: np.ndarray, pdg: int):
    gp = events.GenPart
    flat, event, index = _flat_with_event(gp)
    sel = np.abs(_np(flat.pdgId)) == pdg
    flat, event, index = flat[sel], event[sel], index[sel]
    cond = np.column_stack([np.log(_np(flat.pt)), _np(flat.eta), _np(flat.charge), np.log(_np(flat.iso) + 0.01),
                            _np(flat.fromTau), _np(flat.fromHF), ev_feat[event]])
    ref = {"pt": _np(flat.pt), "eta": _np(flat.eta), "phi": _np(flat.phi), "mass": _np(flat.mass),
           "charge": _np(flat.charge)}
    return cond, event, index, ref


def _event_source(events: ak.Array, ev_feat: np.ndarray):
    n = len(events)
    zeros = np.zeros(n)
    return ev_feat.astype(np.float64), np.arange(n), np.full(n, -1, dtype=np.int64), {
        "pt": zeros, "eta": zeros, "phi": zeros, "mass": zeros, "charge": zeros}


def _sources(events: ak.Array, spec: ModelSpec, ev_feat: np.ndarray):
    if spec.source == "GenJet":
        return _genjet_features(events, ev_feat)
    if spec.source.startswith("GenPart:"):
        return _genpart_features(events, ev_feat, int(spec.source.split(":")[1]))
    if spec.source == "Event":
        return _event_source(events, ev_feat)
    raise ValueError(f"model {spec.name!r}: unknown source {spec.source!r}")


def _assign(events: ak.Array, collection: str) -> tuple[ak.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Source of every reconstructed object: (flat objects, event, source kind, source index).

    kind: 0 generator particle (GenPart index), 1 generator jet (GenJet index), 2 event.
    """
    coll = events[collection]
    flat, event, _ = _flat_with_event(coll)
    n = len(event)
    kind = np.full(n, 2, dtype=np.int64)
    src = np.full(n, -1, dtype=np.int64)
    if collection == "Jet":
        gi = ak.to_numpy(flat.genJetIdx).astype(np.int64)
        kind[gi >= 0], src[gi >= 0] = 1, gi[gi >= 0]
        return flat, event, kind, src
    gi = ak.to_numpy(flat.genPartIdx).astype(np.int64)
    kind[gi >= 0], src[gi >= 0] = 0, gi[gi >= 0]
    # unmatched: closest generator jet within dR < 0.4
    gj = events.GenJet
    d = delta_r(coll.eta[:, :, None], coll.phi[:, :, None], gj.eta[:, None, :], gj.phi[:, None, :])
    best = ak.argmin(d, axis=2)
    dbest = ak.fill_none(ak.min(d, axis=2), 9.0)
    best = ak.to_numpy(ak.flatten(ak.fill_none(best, -1))).astype(np.int64)
    near = (ak.to_numpy(ak.flatten(dbest)) < _FAKE_JET_RADIUS) & (kind == 2)
    kind[near], src[near] = 1, best[near]
    return flat, event, kind, src


def source_table(events: ak.Array, spec: ModelSpec, with_targets: bool = False,
                 ev_feat: np.ndarray | None = None) -> SourceTable:
    """Conditioning (and, with ``with_targets``, multiplicities and properties) of one model."""
    ev_feat = event_features(events) if ev_feat is None else ev_feat
    cond, event, index, ref = _sources(events, spec, ev_feat)
    table = SourceTable(np.asarray(cond, dtype=np.float32), event, index, ref)
    if not with_targets:
        return table
    flat, oevent, kind, src = _assign(events, spec.collection)
    if spec.source == "GenJet":
        mine = kind == 1
    elif spec.source == "Event":
        mine = kind == 2
    else:
        pdg = int(spec.source.split(":")[1])
        gp_pdg = ak.to_numpy(ak.flatten(events.GenPart.pdgId)).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(events.GenPart)))])
        mine = kind == 0
        gidx = np.where(mine, offsets[oevent] + np.maximum(src, 0), 0)
        mine &= np.abs(gp_pdg[gidx] if len(gp_pdg) else np.zeros(len(gidx))) == pdg
    if spec.source == "Event":
        src = np.where(mine, 0, -1)
    # map (event, source index) -> table row
    key_rows = {(int(e), int(i)): r for r, (e, i) in enumerate(zip(event, np.maximum(index, 0)))}
    sel = np.flatnonzero(mine)
    rows = np.array([key_rows.get((int(oevent[k]), int(max(src[k], 0))), -1) for k in sel], dtype=np.int64)
    ok = rows >= 0
    sel, rows = sel[ok], rows[ok]
    # rank within source, ordered by decreasing pT (objects are pT-sorted within an event already)
    order = np.lexsort((-_np(flat.pt)[sel], rows))
    sel, rows = sel[order], rows[order]
    first = np.concatenate([[True], rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0)) if len(rows) else np.zeros(0, np.int64)
    rank = np.arange(len(rows)) - start
    keep = rank < spec.max_multiplicity
    sel, rows, rank = sel[keep], rows[keep], rank[keep]
    table.count = np.bincount(rows, minlength=len(event)).astype(np.int64)
    table.obj_source, table.obj_rank = rows, rank
    table.obj = {t.name: _np(flat[t.name]) for t in spec.targets}
    table.obj = {k: v[sel] for k, v in table.obj.items()}
    return table
