"""Angular distances and neighbour search in the (eta, phi) plane, with phi periodic."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["delta_phi", "delta_r", "pairs_within"]

_TWO_PI = 2.0 * np.pi
#: shift that makes every |eta| < 50 positive, and the k-d tree box length along eta
_ETA_SHIFT, _ETA_BOX = 50.0, 1000.0


def delta_phi(phi1, phi2):
    """phi1 - phi2 wrapped into [-pi, pi)."""
    return (phi1 - phi2 + np.pi) % _TWO_PI - np.pi


def delta_r(eta1, phi1, eta2, phi2):
    """Angular distance sqrt(d_eta^2 + d_phi^2) with d_phi wrapped into [-pi, pi)."""
    return np.sqrt((eta1 - eta2) ** 2 + delta_phi(phi1, phi2) ** 2)


def _points(eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return np.column_stack([eta + _ETA_SHIFT, np.mod(phi + np.pi, _TWO_PI)])


def pairs_within(eta_a: np.ndarray, phi_a: np.ndarray, eta_b: np.ndarray, phi_b: np.ndarray,
                 radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j) with dR(a_i, b_j) <= radius, through a k-d tree with periodic phi.

    Returns:
        (ia, ib) int64 index arrays of equal length, grouped by ia.
    """
    if len(eta_a) == 0 or len(eta_b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tree = cKDTree(_points(eta_b, phi_b), boxsize=[_ETA_BOX, _TWO_PI])
    lists = tree.query_ball_point(_points(eta_a, phi_a), r=radius, return_sorted=False)
    ia = np.repeat(np.arange(len(eta_a)), [len(x) for x in lists])
    ib = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists]) if len(ia) else np.zeros(0, np.int64)
    return ia.astype(np.int64), ib
