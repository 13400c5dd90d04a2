"""Primary vertex from tracks, charged-hadron subtraction (CHS) and PUPPI (section 3.3.1).

Vertices: tracks sorted in z0 are split where consecutive tracks are further apart than
``gap``; groups of at least ``min_tracks`` tracks are vertices (z = inverse-variance mean); the
primary vertex is the one with the largest sum of track pT^2.

PUPPI (Bertolini, Harris, Low, Tran, JHEP 10 (2014) 059): for each particle,
alpha_i = log sum_j (pT_j / dR_ij)^2 over neighbours j within dR < R0, using charged particles
from the primary vertex inside the tracker and all particles outside. The median and RMS of
alpha for charged pileup particles (all particles in the forward region) set
chi2_i = (alpha_i - median)^2 / RMS^2 (0 below the median), and the weight is the chi2
cumulative distribution with one degree of freedom. Charged particles get weight 1 (primary
vertex) or 0 (pileup vertex).

:func:`mitigate_pileup` runs the whole chain on an event's candidates, from any reconstruction
(PF, or MLPF as in section 6.2 of the CMS MLPF paper: MLPF+CHS and MLPF+PUPPI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from colliderflow.physics.neighbours import delta_r, pairs_within
from colliderflow.simulate.elements import ELEMENT_TRACK

__all__ = ["VertexConfig", "PuppiConfig", "find_vertices", "associate", "puppi_weights", "mitigate_pileup"]


@dataclass(frozen=True)
class VertexConfig:
    """Vertex finding and track-vertex association (cm, GeV).

    Attributes:
        gap: z gap between consecutive tracks that separates two vertices.
        min_tracks: tracks needed for a vertex.
        min_pt: tracks used for vertex finding.
        max_dz_sigma: a track belongs to its closest vertex within this many dz uncertainties...
        min_dz_window: ...or within this distance (it absorbs the vertex position uncertainty).
        refit_iterations: passes that recompute vertex positions from their closest tracks.
        pv_dz_keep: charged particles associated to no vertex but within this |dz| of the primary
            vertex count as primary in PUPPI (as CMS does); farther ones are treated as neutrals.
    """

    gap: float = 0.06
    min_tracks: int = 2
    min_pt: float = 0.5
    max_dz_sigma: float = 3.0
    min_dz_window: float = 0.05
    refit_iterations: int = 2
    pv_dz_keep: float = 0.3


@dataclass(frozen=True)
class PuppiConfig:
    """PUPPI parameters.

    Attributes:
        r0, r_min: cone for the local shape variable, and the smallest dR counted.
        tracker_eta: boundary between the central and forward treatments.
        weight_min: weights below this are set to 0.
        ptcut_central, ptcut_central_slope: neutral weighted-pT cut A + B * N_vertices (|eta| < tracker_eta).
        ptcut_forward, ptcut_forward_slope: the same in the forward region.
        weight_min_forward: weights below this are set to 0 in the forward region.
    """

    r0: float = 0.4
    r_min: float = 0.01
    tracker_eta: float = 2.5
    weight_min: float = 0.01
    ptcut_central: float = 0.1
    ptcut_central_slope: float = 0.005
    ptcut_forward: float = 4.0
    ptcut_forward_slope: float = 0.3
    weight_min_forward: float = 0.9


def find_vertices(z: np.ndarray, z_err: np.ndarray, pt: np.ndarray, config: VertexConfig = VertexConfig()):
    """Vertices from track z0 values.

    Args:
        z, z_err, pt: (T,) track z0 (cm), its uncertainty and pT of the tracks to use.

    Returns:
        (vertex_z (V,), index of the primary vertex in vertex_z or -1 if none); the primary
        vertex comes first, the others by decreasing sum of pT^2.
    """
    sel = pt >= config.min_pt
    zs, ws, pts = z[sel], 1.0 / np.maximum(z_err[sel], 1e-4) ** 2, pt[sel]
    if len(zs) == 0:
        return np.zeros(0), -1
    order = np.argsort(zs)
    zs, ws, pts = zs[order], ws[order], pts[order]
    group = np.concatenate([[0], np.cumsum(np.diff(zs) > config.gap)])
    counts = np.bincount(group)
    vz = np.bincount(group, weights=zs * ws) / np.bincount(group, weights=ws)
    good = counts >= config.min_tracks
    vz = vz[good]
    if len(vz) == 0:
        return np.zeros(0), -1
    # refine: each track belongs to its closest vertex (within the gap); positions are the
    # inverse-variance means of those tracks, which removes the pull of chained neighbours
    for _ in range(config.refit_iterations):
        d = np.abs(zs[:, None] - vz[None, :])
        near = np.argmin(d, axis=1)
        inside = d[np.arange(len(zs)), near] < np.maximum(config.max_dz_sigma / np.sqrt(ws), config.min_dz_window)
        wsum = np.bincount(near[inside], weights=ws[inside], minlength=len(vz))
        zsum = np.bincount(near[inside], weights=(zs * ws)[inside], minlength=len(vz))
        vz = np.where(wsum > 0, zsum / np.where(wsum > 0, wsum, 1.0), vz)
    d = np.abs(zs[:, None] - vz[None, :])
    near = np.argmin(d, axis=1)
    inside = d[np.arange(len(zs)), near] < np.maximum(config.max_dz_sigma / np.sqrt(ws), config.min_dz_window)
    sumpt2 = np.bincount(near[inside], weights=np.minimum(pts[inside], 100.0) ** 2, minlength=len(vz))
    order = np.argsort(-sumpt2, kind="stable")
    return vz[order], 0


def associate(z: np.ndarray, z_err: np.ndarray, vertex_z: np.ndarray,
              config: VertexConfig = VertexConfig()) -> np.ndarray:
    """Index of the closest compatible vertex for each track (-1 if none); vertex 0 is the PV."""
    if len(vertex_z) == 0 or len(z) == 0:
        return np.full(len(z), -1, dtype=np.int16)
    d = np.abs(z[:, None] - vertex_z[None, :])
    best = np.argmin(d, axis=1)
    window = np.maximum(config.max_dz_sigma * z_err, config.min_dz_window)
    ok = d[np.arange(len(z)), best] < window
    return np.where(ok, best, -1).astype(np.int16)


def _alpha(eta, phi, pt, neighbour_mask, r0, r_min):
    """PUPPI local shape alpha_i over neighbours j with neighbour_mask[j], (N,)."""
    n = len(eta)
    alpha = np.full(n, -np.inf)
    nb = np.flatnonzero(neighbour_mask)
    if n == 0 or len(nb) == 0:
        return alpha
    qi, k = pairs_within(eta, phi, eta[nb], phi[nb], r0)
    if len(qi) == 0:
        return alpha
    nj = nb[k]
    dr = delta_r(eta[qi], phi[qi], eta[nj], phi[nj])
    ok = (qi != nj) & (dr > r_min)
    s = np.bincount(qi[ok], weights=(pt[nj[ok]] / dr[ok]) ** 2, minlength=n)
    with np.errstate(divide="ignore"):
        alpha = np.where(s > 0, np.log(s), -np.inf)
    return alpha


def _median_rms(values: np.ndarray) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if len(v) < 2:
        return np.nan, np.nan
    med = float(np.median(v))
    rms = float(np.sqrt(np.mean((v - med) ** 2)))
    return med, max(rms, 1e-3)


def puppi_weights(cands: dict[str, np.ndarray], n_vertices: int, config: PuppiConfig = PuppiConfig()) -> np.ndarray:
    """PUPPI weights of an event's candidates, (N,) in [0, 1].

    ``cands`` needs ``cls``, ``charge``, ``pt``, ``eta``, ``phi`` and ``vertex`` (0 PV, > 0 pileup,
    -1 none); a charged candidate that should count as primary without a vertex association
    (close to the primary vertex in z) must already carry ``vertex == 0``.
    """
    eta, phi, pt = (cands[k].astype(np.float64) for k in ("eta", "phi", "pt"))
    charged = cands["charge"] != 0
    vertex = cands["vertex"]
    central = np.abs(eta) < config.tracker_eta
    pv_charged = charged & (vertex == 0)
    pu_charged = charged & (vertex > 0)
    alpha_c = _alpha(eta, phi, pt, pv_charged, config.r0, config.r_min)
    alpha_f = _alpha(eta, phi, pt, np.ones(len(pt), dtype=bool), config.r0, config.r_min)
    alpha = np.where(central, alpha_c, alpha_f)
    med_c, rms_c = _median_rms(alpha_c[pu_charged & central])
    med_f, rms_f = _median_rms(alpha_f[~central])
    med = np.where(central, med_c, med_f)
    rms = np.where(central, rms_c, rms_f)
    with np.errstate(invalid="ignore"):
        x2 = np.where(np.isfinite(alpha) & (alpha > med), (alpha - med) ** 2 / rms**2, 0.0)
    x2 = np.nan_to_num(x2, nan=0.0)
    w = chi2.cdf(x2, df=1)
    # no pileup reference in this region (e.g. no pileup at all): keep the particle
    w = np.where(np.isnan(med), 1.0, w)
    w = np.where(w < np.where(central, config.weight_min, config.weight_min_forward), 0.0, w)
    cut = np.where(central, config.ptcut_central + config.ptcut_central_slope * n_vertices,
                   config.ptcut_forward + config.ptcut_forward_slope * n_vertices)
    neutral = ~charged | (vertex < 0)
    w = np.where(neutral & (w * pt < cut), 0.0, w)
    w = np.where(charged & (vertex == 0), 1.0, w)
    w = np.where(charged & (vertex > 0), 0.0, w)
    return w.astype(np.float32)


def mitigate_pileup(x: dict[str, np.ndarray], cands: dict[str, np.ndarray],
                    vertex_config: VertexConfig = VertexConfig(),
                    puppi_config: PuppiConfig = PuppiConfig()) -> dict[str, np.ndarray]:
    """Vertex association, CHS flags and PUPPI weights of an event's candidates.

    Vertices are found from all tracks of the event; each charged candidate whose primary
    element is a track is associated to a vertex by its track z0 (cm); CHS removes charged
    candidates of pileup vertices; PUPPI weights every candidate (see the module docstring).

    Args:
        x: element features of the event, name -> (E,) array (``type``, ``vz``, ``dz_err``, ``pt``).
        cands: the event's candidates (``colliderflow.candidates`` fields), (N,) arrays; ``element``
            indexes ``x``.

    Returns:
        A copy of ``cands`` with ``vertex``, ``chs`` and ``puppi_weight`` set; ``cands`` is unchanged.
    """
    tracks = np.flatnonzero(x["type"] == ELEMENT_TRACK)
    vertex_z, _ = find_vertices(x["vz"][tracks].astype(np.float64), x["dz_err"][tracks].astype(np.float64),
                                x["pt"][tracks].astype(np.float64), vertex_config)
    out = dict(cands)
    charged = (cands["charge"] != 0) & (x["type"][cands["element"]] == ELEMENT_TRACK)
    elem = cands["element"][charged]
    z = x["vz"][elem].astype(np.float64)
    vtx = associate(z, x["dz_err"][elem].astype(np.float64), vertex_z, vertex_config)
    out["vertex"] = cands["vertex"].copy()
    out["vertex"][charged] = vtx
    out["chs"] = ~(charged & (out["vertex"] > 0))
    # PUPPI counts unassociated charged particles close to the primary vertex as primary
    puppi_in = out
    if len(vertex_z):
        near_pv = (vtx < 0) & (np.abs(z - vertex_z[0]) < vertex_config.pv_dz_keep)
        puppi_in = {**out, "vertex": out["vertex"].copy()}
        puppi_in["vertex"][np.flatnonzero(charged)[near_pv]] = 0
    out["puppi_weight"] = puppi_weights(puppi_in, len(vertex_z), puppi_config)
    return out
