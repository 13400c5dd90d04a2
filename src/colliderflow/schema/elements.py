"""Element (track and cluster) feature names and type codes, after section 5.2 of the MLPF paper.

Tracks and clusters share one feature vector (the union of both lists below); a track
leaves the cluster-only features at zero and vice versa. Units: GeV, cm, ns, rad.
``simulate`` fills the features (``tracking``, ``calorimeter``) and joins them with
:func:`stack_elements`; ``dataset``, ``pf``, ``mlpf``, ``nano`` and ``evaluate`` read them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ELEMENT_TRACK", "ELEMENT_ECAL", "ELEMENT_HCAL", "ELEMENT_HFEM", "ELEMENT_HFHAD",
    "ELEMENT_NAMES", "COMMON_FEATURES", "TRACK_FEATURES", "CLUSTER_FEATURES", "ELEMENT_FEATURES", "N_DEPTH_LAYERS",
    "stack_elements",
]

ELEMENT_TRACK = 1
ELEMENT_ECAL = 2
ELEMENT_HCAL = 3
ELEMENT_HFEM = 4
ELEMENT_HFHAD = 5
ELEMENT_NAMES = {1: "track", 2: "ecal", 3: "hcal", 4: "hfem", 5: "hfhad"}

#: the maximum number of calorimeter depth layers with per-layer shape features
N_DEPTH_LAYERS = 4

#: features shared by tracks and clusters (type first)
COMMON_FEATURES = ("type", "pt", "eta", "phi", "energy")

#: track-only features
TRACK_FEATURES = (
    "pt_err", "eta_err", "phi_err",
    "eta_ecal", "phi_ecal", "eta_hcal", "phi_hcal",
    "px", "py", "pz", "charge", "n_hits", "n_pixel_hits", "chi2_ndf",
    "vx", "vy", "vz", "d0", "d0_err", "dz", "dz_err",
    "theta", "theta_err", "lambda_", "lambda_err",
    "muon_dt_hits", "muon_csc_hits",
)

#: cluster-only features (``pt`` of a cluster is its ET)
CLUSTER_FEATURES = (
    "x", "y", "z", "e_ecal", "e_hcal", "e_corr", "e_corr_err", "time", "time_err",
    "n_cells", "sigma_x", "sigma_y", "sigma_z",
    *(f"e_layer{i}" for i in range(1, N_DEPTH_LAYERS + 1)),
    *(f"sigma_eta_layer{i}" for i in range(1, N_DEPTH_LAYERS + 1)),
    *(f"sigma_phi_layer{i}" for i in range(1, N_DEPTH_LAYERS + 1)),
)

ELEMENT_FEATURES = COMMON_FEATURES + TRACK_FEATURES + CLUSTER_FEATURES


def stack_elements(*blocks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Concatenate per-type feature dictionaries into one feature dictionary.

    Args:
        blocks: dictionaries name -> array of shape (n_k,), each holding ``type`` and
            any subset of ``ELEMENT_FEATURES``; missing features are zero-filled.

    Returns:
        name -> float32 array of shape (sum n_k,) for every name in ``ELEMENT_FEATURES``.
    """
    out: dict[str, np.ndarray] = {}
    sizes = [len(b["type"]) for b in blocks]
    for name in ELEMENT_FEATURES:
        parts = []
        for b, n in zip(blocks, sizes):
            if name in b:
                arr = np.asarray(b[name], dtype=np.float32)
                if arr.shape != (n,):
                    raise ValueError(f"element feature {name!r}: expected shape ({n},), got {arr.shape}")
                parts.append(arr)
            else:
                parts.append(np.zeros(n, dtype=np.float32))
        out[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    unknown = {k for b in blocks for k in b} - set(ELEMENT_FEATURES)
    if unknown:
        raise ValueError(f"unknown element features: {sorted(unknown)}")
    return out
