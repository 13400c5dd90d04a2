"""The calorimeter cells: ECAL, HCAL and HF geometry, neighbours, per-channel noise and
zero-suppression thresholds (CMS, JINST 3 (2008) S08004).

* ECAL barrel (EB, |eta| < 1.479): a projective eta-phi grid of 0.0174 x 0.0174 crystals on
  the barrel front face.
* ECAL endcaps (EE, 1.479 < |eta| < 3): a square x-y grid of 2.862 cm crystals on each endcap
  front face, as in CMS (in eta-phi the crystals grow coarser towards the beam).
* HCAL (|eta| < 3): projective towers of 0.087 x 0.087 up to |eta| = 1.74 and CMS-like
  coarser eta rings above, with ``N_DEPTH_LAYERS`` = 4 longitudinal depth segments.
* HF (3 < |eta| < 5): an eta-phi grid of ~0.175 x 0.175 cells, each read out by long
  (full depth) and short (starting ~22 cm deep) fibres.

``build_cells`` builds them once per configuration. Units: cm, GeV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from scipy.special import erfc

from colliderflow.schema.elements import N_DEPTH_LAYERS
from colliderflow.simulate.calo_config import EcalConfig, HcalConfig, HfConfig
from colliderflow.simulate.geometry import Geometry

__all__ = ["CellGrid", "CaloCells", "build_cells", "projective_point"]


@dataclass(frozen=True, eq=False)
class CellGrid:
    """The readout cells of one calorimeter, flat-indexed.

    Attributes:
        x, y, z: cell centres per depth layer, cm, (N, D) (D = ``N_DEPTH_LAYERS`` for the HCAL,
            at the centre of each depth layer; D = 1 on the front face for ECAL and HF).
        eta, phi: direction of each cell (tower) centre, (N,).
        neighbours: the up to 8 adjacent cells (phi wraps around), -1 where none, (N, 8).
        endcap: whether the cell is in an endcap, (N,).
        noise: electronic noise per readout channel, GeV, (N, R) (R: 1 ECAL crystal,
            ``N_DEPTH_LAYERS`` HCAL depths, 2 HF fibres: long and short).
        threshold: zero-suppression threshold on the clustered cell energy, GeV, (N,).
        noise_tail: probability that the noise alone of a single-channel cell exceeds its
            threshold, (N,) (only meaningful when R = 1).
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    neighbours: np.ndarray
    endcap: np.ndarray
    noise: np.ndarray
    threshold: np.ndarray
    noise_tail: np.ndarray

    def __len__(self) -> int:
        return len(self.eta)

    @cached_property
    def position(self) -> np.ndarray:
        """Centre of the first depth layer of each cell, cm, (N, 3) contiguous."""
        return np.ascontiguousarray(np.stack([self.x[:, 0], self.y[:, 0], self.z[:, 0]], axis=1))


@dataclass(frozen=True, eq=False)
class CaloCells:
    """All calorimeter cells and the maps used to deposit showers on them.

    Attributes:
        ecal, hcal, hf: the cells (ECAL: EB rings first, then EE-, EE+).
        eb_eta_edges, eb_cell_id: EB eta binning (n+1,) and (eta, phi) -> ECAL cell map.
        ee_origin, ee_pitch, ee_cell_id: EE x-y binning (cm) and (side, ix, iy) -> cell map.
        hcal_eta_edges, hcal_cell_id: HCAL eta binning and (eta, phi) -> tower map.
        hf_eta_edges, hf_cell_id: HF eta binning (with one empty ring for |eta| < 3) and map.
    """

    ecal: CellGrid
    hcal: CellGrid
    hf: CellGrid
    eb_eta_edges: np.ndarray
    eb_cell_id: np.ndarray
    ee_origin: float
    ee_pitch: float
    ee_cell_id: np.ndarray
    hcal_eta_edges: np.ndarray
    hcal_cell_id: np.ndarray
    hf_eta_edges: np.ndarray
    hf_cell_id: np.ndarray


_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _neighbours(cell_id: np.ndarray, wrap: bool, n_cells: int) -> np.ndarray:
    """8-neighbourhood on a 2-D map of cell ids (-1: no cell), wrapping the second axis."""
    out = np.full((n_cells, 8), -1, dtype=np.int64)
    n_a, n_b = cell_id.shape
    ia, ib = np.nonzero(cell_id >= 0)
    ids = cell_id[ia, ib]
    for k, (da, db) in enumerate(_OFFSETS):
        a, b = ia + da, ib + db
        if wrap:
            b = b % n_b
        ok = (a >= 0) & (a < n_a) & (b >= 0) & (b < n_b)
        out[ids[ok], k] = cell_id[a[ok], b[ok]]
    return out


def projective_point(eta: np.ndarray, phi: np.ndarray, radius: float | np.ndarray, z_face: float | np.ndarray,
                     barrel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point at direction (eta, phi) seen from the origin on a cylinder of ``radius`` (where
    ``barrel``) or on the disk at |z| = ``z_face`` (elsewhere); arguments broadcast.

    Returns:
        x, y, z, cm.
    """
    rho = np.where(barrel, radius, z_face / np.maximum(np.abs(np.sinh(eta)), 1e-9))
    return rho * np.cos(phi), rho * np.sin(phi), rho * np.sinh(eta)


def _etaphi_map(eta_edges: np.ndarray, n_phi: int, valid_rows: np.ndarray, offset: int) -> np.ndarray:
    cell_id = np.full((len(eta_edges) - 1, n_phi), -1, dtype=np.int64)
    n_rows = int(valid_rows.sum())
    cell_id[valid_rows] = offset + np.arange(n_rows * n_phi).reshape(n_rows, n_phi)
    return cell_id


def _grid_from_map(cell_id: np.ndarray, eta_edges: np.ndarray, radius: float | np.ndarray,
                   z_face: float | np.ndarray, barrel_eta_max: float, noise: tuple[float, ...],
                   threshold: float) -> CellGrid:
    """Cells of a projective eta-phi map; ``radius``/``z_face`` may be (D,) depth positions."""
    n_phi = cell_id.shape[1]
    ia, ib = np.nonzero(cell_id >= 0)
    order = np.argsort(cell_id[ia, ib])
    ia, ib = ia[order], ib[order]
    eta = 0.5 * (eta_edges[ia] + eta_edges[ia + 1])
    phi = -np.pi + (ib + 0.5) * (2 * np.pi / n_phi)
    barrel = np.abs(eta) < barrel_eta_max
    radius = np.atleast_1d(np.asarray(radius, dtype=float))
    z_face = np.atleast_1d(np.asarray(z_face, dtype=float))
    x, y, z = projective_point(eta[:, None], phi[:, None], radius[None, :], z_face[None, :], barrel[:, None])
    n = len(eta)
    cell_noise = np.tile(np.asarray(noise, dtype=float), (n, 1))
    cell_threshold = np.full(n, float(threshold))
    return CellGrid(x=x, y=y, z=z, eta=eta, phi=phi,
                    neighbours=_neighbours(cell_id, wrap=True, n_cells=n), endcap=~barrel,
                    noise=cell_noise, threshold=cell_threshold,
                    noise_tail=_tail_probability(cell_noise[:, 0], cell_threshold))


def _tail_probability(noise: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """P(noise > threshold) for Gaussian noise of standard deviation ``noise``."""
    z = np.divide(threshold, noise, out=np.full(noise.shape, np.inf), where=noise > 0)
    return 0.5 * erfc(z / math.sqrt(2.0))


@lru_cache(maxsize=8)
def build_cells(geometry: Geometry, ecal: EcalConfig, hcal: HcalConfig, hf: HfConfig) -> CaloCells:
    """Build (once per configuration) the cells of all calorimeters."""
    # --- ECAL barrel: equal eta rings up to the barrel edge
    eta_b = geometry.ecal_barrel_eta_max
    n_ring = max(int(round(eta_b / ecal.barrel_cell_deta)), 1)
    eb_edges = np.linspace(-eta_b, eta_b, 2 * n_ring + 1)
    eb_id = _etaphi_map(eb_edges, ecal.barrel_phi_cells, np.ones(2 * n_ring, bool), 0)
    eb = _grid_from_map(eb_id, eb_edges, geometry.ecal_radius, geometry.ecal_z, eta_b + 1.0,
                        (ecal.noise_barrel,), ecal.threshold_barrel)
    n_eb = len(eb)

    # --- ECAL endcaps: x-y crystals whose centre lies in the endcap eta range
    pitch = ecal.endcap_cell_size
    rho_max = geometry.ecal_z / math.sinh(eta_b)
    rho_min = geometry.ecal_z / math.sinh(geometry.calo_eta_max)
    n_xy = 2 * int(math.ceil(rho_max / pitch))
    origin = -0.5 * n_xy * pitch
    centres = origin + (np.arange(n_xy) + 0.5) * pitch
    rho = np.hypot(centres[:, None], centres[None, :])
    inside = (rho >= rho_min) & (rho < rho_max)
    n_side = int(inside.sum())
    ee_id = np.full((2, n_xy, n_xy), -1, dtype=np.int64)
    ee_x, ee_y, ee_z, ee_nb = [], [], [], []
    for side, sign in enumerate((-1.0, 1.0)):
        ids = n_eb + side * n_side + np.arange(n_side)
        ee_id[side][inside] = ids
        ix, iy = np.nonzero(inside)
        ee_x.append(centres[ix])
        ee_y.append(centres[iy])
        ee_z.append(np.full(n_side, sign * geometry.ecal_z))
        nb = _neighbours(ee_id[side], wrap=False, n_cells=n_eb + 2 * n_side)
        ee_nb.append(nb[ids])
    x = np.concatenate([eb.x[:, 0], *ee_x])
    y = np.concatenate([eb.y[:, 0], *ee_y])
    z = np.concatenate([eb.z[:, 0], *ee_z])
    endcap = np.concatenate([np.zeros(n_eb, bool), np.ones(2 * n_side, bool)])
    noise = np.where(endcap, ecal.noise_endcap, ecal.noise_barrel)
    threshold = np.where(endcap, ecal.threshold_endcap, ecal.threshold_barrel)
    ecal_grid = CellGrid(
        x=x[:, None], y=y[:, None], z=z[:, None],
        eta=np.arcsinh(z / np.hypot(x, y)), phi=np.arctan2(y, x),
        neighbours=np.concatenate([eb.neighbours, *ee_nb]), endcap=endcap,
        noise=noise[:, None], threshold=threshold, noise_tail=_tail_probability(noise, threshold),
    )

    # --- HCAL towers with depth layers
    pos = np.asarray(hcal.tower_eta_edges, dtype=float)
    hcal_edges = np.concatenate([-pos[::-1], pos[1:]])
    hcal_id = _etaphi_map(hcal_edges, hcal.phi_towers, np.ones(len(hcal_edges) - 1, bool), 0)
    depth = np.asarray(hcal.depth_edges, dtype=float)
    depth_cm = hcal.lambda_cm * 0.5 * (depth[:-1] + depth[1:])  # layer centres behind the face
    hcal_grid = _grid_from_map(hcal_id, hcal_edges, geometry.hcal_radius + depth_cm,
                               geometry.hcal_z + depth_cm, geometry.hcal_barrel_eta_max,
                               (hcal.noise,) * N_DEPTH_LAYERS, hcal.threshold)

    # --- HF: equal rings on each side, an empty ring in between
    n_hf = max(int(round((geometry.hf_eta_max - geometry.hf_eta_min) / hf.cell_deta)), 1)
    pos = np.linspace(geometry.hf_eta_min, geometry.hf_eta_max, n_hf + 1)
    hf_edges = np.concatenate([-pos[::-1], pos])
    rows = np.ones(2 * n_hf + 1, bool)
    rows[n_hf] = False
    hf_id = _etaphi_map(hf_edges, hf.phi_cells, rows, 0)
    hf_grid = _grid_from_map(hf_id, hf_edges, geometry.hf_z, geometry.hf_z, 0.0,
                             (hf.noise, hf.noise), hf.threshold)

    return CaloCells(ecal=ecal_grid, hcal=hcal_grid, hf=hf_grid,
                     eb_eta_edges=eb_edges, eb_cell_id=eb_id,
                     ee_origin=origin, ee_pitch=pitch, ee_cell_id=ee_id,
                     hcal_eta_edges=hcal_edges, hcal_cell_id=hcal_id,
                     hf_eta_edges=hf_edges, hf_cell_id=hf_id)

