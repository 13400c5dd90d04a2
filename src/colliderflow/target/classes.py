"""Target particle classes (section 5.1 of the MLPF paper)."""

from __future__ import annotations

import numpy as np

__all__ = ["CLASS_NAMES", "NONE", "CHARGED_HADRON", "NEUTRAL_HADRON", "PHOTON", "ELECTRON", "MUON",
           "HF_EM", "HF_HAD", "N_CLASSES", "class_of_pid"]

NONE = 0
CHARGED_HADRON = 1
NEUTRAL_HADRON = 2
PHOTON = 3
ELECTRON = 4
MUON = 5
HF_EM = 6
HF_HAD = 7
N_CLASSES = 8
CLASS_NAMES = ("none", "charged hadron", "neutral hadron", "photon", "electron", "muon", "HF-EM", "HF-HAD")


def class_of_pid(pid: np.ndarray, charge: np.ndarray, has_track: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Target class of particles from their PDG id.

    Args:
        pid, charge: (N,) PDG id and charge.
        has_track: (N,) whether the particle is reconstructed as a track (its primary element).
        forward: (N,) whether the primary element is an HF cluster.

    Returns:
        (N,) int8 class codes. Charged particles without a track become neutral: a charged
        hadron (or a muon) becomes a neutral hadron, an electron a photon.
    """
    a = np.abs(pid)
    em = (a == 11) | (a == 22)
    cls = np.where(em, PHOTON, NEUTRAL_HADRON)
    tracked = has_track & (charge != 0)
    cls = np.where(tracked, np.select([a == 11, a == 13], [ELECTRON, MUON], CHARGED_HADRON), cls)
    cls = np.where(forward & ~tracked, np.where(em, HF_EM, HF_HAD), cls)
    return cls.astype(np.int8)
