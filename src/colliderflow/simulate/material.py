"""Tracker material: bremsstrahlung, photon conversions and nuclear interactions.

The material budget between the beam line and the ECAL front face is tabulated against the
pseudorapidity of the particle direction (CMS-like, after JINST 3 (2008) S08004: about
0.4 X0 at eta = 0, 1.8 X0 near |eta| = 1.5, 1 X0 at |eta| = 2.5; 0.1-0.5 lambda_I). Along a
trajectory the material is spread over the normalised depth ``u = max(r / R_ecal, |z| / Z_ecal)``
by the cumulative profile ``F(u)`` (beam pipe and pixels, strips, services at the tracker edge).
A particle produced at depth ``u0`` sees the fraction ``1 - F(u0)`` of the budget.

Processes, each a function from a :class:`ParticleState` to new states:

* :func:`radiate` — electron bremsstrahlung with the Bethe-Heitler distribution of the
  retained energy fraction ``z`` after ``t`` radiation lengths,
  ``f(z) = (-ln z)^(c - 1) / Gamma(c)``, ``c = t / ln 2``, i.e. ``-ln z ~ Gamma(c)``, whose mean is
  ``E[z] = 2^(-c) = exp(-t)`` (see :func:`bethe_heitler_mean`). The material is cut into 1-3
  segments; each emits one photon, tangent to the helix at a random point of its segment. The
  product of the segment fractions has exactly the one-step distribution (gammas add).
  Simplification: the emission points lie on the helix the electron had at production; only
  from its last emission point on does it bend with its reduced momentum.
* :func:`convert_photons` — conversion probability ``1 - exp(-7/9 t)``, depth from the
  truncated exponential, energy split from the complete-screening Bethe-Heitler spectrum
  ``dsigma/dx ~ 1 - 4/3 x (1 - x)``.
* :func:`interact_hadrons` — probability ``1 - exp(-x / lambda_I)``; the hadron is replaced
  by 2-4 secondaries in a cone around its direction at the interaction point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.helix import Helix, SurfaceHit, intersect_surface, path_length, time_of_flight
from colliderflow.simulate.impacts import KIND_EM, KIND_HADRON
from colliderflow.utils.columns import Columns
from colliderflow.utils.config import RangeChecked, bounded, fraction, non_negative, positive

__all__ = [
    "MaterialConfig", "ParticleState", "Bremsstrahlung", "Conversions", "NuclearInteractions",
    "ELECTRON_MASS", "radiation_length_budget", "interaction_length_budget", "material_fraction",
    "depth_at_fraction", "box_depth", "bethe_heitler_mean", "sample_bethe_heitler",
    "conversion_probability", "sample_pair_split", "radiate", "convert_photons", "interact_hadrons",
]

ELECTRON_MASS = 0.000510998950
_LN2 = np.log(2.0)
#: photon conversion attenuation per radiation length
_CONVERSION_MU = 7.0 / 9.0


@dataclass(frozen=True)
class MaterialConfig(RangeChecked):
    """Material budget and the switches and parameters of the material processes.

    Attributes:
        budget_eta: |eta| nodes of the budget tables (increasing, linear interpolation).
        radiation_lengths: x/X0 from the beam line to the ECAL face at each node.
        interaction_lengths: x/lambda_I from the beam line to the ECAL face at each node.
        depth_nodes: normalised depths u (increasing, in [0, 1]) of the cumulative profile.
        depth_fractions: fraction F(u) of the budget below each depth (0 ... 1, increasing).
        bremsstrahlung, conversions, nuclear_interactions: switch the processes on or off.
        max_brem_photons: at most this many photons per electron (1..max, uniform).
        brem_min_energy: photons below this energy (GeV) are not followed.
        nuclear_secondaries: (min, max) number of secondaries of a nuclear interaction.
        nuclear_invisible_fraction: the energy lost to nuclear binding and slow fragments is
            uniform in [0, this] times the hadron energy.
        nuclear_pt_kick: mean transverse momentum (GeV) of a secondary w.r.t. the parent.
        max_loop_turns: charged particles that would spiral more than this many turns before
            reaching a surface range out in the material instead (loopers).
    """

    budget_eta: tuple[float, ...] = bounded((0.0, 0.5, 1.0, 1.3, 1.5, 1.8, 2.0, 2.5, 3.0, 5.0), ge=0, le=10)
    radiation_lengths: tuple[float, ...] = non_negative((0.40, 0.50, 0.85, 1.40, 1.80, 1.65, 1.45, 1.00, 0.80, 0.50))
    interaction_lengths: tuple[float, ...] = non_negative((0.12, 0.14, 0.22, 0.36, 0.48, 0.45, 0.40, 0.30, 0.24, 0.15))
    depth_nodes: tuple[float, ...] = fraction((0.0, 0.02, 0.13, 0.85, 0.92))
    depth_fractions: tuple[float, ...] = fraction((0.0, 0.05, 0.25, 0.78, 1.0))
    bremsstrahlung: bool = True
    max_brem_photons: int = bounded(3, ge=1, le=8)
    brem_min_energy: float = non_negative(0.01)
    conversions: bool = True
    nuclear_interactions: bool = True
    nuclear_secondaries: tuple[int, int] = bounded((2, 4), ge=1)
    nuclear_invisible_fraction: float = bounded(0.1, ge=0, lt=1)
    nuclear_pt_kick: float = non_negative(0.35)
    max_loop_turns: float = positive(1.0)

    def __post_init__(self) -> None:
        super().__post_init__()

        def fail(field: str, expected: str) -> None:
            raise ValueError(f"MaterialConfig.{field}: expected {expected}, got {getattr(self, field)!r}")

        eta = np.asarray(self.budget_eta, dtype=float)
        if eta.ndim != 1 or len(eta) < 2 or np.any(np.diff(eta) <= 0) or eta[0] != 0:
            fail("budget_eta", "at least two strictly increasing |eta| values starting at 0")
        for name in ("radiation_lengths", "interaction_lengths"):
            if np.shape(getattr(self, name)) != eta.shape:
                fail(name, f"{len(eta)} values (one per budget_eta node)")
        nodes = np.asarray(self.depth_nodes, dtype=float)
        if nodes.ndim != 1 or len(nodes) < 2 or np.any(np.diff(nodes) <= 0) or nodes[0] != 0:
            fail("depth_nodes", "strictly increasing depths from 0 to at most 1")
        frac = np.asarray(self.depth_fractions, dtype=float)
        if frac.shape != nodes.shape or frac[0] != 0 or frac[-1] != 1 or np.any(np.diff(frac) <= 0):
            fail("depth_fractions", "strictly increasing fractions from 0 to 1, one per depth node")
        if len(self.nuclear_secondaries) != 2 or self.nuclear_secondaries[0] > self.nuclear_secondaries[1]:
            fail("nuclear_secondaries", "(min, max) with 1 <= min <= max")


_STATE_DTYPES = {
    "index": np.int64, "pid": np.int32, "kind": np.int8, "charge": np.float64,
    "x": np.float64, "y": np.float64, "z": np.float64,
    "px": np.float64, "py": np.float64, "pz": np.float64,
    "energy": np.float64, "mass": np.float64, "t": np.float64,
    "material": np.float64, "interacted": np.bool_,
}


@dataclass
class ParticleState(Columns):
    """Particles in flight through the tracker volume, arrays (M,).

    Attributes:
        index: generator particle the state descends from (its truth link).
        pid: PDG id of the state (11/-11 for conversion legs, 22 for brem photons, 211 for
            nuclear secondaries).
        kind: calorimeter shower kind (``KIND_EM``, ``KIND_HADRON``, ``KIND_MIP``).
        charge: electric charge, e.
        x, y, z: current position, cm.
        px, py, pz, energy, mass: current four-momentum and mass, GeV.
        t: time at the current position, ns.
        material: fraction F(u) of the budget already behind the current position.
        interacted: the state is the product of a nuclear interaction in the tracker.
    """

    index: np.ndarray
    pid: np.ndarray
    kind: np.ndarray
    charge: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    mass: np.ndarray
    t: np.ndarray
    material: np.ndarray
    interacted: np.ndarray

    _dtypes = _STATE_DTYPES

    def helix(self, b_field: float) -> Helix:
        return Helix.from_momentum(self.x, self.y, self.z, self.px, self.py, self.pz, self.charge, b_field)

    @property
    def p(self) -> np.ndarray:
        return np.sqrt(self.px**2 + self.py**2 + self.pz**2)

    @property
    def eta(self) -> np.ndarray:
        """Pseudorapidity of the momentum."""
        pt = np.maximum(np.hypot(self.px, self.py), 1e-12)
        return np.arcsinh(self.pz / pt)


# ---------------------------------------------------------------------------------------------
# Material budget


def radiation_length_budget(eta: np.ndarray, config: MaterialConfig) -> np.ndarray:
    """x/X0 from the beam line to the ECAL face along direction ``eta``, (N,)."""
    return np.interp(np.abs(eta), config.budget_eta, config.radiation_lengths)


def interaction_length_budget(eta: np.ndarray, config: MaterialConfig) -> np.ndarray:
    """x/lambda_I from the beam line to the ECAL face along direction ``eta``, (N,)."""
    return np.interp(np.abs(eta), config.budget_eta, config.interaction_lengths)


def material_fraction(depth: np.ndarray, config: MaterialConfig) -> np.ndarray:
    """Fraction F(u) of the budget below normalised depth ``u``, (N,)."""
    return np.interp(depth, config.depth_nodes, config.depth_fractions)


def depth_at_fraction(fraction: np.ndarray, config: MaterialConfig) -> np.ndarray:
    """Inverse of :func:`material_fraction`: the depth u below which ``fraction`` lies, (N,)."""
    return np.interp(fraction, config.depth_fractions, config.depth_nodes)


def box_depth(x: np.ndarray, y: np.ndarray, z: np.ndarray, radius: float, half_length: float) -> np.ndarray:
    """Normalised depth ``max(r / radius, |z| / half_length)`` of points, (N,)."""
    return np.maximum(np.hypot(x, y) / radius, np.abs(z) / half_length)


def _advance(states: ParticleState, depth: np.ndarray, geometry: Geometry,
             config: MaterialConfig) -> tuple[SurfaceHit, np.ndarray]:
    """Move states along their trajectories to normalised depth ``depth``: crossing and flight time.

    ``depth`` is (M,) or (K, M) for K depths per state; the results have its shape.
    """
    helix = states.helix(geometry.b_field)
    hit = intersect_surface(helix, depth * geometry.ecal_radius, depth * geometry.ecal_z, config.max_loop_turns)
    dt = time_of_flight(path_length(helix, hit.s), helix.p, states.energy)
    return hit, dt


def _truncated_exponential(total: np.ndarray, mu: float, rng: np.random.Generator) -> np.ndarray:
    """Depth (same units as ``total``) of an interaction known to happen before ``total``, (N,)."""
    u = rng.random(len(total))
    return -np.log1p(-u * -np.expm1(-mu * total)) / mu


# ---------------------------------------------------------------------------------------------
# Bremsstrahlung


def bethe_heitler_mean(t: np.ndarray) -> np.ndarray:
    """Mean retained energy fraction after ``t`` radiation lengths: ``2^(-t / ln 2) = exp(-t)``."""
    return np.exp(-np.asarray(t, dtype=np.float64))


def sample_bethe_heitler(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Retained energy fractions ``z = exp(-Gamma(t / ln 2))`` after ``t`` radiation lengths."""
    return np.exp(-rng.gamma(np.asarray(t, dtype=np.float64) / _LN2))


@dataclass
class Bremsstrahlung:
    """Result of :func:`radiate`.

    Attributes:
        electrons: the electrons after their last emission, (M,), in input order.
        alive: False for electrons that curl up before an emission point, (M,).
        lost_fraction: 1 - final energy / initial energy, (M,).
        photons: the emitted photons above ``brem_min_energy``, (P,).
    """

    electrons: ParticleState
    alive: np.ndarray
    lost_fraction: np.ndarray
    photons: ParticleState


def radiate(electrons: ParticleState, config: MaterialConfig, geometry: Geometry,
            rng: np.random.Generator) -> Bremsstrahlung:
    """Bethe-Heitler bremsstrahlung of electrons along their helices up to the ECAL face.

    The emission points are found on the helix of the electron at production (one vectorised
    intersection for all of them); from its last emission point the electron continues with
    its final energy, so the extra bending after the energy loss is kept for the way to the
    calorimeter but not between two emissions.
    """
    m = len(electrons)
    if m == 0 or not config.bremsstrahlung:
        return Bremsstrahlung(electrons, np.ones(m, bool), np.zeros(m), ParticleState.empty())
    nseg = config.max_brem_photons
    f0 = electrons.material
    t_total = radiation_length_budget(electrons.eta, config) * (1.0 - f0)          # (M,)
    n_photons = rng.integers(1, nseg + 1, size=m)                                   # (M,)
    cuts = rng.random((nseg - 1, m))
    cuts = np.sort(np.where(np.arange(nseg - 1)[:, None] >= n_photons - 1, 1.0, cuts), axis=0)
    bounds = np.concatenate([np.zeros((1, m)), cuts, np.ones((1, m))], axis=0)     # (K+1, M)
    segments = np.diff(bounds, axis=0)                                              # (K, M)
    retained = sample_bethe_heitler(segments * t_total, rng)                        # (K, M)
    fraction = f0 + (bounds[:-1] + rng.random((nseg, m)) * segments) * (1.0 - f0)  # (K, M)

    used = (np.arange(nseg)[:, None] < n_photons) & (t_total > 0)                   # (K, M)
    hit, dt = _advance(electrons, depth_at_fraction(fraction, config), geometry, config)     # (K, M)
    emitted = used & hit.hit
    alive = ~(used & ~hit.hit).any(axis=0)
    p0, mass = electrons.p, electrons.mass
    energy = np.maximum(electrons.energy * np.cumprod(np.where(emitted, retained, 1.0), axis=0), mass)
    e_gamma = np.concatenate([electrons.energy[None], energy[:-1]]) - energy        # (K, M)
    t_emit = electrons.t + dt

    sel = emitted & (e_gamma >= config.brem_min_energy)
    col, row = np.nonzero(sel)
    eg = e_gamma[col, row]
    scale = eg / p0[row]
    nk = len(row)
    photons = ParticleState(
        electrons.index[row], np.full(nk, 22), np.full(nk, KIND_EM), np.zeros(nk),
        hit.x[col, row], hit.y[col, row], hit.z[col, row], hit.px[col, row] * scale, hit.py[col, row] * scale,
        hit.pz[col, row] * scale, eg, np.zeros(nk), t_emit[col, row], fraction[col, row], np.zeros(nk, bool))

    # the electron restarts from its last emission point with its final energy
    last = n_photons - 1
    cols = np.arange(m)
    moved = emitted[last, cols]
    e_final = energy[-1]
    p_scale = np.sqrt(np.maximum(e_final**2 - mass**2, 0.0)) / p0

    def restart(at_hit: np.ndarray, original: np.ndarray) -> np.ndarray:
        return np.where(moved, at_hit[last, cols], original)

    final = ParticleState(
        electrons.index, electrons.pid, electrons.kind, electrons.charge,
        restart(hit.x, electrons.x), restart(hit.y, electrons.y), restart(hit.z, electrons.z),
        restart(hit.px, electrons.px) * p_scale, restart(hit.py, electrons.py) * p_scale,
        restart(hit.pz, electrons.pz) * p_scale, e_final, mass, restart(t_emit, electrons.t),
        restart(fraction, f0), electrons.interacted)
    return Bremsstrahlung(final, alive, 1.0 - e_final / electrons.energy, photons)


# ---------------------------------------------------------------------------------------------
# Photon conversions


def conversion_probability(t: np.ndarray) -> np.ndarray:
    """Probability that a photon converts in ``t`` radiation lengths: ``1 - exp(-7/9 t)``."""
    return -np.expm1(-_CONVERSION_MU * np.asarray(t, dtype=np.float64))


def sample_pair_split(n: int, rng: np.random.Generator) -> np.ndarray:
    """Energy fraction of the electron in a pair conversion, (n,).

    Complete-screening Bethe-Heitler spectrum ``f(x) = 9/7 (1 - 4/3 x (1 - x))`` on [0, 1],
    sampled by inverting its CDF ``9/7 (x - 2/3 x^2 + 4/9 x^3)`` with Newton steps.
    """
    u = rng.random(n)
    x = u.copy()
    for _ in range(6):
        cdf = (9.0 / 7.0) * x * (1.0 - x * (2.0 / 3.0 - x * 4.0 / 9.0))
        pdf = (9.0 / 7.0) * (1.0 - (4.0 / 3.0) * x * (1.0 - x))
        x = np.clip(x - (cdf - u) / pdf, 0.0, 1.0)
    return x


@dataclass
class Conversions:
    """Result of :func:`convert_photons`.

    Attributes:
        converted: which input photons converted, (M,).
        legs: the e+e- pairs, (2K,): the K electrons first, then the K positrons, both in
            the order of the converted photons.
    """

    converted: np.ndarray
    legs: ParticleState


def convert_photons(photons: ParticleState, config: MaterialConfig, geometry: Geometry,
                    rng: np.random.Generator) -> Conversions:
    """Convert photons in the tracker material into e+e- pairs that start from the conversion point."""
    m = len(photons)
    if m == 0 or not config.conversions:
        return Conversions(np.zeros(m, bool), ParticleState.empty())
    f0 = photons.material
    t_total = radiation_length_budget(photons.eta, config) * (1.0 - f0)
    # each leg gets at least 2 m_e, so that both move (the physical threshold is 2 m_e in all)
    converted = (rng.random(m) < conversion_probability(t_total)) & (photons.energy > 4 * ELECTRON_MASS)
    idx = np.flatnonzero(converted)
    if idx.size == 0:
        return Conversions(converted, ParticleState.empty())
    sub = photons.take(idx)
    depth = _truncated_exponential(t_total[idx], _CONVERSION_MU, rng)
    fraction = f0[idx] + depth / t_total[idx] * (1.0 - f0[idx])
    hit, dt = _advance(sub, depth_at_fraction(fraction, config), geometry, config)
    # the photon starts inside the box it converts in, so the crossing always exists
    converted[idx[~hit.hit]] = False
    ok = hit.hit
    sub, fraction, dt = sub.take(ok), fraction[ok], dt[ok]
    k = len(sub)
    p_gamma = sub.p
    ux, uy, uz = sub.px / p_gamma, sub.py / p_gamma, sub.pz / p_gamma
    lo = 2.0 * ELECTRON_MASS / sub.energy
    share = np.clip(sample_pair_split(k, rng), lo, 1.0 - lo)
    energy = np.concatenate([share * sub.energy, (1.0 - share) * sub.energy])
    p = np.sqrt(np.maximum(energy**2 - ELECTRON_MASS**2, 0.0))
    def two(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, a])

    legs = ParticleState(
        two(sub.index), np.repeat([11, -11], k), np.full(2 * k, KIND_EM), np.repeat([-1.0, 1.0], k),
        two(hit.x[ok]), two(hit.y[ok]), two(hit.z[ok]), two(ux) * p, two(uy) * p, two(uz) * p,
        energy, np.full(2 * k, ELECTRON_MASS), two(sub.t + dt), two(fraction), np.zeros(2 * k, bool))
    return Conversions(converted, legs)


# ---------------------------------------------------------------------------------------------
# Nuclear interactions


@dataclass
class NuclearInteractions:
    """Result of :func:`interact_hadrons`.

    Attributes:
        interacted: which input hadrons interacted in the tracker volume, (M,).
        x, y, z: interaction point, cm, (M,); NaN where ``interacted`` is False.
        secondaries: the secondary hadrons, straight lines from the interaction point, (S,),
            with ``interacted`` True.
    """

    interacted: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    secondaries: ParticleState


def _cone_directions(ux, uy, uz, theta, phi):
    """Unit vectors at polar angle ``theta`` and azimuth ``phi`` around the unit vectors ``u``."""
    # helper axis: z unless u is almost along z
    along_z = np.abs(uz) > 0.9
    ax, ay, az = np.where(along_z, 1.0, 0.0), 0.0, np.where(along_z, 0.0, 1.0)
    e1x, e1y, e1z = ay * uz - az * uy, az * ux - ax * uz, ax * uy - ay * ux
    norm = np.sqrt(e1x**2 + e1y**2 + e1z**2)
    e1x, e1y, e1z = e1x / norm, e1y / norm, e1z / norm
    e2x, e2y, e2z = uy * e1z - uz * e1y, uz * e1x - ux * e1z, ux * e1y - uy * e1x
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    return (ct * ux + st * (cp * e1x + sp * e2x),
            ct * uy + st * (cp * e1y + sp * e2y),
            ct * uz + st * (cp * e1z + sp * e2z))


def interact_hadrons(hadrons: ParticleState, config: MaterialConfig, geometry: Geometry,
                     rng: np.random.Generator) -> NuclearInteractions:
    """Nuclear interactions of hadrons in the tracker material, replaced by secondary showers."""
    m = len(hadrons)
    nan = np.full(m, np.nan)
    if m == 0 or not config.nuclear_interactions:
        return NuclearInteractions(np.zeros(m, bool), nan, nan.copy(), nan.copy(), ParticleState.empty())
    f0 = hadrons.material
    t_total = interaction_length_budget(hadrons.eta, config) * (1.0 - f0)
    interacted = rng.random(m) < -np.expm1(-t_total)
    idx = np.flatnonzero(interacted)
    x, y, z = nan, nan.copy(), nan.copy()
    if idx.size == 0:
        return NuclearInteractions(interacted, x, y, z, ParticleState.empty())
    sub = hadrons.take(idx)
    depth = _truncated_exponential(t_total[idx], 1.0, rng)
    fraction = f0[idx] + depth / t_total[idx] * (1.0 - f0[idx])
    hit, dt = _advance(sub, depth_at_fraction(fraction, config), geometry, config)
    interacted[idx[~hit.hit]] = False  # loopers that never reach the interaction depth
    ok = hit.hit
    idx, sub, fraction, dt = idx[ok], sub.take(ok), fraction[ok], dt[ok]
    x[idx], y[idx], z[idx] = hit.x[ok], hit.y[ok], hit.z[ok]
    k = len(sub)
    lo, hi = config.nuclear_secondaries
    count = rng.integers(lo, hi + 1, size=k)                                       # (K,)
    parent = np.repeat(np.arange(k), count)                                         # (S,)
    weight = rng.standard_exponential(len(parent))
    visible = sub.energy * (1.0 - config.nuclear_invisible_fraction * rng.random(k))
    energy = visible[parent] * weight / np.bincount(parent, weight, minlength=k)[parent]
    p_parent = np.sqrt(hit.px[ok] ** 2 + hit.py[ok] ** 2 + hit.pz[ok] ** 2)
    ux, uy, uz = [(c / p_parent)[parent] for c in (hit.px[ok], hit.py[ok], hit.pz[ok])]
    kick = config.nuclear_pt_kick * rng.standard_exponential(len(parent))
    theta = np.arctan2(kick, energy)
    dx, dy, dz = _cone_directions(ux, uy, uz, theta, rng.uniform(-np.pi, np.pi, len(parent)))
    s = len(parent)
    secondaries = ParticleState(
        sub.index[parent], np.full(s, 211), np.full(s, KIND_HADRON), np.zeros(s),
        hit.x[ok][parent], hit.y[ok][parent], hit.z[ok][parent], dx * energy, dy * energy, dz * energy,
        energy, np.zeros(s), (sub.t + dt)[parent], fraction[parent], np.ones(s, bool))
    return NuclearInteractions(interacted, x, y, z, secondaries)
