"""The NanoAOD-like analysis format: collections, their fields and types (schema version 1).

An event is a record whose fields are *collections* (jagged, one entry per object: ``Jet``,
``Muon`` ...), *singletons* (one record per event: ``MET``, ``PV`` ...) and *scalars*
(``event``, ``run``, ``genWeight``). In ROOT the branches follow NanoAOD naming: ``nJet``,
``Jet_pt``, ``MET_pt``, ``event``. docs/flashsim.md describes every field.

Units: GeV, rad, cm. Index fields (``genJetIdx``, ``genPartIdx``) point into the generator
collections of the same event, -1 if unmatched.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NANO_KIND", "NANO_SCHEMA_VERSION", "COLLECTIONS", "SINGLETONS", "SCALARS", "GEN_COLLECTIONS",
           "GEN_SINGLETONS", "RECO_COLLECTIONS", "RECO_SINGLETONS", "FLASH_SINGLETONS", "GEN_INPUTS", "RECO_CONTENT"]

NANO_KIND = "nanoaod"
NANO_SCHEMA_VERSION = 1

f4, i1, i2, i4, b1 = np.float32, np.int8, np.int16, np.int32, np.bool_

#: generator-level collections (inputs of FlashSim)
GEN_COLLECTIONS = {
    "GenJet": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "hadronFlavour": i1, "partonFlavour": i2},
    # prompt-ish leptons and photons of the hard scatter; iso: generator isolation sum pT in dR < 0.4 / pT
    "GenPart": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "pdgId": i4, "charge": i1, "iso": f4,
                "fromTau": b1, "fromHF": b1},
}
GEN_SINGLETONS = {
    "GenMET": {"pt": f4, "phi": f4},
    "Pileup": {"nPU": i4},
}
#: reconstructed collections (PF + PUPPI, or FlashSim)
RECO_COLLECTIONS = {
    "Jet": {"pt": f4, "eta": f4, "phi": f4, "mass": f4, "btag": f4, "nConstituents": i2, "chHEF": f4,
            "neHEF": f4, "chEmEF": f4, "neEmEF": f4, "muEF": f4, "jetId": i1, "genJetIdx": i2},
    "Muon": {"pt": f4, "eta": f4, "phi": f4, "charge": i1, "pfRelIso04_all": f4, "dxy": f4, "dz": f4,
             "looseId": b1, "mediumId": b1, "tightId": b1, "genPartIdx": i2},
    "Electron": {"pt": f4, "eta": f4, "phi": f4, "charge": i1, "pfRelIso03_all": f4, "dxy": f4, "dz": f4,
                 "cutBased": i1, "genPartIdx": i2},
    "Photon": {"pt": f4, "eta": f4, "phi": f4, "pfRelIso03_all": f4, "cutBased": i1, "genPartIdx": i2},
}
RECO_SINGLETONS = {
    "MET": {"pt": f4, "phi": f4, "sumEt": f4},
    "PV": {"npvs": i2, "z": f4},
    # median pT density of PF candidates in |eta| < 2.5 (GeV per unit area), as CMS's rho
    "Rho": {"fixedGridRhoFastjetAll": f4},
}
#: bookkeeping of FlashSim output: which replica of the generator event this is
FLASH_SINGLETONS = {"FlashSim": {"replica": i2}}

SCALARS = {"run": np.int64, "event": np.int64, "genWeight": np.float32}
COLLECTIONS = {**GEN_COLLECTIONS, **RECO_COLLECTIONS}
SINGLETONS = {**GEN_SINGLETONS, **RECO_SINGLETONS, **FLASH_SINGLETONS}

#: what a file needs to be FlashSim's input: the generator record and the event identity
GEN_INPUTS = (*GEN_COLLECTIONS, *GEN_SINGLETONS, "run", "event")
#: what a full-simulation or FlashSim file needs besides, for training and validation
RECO_CONTENT = (*RECO_COLLECTIONS, "MET", "PV")
