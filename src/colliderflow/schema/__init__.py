"""The vocabulary every stage speaks, at the ground floor: it imports nothing from the stages.

``elements`` holds the element (track and cluster) feature names and type codes, ``classes`` the
particle class codes of targets and candidates, ``candidates`` the candidate fields and the
candidates file format (its one home: reader, checks, header).
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "elements": ["ELEMENT_FEATURES", "ELEMENT_NAMES", "ELEMENT_TRACK", "ELEMENT_ECAL", "ELEMENT_HCAL", "ELEMENT_HFEM",
                 "ELEMENT_HFHAD", "stack_elements"],
    "classes": ["CLASS_NAMES", "N_CLASSES", "NONE", "CHARGED_HADRON", "NEUTRAL_HADRON", "PHOTON", "ELECTRON", "MUON",
                "HF_EM", "HF_HAD"],
    "candidates": ["CANDIDATE_FIELDS", "empty_candidates", "concat_candidates", "read_candidate_chunk",
                   "load_reconstruction", "load_candidates"],
})
