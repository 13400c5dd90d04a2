"""Pileup offset of jets: the event's pT density rho in rings of |eta|, times the jet area.

The L1 (offset) step of CMS jet corrections subtracts rho x A from each jet (Cacciari and
Salam, Phys. Lett. B 659 (2008) 119; CMS L1FastJet), where rho is the median pT density of
the event over a fixed eta-phi grid: the median ignores the few cells holding hard jets.
Our detector's pileup density changes strongly with eta (the tracker region with CHS, the
HF that sees the most pileup), so rho is taken per ring of |eta|: the cells of both signs of
eta in one ring share a median. The jet area is the passive area of an anti-kt jet, pi R^2:
hard anti-kt jets are nearly circular.

Used by type-1 MET (:func:`colliderflow.physics.met.type1_met`), which propagates
L123 - L1: the offset is pileup that the MET sum already holds where it holds every other
pileup particle, and it balances over the event.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

__all__ = ["RING_EDGES", "ring_rho", "jet_offset"]

#: |eta| ring edges; each ring holds 2 x (cells in eta per ring) x N_PHI cells (both signs of eta)
RING_EDGES = np.arange(0.0, 5.0 + 1e-9, 0.5)
#: grid cells in phi (a 0.5 x 0.52 cell, the size of CMS's fixed grid)
N_PHI = 12


def ring_rho(pt: ak.Array, eta: ak.Array, phi: ak.Array, weight: ak.Array | None = None,
             ring_edges: np.ndarray = RING_EDGES, n_phi: int = N_PHI) -> np.ndarray:
    """Median scalar pT density per event and |eta| ring, GeV per unit eta-phi area.

    Each ring [a, b) of |eta| is split into cells of eta width b - a on each side of eta = 0
    and 2 pi / ``n_phi`` in phi; rho of the ring is the median over its 2 ``n_phi`` cells of
    the weighted pT in a cell over the cell's area. Particles beyond the last edge are ignored.

    Args:
        pt, eta, phi, weight: (events, particles) jagged, GeV, rad; weight scales pT (PUPPI
            weights, 0/1 for CHS; None: 1).

    Returns:
        (events, rings) array, GeV.
    """
    n_ev, n_ring = len(pt), len(ring_edges) - 1
    counts = ak.to_numpy(ak.num(pt))
    ev = np.repeat(np.arange(n_ev), counts)
    w = ak.to_numpy(ak.flatten(pt if weight is None else pt * weight)).astype(np.float64)
    e = ak.to_numpy(ak.flatten(eta)).astype(np.float64)
    f = ak.to_numpy(ak.flatten(phi)).astype(np.float64)
    ring = np.searchsorted(ring_edges, np.abs(e), side="right") - 1
    ok = (ring >= 0) & (ring < n_ring) & np.isfinite(w)
    side = (e >= 0).astype(np.int64)
    col = np.clip(((f + np.pi) / (2 * np.pi) * n_phi).astype(np.int64), 0, n_phi - 1)
    n_cell = 2 * n_phi
    cell = (ev * n_ring + ring) * n_cell + side * n_phi + col
    sums = np.bincount(cell[ok], weights=w[ok], minlength=n_ev * n_ring * n_cell).reshape(n_ev, n_ring, n_cell)
    area = np.diff(ring_edges) * (2 * np.pi / n_phi)  # (rings,)
    return np.median(sums, axis=2) / area[None, :]


def jet_offset(rho: np.ndarray, jet_eta: ak.Array, radius: float = 0.4,
               ring_edges: np.ndarray = RING_EDGES) -> ak.Array:
    """Pileup offset of each jet, rho(ring of the jet's |eta|) x pi R^2, GeV.

    Args:
        rho: (events, rings) from :func:`ring_rho`.
        jet_eta: (events, jets) jagged.
        radius: jet distance parameter R.

    Returns:
        (events, jets) jagged offsets, GeV; jets beyond the last ring take the last ring's rho.
    """
    counts = ak.to_numpy(ak.num(jet_eta))
    ev = np.repeat(np.arange(len(counts)), counts)
    ring = np.clip(np.searchsorted(ring_edges, np.abs(ak.to_numpy(ak.flatten(jet_eta))), side="right") - 1,
                   0, len(ring_edges) - 2)
    flat = rho[ev, ring] * np.pi * radius**2 if len(ev) else np.zeros(0)
    return ak.unflatten(flat, counts)
