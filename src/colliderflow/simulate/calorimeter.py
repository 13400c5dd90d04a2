"""Calorimeter cells and their readout: ECAL, HCAL and HF geometry, shower deposition into
cells, electronic noise, zero-suppression thresholds and timing.

The cells (CMS, JINST 3 (2008) S08004):

* ECAL barrel (EB, |eta| < 1.479): a projective eta-phi grid of 0.0174 x 0.0174 crystals on
  the barrel front face.
* ECAL endcaps (EE, 1.479 < |eta| < 3): a square x-y grid of 2.862 cm crystals on each endcap
  front face, as in CMS (in eta-phi the crystals grow coarser towards the beam).
* HCAL (|eta| < 3): projective towers of 0.087 x 0.087 up to |eta| = 1.74 and CMS-like
  coarser eta rings above, with ``N_DEPTH_LAYERS`` = 4 longitudinal depth segments.
* HF (3 < |eta| < 5): an eta-phi grid of ~0.175 x 0.175 cells, each read out by long
  (full depth) and short (starting ~22 cm deep) fibres.

``simulate_hits`` turns :class:`~colliderflow.simulate.impacts.CaloImpacts` into noisy,
zero-suppressed cell energies with times, plus the noise-free deposit of every particle in
every cell (the truth used for cluster links). Clustering lives in
:mod:`colliderflow.simulate.clustering`. Units: GeV, cm, ns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cached_property, lru_cache

import numpy as np
from scipy.special import erfc, ndtri

from colliderflow.simulate.elements import N_DEPTH_LAYERS
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.impacts import (
    KIND_EM, KIND_HADRON, KIND_MIP, SURFACE_CALO, SURFACE_HF, CaloImpacts,
)
from colliderflow.simulate.showers import ShowerDeposits, em_showers, hadron_showers, hf_showers, mip_tracks
from colliderflow.utils.config import RangeChecked, bounded, fraction, non_negative, positive

__all__ = [
    "EcalConfig", "HcalConfig", "HfConfig", "CellGrid", "CaloCells", "PlaneReadout", "CaloHits",
    "build_cells", "simulate_hits", "projective_impacts",
]


_CMS_HCAL_ETA_EDGES = tuple(round(0.087 * i, 3) for i in range(21)) + (
    1.830, 1.930, 2.043, 2.172, 2.322, 2.500, 2.650, 2.868, 3.000)


def _validate_response(cfg: object, energies: str, tables: tuple[str, ...]) -> None:
    """Shapes of a response table (the ranges of its values are declared on the fields)."""
    name = type(cfg).__name__
    e = np.asarray(getattr(cfg, energies), dtype=float)
    if e.size < 1 or np.any(np.diff(e) <= 0):
        raise ValueError(f"{name}.{energies}: expected increasing positive energies, got {getattr(cfg, energies)!r}")
    for table in tables:
        r = np.asarray(getattr(cfg, table), dtype=float)
        if r.shape != e.shape:
            raise ValueError(f"{name}.{table}: expected {e.size} positive responses (one per "
                             f"{energies} value), got {getattr(cfg, table)!r}")


@dataclass(frozen=True)
class EcalConfig(RangeChecked):
    """The PbWO4 electromagnetic calorimeter (CMS-like defaults).

    Attributes:
        barrel_cell_deta: EB crystal size in eta (the barrel is split into equal rings).
        barrel_phi_cells: number of EB crystals in phi (360: 0.0174 rad).
        endcap_cell_size: EE crystal front-face pitch, cm.
        moliere_radius: Molière radius R_M, cm.
        lateral_core, lateral_tail: widths of the core and tail Gaussians of the EM lateral
            profile, in units of R_M (defaults give ~92% in 3x3 and ~97% in 5x5 crystals,
            averaged over the impact position).
        lateral_tail_fraction: energy fraction in the tail Gaussian.
        radiation_lengths: depth of the crystals, X0.
        critical_energy: critical energy of PbWO4, GeV (sets the shower maximum).
        longitudinal_b: slope b of the Gamma longitudinal profile (0.6: 120 GeV electrons leak
            ~0.3% out of the back, as in CMS).
        stochastic: stochastic term a of sigma/E = a/sqrt(E) (+) n/E (+) c, sqrt(GeV).
        constant: constant term c.
        noise_barrel, noise_endcap: electronic noise per crystal, GeV (3x3 crystals give the
            noise term n: 0.12 GeV in EB).
        threshold_barrel, threshold_endcap: zero-suppression threshold per crystal, GeV.
        interaction_lengths: depth of the ECAL in nuclear interaction lengths lambda_I.
        hadron_response: response to the non-EM part of hadron showers relative to EM (h/e).
        hadron_lateral_core, hadron_lateral_halo: core and halo Gaussian widths of the part of a
            hadron shower deposited in the ECAL (its first lambda_I, still narrow), cm.
        hadron_halo_fraction: energy fraction in that halo.
        mip_mpv, mip_width: most probable value and Moyal width of a MIP crossing the ECAL, GeV.
        time_noise: noise term of the cell time resolution sigma_t = N/E (+) C, ns GeV.
        time_constant: constant term C of the cell time resolution, ns.
        shower_delay: mean signal delay of a cell after the particle arrives, ns.
        response_energies: true energies at which the cluster responses below are given, GeV.
        response_barrel, response_endcap: mean raw PF-cluster energy over the true energy of
            photons in EB / EE (threshold, lateral and rear leakage losses); ``e_corr`` inverts
            it (derived from single photons with the default configuration: re-derive it for
            a card with other cells, noise or thresholds).
        stamp_energy_cut: cells that would get less than this from one shower are folded into
            the rest of its footprint, GeV (speed; energy is conserved).
        stamp_max_half: a shower footprint spans at most 2 n + 1 crystals per axis.
    """

    barrel_cell_deta: float = positive(0.0174)
    barrel_phi_cells: int = positive(360)
    endcap_cell_size: float = positive(2.862)
    moliere_radius: float = positive(2.2)
    lateral_core: float = positive(0.3)
    lateral_tail: float = positive(1.5)
    lateral_tail_fraction: float = fraction(0.14)
    radiation_lengths: float = positive(25.8)
    critical_energy: float = positive(0.0086)
    longitudinal_b: float = positive(0.6)
    stochastic: float = non_negative(0.03)
    constant: float = non_negative(0.003)
    noise_barrel: float = non_negative(0.04)
    noise_endcap: float = non_negative(0.12)
    threshold_barrel: float = non_negative(0.08)
    threshold_endcap: float = non_negative(0.30)
    interaction_lengths: float = positive(1.1)
    hadron_response: float = fraction(0.5)
    hadron_lateral_core: float = positive(2.0)
    hadron_lateral_halo: float = positive(6.0)
    hadron_halo_fraction: float = fraction(0.25)
    mip_mpv: float = non_negative(0.28)
    mip_width: float = non_negative(0.025)
    time_noise: float = non_negative(0.3)
    time_constant: float = non_negative(0.1)
    shower_delay: float = non_negative(0.1)
    response_energies: tuple[float, ...] = positive((1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0))
    response_barrel: tuple[float, ...] = positive((0.895, 0.902, 0.923, 0.937, 0.958, 0.981, 0.987, 0.989, 0.985,
                                                   0.981))
    response_endcap: tuple[float, ...] = positive((0.800, 0.819, 0.887, 0.906, 0.925, 0.955, 0.973, 0.981, 0.982,
                                                   0.979))
    stamp_energy_cut: float = positive(0.004)
    stamp_max_half: int = positive(8)

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate_response(self, "response_energies", ("response_barrel", "response_endcap"))


@dataclass(frozen=True)
class HcalConfig(RangeChecked):
    """The brass-scintillator hadron calorimeter and the hadron shower model (CMS-like).

    Attributes:
        tower_eta_edges: tower boundaries in |eta| from 0 to the calorimeter edge (mirrored
            for eta < 0); 0.087 up to 1.74, then the CMS HE rings.
        phi_towers: number of towers in phi (72: 0.087 rad).
        depth_edges: boundaries of the depth layers, lambda_I from the HCAL front face
            (``N_DEPTH_LAYERS`` + 1 values); energy beyond the last one leaks out.
        lambda_cm: length of one lambda_I in the HCAL, cm (places the depth layers).
        noise: electronic noise per depth cell, GeV.
        threshold: zero-suppression threshold on the depth-summed tower energy, GeV.
        hadron_response: response to the non-EM part of hadron showers relative to EM (h/e).
        em_fraction_e0, em_fraction_exponent: Groom's mean EM fraction
            <f_em> = 1 - (E/e0)^(m-1) (e0 in GeV, m dimensionless).
        em_fraction_spread: shower-to-shower standard deviation of f_em.
        em_profile_shape, em_profile_scale: Gamma longitudinal profile of the EM part of a
            hadron shower (shape, scale in lambda_I).
        hadronic_profile_scale: scale of the Gamma profile of the non-EM part, lambda_I.
        shower_max_offset, shower_max_slope: depth of the non-EM shower maximum,
            t_max = offset + slope ln(E/GeV), lambda_I.
        sampling_stochastic: stochastic fluctuation of visible hadronic deposits (sampling and
            intrinsic), sigma = a sqrt(E_vis) per depth segment, sqrt(GeV).
        lateral_core, lateral_halo: widths of the core and halo Gaussians of the hadron
            lateral profile, cm.
        lateral_halo_fraction: energy fraction in the halo.
        mip_mpv, mip_width: most probable energy and Moyal width of a MIP crossing the full
            HCAL depth, GeV (shared between the layers by their thickness).
        response_energies: true energies at which ``response`` is given, GeV.
        response: mean raw PF-cluster energy over the true energy of hadrons showering in the
            HCAL only (EM fraction, h/e, thresholds, leakage); ``e_corr`` inverts it (derived
            from single pions, |eta| < 2.8, with the default configuration: re-derive it for
            a card with other towers, noise or thresholds).
        resolution_stochastic, resolution_constant: nominal single-hadron resolution used for
            ``e_corr_err`` (sqrt(GeV), dimensionless).
        time_noise: noise term of the cell time resolution, ns GeV.
        time_constant: constant term of the cell time resolution, ns.
        shower_delay: mean signal delay after the particle reaches the HCAL face, ns.
        stamp_energy_cut: as ``EcalConfig.stamp_energy_cut``, GeV.
        stamp_max_half: a shower footprint spans at most 2 n + 1 towers per axis.
    """

    tower_eta_edges: tuple[float, ...] = bounded(_CMS_HCAL_ETA_EDGES, ge=0, le=10)
    phi_towers: int = positive(72)
    depth_edges: tuple[float, ...] = non_negative((0.0, 1.0, 2.5, 4.0, 6.0))
    lambda_cm: float = positive(18.0)
    noise: float = non_negative(0.12)
    threshold: float = non_negative(0.8)
    hadron_response: float = fraction(0.55)
    em_fraction_e0: float = positive(1.0)
    em_fraction_exponent: float = fraction(0.83)
    em_fraction_spread: float = non_negative(0.10)
    em_profile_shape: float = positive(1.5)
    em_profile_scale: float = positive(0.4)
    hadronic_profile_scale: float = positive(1.0)
    shower_max_offset: float = non_negative(0.7)
    shower_max_slope: float = non_negative(0.2)
    sampling_stochastic: float = non_negative(0.8)
    lateral_core: float = positive(4.0)
    lateral_halo: float = positive(10.0)
    lateral_halo_fraction: float = fraction(0.25)
    mip_mpv: float = non_negative(2.2)
    mip_width: float = non_negative(0.15)
    response_energies: tuple[float, ...] = positive((2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0))
    response: tuple[float, ...] = positive((0.45, 0.45, 0.45, 0.57, 0.70, 0.75, 0.78, 0.81, 0.83))
    resolution_stochastic: float = non_negative(1.0)
    resolution_constant: float = non_negative(0.05)
    time_noise: float = non_negative(2.0)
    time_constant: float = non_negative(1.0)
    shower_delay: float = non_negative(1.0)
    stamp_energy_cut: float = positive(0.01)
    stamp_max_half: int = positive(6)

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate_response(self, "response_energies", ("response",))
        for name, n in (("tower_eta_edges", None), ("depth_edges", N_DEPTH_LAYERS + 1)):
            edges = np.asarray(getattr(self, name), dtype=float)
            if (n is not None and edges.size != n) or edges.size < 2 or edges[0] != 0 \
                    or np.any(np.diff(edges) <= 0):
                size = f"{n} " if n else ""
                raise ValueError(f"HcalConfig.{name}: expected {size}increasing values starting "
                                 f"at 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class HfConfig(RangeChecked):
    """The forward Cherenkov (quartz-fibre) calorimeter, 3 < |eta| < 5 (CMS-like).

    Attributes:
        cell_deta: nominal cell size in eta (the acceptance is split into equal rings).
        phi_cells: number of cells in phi (36: 0.175 rad).
        em_stochastic, em_constant: EM shower resolution a/sqrt(E) (+) c (sqrt(GeV), -).
        hadron_response: response to the non-EM part of hadron showers relative to EM (h/e).
        hadron_stochastic: fluctuation of the visible non-EM deposit, a sqrt(E_vis), sqrt(GeV).
        resolution_stochastic, resolution_constant: nominal hadron resolution used for
            ``e_corr_err`` of HF-HAD clusters (sqrt(GeV), -).
        short_fraction_em: fraction of an EM shower's signal read by the short fibres.
        short_fraction_hadron: mean fraction of the non-EM signal read by the short fibres.
        short_fraction_spread: shower-to-shower standard deviation of that fraction.
        noise: electronic noise per fibre readout (long or short), GeV.
        threshold: threshold on the HF-EM (long - short) and HF-HAD (2 short) cell energies, GeV.
        em_lateral: width of the EM lateral Gaussian, cm.
        hadron_lateral_core, hadron_lateral_halo: hadron core and halo Gaussian widths, cm.
        hadron_halo_fraction: energy fraction in the hadron halo.
        time_noise: noise term of the cell time resolution, ns GeV.
        time_constant: constant term of the cell time resolution, ns.
        shower_delay: mean signal delay, ns.
        stamp_energy_cut: as ``EcalConfig.stamp_energy_cut``, GeV.
        stamp_max_half: a shower footprint spans at most 2 n + 1 cells per axis.
    """

    cell_deta: float = positive(0.175)
    phi_cells: int = positive(36)
    em_stochastic: float = non_negative(1.4)
    em_constant: float = non_negative(0.05)
    hadron_response: float = fraction(0.35)
    hadron_stochastic: float = non_negative(1.6)
    resolution_stochastic: float = non_negative(2.0)
    resolution_constant: float = non_negative(0.10)
    short_fraction_em: float = fraction(0.04)
    short_fraction_hadron: float = fraction(0.5)
    short_fraction_spread: float = non_negative(0.08)
    noise: float = non_negative(0.15)
    threshold: float = non_negative(1.0)
    em_lateral: float = positive(1.5)
    hadron_lateral_core: float = positive(3.0)
    hadron_lateral_halo: float = positive(10.0)
    hadron_halo_fraction: float = fraction(0.3)
    time_noise: float = non_negative(1.0)
    time_constant: float = non_negative(0.5)
    shower_delay: float = non_negative(0.5)
    stamp_energy_cut: float = positive(0.02)
    stamp_max_half: int = positive(4)


# --------------------------------------------------------------------------------------------
# Cell geometry
# --------------------------------------------------------------------------------------------


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


def _projective(eta: np.ndarray, phi: np.ndarray, radius: float | np.ndarray, z_face: float | np.ndarray,
                barrel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point at direction (eta, phi) on a cylinder of ``radius`` (barrel) or a disk at
    |z| = ``z_face`` (endcap)."""
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
    x, y, z = _projective(eta[:, None], phi[:, None], radius[None, :], z_face[None, :], barrel[:, None])
    n = len(eta)
    noise = np.tile(np.asarray(noise, dtype=float), (n, 1))
    threshold = np.full(n, float(threshold))
    return CellGrid(x=x, y=y, z=z, eta=eta, phi=phi,
                    neighbours=_neighbours(cell_id, wrap=True, n_cells=n), endcap=~barrel,
                    noise=noise, threshold=threshold, noise_tail=_tail_probability(noise[:, 0], threshold))


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


def _subset(imp: CaloImpacts, mask: np.ndarray) -> CaloImpacts:
    return CaloImpacts(**{f.name: getattr(imp, f.name)[mask] for f in fields(imp)})


# --------------------------------------------------------------------------------------------
# Readout: noise, thresholds, timing
# --------------------------------------------------------------------------------------------


@dataclass
class PlaneReadout:
    """Zero-suppressed readout of one clustering plane (ECAL, HCAL towers, HF-EM or HF-HAD).

    Attributes:
        energy: measured (noisy) cell energy that is clustered, GeV, (N,) (ECAL cells without
            a deposit and below threshold read 0).
        depth_energy: measured energy per depth layer, GeV, (N, D) (sums to ``energy``).
        active: cell above its zero-suppression threshold, (N,).
        time, time_err: measured time per depth layer and its expected resolution, ns, (N, D)
            (zero for inactive cells).
        true: noise-free cell energy, GeV, (N,).
        entry_cell, entry_particle, entry_energy: noise-free deposit of each particle in each
            cell, (K,) (a particle may appear several times in the same cell).
    """

    energy: np.ndarray
    depth_energy: np.ndarray
    active: np.ndarray
    time: np.ndarray
    time_err: np.ndarray
    true: np.ndarray
    entry_cell: np.ndarray
    entry_particle: np.ndarray
    entry_energy: np.ndarray


@dataclass
class CaloHits:
    """The readout of all calorimeters for one event."""

    cells: CaloCells
    ecal: PlaneReadout
    hcal: PlaneReadout
    hfem: PlaneReadout
    hfhad: PlaneReadout


def _entries(dep: ShowerDeposits, cell: np.ndarray, index: np.ndarray, frac: np.ndarray, n: int):
    """Per-(cell, deposit) entries of a stamp and their per-cell sums.

    Returns:
        cell (K,), particle (K,), noise-free energy per readout channel (K, R), and per cell the
        noise-free energy (n, R) and energy-weighted arrival time (n, R).
    """
    energy = frac[:, None] * dep.energy[index]
    r = energy.shape[1]
    flat = (cell[:, None] * r + np.arange(r)[None, :]).ravel()
    # (bincount returns integers for empty input: cast)
    true = np.bincount(flat, weights=energy.ravel(), minlength=n * r).astype(np.float64).reshape(n, r)
    weighted = np.bincount(flat, weights=(energy * dep.t[index][:, None]).ravel(), minlength=n * r).reshape(n, r)
    arrival = np.divide(weighted, true, out=np.zeros_like(true), where=true > 0)
    return cell, dep.particle[index], energy, true, arrival


def _add_noise_sparse(true: np.ndarray, grid: CellGrid, rng: np.random.Generator) -> np.ndarray:
    """Measured energies of single-channel cells, (N, 1), drawing noise only where it matters.

    Cells with a deposit get Gaussian noise. Of the empty cells, each exceeds its threshold
    with probability ``noise_tail`` (candidates drawn uniformly, accepted with p_i / p_max) and
    then reads a value from the Gaussian tail; all other empty cells read 0 (they are
    zero-suppressed anyway). Equivalent in distribution to dense noise above threshold.
    """
    n = len(true)
    noise = grid.noise[:, 0]
    measured = np.zeros(n)
    hit = np.nonzero(true[:, 0] > 0)[0]
    measured[hit] = true[hit, 0] + noise[hit] * rng.standard_normal(hit.size)
    p_max = float(grid.noise_tail.max()) if n else 0.0
    if p_max > 0:
        cand = rng.choice(n, rng.binomial(n, p_max), replace=False)
        p = grid.noise_tail[cand]
        u_accept, u_tail = rng.random((2, cand.size))
        keep = (u_accept * p_max < p) & (true[cand, 0] <= 0)
        cand, p, u_tail = cand[keep], p[keep], u_tail[keep]
        measured[cand] = -ndtri(p * u_tail) * noise[cand]
    return measured[:, None]


def _measure_times(active: np.ndarray, measured: np.ndarray, arrival: np.ndarray, noise: np.ndarray,
                   time_noise: float, time_constant: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Smear the arrival time of active cells with sigma_t = N/E (+) C, E floored at the noise."""
    time = np.zeros_like(measured)
    err = np.zeros_like(measured)
    idx = np.nonzero(active)[0]
    e = np.maximum(measured[idx], noise[idx])
    sigma = np.hypot(time_noise / e, time_constant)
    err[idx] = sigma
    time[idx] = arrival[idx] + sigma * rng.standard_normal(sigma.shape)
    return time, err


def _plane(measured: np.ndarray, true: np.ndarray, arrival: np.ndarray, noise: np.ndarray,
           grid: CellGrid, time_noise: float, time_constant: float, entries: tuple,
           rng: np.random.Generator) -> PlaneReadout:
    energy = measured.sum(axis=1)
    active = energy >= grid.threshold
    time, err = _measure_times(active, measured, arrival, noise, time_noise, time_constant, rng)
    cell, particle, e = entries
    return PlaneReadout(energy=energy, depth_energy=measured, active=active, time=time, time_err=err,
                        true=true.sum(axis=1), entry_cell=cell, entry_particle=particle, entry_energy=e)


def simulate_hits(impacts: CaloImpacts, geometry: Geometry, ecal: EcalConfig, hcal: HcalConfig,
                  hf: HfConfig, rng: np.random.Generator) -> CaloHits:
    """Deposit the showers of ``impacts`` in the calorimeter cells and read them out.

    EM showers, hadron showers and MIPs hitting the ECAL face deposit in ECAL and HCAL;
    impacts on the HF face deposit in the HF long and short fibres (MIPs there are ignored).
    Deposits outside every cell (beyond the acceptance, between EB and EE) are lost.

    Returns:
        the readout of the ECAL, HCAL (towers with depths), HF-EM (long - short) and HF-HAD
        (2 short) planes, with the noise-free deposit of every particle in every cell.
    """
    cells = build_cells(geometry, ecal, hcal, hf)
    calo = impacts.surface == SURFACE_CALO
    hf_face = impacts.surface == SURFACE_HF
    parts = [
        em_showers(_subset(impacts, calo & (impacts.kind == KIND_EM)), ecal, hcal, rng),
        hadron_showers(_subset(impacts, calo & (impacts.kind == KIND_HADRON)), ecal, hcal, rng),
        mip_tracks(_subset(impacts, calo & (impacts.kind == KIND_MIP)), ecal, hcal, rng),
    ]
    ecal_dep = ShowerDeposits.concatenate([p[0] for p in parts]).by_particle()
    hcal_dep = ShowerDeposits.concatenate([p[1] for p in parts]).by_particle()
    hf_dep = hf_showers(_subset(impacts, hf_face & (impacts.kind == KIND_EM)),
                        _subset(impacts, hf_face & (impacts.kind == KIND_HADRON)), hcal, hf, rng).by_particle()

    # ECAL crystals
    stamp = ecal_dep.stamp_ecal(cells, geometry.ecal_barrel_eta_max, geometry.ecal_z, ecal.stamp_energy_cut,
                                ecal.stamp_max_half)
    cell, particle, e, true, arrival = _entries(ecal_dep, *stamp, len(cells.ecal))
    ecal_plane = _plane(_add_noise_sparse(true, cells.ecal, rng), true, arrival, cells.ecal.noise, cells.ecal,
                        ecal.time_noise, ecal.time_constant, (cell, particle, e[:, 0]), rng)

    # HCAL towers of depth cells
    stamp = hcal_dep.stamp(cells.hcal_eta_edges, cells.hcal_cell_id, hcal.stamp_energy_cut, hcal.stamp_max_half)
    cell, particle, e, true, arrival = _entries(hcal_dep, *stamp, len(cells.hcal))
    noise = cells.hcal.noise
    hcal_plane = _plane(true + noise * rng.standard_normal(true.shape), true, arrival, noise, cells.hcal,
                        hcal.time_noise, hcal.time_constant, (cell, particle, e.sum(axis=1)), rng)

    # HF long and short fibres, combined into the HF-EM (long - short) and HF-HAD (2 short) planes
    stamp = hf_dep.stamp(cells.hf_eta_edges, cells.hf_cell_id, hf.stamp_energy_cut, hf.stamp_max_half)
    cell, particle, e, true, arrival = _entries(hf_dep, *stamp, len(cells.hf))
    noise = cells.hf.noise
    measured = true + noise * rng.standard_normal(true.shape)
    arrival = arrival.max(axis=1, keepdims=True)
    hfem = _plane(measured[:, :1] - measured[:, 1:], true[:, :1] - true[:, 1:], arrival,
                  np.hypot(noise[:, :1], noise[:, 1:]), cells.hf, hf.time_noise, hf.time_constant,
                  (cell, particle, e[:, 0] - e[:, 1]), rng)
    hfhad = _plane(2.0 * measured[:, 1:], 2.0 * true[:, 1:], arrival, 2.0 * noise[:, 1:], cells.hf,
                   hf.time_noise, hf.time_constant, (cell, particle, 2.0 * e[:, 1]), rng)
    return CaloHits(cells=cells, ecal=ecal_plane, hcal=hcal_plane, hfem=hfem, hfhad=hfhad)


def projective_impacts(eta: np.ndarray, phi: np.ndarray, energy: np.ndarray, kind: np.ndarray,
                       geometry: Geometry, particle: np.ndarray | None = None, t: np.ndarray | None = None,
                       nuclear_depth: np.ndarray | None = None) -> CaloImpacts:
    """Impacts of particles flying straight from the origin: a calorimeter particle gun.

    Directions with |eta| > ``geometry.calo_eta_max`` hit the HF face, the others the ECAL and
    HCAL faces (barrel cylinder or endcap disk). Arrays broadcast to the shape of ``eta``.

    Args:
        eta, phi: direction, (M,).
        energy: GeV; kind: ``KIND_*``; particle: truth index (default 0..M-1); t: arrival
            time, ns (default 0); nuclear_depth: as ``CaloImpacts`` (default NaN).
    """
    eta = np.atleast_1d(np.asarray(eta, dtype=float))
    n = eta.size

    def full(value, default):
        return np.broadcast_to(np.asarray(default if value is None else value), (n,)).copy()

    phi = full(phi, 0.0)
    forward = np.abs(eta) > geometry.calo_eta_max

    def face(radius: float, z_face: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        barrel = np.abs(radius * np.sinh(eta)) < z_face
        return _projective(eta, phi, radius, z_face, barrel & ~forward)

    x, y, z = face(geometry.ecal_radius, geometry.ecal_z)
    xh, yh, zh = face(geometry.hcal_radius, geometry.hcal_z)
    xf, yf, zf = _projective(eta, phi, 0.0, geometry.hf_z, np.zeros(n, bool))
    x, y, z = (np.where(forward, f, c) for f, c in ((xf, x), (yf, y), (zf, z)))
    xh, yh, zh = (np.where(forward, f, c) for f, c in ((xf, xh), (yf, yh), (zf, zh)))
    return CaloImpacts(particle=full(particle, np.arange(n)), kind=full(kind, KIND_EM),
                       surface=np.where(forward, SURFACE_HF, SURFACE_CALO), energy=full(energy, 1.0),
                       x=x, y=y, z=z, x_hcal=xh, y_hcal=yh, z_hcal=zh, t=full(t, 0.0),
                       nuclear_depth=full(nuclear_depth, np.nan))
