"""Matching in (eta, phi): unique greedy (the closest unmatched pair first, section 6.1), and
non-unique closest-within (NanoAOD-style indices, where two objects may point at one)."""

from __future__ import annotations

import numpy as np

from colliderflow.physics.neighbours import delta_r, pairs_within

__all__ = ["match_closest", "closest_within"]


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
    ia, ib = pairs_within(eta_a, phi_a, eta_b, phi_b, dr_max)
    dr = delta_r(eta_a[ia], phi_a[ia], eta_b[ib], phi_b[ib])
    order = np.argsort(dr, kind="stable")
    used_b = np.zeros(len(eta_b), dtype=bool)
    for k in order:
        a, b = ia[k], ib[k]
        if match[a] < 0 and not used_b[b]:
            match[a] = b
            used_b[b] = True
    return match


def closest_within(eta_a, phi_a, eta_b, phi_b, radius: float) -> np.ndarray:
    """For each object of A, the index of the closest object of B within ``radius`` (not unique), -1 if none.

    Args:
        eta_a, phi_a: (Na,); eta_b, phi_b: (Nb,).

    Returns:
        (Na,) int64 indices into B.
    """
    out = np.full(len(eta_a), -1, dtype=np.int64)
    if len(eta_a) == 0 or len(eta_b) == 0:
        return out
    d = delta_r(np.asarray(eta_a)[:, None], np.asarray(phi_a)[:, None], np.asarray(eta_b)[None, :],
                np.asarray(phi_b)[None, :])
    best = np.argmin(d, axis=1)
    ok = d[np.arange(len(eta_a)), best] < radius
    out[ok] = best[ok]
    return out
