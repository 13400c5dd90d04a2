"""What the tracker volume hands to the calorimeters: one row per shower to deposit.

Produced by :mod:`colliderflow.simulate.tracking` (after helix propagation and material
effects such as bremsstrahlung and photon conversions), consumed by
:mod:`colliderflow.simulate.calorimeter`. Units: GeV, cm, ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.utils.columns import Columns

__all__ = ["CaloImpacts", "KIND_EM", "KIND_HADRON", "KIND_MIP", "SURFACE_CALO", "SURFACE_HF"]

#: electromagnetic shower (electron, positron, photon)
KIND_EM = 0
#: hadronic shower
KIND_HADRON = 1
#: minimum-ionising particle (muon)
KIND_MIP = 2

#: the impact is on the ECAL front face (barrel cylinder or endcap disk, |eta| < 3)
SURFACE_CALO = 0
#: the impact is on the HF front face (3 < |eta| < 5)
SURFACE_HF = 1

_DTYPES = {
    "particle": np.int64,
    "kind": np.int8,
    "surface": np.int8,
    "energy": np.float64,
    "x": np.float64,
    "y": np.float64,
    "z": np.float64,
    "x_hcal": np.float64,
    "y_hcal": np.float64,
    "z_hcal": np.float64,
    "t": np.float64,
    "nuclear_depth": np.float64,
}


@dataclass
class CaloImpacts(Columns):
    """Showers entering the calorimeters, arrays of shape (M,).

    Attributes:
        particle: index of the generator particle the shower descends from (its truth link).
        kind: ``KIND_EM``, ``KIND_HADRON`` or ``KIND_MIP``.
        surface: ``SURFACE_CALO`` or ``SURFACE_HF``.
        energy: energy entering the calorimeter, GeV.
        x, y, z: impact point on the ECAL (or HF) front face, cm.
        x_hcal, y_hcal, z_hcal: impact point on the HCAL front face, cm (equal to x, y, z for HF).
        t: arrival time at the front face, ns.
        nuclear_depth: for hadrons that already interacted in the tracker material, 0
            (the shower starts at the calorimeter face); otherwise NaN (start depth drawn
            by the calorimeter).
    """

    particle: np.ndarray
    kind: np.ndarray
    surface: np.ndarray
    energy: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    x_hcal: np.ndarray
    y_hcal: np.ndarray
    z_hcal: np.ndarray
    t: np.ndarray
    nuclear_depth: np.ndarray

    _copy = True
    _dtypes = _DTYPES
