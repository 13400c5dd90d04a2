"""Particle classes (section 5.1 of the MLPF paper): the codes of target particles and of candidates.

The rule that gives a generator particle its target class is ``target.build.class_of_pid``.
"""

from __future__ import annotations

__all__ = ["CLASS_NAMES", "NONE", "CHARGED_HADRON", "NEUTRAL_HADRON", "PHOTON", "ELECTRON", "MUON",
           "HF_EM", "HF_HAD", "N_CLASSES"]

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
