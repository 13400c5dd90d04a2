"""Shower physics: longitudinal and lateral profiles and their fluctuations, what each impact
deposits in ECAL, HCAL and HF (EM showers, hadron showers, MIPs), and the numba kernels that
spread a deposit's lateral profile over calorimeter cells.

Everything here takes arrays and returns arrays; the detector numbers come from the configs in
:mod:`colliderflow.simulate.calo_config`. Units: GeV, cm, ns; shower depths in radiation
lengths (X0) or nuclear interaction lengths (lambda_I) as named.

References: PDG Review "Passage of particles through matter" (longitudinal EM profile
dE/dt ~ t^(a-1) exp(-b t), t_max = ln(E/E_c) - 0.5 for photons); D. Groom, NIM A 572 (2007) 633
(hadronic EM fraction 1 - f_em = (E/E0)^(m-1)); J.E. Moyal, Phil. Mag. 46 (1955) 263 (Landau
approximation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.special import gammainc, gammaincc

from colliderflow.schema.elements import N_DEPTH_LAYERS
from colliderflow.simulate.calo_config import EcalConfig, HcalConfig, HfConfig
from colliderflow.simulate.cells import CaloCells
from colliderflow.simulate.helix import C_LIGHT
from colliderflow.simulate.impacts import CaloImpacts
from colliderflow.utils.columns import Columns

__all__ = [
    "em_leakage_fraction", "hadron_em_fraction", "gamma_segment_fractions", "sample_moyal",
    "ShowerDeposits", "em_showers", "hadron_showers", "mip_tracks", "hf_showers",
    "stamp_etaphi", "stamp_xy",
]

_SQRT2 = math.sqrt(2.0)
_TWO_PI = 2.0 * math.pi
#: coverage of a Gaussian component never extends beyond this many sigmas
_MAX_SIGMAS = 4.0
#: lateral width of a minimum-ionising track's deposit, cm
_MIP_WIDTH = 0.1
#: mean depth of the first photon conversion, X0
_CONVERSION_DEPTH = 9.0 / 7.0


def em_leakage_fraction(energy: np.ndarray, start_depth: np.ndarray, depth: float,
                        critical_energy: float, b: float) -> np.ndarray:
    """Fraction of an EM shower leaking out of the back of a calorimeter.

    The longitudinal profile is the Gamma density ``dE/dt ~ (b t)^(a-1) exp(-b t)`` with
    ``(a - 1) / b = t_max = ln(E / E_c) - 0.5`` (PDG), started at ``start_depth``.

    Args:
        energy: shower energy, GeV, (n,).
        start_depth: depth of the first interaction, X0, (n,).
        depth: calorimeter depth, X0.
        critical_energy: E_c, GeV.
        b: the profile's slope parameter (about 0.5).

    Returns:
        leaked fraction in [0, 1], (n,).
    """
    t_max = np.maximum(np.log(np.maximum(energy, critical_energy) / critical_energy) - 0.5, 0.1)
    a = 1.0 + b * t_max
    remaining = np.maximum(depth - start_depth, 0.0)
    return gammaincc(a, b * remaining)


def hadron_em_fraction(energy: np.ndarray, e0: float, exponent: float, spread: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Draw the electromagnetic (pi0) fraction of hadron showers.

    The mean follows Groom's power law ``<f_em> = 1 - (E / e0)^(exponent - 1)``, rising with
    log E; shower-to-shower fluctuations follow a Beta distribution of standard deviation
    ``spread`` (reduced where the mean is close to 0 or 1).

    Args:
        energy: shower energy, GeV, (n,).
        e0: energy scale of the power law, GeV.
        exponent: Groom's m (about 0.83 for pions).
        spread: standard deviation of f_em.
        rng: random stream.

    Returns:
        f_em in (0, 1), (n,).
    """
    mean = 1.0 - np.power(np.maximum(energy, e0) / e0, exponent - 1.0)
    mean = np.clip(mean, 0.03, 0.97)
    var = np.minimum(spread**2, 0.8 * mean * (1.0 - mean))
    common = mean * (1.0 - mean) / var - 1.0
    return rng.beta(mean * common, (1.0 - mean) * common)


def gamma_segment_fractions(start: np.ndarray, edges: np.ndarray, shape: np.ndarray,
                            scale: float | np.ndarray) -> np.ndarray:
    """Fractions of Gamma-distributed longitudinal profiles falling in depth segments.

    Args:
        start: shower start depth, (n,), same unit as ``edges``.
        edges: segment boundaries, (S + 1,), increasing.
        shape: Gamma shape parameter, (n,).
        scale: Gamma scale parameter (depth unit), scalar or (n,).

    Returns:
        (n, S) fractions; rows sum to the contained fraction (<= 1).
    """
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), start.shape)
    depth = np.maximum(edges[None, :] - start[:, None], 0.0) / scale[:, None]  # (n, S+1)
    cdf = gammainc(shape[:, None], depth)
    return np.diff(cdf, axis=1)


def sample_moyal(mpv: np.ndarray | float, width: np.ndarray | float, size: int | tuple[int, ...],
                 rng: np.random.Generator) -> np.ndarray:
    """Landau-like energy losses from the Moyal distribution.

    If ``Z`` is standard normal, ``-ln(Z^2)`` is Moyal distributed with mode 0 and a long
    upper tail; the result is ``mpv + width * (-ln Z^2)``, clipped at zero.
    """
    z = rng.standard_normal(size)
    x = -np.log(np.maximum(z * z, 1e-300))
    return np.maximum(np.asarray(mpv) + np.asarray(width) * x, 0.0)


# --------------------------------------------------------------------------------------------
# Showers: what each impact deposits in each calorimeter, before the lateral spread
# --------------------------------------------------------------------------------------------


@dataclass
class ShowerDeposits(Columns):
    """Shower deposits aimed at one calorimeter, before the lateral spread: arrays (K,) unless noted.

    ``energy`` is (K, R) per readout channel (ECAL: 1; HCAL: depths; HF: long, short fibres);
    ``sigma``/``weight`` are the (K, 2) lateral Gaussians (cm) of each deposit.
    """

    particle: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    energy: np.ndarray
    t: np.ndarray
    sigma: np.ndarray
    weight: np.ndarray

    _dtypes = {"particle": np.int64, "x": np.float64, "y": np.float64, "z": np.float64, "energy": np.float64,
               "t": np.float64, "sigma": np.float64, "weight": np.float64}
    _ndim = {"energy": 2, "sigma": 2, "weight": 2}

    @classmethod
    def make(cls, particle, x, y, z, energy, t, sigma: tuple[float, float], tail_fraction) -> ShowerDeposits:
        n = len(particle)
        tail = np.broadcast_to(np.asarray(tail_fraction, dtype=float), (n,))
        return cls(particle=particle, x=x, y=y, z=z, energy=energy, t=t,
                   sigma=np.tile(np.asarray(sigma, dtype=float), (n, 1)),
                   weight=np.stack([1.0 - tail, tail], axis=1))

    def by_particle(self) -> ShowerDeposits:
        """The deposits ordered by particle, so that each particle's cell entries are contiguous."""
        return self.take(np.argsort(self.particle, kind="stable"))

    def stamp(self, eta_edges: np.ndarray, cell_id: np.ndarray, e_cut: float,
              max_half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Spread the deposits over an eta-phi grid: (cell, deposit, fraction), see :func:`stamp_etaphi`."""
        rho = np.hypot(self.x, self.y)
        eta = np.arcsinh(self.z / np.maximum(rho, 1e-9))
        return stamp_etaphi(eta, np.arctan2(self.y, self.x), rho, self.sigma, self.weight,
                            self.energy.sum(axis=1), e_cut, eta_edges, cell_id, max_half)

    def stamp_ecal(self, cells: CaloCells, barrel_eta_max: float, endcap_z: float, e_cut: float,
                   max_half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Spread the deposits over the EB eta-phi crystals or the EE x-y crystals (impacts
        projected onto the endcap face), chosen by the impact's eta."""
        rho = np.hypot(self.x, self.y)
        barrel = np.abs(self.z) < rho * math.sinh(barrel_eta_max)
        ib, ie = np.nonzero(barrel)[0], np.nonzero(~barrel)[0]
        cell_b, dep_b, frac_b = self.take(ib).stamp(cells.eb_eta_edges, cells.eb_cell_id, e_cut, max_half)
        scale = endcap_z / np.maximum(np.abs(self.z[ie]), 1e-9)
        cell_e, dep_e, frac_e = stamp_xy(self.x[ie] * scale, self.y[ie] * scale, (self.z[ie] > 0).astype(np.int64),
                                         self.sigma[ie], self.weight[ie], self.energy[ie, 0], e_cut,
                                         cells.ee_origin, cells.ee_pitch, cells.ee_cell_id, max_half)
        return (np.concatenate([cell_b, cell_e]), np.concatenate([ib[dep_b], ie[dep_e]]),
                np.concatenate([frac_b, frac_e]))


def _flight_time(imp: CaloImpacts) -> np.ndarray:
    """Time from the ECAL face to the HCAL face, ns."""
    return np.sqrt((imp.x_hcal - imp.x) ** 2 + (imp.y_hcal - imp.y) ** 2 + (imp.z_hcal - imp.z) ** 2) / C_LIGHT


def _mip_segments(ecal: EcalConfig, hcal: HcalConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth boundaries (lambda_I from the ECAL face) of the ECAL and the HCAL depth layers, and
    the MIP most probable value and Moyal width in each of these segments."""
    depth = np.asarray(hcal.depth_edges, dtype=float)
    edges = np.concatenate([[0.0], ecal.interaction_lengths + depth])
    share = np.diff(depth) / depth[-1]
    mpv = np.concatenate([[ecal.mip_mpv], hcal.mip_mpv * share])
    width = np.concatenate([[ecal.mip_width], hcal.mip_width * share])
    return edges, mpv, width


def em_showers(imp: CaloImpacts, ecal: EcalConfig, hcal: HcalConfig,
               rng: np.random.Generator) -> tuple[ShowerDeposits, ShowerDeposits]:
    """Electron and photon showers: ECAL deposit, and the longitudinal leakage into HCAL depth 1."""
    n = len(imp)
    e = np.maximum(imp.energy, 1e-6)
    start = rng.exponential(_CONVERSION_DEPTH, n)
    z_stoch, z_const = rng.standard_normal((2, n))
    visible = e * np.maximum(1.0 + ecal.stochastic / np.sqrt(e) * z_stoch, 0.0) \
        * np.maximum(1.0 + ecal.constant * z_const, 0.0)
    leak = em_leakage_fraction(e, start, ecal.radiation_lengths, ecal.critical_energy, ecal.longitudinal_b)
    r_m = ecal.moliere_radius
    in_ecal = ShowerDeposits.make(imp.particle, imp.x, imp.y, imp.z, (visible * (1.0 - leak))[:, None],
                                  imp.t + ecal.shower_delay, (ecal.lateral_core * r_m, ecal.lateral_tail * r_m),
                                  ecal.lateral_tail_fraction)
    layers = np.zeros((n, N_DEPTH_LAYERS))
    layers[:, 0] = visible * leak
    in_hcal = ShowerDeposits.make(imp.particle, imp.x_hcal, imp.y_hcal, imp.z_hcal, layers,
                                  imp.t + _flight_time(imp) + hcal.shower_delay,
                                  (hcal.lateral_core, hcal.lateral_core), 0.0)
    return in_ecal, in_hcal


def hadron_showers(imp: CaloImpacts, ecal: EcalConfig, hcal: HcalConfig,
                   rng: np.random.Generator) -> tuple[ShowerDeposits, ShowerDeposits]:
    """Hadron showers in ECAL + HCAL.

    The first nuclear interaction happens at an exponentially distributed depth (lambda_I);
    before it the hadron ionises like a MIP. The shower splits into an EM part (fraction f_em,
    short Gamma profile) and a non-EM part (longer Gamma profile, response h/e); each depth
    segment's visible energy then fluctuates by a sqrt(E_vis).
    """
    n = len(imp)
    e = np.maximum(imp.energy, 0.0)
    edges, mpv, width = _mip_segments(ecal, hcal)
    drawn = rng.exponential(1.0, n)
    start = np.where(np.isfinite(imp.nuclear_depth), np.maximum(imp.nuclear_depth, 0.0), drawn)
    crossed = np.clip((start[:, None] - edges[None, :-1]) / np.diff(edges)[None, :], 0.0, 1.0)
    mip = sample_moyal(mpv, width, (n, len(mpv)), rng) * crossed  # (n, 1 + depths)
    mip *= np.minimum(1.0, e / np.maximum(mip.sum(axis=1), 1e-12))[:, None]
    e_shower = np.maximum(e - mip.sum(axis=1), 0.0)
    f_em = hadron_em_fraction(e_shower, hcal.em_fraction_e0, hcal.em_fraction_exponent,
                              hcal.em_fraction_spread, rng)
    t_max = hcal.shower_max_offset + hcal.shower_max_slope * np.log(np.maximum(e_shower, 1.0))
    frac_had = gamma_segment_fractions(start, edges, 1.0 + t_max / hcal.hadronic_profile_scale,
                                       hcal.hadronic_profile_scale)
    frac_em = gamma_segment_fractions(start, edges, np.full(n, hcal.em_profile_shape), hcal.em_profile_scale)
    response = np.array([ecal.hadron_response] + [hcal.hadron_response] * N_DEPTH_LAYERS)
    visible = e_shower[:, None] * (f_em[:, None] * frac_em + (1.0 - f_em)[:, None] * frac_had * response)
    visible += hcal.sampling_stochastic * np.sqrt(visible) * rng.standard_normal(visible.shape)
    deposit = np.maximum(visible, 0.0) + mip  # (n, 1 + depths)
    showered = start < ecal.interaction_lengths
    in_ecal = ShowerDeposits.make(imp.particle, imp.x, imp.y, imp.z, deposit[:, :1], imp.t + ecal.shower_delay,
                                  (ecal.hadron_lateral_core, ecal.hadron_lateral_halo), ecal.hadron_halo_fraction)
    in_ecal.sigma[~showered] = _MIP_WIDTH
    in_ecal.weight[~showered] = (1.0, 0.0)
    in_hcal = ShowerDeposits.make(imp.particle, imp.x_hcal, imp.y_hcal, imp.z_hcal, deposit[:, 1:],
                                  imp.t + _flight_time(imp) + hcal.shower_delay,
                                  (hcal.lateral_core, hcal.lateral_halo), hcal.lateral_halo_fraction)
    return in_ecal, in_hcal


def mip_tracks(imp: CaloImpacts, ecal: EcalConfig, hcal: HcalConfig,
               rng: np.random.Generator) -> tuple[ShowerDeposits, ShowerDeposits]:
    """Muons: Moyal-distributed ionisation in the ECAL and each HCAL depth, capped by the energy."""
    n = len(imp)
    _, mpv, width = _mip_segments(ecal, hcal)
    deposit = sample_moyal(mpv, width, (n, len(mpv)), rng)
    deposit *= np.minimum(1.0, np.maximum(imp.energy, 0.0) / np.maximum(deposit.sum(axis=1), 1e-12))[:, None]
    in_ecal = ShowerDeposits.make(imp.particle, imp.x, imp.y, imp.z, deposit[:, :1], imp.t + ecal.shower_delay,
                                  (_MIP_WIDTH, _MIP_WIDTH), 0.0)
    in_hcal = ShowerDeposits.make(imp.particle, imp.x_hcal, imp.y_hcal, imp.z_hcal, deposit[:, 1:],
                                  imp.t + _flight_time(imp) + hcal.shower_delay, (_MIP_WIDTH, _MIP_WIDTH), 0.0)
    return in_ecal, in_hcal


def hf_showers(em: CaloImpacts, had: CaloImpacts, hcal: HcalConfig, hf: HfConfig,
               rng: np.random.Generator) -> ShowerDeposits:
    """HF showers as (long, short) fibre signals at the EM scale.

    EM showers stay in front of the short fibres; the non-EM part of hadron showers is shared
    about equally, so that long - short measures the EM and 2 short the non-EM deposit.
    """
    e = np.maximum(em.energy, 1e-6)
    z_stoch, z_const = rng.standard_normal((2, len(em)))
    visible = e * np.maximum(1.0 + hf.em_stochastic / np.sqrt(e) * z_stoch, 0.0) \
        * np.maximum(1.0 + hf.em_constant * z_const, 0.0)
    s_em = hf.short_fraction_em
    em_dep = ShowerDeposits.make(em.particle, em.x, em.y, em.z,
                                 np.stack([visible * (1.0 - s_em), visible * s_em], axis=1),
                                 em.t + hf.shower_delay, (hf.em_lateral, hf.em_lateral), 0.0)

    e = np.maximum(had.energy, 0.0)
    f_em = hadron_em_fraction(e, hcal.em_fraction_e0, hcal.em_fraction_exponent, hcal.em_fraction_spread, rng)
    z_em, z_had, z_share = rng.standard_normal((3, len(had)))
    vis_em = e * f_em
    vis_em = np.maximum(vis_em + hf.em_stochastic * np.sqrt(vis_em) * z_em, 0.0)
    vis_had = e * (1.0 - f_em) * hf.hadron_response
    vis_had = np.maximum(vis_had + hf.hadron_stochastic * np.sqrt(vis_had) * z_had, 0.0)
    s_had = np.clip(hf.short_fraction_hadron + hf.short_fraction_spread * z_share, 0.0, 1.0)
    long_ = vis_em * (1.0 - s_em) + vis_had * (1.0 - s_had)
    short = vis_em * s_em + vis_had * s_had
    had_dep = ShowerDeposits.make(had.particle, had.x, had.y, had.z, np.stack([long_, short], axis=1),
                                  had.t + hf.shower_delay, (hf.hadron_lateral_core, hf.hadron_lateral_halo),
                                  hf.hadron_halo_fraction)
    return ShowerDeposits.concatenate([em_dep, had_dep])


# --------------------------------------------------------------------------------------------
# Lateral deposition: a sum of 2-D Gaussians integrated over cell edges.
#
# Each shower component k has up to two Gaussian lateral components g with widths sigma[k, g]
# (cm, in the plane transverse to the shower axis) and weights weight[k, g]. The stamp around
# the impact covers the cells where a component would still deposit more than e_cut; the
# fractions are normalised over the stamp, so the energy outside it is folded back in rather
# than lost. Stamp cells that do not exist (outside the acceptance) keep their share: that
# energy is lost, like in a crack.
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _coverage_radius(sigma, weight, energy, cell_area, e_cut):
    radius = 0.0
    for g in range(sigma.size):
        if weight[g] <= 0.0:
            continue
        peak = energy * weight[g] * cell_area / (_TWO_PI * sigma[g] * sigma[g])
        if peak > e_cut:
            k = min(math.sqrt(2.0 * math.log(peak / e_cut)), _MAX_SIGMAS)
            radius = max(radius, k * sigma[g])
    return radius


@njit(cache=True)
def _edge(edges, a):
    """Edge ``a`` of a binning, extrapolated with the end-bin widths beyond both ends."""
    n = edges.size - 1
    if a < 0:
        return edges[0] + a * (edges[1] - edges[0])
    if a > n:
        return edges[n] + (a - n) * (edges[n] - edges[n - 1])
    return edges[a]


@njit(cache=True)
def _bin(edges, x):
    """Index of the (possibly virtual) bin holding ``x``."""
    n = edges.size - 1
    if x < edges[0]:
        return int(math.floor((x - edges[0]) / (edges[1] - edges[0])))
    if x >= edges[n]:
        return n + int(math.floor((x - edges[n]) / (edges[n] - edges[n - 1])))
    lo, hi = 0, n  # binary search: edges[lo] <= x < edges[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if edges[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def _fill(out_cell, out_comp, out_frac, pos, k, sigma, weight, u, v, cells, cu, cv):
    """Write the stamp of component ``k``: ``u`` (na+1,) and ``v`` (nb+1,) are the cell edges
    relative to the impact in cm, ``cells`` (na, nb) the cell ids (-1: no cell); ``cu`` and
    ``cv`` are scratch buffers."""
    ng = sigma.size
    na = u.size - 1
    nb = v.size - 1
    norm = 0.0
    for g in range(ng):
        s = _SQRT2 * sigma[g]
        for a in range(na + 1):
            cu[g, a] = 0.5 * math.erf(u[a] / s)
        for b in range(nb + 1):
            cv[g, b] = 0.5 * math.erf(v[b] / s)
        norm += weight[g] * (cu[g, na] - cu[g, 0]) * (cv[g, nb] - cv[g, 0])
    if norm <= 0.0:
        return pos
    for a in range(na):
        for b in range(nb):
            cid = cells[a, b]
            if cid < 0:
                continue
            f = 0.0
            for g in range(ng):
                f += weight[g] * (cu[g, a + 1] - cu[g, a]) * (cv[g, b + 1] - cv[g, b])
            out_cell[pos] = cid
            out_comp[pos] = k
            out_frac[pos] = f / norm
            pos += 1
    return pos


@njit(cache=True)
def stamp_etaphi(eta, phi, rho, sigma, weight, energy, e_cut, eta_edges, cell_id, max_half):
    """Deposit lateral profiles on an eta-phi cell grid.

    Args:
        eta, phi: impact direction of each component, (K,).
        rho: distance of the impact from the beam line, cm, (K,); a cell of size
            (d_eta, d_phi) spans (rho d_eta, rho d_phi) transverse to a projective shower.
        sigma, weight: (K, G) Gaussian widths (cm) and weights of the lateral profile.
        energy: component energy, GeV, (K,) (sets the stamp size only).
        e_cut: cells that would receive less than this are left out of the stamp, GeV.
        eta_edges: (n_eta + 1,) bin edges in eta.
        cell_id: (n_eta, n_phi) cell index, -1 where there is no cell.
        max_half: the stamp spans at most 2 max_half + 1 cells per axis.

    Returns:
        (cell, component, fraction) arrays of the stamped cells; per component the fractions
        sum to 1 minus the share of stamp positions without a cell. Components whose impact
        cell does not exist (outside the calorimeter) deposit nothing.
    """
    n_eta, n_phi = cell_id.shape
    dphi = _TWO_PI / n_phi
    k_tot = eta.size
    lo_a = np.empty(k_tot, np.int64)
    hi_a = np.empty(k_tot, np.int64)
    lo_b = np.empty(k_tot, np.int64)
    hi_b = np.empty(k_tot, np.int64)
    total = 0
    for k in range(k_tot):
        ia = _bin(eta_edges, eta[k])
        ib = int(math.floor((phi[k] + math.pi) / dphi))
        r = max(rho[k], 1e-3)
        area = r * (_edge(eta_edges, ia + 1) - _edge(eta_edges, ia)) * r * dphi
        reach = _coverage_radius(sigma[k], weight[k], energy[k], area, e_cut) / r
        lo_a[k] = max(_bin(eta_edges, eta[k] - reach), ia - max_half)
        hi_a[k] = min(_bin(eta_edges, eta[k] + reach), ia + max_half)
        lo_b[k] = max(int(math.floor((phi[k] - reach + math.pi) / dphi)), ib - max_half)
        hi_b[k] = min(int(math.floor((phi[k] + reach + math.pi) / dphi)), ib + max_half,
                      lo_b[k] + n_phi - 1)
        if ia < 0 or ia >= n_eta or cell_id[ia, ib % n_phi] < 0:
            hi_a[k] = lo_a[k] - 1  # the impact is outside the calorimeter: no deposit
        total += max(hi_a[k] - lo_a[k] + 1, 0) * (hi_b[k] - lo_b[k] + 1)
    out_cell = np.empty(total, np.int64)
    out_comp = np.empty(total, np.int64)
    out_frac = np.empty(total, np.float64)
    width = 2 * max_half + 2
    u_buf = np.empty(width)
    v_buf = np.empty(width)
    cells = np.empty((width, width), np.int64)
    cu = np.empty((sigma.shape[1], width))
    cv = np.empty((sigma.shape[1], width))
    pos = 0
    for k in range(k_tot):
        na = hi_a[k] - lo_a[k] + 1
        nb = hi_b[k] - lo_b[k] + 1
        if na <= 0:
            continue
        r = max(rho[k], 1e-3)
        for a in range(na + 1):
            u_buf[a] = r * (_edge(eta_edges, lo_a[k] + a) - eta[k])
        for b in range(nb + 1):
            v_buf[b] = r * (-math.pi + (lo_b[k] + b) * dphi - phi[k])
        for a in range(na):
            ia = lo_a[k] + a
            for b in range(nb):
                if 0 <= ia < n_eta:
                    cells[a, b] = cell_id[ia, (lo_b[k] + b) % n_phi]
                else:
                    cells[a, b] = -1
        pos = _fill(out_cell, out_comp, out_frac, pos, k, sigma[k], weight[k],
                    u_buf[:na + 1], v_buf[:nb + 1], cells, cu, cv)
    return out_cell[:pos], out_comp[:pos], out_frac[:pos]


@njit(cache=True)
def stamp_xy(x, y, side, sigma, weight, energy, e_cut, origin, pitch, cell_id, max_half):
    """Deposit lateral profiles on square x-y cell grids (one per endcap side).

    Args:
        x, y: impact position on the face, cm, (K,).
        side: grid index of each component (0: -z, 1: +z), (K,).
        sigma, weight, energy, e_cut, max_half: as in :func:`stamp_etaphi`.
        origin: coordinate of the lower edge of cell 0 along x and y, cm.
        pitch: cell size, cm.
        cell_id: (2, n, n) cell index by (side, ix, iy), -1 where there is no cell.

    Returns:
        (cell, component, fraction) arrays, as :func:`stamp_etaphi`.
    """
    n = cell_id.shape[1]
    k_tot = x.size
    lo_a = np.empty(k_tot, np.int64)
    hi_a = np.empty(k_tot, np.int64)
    lo_b = np.empty(k_tot, np.int64)
    hi_b = np.empty(k_tot, np.int64)
    total = 0
    for k in range(k_tot):
        ia = int(math.floor((x[k] - origin) / pitch))
        ib = int(math.floor((y[k] - origin) / pitch))
        reach = _coverage_radius(sigma[k], weight[k], energy[k], pitch * pitch, e_cut)
        lo_a[k] = max(int(math.floor((x[k] - reach - origin) / pitch)), ia - max_half)
        hi_a[k] = min(int(math.floor((x[k] + reach - origin) / pitch)), ia + max_half)
        lo_b[k] = max(int(math.floor((y[k] - reach - origin) / pitch)), ib - max_half)
        hi_b[k] = min(int(math.floor((y[k] + reach - origin) / pitch)), ib + max_half)
        if not (0 <= ia < n and 0 <= ib < n) or cell_id[side[k], ia, ib] < 0:
            hi_a[k] = lo_a[k] - 1  # the impact is outside the calorimeter: no deposit
        total += max(hi_a[k] - lo_a[k] + 1, 0) * (hi_b[k] - lo_b[k] + 1)
    out_cell = np.empty(total, np.int64)
    out_comp = np.empty(total, np.int64)
    out_frac = np.empty(total, np.float64)
    width = 2 * max_half + 2
    u_buf = np.empty(width)
    v_buf = np.empty(width)
    cells = np.empty((width, width), np.int64)
    cu = np.empty((sigma.shape[1], width))
    cv = np.empty((sigma.shape[1], width))
    pos = 0
    for k in range(k_tot):
        na = hi_a[k] - lo_a[k] + 1
        nb = hi_b[k] - lo_b[k] + 1
        if na <= 0:
            continue
        for a in range(na + 1):
            u_buf[a] = origin + (lo_a[k] + a) * pitch - x[k]
        for b in range(nb + 1):
            v_buf[b] = origin + (lo_b[k] + b) * pitch - y[k]
        for a in range(na):
            ia = lo_a[k] + a
            for b in range(nb):
                ib = lo_b[k] + b
                if 0 <= ia < n and 0 <= ib < n:
                    cells[a, b] = cell_id[side[k], ia, ib]
                else:
                    cells[a, b] = -1
        pos = _fill(out_cell, out_comp, out_frac, pos, k, sigma[k], weight[k],
                    u_buf[:na + 1], v_buf[:nb + 1], cells, cu, cv)
    return out_cell[:pos], out_comp[:pos], out_frac[:pos]
