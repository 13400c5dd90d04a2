"""Particle collections per event, in one layout whatever their origin.

A collection is a jagged awkward record array (events, particles) with fields ``cls``,
``charge``, ``pt``, ``eta``, ``phi``, ``energy`` and ``weight`` (four-momentum scale factor:
PUPPI weight, 0/1 for CHS, 1 otherwise).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from colliderflow.schema import classes as C

__all__ = ["truth_collection", "target_collection", "reco_collections", "gen_class", "has_offset_step"]

#: collection-name suffixes of the per-particle pileup rejections (PUPPI weights, the MLPF pileup head)
_PARTICLE_PILEUP_REJECTION = ("+PUPPI", "+PU")


def gen_class(pid: ak.Array, charge: ak.Array, eta: ak.Array) -> ak.Array:
    """Class of generator particles as a reconstruction would label them (HF beyond |eta| = 3)."""
    a = abs(pid)
    em = (a == 11) | (a == 22)
    cls = ak.where(a == 11, C.ELECTRON, ak.where(a == 22, C.PHOTON, ak.where(a == 13, C.MUON,
                   ak.where(charge != 0, C.CHARGED_HADRON, C.NEUTRAL_HADRON))))
    forward = abs(eta) > 3.0
    return ak.where(forward, ak.where(em, C.HF_EM, C.HF_HAD), cls)


def _collection(cls, charge, pt, eta, phi, energy, weight=None) -> ak.Array:
    if weight is None:
        weight = ak.ones_like(pt)
    return ak.zip({"cls": cls, "charge": charge, "pt": pt, "eta": eta, "phi": phi, "energy": energy,
                   "weight": weight})


def truth_collection(data: ak.Array) -> ak.Array:
    t = data.truth
    return _collection(gen_class(t.pid, t.charge, t.eta), t.charge, t.pt, t.eta, t.phi, t.energy)


def target_collection(data: ak.Array, remove_pileup: bool = True, pu_threshold: float = 0.5) -> ak.Array:
    y = data.ytarget
    sel = y.cls > 0
    if remove_pileup:
        sel = sel & (y.pu_frac < pu_threshold)
    y = y[sel]
    return _collection(y.cls, y.charge, y.pt, y.eta, y.phi, y.energy)


def reco_collections(name: str, cands: ak.Array, algo: str = "pf",
                     pileup_threshold: float | None = None) -> dict[str, ak.Array]:
    """The collections of one reconstruction, as in section 6.2 of the CMS MLPF paper.

    ``name``: all candidates; ``name+CHS``: without charged candidates from pileup vertices;
    ``name+PUPPI``: weighted by PUPPI. MLPF adds ``name+PU``: the MLPF per-particle pileup
    rejection, candidates whose ``pu_score`` is below ``pileup_threshold``: the one used at
    reconstruction (``colliderflow.reconstruct.mlpf_pileup_threshold``), required for MLPF so
    that no second default can disagree with it.
    """
    if algo == "mlpf" and pileup_threshold is None:
        raise ValueError(f"reco_collections: {name}: MLPF candidates need the pileup_threshold they were "
                         "reconstructed with")
    base = dict(cls=cands.cls, charge=cands.charge, pt=cands.pt, eta=cands.eta, phi=cands.phi,
                energy=cands.energy)
    out = {name: _collection(**base),
           f"{name}+CHS": _collection(**base, weight=ak.values_astype(cands.chs, np.float32)),
           f"{name}+PUPPI": _collection(**base, weight=cands.puppi_weight)}
    if algo == "mlpf":
        out[f"{name}+PU"] = _collection(**base, weight=ak.values_astype(cands.pu_score < pileup_threshold,
                                                                        np.float32))
    return out


def has_offset_step(name: str) -> bool:
    """Whether the jets of collection ``name`` get a pileup-offset (L1) step in type-1 MET.

    As in CMS: jets of all candidates and of CHS candidates carry the pileup that is left and
    have an L1 offset; PUPPI (and the MLPF pileup head, which also rejects pileup particle by
    particle) have none, nor have the truth and the target, which hold no pileup.
    """
    return name not in ("truth", "target") and not name.endswith(_PARTICLE_PILEUP_REJECTION)
