"""Primary vertex from tracks, charged-hadron subtraction (CHS) and PUPPI (section 3.3.1).

Vertices: tracks sorted in z0 are split where consecutive tracks are further apart than
``gap``; groups of at least ``min_tracks`` tracks are vertices (z = inverse-variance mean); the
primary vertex is the one with the largest sum of track pT^2.

PUPPI (Bertolini, Harris, Low, Tran, JHEP 10 (2014) 059), with the structure of the CMS tune
(JINST 15 (2020) P09018): for each particle, alpha_i = log sum_j (pT_j / dR_ij)^2 over neighbours
j within dR < R0: charged particles from the primary vertex (alpha_C) inside the tracker, all
particles (alpha_F) beyond it. The reference median and RMS of alpha come from charged pileup
particles: of alpha_C inside the tracker, of alpha_F at |eta| < 2 extrapolated to each forward
region by its scale factors. chi2_i = (alpha_i - median)^2 / RMS^2 above the median (0 below),
and the weight is the chi2 cumulative distribution with one degree of freedom. Per region,
neutrals with weighted pT below A + B * N_vertices are dropped; neutrals above
``neutral_pt_max`` are kept. Charged particles get weight 1 (primary vertex) or 0 (pileup vertex).

:func:`mitigate_pileup` runs the whole chain on an event's candidates, from any reconstruction
(PF, or MLPF as in section 6.2 of the CMS MLPF paper: MLPF+CHS and MLPF+PUPPI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from colliderflow.physics.neighbours import delta_r, pairs_within
from colliderflow.schema.elements import ELEMENT_TRACK
from colliderflow.utils.config import RangeChecked, bounded, non_negative, positive

__all__ = ["VertexConfig", "PuppiRegion", "PuppiConfig", "DEFAULT_REGIONS", "REFERENCES", "find_vertices", "event_vertices", "associate", "associate_candidates",
           "puppi_weights", "mitigate_pileup"]


@dataclass(frozen=True)
class VertexConfig(RangeChecked):
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

    gap: float = positive(0.06)
    min_tracks: int = positive(2)
    min_pt: float = non_negative(0.5)
    max_dz_sigma: float = non_negative(3.0)
    min_dz_window: float = non_negative(0.05)
    refit_iterations: int = non_negative(2)
    pv_dz_keep: float = non_negative(0.3)


#: where a PUPPI region's alpha median and RMS come from (``PuppiRegion.reference``)
REFERENCES = ("charged_pileup", "region")


@dataclass(frozen=True)
class PuppiRegion(RangeChecked):
    """One |eta| region of PUPPI, after the structure of the CMS tune (JINST 15 (2020) P09018, table 1).

    Attributes:
        eta_max: upper |eta| edge; the lower edge is the previous region's (0 for the first), and
            the last region takes every larger |eta|.
        use_charged: the local shape alpha sums over charged particles from the primary vertex
            (alpha_C, inside the tracker) instead of over all particles (alpha_F).
        ptcut, ptcut_slope: neutrals with weighted pT below ptcut + ptcut_slope * N_vertices get
            weight 0, GeV.
        median_scale, rms_scale: factors on the reference median and RMS of alpha; for alpha_F
            regions they carry the reference of charged pileup particles at |eta| <
            ``PuppiConfig.reference_eta_max`` out to the region (CMS: MedEtaSF, RMSEtaSF).
        reference: where the median and RMS of alpha come from: ``"charged_pileup"`` (the CMS
            tune: charged pileup particles, as above) or, for an alpha_F region, ``"region"``: all
            particles of the region itself above ``reference_min_pt``, as the original PUPPI
            proposes for a region without tracking, where nearly every particle is pileup. Either
            way an event with too few charged pileup particles (no pileup) keeps its neutrals.
        reference_min_pt: ``"region"`` reference particles need at least this pT, GeV (CMS
            forward: rmsPtMin).
    """

    eta_max: float = bounded(gt=0, le=10)
    # ignore: mypy takes any ``= bounded(...)`` for a default; the one above has none
    use_charged: bool  # type: ignore[misc]
    ptcut: float = non_negative()
    ptcut_slope: float = non_negative()
    median_scale: float = positive(1.0)
    rms_scale: float = positive(1.0)
    reference: str = "charged_pileup"
    reference_min_pt: float = non_negative(0.5)

    def __post_init__(self):
        super().__post_init__()
        if self.reference not in REFERENCES:
            raise ValueError(f"PUPPI region reference must be one of {REFERENCES}, got {self.reference!r}")
        if self.reference == "region" and self.use_charged:
            raise ValueError("a PUPPI region with use_charged takes its reference from charged pileup particles, "
                             "not reference: region")


#: the default regions: barrel+endcap inside the tracker, endcap beyond it, and HF (CMS tune's
#: structure); cuts, scales and the HF reference chosen on the tuning samples of bench/puppi_tune.py (701-712),
#: never on the evaluation samples (docs/pf.md, "PUPPI tune")
DEFAULT_REGIONS = (
    PuppiRegion(eta_max=2.5, use_charged=True, ptcut=0.2, ptcut_slope=0.05),
    PuppiRegion(eta_max=3.0, use_charged=False, ptcut=0.5, ptcut_slope=0.12, median_scale=1.3),
    PuppiRegion(eta_max=5.0, use_charged=False, ptcut=0.0, ptcut_slope=0.08, reference="region"),
)


@dataclass(frozen=True)
class PuppiConfig(RangeChecked):
    """PUPPI parameters.

    Attributes:
        r0, r_min: cone for the local shape variable, and the smallest dR counted.
        weight_min: weights below this are set to 0.
        regions: the |eta| regions, in increasing ``eta_max`` (:class:`PuppiRegion`).
        reference_eta_max: charged pileup particles within this |eta| are the reference of the
            alpha_F regions (their alpha_F median and RMS, extrapolated by the region's scales).
        reference_min_pt: reference particles need at least this pT, GeV.
        min_reference: with fewer reference particles (events without pileup) PUPPI keeps every
            neutral (weight 1 before the pT cut).
        neutral_pt_max: neutrals above this pT keep weight 1 (protection of hard neutrals), GeV.
    """

    r0: float = positive(0.4)
    r_min: float = bounded(0.01, gt=0, lt="r0")
    weight_min: float = bounded(0.01, ge=0, lt=1)
    regions: tuple[PuppiRegion, ...] = DEFAULT_REGIONS
    reference_eta_max: float = bounded(2.0, gt=0, le=10)
    reference_min_pt: float = non_negative(0.1)
    min_reference: int = bounded(50, ge=2)
    neutral_pt_max: float = positive(40.0)

    def __post_init__(self):
        super().__post_init__()
        edges = [r.eta_max for r in self.regions]
        if not edges or edges != sorted(edges) or len(set(edges)) != len(edges):
            raise ValueError(f"PUPPI regions need strictly increasing eta_max, got {edges}")


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


def event_vertices(x: dict[str, np.ndarray], config: VertexConfig = VertexConfig()) -> np.ndarray:
    """Vertex positions z (V,) in cm of one event from all its tracks, the primary vertex first.

    ``x``: the event's element features (``type``, ``vz``, ``dz_err``, ``pt``), name -> (E,) array.
    """
    tracks = np.flatnonzero(x["type"] == ELEMENT_TRACK)
    vertex_z, _ = find_vertices(x["vz"][tracks].astype(np.float64), x["dz_err"][tracks].astype(np.float64),
                                x["pt"][tracks].astype(np.float64), config)
    return vertex_z


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


def _median_rms(values: np.ndarray, min_count: int) -> tuple[float, float]:
    """Median and RMS about the median of the finite ``values``; NaN with fewer than ``min_count``
    values in all (no pileup to refer to) or fewer than 2 finite ones."""
    v = values[np.isfinite(values)]
    if len(values) < min_count or len(v) < 2:
        return np.nan, np.nan
    med = float(np.median(v))
    rms = float(np.sqrt(np.mean((v - med) ** 2)))
    return med, max(rms, 1e-3)


def _region_index(abs_eta: np.ndarray, regions: tuple[PuppiRegion, ...]) -> np.ndarray:
    """Region of each particle, (N,) int; beyond the last edge, the last region."""
    edges = np.array([r.eta_max for r in regions])
    return np.minimum(np.searchsorted(edges, abs_eta, side="right"), len(regions) - 1)


def puppi_weights(cands: dict[str, np.ndarray], n_vertices: int, config: PuppiConfig = PuppiConfig()) -> np.ndarray:
    """PUPPI weights of an event's candidates, (N,) in [0, 1].

    ``cands`` needs ``charge``, ``pt``, ``eta``, ``phi`` and ``vertex`` (0 PV, > 0 pileup, -1
    none); a charged candidate that should count as primary without a vertex association (close
    to the primary vertex in z) must already carry ``vertex == 0``. Charged candidates without a
    vertex are treated as neutrals.

    Per region (:class:`PuppiRegion`): alpha_C (charged PV neighbours) or alpha_F (all
    neighbours); the reference median and RMS come from charged pileup particles of the same
    alpha (alpha_C: inside the tracker, within the region set of alpha_C regions; alpha_F: at
    |eta| < ``reference_eta_max``), or for a ``reference="region"`` region from the region's own
    particles above its ``reference_min_pt``, times the region's scales; chi2 = (alpha - median)^2 / RMS^2
    above the median (0 below) and w = F_chi2(chi2; 1 dof).
    """
    eta, phi, pt = (cands[k].astype(np.float64) for k in ("eta", "phi", "pt"))
    n = len(pt)
    vertex = cands["vertex"]
    charged = (cands["charge"] != 0) & (vertex >= 0)
    pv_charged = charged & (vertex == 0)
    pu_charged = charged & (vertex > 0) & (pt >= config.reference_min_pt)
    abs_eta = np.abs(eta)
    region = _region_index(abs_eta, config.regions)

    def per_particle(attribute: str) -> np.ndarray:
        """A ``PuppiRegion`` attribute for every particle, from its region, (N,)."""
        return np.array([getattr(r, attribute) for r in config.regions])[region]

    use_charged = per_particle("use_charged")
    alpha = np.full(n, -np.inf)
    med, rms = np.full(n, np.nan), np.full(n, np.nan)
    for charged_alpha in (True, False):
        here = use_charged == charged_alpha
        if not here.any():
            continue
        alpha_k = _alpha(eta, phi, pt, pv_charged if charged_alpha else np.ones(n, dtype=bool),
                         config.r0, config.r_min)
        alpha[here] = alpha_k[here]
        ref = pu_charged & (here if charged_alpha else abs_eta < config.reference_eta_max)
        m, r = _median_rms(alpha_k[ref], config.min_reference)
        med[here], rms[here] = m, r
        if charged_alpha or np.isnan(m):
            continue  # no pileup: every region keeps its neutrals
        for k, reg in enumerate(config.regions):
            if reg.reference == "region":
                in_k = region == k
                m_k, r_k = _median_rms(alpha_k[in_k & (pt >= reg.reference_min_pt)], 2)
                med[in_k], rms[in_k] = m_k, r_k
    med, rms = med * per_particle("median_scale"), rms * per_particle("rms_scale")
    with np.errstate(invalid="ignore"):
        x2 = np.where(np.isfinite(alpha) & (alpha > med), (alpha - med) ** 2 / rms**2, 0.0)
    w = chi2.cdf(np.nan_to_num(x2, nan=0.0), df=1)
    # fewer than min_reference reference particles (an event without pileup): keep the particle
    w = np.where(np.isnan(med), 1.0, w)
    w = np.where(w < config.weight_min, 0.0, w)
    cut = per_particle("ptcut") + per_particle("ptcut_slope") * n_vertices
    neutral = ~charged
    w = np.where(neutral & (pt > config.neutral_pt_max), 1.0, w)
    w = np.where(neutral & (w * pt < cut), 0.0, w)
    w = np.where(pv_charged, 1.0, w)
    w = np.where(charged & (vertex > 0), 0.0, w)
    return w.astype(np.float32)


def associate_candidates(x: dict[str, np.ndarray], cands: dict[str, np.ndarray],
                         vertex_config: VertexConfig = VertexConfig()) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Vertex association and CHS flags of an event's candidates, and PUPPI's view of the vertices.

    Vertices are found from all tracks of the event; each charged candidate whose primary element
    is a track is associated to a vertex by its track z0 (cm); CHS removes charged candidates of
    pileup vertices.

    Returns:
        (a copy of ``cands`` with ``vertex`` and ``chs`` set; PUPPI's vertex per candidate, (N,),
        where unassociated charged candidates within ``pv_dz_keep`` of the primary vertex count as
        primary, as in CMS; the number of vertices found).
    """
    vertex_z = event_vertices(x, vertex_config)
    out = dict(cands)
    charged = (cands["charge"] != 0) & (x["type"][cands["element"]] == ELEMENT_TRACK)
    elem = cands["element"][charged]
    z = x["vz"][elem].astype(np.float64)
    vtx = associate(z, x["dz_err"][elem].astype(np.float64), vertex_z, vertex_config)
    out["vertex"] = cands["vertex"].copy()
    out["vertex"][charged] = vtx
    out["chs"] = ~(charged & (out["vertex"] > 0))
    puppi_vertex = out["vertex"].copy()
    if len(vertex_z):
        near_pv = (vtx < 0) & (np.abs(z - vertex_z[0]) < vertex_config.pv_dz_keep)
        puppi_vertex[np.flatnonzero(charged)[near_pv]] = 0
    return out, puppi_vertex, len(vertex_z)


def mitigate_pileup(x: dict[str, np.ndarray], cands: dict[str, np.ndarray],
                    vertex_config: VertexConfig = VertexConfig(),
                    puppi_config: PuppiConfig = PuppiConfig()) -> dict[str, np.ndarray]:
    """Vertex association, CHS flags and PUPPI weights of an event's candidates.

    :func:`associate_candidates`, then :func:`puppi_weights` for every candidate (see the module
    docstring).

    Args:
        x: element features of the event, name -> (E,) array (``type``, ``vz``, ``dz_err``, ``pt``).
        cands: the event's candidates (``colliderflow.schema.candidates`` fields), (N,) arrays; ``element``
            indexes ``x``.

    Returns:
        A copy of ``cands`` with ``vertex``, ``chs`` and ``puppi_weight`` set; ``cands`` is unchanged.
    """
    out, puppi_vertex, n_vertices = associate_candidates(x, cands, vertex_config)
    out["puppi_weight"] = puppi_weights({**out, "vertex": puppi_vertex}, n_vertices, puppi_config)
    return out
