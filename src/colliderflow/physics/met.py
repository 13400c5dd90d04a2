"""Missing transverse momentum: the negative vector sum of particle pT."""

from __future__ import annotations

import awkward as ak
import numpy as np

__all__ = ["met"]


def met(pt: ak.Array, phi: ak.Array, weight: ak.Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(MET, MET phi) per event, GeV and rad, from jagged particle pT and phi."""
    w = 1.0 if weight is None else weight
    mx = -ak.to_numpy(ak.sum(pt * w * np.cos(phi), axis=1))
    my = -ak.to_numpy(ak.sum(pt * w * np.sin(phi), axis=1))
    return np.hypot(mx, my), np.arctan2(my, mx)
