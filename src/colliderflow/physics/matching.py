"""Unique greedy matching in (eta, phi): the closest unmatched pair first (section 6.1)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["match_closest"]

_TWO_PI = 2.0 * np.pi


def match_closest(eta_a: np.ndarray, phi_a: np.ndarray, eta_b: np.ndarray, phi_b: np.ndarray,
                  dr_max: float) -> np.ndarray:
    """Match each object of set A to at most one object of set B, closest pairs first.

    Args:
        eta_a, phi_a: (Na,) set A (e.g. generator particles).
        eta_b, phi_b: (Nb,) set B (e.g. reconstructed candidates).
        dr_max: matching cone.

    Returns:
        (Na,) index into B of the match of each A object, -1 if unmatched.
    """
    match = np.full(len(eta_a), -1, dtype=np.int64)
    if len(eta_a) == 0 or len(eta_b) == 0:
        return match
    pa = np.column_stack([eta_a + 20.0, np.mod(phi_a + np.pi, _TWO_PI)])
    pb = np.column_stack([eta_b + 20.0, np.mod(phi_b + np.pi, _TWO_PI)])
    tree = cKDTree(pb, boxsize=[200.0, _TWO_PI])
    lists = tree.query_ball_point(pa, r=dr_max, return_sorted=False)
    ia = np.repeat(np.arange(len(eta_a)), [len(x) for x in lists])
    if len(ia) == 0:
        return match
    ib = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
    dphi = (phi_a[ia] - phi_b[ib] + np.pi) % _TWO_PI - np.pi
    dr = np.hypot(eta_a[ia] - eta_b[ib], dphi)
    order = np.argsort(dr, kind="stable")
    used_b = np.zeros(len(eta_b), dtype=bool)
    for k in order:
        a, b = ia[k], ib[k]
        if match[a] < 0 and not used_b[b]:
            match[a] = b
            used_b[b] = True
    return match
