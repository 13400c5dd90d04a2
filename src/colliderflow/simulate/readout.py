"""The calorimeter readout: shower deposits stamped onto the cells, then electronic noise,
zero-suppression thresholds and timing, one clustering plane at a time (ECAL crystals, HCAL
towers of depth cells, and the HF-EM (long - short) and HF-HAD (2 short) combinations of the
HF fibres).

Every plane keeps the noise-free deposit of every particle in every cell: the truth behind the
cluster links. Units: GeV, cm, ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from colliderflow.simulate.calo_config import EcalConfig, HcalConfig, HfConfig
from colliderflow.simulate.cells import CaloCells, CellGrid
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.showers import ShowerDeposits

__all__ = ["PlaneReadout", "CaloHits", "read_ecal", "read_hcal", "read_hf"]


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



def read_ecal(dep: ShowerDeposits, cells: CaloCells, geometry: Geometry, ecal: EcalConfig,
              rng: np.random.Generator) -> PlaneReadout:
    """Read out the ECAL crystals: EB eta-phi or EE x-y stamps, sparse noise, thresholds, times.

    Args:
        dep: the deposits aimed at the ECAL, ordered by particle (``ShowerDeposits.by_particle``).
    """
    stamp = dep.stamp_ecal(cells, geometry.ecal_barrel_eta_max, geometry.ecal_z, ecal.stamp_energy_cut,
                           ecal.stamp_max_half)
    cell, particle, e, true, arrival = _entries(dep, *stamp, len(cells.ecal))
    return _plane(_add_noise_sparse(true, cells.ecal, rng), true, arrival, cells.ecal.noise, cells.ecal,
                  ecal.time_noise, ecal.time_constant, (cell, particle, e[:, 0]), rng)


def read_hcal(dep: ShowerDeposits, cells: CaloCells, hcal: HcalConfig, rng: np.random.Generator) -> PlaneReadout:
    """Read out the HCAL towers of depth cells; the threshold applies to the depth-summed tower.

    Args:
        dep: the deposits aimed at the HCAL, ordered by particle.
    """
    stamp = dep.stamp(cells.hcal_eta_edges, cells.hcal_cell_id, hcal.stamp_energy_cut, hcal.stamp_max_half)
    cell, particle, e, true, arrival = _entries(dep, *stamp, len(cells.hcal))
    noise = cells.hcal.noise
    return _plane(true + noise * rng.standard_normal(true.shape), true, arrival, noise, cells.hcal,
                  hcal.time_noise, hcal.time_constant, (cell, particle, e.sum(axis=1)), rng)


def read_hf(dep: ShowerDeposits, cells: CaloCells, hf: HfConfig,
            rng: np.random.Generator) -> tuple[PlaneReadout, PlaneReadout]:
    """Read out the HF long and short fibres, combined into the HF-EM (long - short) and HF-HAD
    (2 short) planes.

    Args:
        dep: the (long, short) fibre deposits, ordered by particle.

    Returns:
        the HF-EM and the HF-HAD plane.
    """
    stamp = dep.stamp(cells.hf_eta_edges, cells.hf_cell_id, hf.stamp_energy_cut, hf.stamp_max_half)
    cell, particle, e, true, arrival = _entries(dep, *stamp, len(cells.hf))
    noise = cells.hf.noise
    measured = true + noise * rng.standard_normal(true.shape)
    arrival = arrival.max(axis=1, keepdims=True)
    hfem = _plane(measured[:, :1] - measured[:, 1:], true[:, :1] - true[:, 1:], arrival,
                  np.hypot(noise[:, :1], noise[:, 1:]), cells.hf, hf.time_noise, hf.time_constant,
                  (cell, particle, e[:, 0] - e[:, 1]), rng)
    hfhad = _plane(2.0 * measured[:, 1:], 2.0 * true[:, 1:], arrival, 2.0 * noise[:, 1:], cells.hf,
                   hf.time_noise, hf.time_constant, (cell, particle, 2.0 * e[:, 1]), rng)
    return hfem, hfhad
