"""Particle-flow clustering of calorimeter cells, cluster features and truth links.

The algorithm follows CMS PF clustering (CMS, JINST 12 (2017) P10003, section 3.2 of the MLPF
paper), run separately on the ECAL, the HCAL (depth-summed towers), HF-EM and HF-HAD:

1. seeds: cells above the seed threshold that are local maxima among their 8 neighbours;
2. topological clusters: cells above the cell threshold connected (8-neighbourhood, phi
   wrapping around) to a seed;
3. one PF cluster per seed; in a topological cluster with several seeds the cell energies are
   shared by a Gaussian-mixture expectation-maximisation, f_ij ~ E_j exp(-d_ij^2 / 2 R^2),
   iterating cluster energies and positions until the positions converge.

Cluster features follow section 5.2 of the MLPF paper (``CLUSTER_FEATURES``; the calibrated
energy is added by :mod:`colliderflow.simulate.calorimeter`). Truth links carry each particle's
noise-free energy in each cluster after the energy sharing. Units: GeV, cm, ns, rad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFEM, ELEMENT_HFHAD, N_DEPTH_LAYERS
from colliderflow.simulate.cells import CellGrid
from colliderflow.simulate.readout import CaloHits, PlaneReadout
from colliderflow.utils.config import RangeChecked, fraction, non_negative, positive

__all__ = ["ClusteringConfig", "CaloClusters", "PlaneClusters", "cluster_plane", "cell_clusters", "cluster_hits"]


#: cells farther than sqrt(_MAX_D2) shower widths from a cluster get no share of it
#: (exp(-25) ~ 1e-11: far below any fraction kept)
_MAX_D2 = 50.0


@dataclass(frozen=True)
class ClusteringConfig(RangeChecked):
    """PF clustering parameters (CMS-like defaults).

    Attributes:
        ecal_seed_barrel, ecal_seed_endcap: seed thresholds of ECAL barrel / endcap cells, GeV.
        hcal_seed: seed threshold of depth-summed HCAL towers, GeV.
        hf_seed: seed threshold of HF-EM and HF-HAD cells, GeV.
        ecal_shower_width, hcal_shower_width, hf_shower_width: Gaussian shower width R used to
            share cell energies between clusters, cm.
        ecal_log_weight: W0 of the logarithmic position weights w = max(0, W0 + ln(E_i/E)) of
            ECAL clusters (0: linear energy weights, as for HCAL and HF).
        max_iterations: bound on the expectation-maximisation iterations.
        tolerance: convergence criterion on the largest cluster-position change in one
            iteration, in units of the shower width R.
        min_fraction: cell fractions below this are dropped.
        min_link_energy: truth links carrying less than this are dropped, GeV (links with no
            positive energy are always dropped).
        hf_towers: HF-EM and HF-HAD clusters are single cells above ``hf_seed``, as CMS makes one
            PF cluster per HF tower; off: topological clusters with shared energies, which at
            55-75 pileup merge forward jets with pileup deposits that PUPPI then keeps or drops
            whole (docs/pf.md, "HF").
    """

    ecal_seed_barrel: float = non_negative(0.23)
    ecal_seed_endcap: float = non_negative(0.60)
    hcal_seed: float = non_negative(1.0)
    hf_seed: float = non_negative(1.4)
    ecal_shower_width: float = positive(1.5)
    hcal_shower_width: float = positive(10.0)
    hf_shower_width: float = positive(10.0)
    ecal_log_weight: float = non_negative(4.2)
    max_iterations: int = positive(50)
    tolerance: float = positive(0.02)
    min_fraction: float = fraction(1e-6)
    min_link_energy: float = non_negative(0.001)
    hf_towers: bool = True


@dataclass
class CaloClusters:
    """PF clusters of all planes of one event, their raw features and truth links.

    Attributes:
        features: every name in ``COMMON_FEATURES + CLUSTER_FEATURES`` but ``e_corr`` and
            ``e_corr_err`` -> float64 array (C,); ECAL clusters first, then HCAL, HF-EM, HF-HAD.
        noise: the noise term of each cluster: the noise per hit (cell or depth cell) at its
            seed times sqrt(number of hits), GeV, (C,).
        endcap: whether the seed cell of each cluster is in an endcap, (C,).
        link_cluster: index into the clusters, (L,) int64.
        link_particle: ``CaloImpacts.particle`` of the linked particle, (L,) int64.
        link_energy: the particle's noise-free energy in the cluster after energy sharing,
            GeV, (L,) (positive).
    """

    features: dict[str, np.ndarray]
    noise: np.ndarray
    endcap: np.ndarray
    link_cluster: np.ndarray
    link_particle: np.ndarray
    link_energy: np.ndarray

    @property
    def n_clusters(self) -> int:
        return len(self.features["type"])


@dataclass
class PlaneClusters:
    """PF clusters of one plane as cell memberships.

    Attributes:
        n_clusters: number of clusters C.
        seed: seed cell of each cluster, (C,).
        cluster, cell, fraction: (H,) the share ``fraction`` of ``cell`` that belongs to
            ``cluster``; the fractions of a cell sum to 1.
    """

    n_clusters: int
    seed: np.ndarray
    cluster: np.ndarray
    cell: np.ndarray
    fraction: np.ndarray


# --------------------------------------------------------------------------------------------
# The clustering kernel
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _d2(pos, c, centre, j, r2):
    """Squared distance of cell ``c`` to cluster ``j`` in units of the shower width."""
    return ((pos[c, 0] - centre[j, 0]) ** 2 + (pos[c, 1] - centre[j, 1]) ** 2
            + (pos[c, 2] - centre[j, 2]) ** 2) / r2


@njit(cache=True)
def _share_energy(cells, seed_of, energy, pos, r2, log_w0, max_iter, tol):
    """Gaussian-mixture EM of one topological cluster.

    ``seed_of`` gives each cell's seed slot (-1: not a seed); seeds keep their own cell. Only
    (cell, seed) pairs closer than the fraction cut-off (plus a margin for the cluster positions
    moving) are iterated. Returns the pairs (cell slot, seed slot, fraction)."""
    n_c = cells.size
    n_s = seed_of.max() + 1
    cl_e = np.empty(n_s)
    centre = np.empty((n_s, 3))
    for i in range(n_c):
        j = seed_of[i]
        if j >= 0:
            cl_e[j] = energy[cells[i]]
            for a in range(3):
                centre[j, a] = pos[cells[i], a]
    # candidate pairs, grouped by cell; a cell out of every seed's reach goes to the nearest
    reach2 = (math.sqrt(_MAX_D2) + 2.0) ** 2
    p_start = np.zeros(n_c + 1, np.int64)
    p_seed = np.empty(n_c * n_s, np.int64)
    k = 0
    for i in range(n_c):
        if seed_of[i] >= 0:
            p_seed[k] = seed_of[i]
            k += 1
        else:
            best, best_d2 = 0, 1e300
            for j in range(n_s):
                d2 = _d2(pos, cells[i], centre, j, r2)
                if d2 < best_d2:
                    best, best_d2 = j, d2
                if d2 < reach2:
                    p_seed[k] = j
                    k += 1
            if k == p_start[i]:
                p_seed[k] = best
                k += 1
        p_start[i + 1] = k
    p_seed = p_seed[:k]
    p_cell = np.empty(k, np.int64)
    frac = np.zeros(k)
    for i in range(n_c):
        p_cell[p_start[i]:p_start[i + 1]] = i
        frac[p_start[i]] = 1.0  # final for seeds and single-candidate cells
    acc = np.empty((n_s, 4))
    for _ in range(max_iter):
        # E-step: fractions f_ij ~ E_j exp(-d_ij^2 / 2 R^2) of the shared cells
        for i in range(n_c):
            lo, hi = p_start[i], p_start[i + 1]
            if seed_of[i] >= 0 or hi - lo == 1:
                continue
            total = 0.0
            best, best_d2 = lo, 1e300
            for m in range(lo, hi):
                d2 = _d2(pos, cells[i], centre, p_seed[m], r2)
                if d2 < best_d2:
                    best, best_d2 = m, d2
                frac[m] = cl_e[p_seed[m]] * math.exp(-0.5 * d2) if d2 < _MAX_D2 else 0.0
                total += frac[m]
            if total > 0.0:
                for m in range(lo, hi):
                    frac[m] /= total
            else:
                frac[best] = 1.0
        # M-step: cluster energies, then positions (linear or logarithmic weights)
        acc[:, :] = 0.0
        cl_e[:] = 0.0
        for m in range(k):
            cl_e[p_seed[m]] += frac[m] * energy[cells[p_cell[m]]]
        for m in range(k):
            j = p_seed[m]
            c = cells[p_cell[m]]
            e_ij = frac[m] * energy[c]
            if e_ij <= 0.0:
                continue
            w = max(0.0, log_w0 + math.log(e_ij / cl_e[j])) if log_w0 > 0.0 else e_ij
            acc[j, 0] += w
            for a in range(3):
                acc[j, a + 1] += w * pos[c, a]
        shift = 0.0
        for j in range(n_s):
            if acc[j, 0] <= 0.0:
                continue
            d2 = 0.0
            for a in range(3):
                x = acc[j, a + 1] / acc[j, 0]
                d2 += (x - centre[j, a]) ** 2
                centre[j, a] = x
            shift = max(shift, math.sqrt(d2))
        if shift < tol:
            break
    return p_cell, p_seed, frac


@njit(cache=True)
def _find_seeds(energy, active_idx, active, seed_threshold, neighbours):
    """Active cells above the seed threshold that are local maxima among active neighbours
    (ties broken by the lower cell index)."""
    seeds = np.empty(active_idx.size, np.int64)
    n_seeds = 0
    for c in active_idx:
        e = energy[c]
        if e < seed_threshold[c]:
            continue
        is_max = True
        for k in range(neighbours.shape[1]):
            nb = neighbours[c, k]
            if nb >= 0 and active[nb] and (energy[nb] > e or (energy[nb] == e and nb < c)):
                is_max = False
                break
        if is_max:
            seeds[n_seeds] = c
            n_seeds += 1
    return seeds[:n_seeds]


@njit(cache=True)
def _grow_and_share(energy, active, seeds, neighbours, pos, r2, log_w0, max_iter, tol, min_frac):
    """Topological clusters grown from ``seeds`` (in decreasing energy), then one PF cluster per
    seed. Returns the seeds in cluster order and the (cluster, cell, fraction) memberships."""
    n = energy.size
    n_seeds = seeds.size
    label = np.full(n, -1, np.int64)
    n_active = 0
    for c in range(n):
        if active[c]:
            n_active += 1
    topo_cells = np.empty(n_active, np.int64)
    topo_start = np.empty(n_seeds + 1, np.int64)
    seed_topo = np.empty(n_seeds, np.int64)
    n_topo = 0
    filled = 0
    for i in range(n_seeds):
        s = seeds[i]
        if label[s] >= 0:
            seed_topo[i] = label[s]
            continue
        topo_start[n_topo] = filled
        label[s] = n_topo
        topo_cells[filled] = s
        filled += 1
        head = filled - 1
        while head < filled:  # breadth-first growth through active neighbours
            c = topo_cells[head]
            head += 1
            for k in range(neighbours.shape[1]):
                nb = neighbours[c, k]
                if nb >= 0 and active[nb] and label[nb] < 0:
                    label[nb] = n_topo
                    topo_cells[filled] = nb
                    filled += 1
        seed_topo[i] = n_topo
        n_topo += 1
    topo_start[n_topo] = filled

    # group the seeds by topological cluster, keeping the energy order (counting sort)
    seed_start = np.zeros(n_topo + 1, np.int64)
    for i in range(n_seeds):
        seed_start[seed_topo[i] + 1] += 1
    for t in range(n_topo):
        seed_start[t + 1] += seed_start[t]
    fill = np.empty(n_topo, np.int64)
    for t in range(n_topo):
        fill[t] = seed_start[t]
    ordered = np.empty(n_seeds, np.int64)
    for i in range(n_seeds):
        t = seed_topo[i]
        ordered[fill[t]] = seeds[i]
        fill[t] += 1

    size = 0
    for t in range(n_topo):
        size += (topo_start[t + 1] - topo_start[t]) * (seed_start[t + 1] - seed_start[t])
    out_clu = np.empty(size, np.int64)
    out_cell = np.empty(size, np.int64)
    out_frac = np.empty(size, np.float64)
    pos_out = 0
    slot = np.full(n, -1, np.int64)  # seed index within its topological cluster
    for t in range(n_topo):
        first = seed_start[t]
        n_s = seed_start[t + 1] - first
        if n_s == 1:
            for i in range(topo_start[t], topo_start[t + 1]):
                out_clu[pos_out] = first
                out_cell[pos_out] = topo_cells[i]
                out_frac[pos_out] = 1.0
                pos_out += 1
            continue
        cells = topo_cells[topo_start[t]:topo_start[t + 1]]
        for j in range(n_s):
            slot[ordered[first + j]] = j
        seed_of = np.empty(cells.size, np.int64)
        for i in range(cells.size):
            seed_of[i] = slot[cells[i]]
        p_cell, p_seed, frac = _share_energy(cells, seed_of, energy, pos, r2, log_w0, max_iter, tol)
        for k in range(frac.size):
            if frac[k] >= min_frac:
                out_clu[pos_out] = first + p_seed[k]
                out_cell[pos_out] = cells[p_cell[k]]
                out_frac[pos_out] = frac[k]
                pos_out += 1
        for j in range(n_s):
            slot[ordered[first + j]] = -1
    return ordered, out_clu[:pos_out], out_cell[:pos_out], out_frac[:pos_out]


def cluster_plane(energy: np.ndarray, active: np.ndarray, seed_threshold: np.ndarray, grid: CellGrid,
                  position: np.ndarray, shower_width: float, log_weight: float,
                  config: ClusteringConfig) -> PlaneClusters:
    """PF clustering of one plane.

    Args:
        energy: measured cell energies, GeV, (N,).
        active: cells above the zero-suppression threshold, (N,).
        seed_threshold: seed threshold per cell, GeV, (N,).
        grid: the cells (for the neighbours).
        position: cell positions used for the energy sharing, cm, (N, 3).
        shower_width: R of the energy sharing, cm.
        log_weight: W0 of logarithmic position weights (0: linear).
        config: iteration controls.
    """
    energy = np.ascontiguousarray(energy, dtype=np.float64)
    active = np.ascontiguousarray(active, dtype=np.bool_)
    seeds = _find_seeds(energy, np.nonzero(active)[0], active,
                        np.ascontiguousarray(seed_threshold, dtype=np.float64), grid.neighbours)
    seeds = seeds[np.argsort(-energy[seeds], kind="stable")]
    seeds, clu, cell, frac = _grow_and_share(
        energy, active, seeds, grid.neighbours, np.ascontiguousarray(position, dtype=np.float64),
        float(shower_width) ** 2, float(log_weight), int(config.max_iterations),
        float(config.tolerance * shower_width), float(config.min_fraction))
    return PlaneClusters(n_clusters=len(seeds), seed=seeds, cluster=clu, cell=cell, fraction=frac)


def cell_clusters(energy: np.ndarray, active: np.ndarray, threshold: np.ndarray) -> PlaneClusters:
    """One cluster per active cell above ``threshold`` (GeV, (N,)), in decreasing energy: the whole
    cell, no sharing. Cells below it make no cluster."""
    cells = np.flatnonzero(np.asarray(active, bool) & (np.asarray(energy) > np.asarray(threshold)))
    cells = cells[np.argsort(-np.asarray(energy)[cells], kind="stable")]
    n = len(cells)
    return PlaneClusters(n_clusters=n, seed=cells, cluster=np.arange(n, dtype=np.int64),
                         cell=cells.astype(np.int64), fraction=np.ones(n))


# --------------------------------------------------------------------------------------------
# Cluster features
# --------------------------------------------------------------------------------------------


#: columns of the feature kernel's output
_KERNEL_FEATURES = (
    "energy", "x", "y", "z", "sigma_x", "sigma_y", "sigma_z", "time", "time_err", "n_cells",
    *(f"e_layer{i + 1}" for i in range(N_DEPTH_LAYERS)),
    *(f"sigma_eta_layer{i + 1}" for i in range(N_DEPTH_LAYERS)),
    *(f"sigma_phi_layer{i + 1}" for i in range(N_DEPTH_LAYERS)),
)


@njit(cache=True)
def _std(sum_w, sum_wv, sum_wv2):
    if sum_w <= 0.0:
        return 0.0
    mean = sum_wv / sum_w
    return math.sqrt(max(sum_wv2 / sum_w - mean * mean, 0.0))


@njit(cache=True)
def _feature_kernel(n, cluster, cell, fraction, depth_energy, time, time_err, gx, gy, gz, geta, gphi, log_w0):
    """Cluster features from the hits (cell x depth layer) of one plane.

    A hit's energy is f_ij E_id; position, time and shape moments use the positive hit
    energies as weights; the position uses logarithmic weights when ``log_w0`` > 0.
    Returns (n, len(_KERNEL_FEATURES)).
    """
    n_layers = depth_energy.shape[1]
    out = np.zeros((n, 10 + 3 * N_DEPTH_LAYERS))
    acc = np.zeros((n, 9))  # sum w, w x, w x^2, w y, w y^2, w z, w z^2, w t, (w t_err)^2
    lay = np.zeros((n, N_DEPTH_LAYERS, 5))  # sum w, w eta, w eta^2, w dphi, w dphi^2
    for h in range(cell.size):
        j = cluster[h]
        c = cell[h]
        for d in range(n_layers):
            e = fraction[h] * depth_energy[c, d]
            out[j, 0] += e
            out[j, 10 + d] += e
            if e <= 0.0:
                continue
            out[j, 9] += 1.0
            acc[j, 0] += e
            acc[j, 1] += e * gx[c, d]
            acc[j, 2] += e * gx[c, d] ** 2
            acc[j, 3] += e * gy[c, d]
            acc[j, 4] += e * gy[c, d] ** 2
            acc[j, 5] += e * gz[c, d]
            acc[j, 6] += e * gz[c, d] ** 2
            acc[j, 7] += e * time[c, d]
            acc[j, 8] += (e * time_err[c, d]) ** 2
    for j in range(n):
        w = acc[j, 0]
        if w > 0.0:
            out[j, 1] = acc[j, 1] / w
            out[j, 2] = acc[j, 3] / w
            out[j, 3] = acc[j, 5] / w
            out[j, 7] = acc[j, 7] / w
            out[j, 8] = math.sqrt(acc[j, 8]) / w
        out[j, 4] = _std(w, acc[j, 1], acc[j, 2])
        out[j, 5] = _std(w, acc[j, 3], acc[j, 4])
        out[j, 6] = _std(w, acc[j, 5], acc[j, 6])
    if log_w0 > 0.0:
        acc[:, :4] = 0.0
        for h in range(cell.size):
            j = cluster[h]
            c = cell[h]
            for d in range(n_layers):
                e = fraction[h] * depth_energy[c, d]
                if e <= 0.0 or out[j, 0] <= 0.0:
                    continue
                w = max(0.0, log_w0 + math.log(e / out[j, 0]))
                acc[j, 0] += w
                acc[j, 1] += w * gx[c, d]
                acc[j, 2] += w * gy[c, d]
                acc[j, 3] += w * gz[c, d]
        for j in range(n):
            if acc[j, 0] > 0.0:
                out[j, 1] = acc[j, 1] / acc[j, 0]
                out[j, 2] = acc[j, 2] / acc[j, 0]
                out[j, 3] = acc[j, 3] / acc[j, 0]
    for h in range(cell.size):
        j = cluster[h]
        c = cell[h]
        phi_c = math.atan2(out[j, 2], out[j, 1])
        dphi = (gphi[c] - phi_c + math.pi) % (2.0 * math.pi) - math.pi
        for d in range(n_layers):
            e = fraction[h] * depth_energy[c, d]
            if e <= 0.0:
                continue
            lay[j, d, 0] += e
            lay[j, d, 1] += e * geta[c]
            lay[j, d, 2] += e * geta[c] ** 2
            lay[j, d, 3] += e * dphi
            lay[j, d, 4] += e * dphi ** 2
    for j in range(n):
        for d in range(N_DEPTH_LAYERS):
            out[j, 10 + N_DEPTH_LAYERS + d] = _std(lay[j, d, 0], lay[j, d, 1], lay[j, d, 2])
            out[j, 10 + 2 * N_DEPTH_LAYERS + d] = _std(lay[j, d, 0], lay[j, d, 3], lay[j, d, 4])
    return out


def _shape_features(pc: PlaneClusters, readout: PlaneReadout, grid: CellGrid,
                    log_weight: float) -> dict[str, np.ndarray]:
    """Energy, position, size, timing and per-layer shapes of the clusters of one plane."""
    table = _feature_kernel(pc.n_clusters, pc.cluster, pc.cell, pc.fraction, readout.depth_energy,
                            readout.time, readout.time_err, grid.x, grid.y, grid.z, grid.eta, grid.phi,
                            float(log_weight))
    out = {name: table[:, k] for k, name in enumerate(_KERNEL_FEATURES)}
    rho = np.hypot(out["x"], out["y"])
    out["eta"] = np.arcsinh(out["z"] / np.maximum(rho, 1e-9))
    out["phi"] = np.arctan2(out["y"], out["x"])
    out["pt"] = out["energy"] / np.cosh(out["eta"])
    return out


# --------------------------------------------------------------------------------------------
# Truth links
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _link_kernel(entry_cell, entry_particle, entry_energy, cell_start, cell_cluster, cell_fraction, n_clusters):
    """Sum f_ij x (true deposit of particle p in cell i) into (cluster j, particle p).

    Entries of one particle are expected to be contiguous (otherwise a pair may repeat)."""
    size = 0
    for k in range(entry_cell.size):
        c = entry_cell[k]
        size += cell_start[c + 1] - cell_start[c]
    out_clu = np.empty(size, np.int64)
    out_par = np.empty(size, np.int64)
    out_e = np.empty(size, np.float64)
    acc = np.zeros(n_clusters)
    mark = np.full(n_clusters, -1, np.int64)
    touched = np.empty(n_clusters, np.int64)
    n_touched = 0
    n_out = 0
    group = 0
    for k in range(entry_cell.size + 1):
        if k == entry_cell.size or (k > 0 and entry_particle[k] != entry_particle[k - 1]):
            for m in range(n_touched):
                j = touched[m]
                out_clu[n_out] = j
                out_par[n_out] = entry_particle[k - 1]
                out_e[n_out] = acc[j]
                n_out += 1
                acc[j] = 0.0
            n_touched = 0
            group += 1
            if k == entry_cell.size:
                break
        c = entry_cell[k]
        for p in range(cell_start[c], cell_start[c + 1]):
            j = cell_cluster[p]
            if mark[j] != group:
                mark[j] = group
                touched[n_touched] = j
                n_touched += 1
            acc[j] += cell_fraction[p] * entry_energy[k]
    return out_clu[:n_out], out_par[:n_out], out_e[:n_out]


def _links(pc: PlaneClusters, readout: PlaneReadout, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(pc.cell, kind="stable")
    cell_start = np.concatenate([[0], np.cumsum(np.bincount(pc.cell, minlength=n_cells))])
    return _link_kernel(readout.entry_cell, readout.entry_particle, readout.entry_energy,
                        cell_start, pc.cluster[order], pc.fraction[order], pc.n_clusters)


# --------------------------------------------------------------------------------------------
# All planes of an event
# --------------------------------------------------------------------------------------------


def cluster_hits(hits: CaloHits, clustering: ClusteringConfig) -> CaloClusters:
    """PF clusters of the ECAL, HCAL, HF-EM and HF-HAD planes of one event.

    Args:
        hits: the readout of all calorimeters.
        clustering: PF clustering parameters.

    Returns:
        the clusters of all planes with their raw features, noise terms and truth links
        (links carrying less than ``clustering.min_link_energy`` dropped).
    """
    cells = hits.cells
    ecal_seed = np.where(cells.ecal.endcap, clustering.ecal_seed_endcap, clustering.ecal_seed_barrel)
    hf_noise = cells.hf.noise
    planes = (
        # type, readout, cells, seed threshold, shower width, log weight, noise per hit
        (ELEMENT_ECAL, hits.ecal, cells.ecal, ecal_seed, clustering.ecal_shower_width,
         clustering.ecal_log_weight, cells.ecal.noise[:, 0]),
        (ELEMENT_HCAL, hits.hcal, cells.hcal, np.full(len(cells.hcal), clustering.hcal_seed),
         clustering.hcal_shower_width, 0.0, cells.hcal.noise[:, 0]),
        (ELEMENT_HFEM, hits.hfem, cells.hf, np.full(len(cells.hf), clustering.hf_seed),
         clustering.hf_shower_width, 0.0, np.hypot(hf_noise[:, 0], hf_noise[:, 1])),
        (ELEMENT_HFHAD, hits.hfhad, cells.hf, np.full(len(cells.hf), clustering.hf_seed),
         clustering.hf_shower_width, 0.0, 2.0 * hf_noise[:, 1]),
    )
    blocks, link_parts, per_plane = [], [], []
    offset = 0
    for kind, readout, grid, seed_threshold, width, log_weight, noise in planes:
        if clustering.hf_towers and kind in (ELEMENT_HFEM, ELEMENT_HFHAD):
            pc = cell_clusters(readout.energy, readout.active, seed_threshold)
        else:
            pc = cluster_plane(readout.energy, readout.active, seed_threshold, grid, grid.position, width,
                               log_weight, clustering)
        blocks.append(_shape_features(pc, readout, grid, log_weight))
        clu, par, e = _links(pc, readout, len(grid))
        link_parts.append((clu + offset, par, e))
        per_plane.append((kind, pc.n_clusters, noise[pc.seed], grid.endcap[pc.seed]))
        offset += pc.n_clusters

    feats = {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
    kinds = np.concatenate([np.full(n, kind) for kind, n, *_ in per_plane])
    feats["type"] = kinds.astype(np.float64)
    em_like = (kinds == ELEMENT_ECAL) | (kinds == ELEMENT_HFEM)
    feats["e_ecal"] = np.where(em_like, feats["energy"], 0.0)
    feats["e_hcal"] = np.where(em_like, 0.0, feats["energy"])
    # the noise term of a cluster: the noise per hit (cell or depth cell) times sqrt(number of hits)
    noise = np.concatenate([p[2] for p in per_plane]) * np.sqrt(np.maximum(feats["n_cells"], 1.0))
    endcap = np.concatenate([p[3] for p in per_plane])

    link_cluster = np.concatenate([p[0] for p in link_parts])
    link_particle = np.concatenate([p[1] for p in link_parts])
    link_energy = np.concatenate([p[2] for p in link_parts])
    # merge repeated (cluster, particle) pairs and keep positive energies
    if len(link_cluster):
        low = int(link_particle.min())
        base = int(link_particle.max()) - low + 1
        keys, inverse = np.unique(link_cluster * base + (link_particle - low), return_inverse=True)
        link_energy = np.bincount(inverse, weights=link_energy, minlength=len(keys))
        link_cluster, link_particle = keys // base, keys % base + low
    keep = (link_energy > 0) & (link_energy >= clustering.min_link_energy)
    return CaloClusters(features=feats, noise=noise, endcap=endcap,
                        link_cluster=link_cluster[keep].astype(np.int64),
                        link_particle=link_particle[keep].astype(np.int64),
                        link_energy=link_energy[keep].astype(np.float64))
