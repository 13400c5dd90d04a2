"""PF linking: tracks to calorimeter clusters, ECAL to HCAL; blocks as connected components.

Geometric links in the (eta, phi) plane: a track is linked to a cluster when its helix
extrapolation to the cluster's calorimeter surface falls inside the cluster envelope (an
ellipse of half-axes ``n_sigma * width + cell/2`` around the cluster position); an ECAL cluster
is linked to the HCAL cluster whose envelope contains its position. Each track keeps its
nearest ECAL and nearest HCAL cluster, each ECAL cluster its nearest HCAL cluster, as CMS PF
does when it resolves a block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from colliderflow.physics.neighbours import delta_phi, pairs_within
from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_TRACK, N_DEPTH_LAYERS
from colliderflow.utils.config import RangeChecked, positive

__all__ = ["LinkConfig", "Links", "link_elements"]


@dataclass(frozen=True)
class LinkConfig(RangeChecked):
    """Link windows.

    Attributes:
        n_sigma: envelope half-axis in units of the cluster's energy-weighted width.
        ecal_cell, hcal_cell: cell sizes in eta/phi (rad), added as cell/2 to the envelope.
        ecal_max_dr, hcal_max_dr: hard upper bounds of the search radius in (eta, phi).
    """

    n_sigma: float = positive(2.5)
    ecal_cell: float = positive(0.0174)
    hcal_cell: float = positive(0.087)
    ecal_max_dr: float = positive(0.12)
    hcal_max_dr: float = positive(0.35)


@dataclass
class Links:
    """Per-element link results for one event (E = number of elements).

    Attributes:
        track_ecal, track_hcal: (E,) index of the linked ECAL / HCAL cluster of each track, -1 if none
            (and -1 for non-track elements).
        ecal_hcal: (E,) index of the HCAL cluster linked to each ECAL cluster, -1 if none.
        block: (E,) block label of each element (connected components of all links).
    """

    track_ecal: np.ndarray
    track_hcal: np.ndarray
    ecal_hcal: np.ndarray
    block: np.ndarray


def _cluster_width(x: dict[str, np.ndarray], rows: np.ndarray, coord: str) -> np.ndarray:
    """Energy-weighted mean of the per-layer widths of clusters ``rows``."""
    w = np.stack([x[f"e_layer{i}"][rows] for i in range(1, N_DEPTH_LAYERS + 1)])
    s = np.stack([x[f"sigma_{coord}_layer{i}"][rows] for i in range(1, N_DEPTH_LAYERS + 1)])
    tot = w.sum(axis=0)
    return np.where(tot > 0, (w * s).sum(axis=0) / np.where(tot > 0, tot, 1.0), 0.0)


def _nearest_in_envelope(q_eta, q_phi, x, cl_rows, cell, max_dr, n_sigma):
    """For each query point, the nearest cluster (index into cl_rows) whose envelope contains it, or -1."""
    best = np.full(len(q_eta), -1, dtype=np.int64)
    if len(q_eta) == 0 or len(cl_rows) == 0:
        return best
    qi, ci = pairs_within(q_eta, q_phi, x["eta"][cl_rows], x["phi"][cl_rows], max_dr)
    if len(qi) == 0:
        return best
    weta = n_sigma * _cluster_width(x, cl_rows, "eta") + cell / 2
    wphi = n_sigma * _cluster_width(x, cl_rows, "phi") + cell / 2
    deta = q_eta[qi] - x["eta"][cl_rows][ci]
    dphi = delta_phi(q_phi[qi], x["phi"][cl_rows][ci])
    inside = (deta / weta[ci]) ** 2 + (dphi / wphi[ci]) ** 2 < 1.0
    qi, ci, dist = qi[inside], ci[inside], np.hypot(deta, dphi)[inside]
    order = np.lexsort((dist, qi))
    first = np.unique(qi[order], return_index=True)[1]
    best[qi[order][first]] = ci[order][first]
    return best


def link_elements(x: dict[str, np.ndarray], config: LinkConfig = LinkConfig()) -> Links:
    """Link the elements of one event and build blocks.

    Args:
        x: element features, name -> (E,) array (see ``colliderflow.schema.elements``).
    """
    n = len(x["type"])
    types = x["type"].astype(np.int64)
    tracks = np.flatnonzero(types == ELEMENT_TRACK)
    ecal = np.flatnonzero(types == ELEMENT_ECAL)
    hcal = np.flatnonzero(types == ELEMENT_HCAL)
    track_ecal = np.full(n, -1, dtype=np.int64)
    track_hcal = np.full(n, -1, dtype=np.int64)
    ecal_hcal = np.full(n, -1, dtype=np.int64)

    reach_e = tracks[(x["eta_ecal"][tracks] != 0) | (x["phi_ecal"][tracks] != 0)]
    hit = _nearest_in_envelope(x["eta_ecal"][reach_e], x["phi_ecal"][reach_e], x, ecal,
                               config.ecal_cell, config.ecal_max_dr, config.n_sigma)
    track_ecal[reach_e[hit >= 0]] = ecal[hit[hit >= 0]]

    reach_h = tracks[(x["eta_hcal"][tracks] != 0) | (x["phi_hcal"][tracks] != 0)]
    hit = _nearest_in_envelope(x["eta_hcal"][reach_h], x["phi_hcal"][reach_h], x, hcal,
                               config.hcal_cell, config.hcal_max_dr, config.n_sigma)
    track_hcal[reach_h[hit >= 0]] = hcal[hit[hit >= 0]]

    hit = _nearest_in_envelope(x["eta"][ecal], x["phi"][ecal], x, hcal,
                               config.hcal_cell, config.hcal_max_dr, config.n_sigma)
    ecal_hcal[ecal[hit >= 0]] = hcal[hit[hit >= 0]]

    src = np.concatenate([np.flatnonzero(track_ecal >= 0), np.flatnonzero(track_hcal >= 0),
                          np.flatnonzero(ecal_hcal >= 0)])
    dst = np.concatenate([track_ecal[track_ecal >= 0], track_hcal[track_hcal >= 0], ecal_hcal[ecal_hcal >= 0]])
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, block = connected_components(graph, directed=False)
    return Links(track_ecal=track_ecal, track_hcal=track_hcal, ecal_hcal=ecal_hcal, block=block)
