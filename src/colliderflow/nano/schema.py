"""The NanoAOD-like analysis format: collections, their fields and types (schema version 1).

An event is a record whose fields are *collections* (jagged, one entry per object: ``Jet``,
``Muon`` ...), *singletons* (one record per event: ``MET``, ``PV`` ...) and *scalars*
(``run``, ``luminosityBlock``, ``event``, ``genWeight``). In files the branches follow CMS
NanoAOD naming and types, so that coffea's ``NanoAODSchema`` opens them: ``nJet``, ``Jet_pt``,
``PuppiMET_pt``, ``event``; ROOT files also get a ``Runs`` tree (``genEventCount``,
``genEventSumw``, ``genEventSumw2``). docs/flashsim.md describes every field.

Units: GeV, rad, cm. Index fields (``genJetIdx``, ``genPartIdx``, ``genPartIdxMother``) point
into the generator collections of the same event, -1 if unmatched.

Version 2 (this one) follows CMS: ``MET`` is the PF MET and ``PuppiMET`` the PUPPI MET (version 1
had PUPPI MET under ``MET``), ``luminosityBlock`` (FlashSim: 1 + replica, so every replica has a
unique (run, luminosityBlock, event) while ``event`` stays the generator event), lepton masses,
``PV_x``/``PV_y``, GenPart ``status``/``statusFlags``/``genPartIdxMother`` and ``Pileup_nTrueInt``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NANO_KIND", "NANO_SCHEMA_VERSION", "STATUS_FLAGS", "RESONANCE_STATUS", "LEPTON_MASS", "COLLECTIONS", "SINGLETONS", "SCALARS", "GEN_COLLECTIONS",
           "GEN_SINGLETONS", "RECO_COLLECTIONS", "RECO_SINGLETONS", "FLASH_SINGLETONS", "GEN_INPUTS", "RECO_CONTENT"]

NANO_KIND = "nanoaod"
NANO_SCHEMA_VERSION = 2

f4, i1, i2, i4, u4, b1 = np.float32, np.int8, np.int16, np.int32, np.uint32, np.bool_

#: CMS GenPart_statusFlags bits this format sets (the others are 0): the pruned list carries no
#: copies (every entry is a last copy)
STATUS_FLAGS = {"isPrompt": 0, "isTauDecayProduct": 2, "isPromptTauDecayProduct": 3, "fromHardProcess": 8,
                "isLastCopy": 13}
#: GenPart status of the hard-process resonances (Pythia 8's code of a resonance's last copy, as in CMS)
RESONANCE_STATUS = 62
#: lepton masses written with the reconstructed leptons (GeV)
LEPTON_MASS = {"Muon": 0.1056584, "Electron": 0.000511}

#: generator-level collections (inputs of FlashSim)
GEN_COLLECTIONS: dict[str, dict[str, type]] = {
    "GenJet": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "hadronFlavour": i1, "partonFlavour": i2},
    # final-state leptons and photons of the hard scatter (status 1), then the hard-process resonances
    # t, W, Z, H (status RESONANCE_STATUS); iso: generator isolation sum pT in dR < 0.4 / pT (0 for
    # resonances); statusFlags (STATUS_FLAGS); genPartIdxMother: the resonance an entry comes from, -1 if none
    "GenPart": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "pdgId": i4, "charge": i1, "iso": f4,
                "fromTau": b1, "fromHF": b1, "status": i4, "statusFlags": i4, "genPartIdxMother": i2},
}
GEN_SINGLETONS: dict[str, dict[str, type]] = {
    "GenMET": {"pt": f4, "phi": f4},
    # nTrueInt: the pileup the event was drawn with (the overlaid count, which the sample's range draws directly)
    "Pileup": {"nPU": i4, "nTrueInt": f4},
}
#: reconstructed collections (PF + PUPPI, or FlashSim)
RECO_COLLECTIONS: dict[str, dict[str, type]] = {
    "Jet": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "btag": f4, "nConstituents": i2, "chHEF": f4,
            "neHEF": f4, "chEmEF": f4, "neEmEF": f4, "muEF": f4, "jetId": i1, "genJetIdx": i2},
    "Muon": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "charge": i1, "pfRelIso04_all": f4, "dxy": f4,
             "dz": f4, "looseId": b1, "mediumId": b1, "tightId": b1, "genPartIdx": i2},
    "Electron": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "charge": i1, "pfRelIso03_all": f4, "dxy": f4,
                 "dz": f4, "cutBased": i1, "genPartIdx": i2},
    "Photon": {"pt": f4, "eta": f4, "phi": f4, "pfRelIso03_all": f4, "cutBased": i1, "genPartIdx": i2},
}
RECO_SINGLETONS: dict[str, dict[str, type]] = {
    # PF MET: all PF candidates (full simulation only; FlashSim models PuppiMET)
    "MET": {"pt": f4, "phi": f4, "sumEt": f4},
    "PuppiMET": {"pt": f4, "phi": f4, "sumEt": f4},
    # x, y: the beam line (the vertex fit is one-dimensional along z)
    "PV": {"npvs": i2, "x": f4, "y": f4, "z": f4},
    # median pT density of PF candidates in |eta| < 2.5 (GeV per unit area), as CMS's rho
    "Rho": {"fixedGridRhoFastjetAll": f4},
}
#: bookkeeping of FlashSim output: which replica of the generator event this is
FLASH_SINGLETONS: dict[str, dict[str, type]] = {"FlashSim": {"replica": i2}}

SCALARS: dict[str, type] = {"run": u4, "luminosityBlock": u4, "event": np.uint64, "genWeight": np.float32}
COLLECTIONS = {**GEN_COLLECTIONS, **RECO_COLLECTIONS}
SINGLETONS = {**GEN_SINGLETONS, **RECO_SINGLETONS, **FLASH_SINGLETONS}

#: what a file needs to be FlashSim's input: the generator record and the event identity
GEN_INPUTS = (*GEN_COLLECTIONS, *GEN_SINGLETONS, "run", "event")
#: what a full-simulation or FlashSim file needs besides, for training and validation
RECO_CONTENT = (*RECO_COLLECTIONS, "PuppiMET", "PV")
