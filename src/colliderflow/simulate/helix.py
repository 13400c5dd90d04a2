"""Helices of charged particles (and straight lines of neutrals) in a uniform field along +z.

Pure, vectorised geometry: every function takes arrays of shape (N,) and returns arrays of
shape (N,). Units: cm, GeV, T, ns, rad.

Conventions. A particle of charge q and transverse momentum pT in a field B along +z moves on
a circle of radius ``R = 100 pT / (0.299792458 B |q|)`` cm. We write the signed curvature
``kappa = 0.00299792458 B q / pT`` (1/cm) and parametrise the trajectory by its transverse arc
length ``s``: the momentum azimuth turns as ``phi(s) = phi0 - kappa s`` (positive charges turn
clockwise seen from +z) and ``z(s) = z0 + s pz / pT``. With ``delta = kappa s``::

    x(s) = x0 + s [cos(phi0) sinc(delta) + sin(phi0) (1 - cos delta) / delta]
    y(s) = y0 + s [sin(phi0) sinc(delta) - cos(phi0) (1 - cos delta) / delta]

which is exact for every curvature and reduces to a straight line for ``kappa = 0``, so
neutral particles and very stiff tracks need no special case.

Surface crossings are solved in closed form. For a cylinder of radius ``Rc`` the condition
``x(s)^2 + y(s)^2 = Rc^2``, written with ``tan(psi / 2)`` of the unsigned turning angle
``psi = |kappa| s`` and ``sigma = 2 tan(psi / 2) / |kappa|``, becomes the quadratic::

    (1 + kappa (P0 . n) - c kappa^2 / 4) sigma^2 + 2 (P0 . u) sigma - c = 0,

with ``u = (cos phi0, sin phi0)``, ``n = (sin phi0, -cos phi0)``, ``c = Rc^2 - |P0|^2``. It
becomes the straight-line equation as ``kappa -> 0`` and stays well conditioned for large radii.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colliderflow.utils.columns import Columns

__all__ = [
    "C_LIGHT", "Helix", "SurfaceHit", "BeamlineApproach", "helix_radius", "curvature",
    "propagate", "intersect_cylinder", "intersect_disks", "intersect_surface",
    "closest_approach", "path_length", "time_of_flight", "position_eta_phi",
]

#: speed of light, cm/ns
C_LIGHT = 29.9792458
#: kappa [1/cm] = _CURVATURE * B [T] * q / pT [GeV]
_CURVATURE = 0.299792458 / 100.0
#: transverse momenta below this (GeV) are clamped, so particles along the beam stay finite
_PT_FLOOR = 1e-9
_TWO_PI = 2.0 * np.pi


def helix_radius(pt: np.ndarray, charge: np.ndarray, b_field: float) -> np.ndarray:
    """Radius of the transverse circle, cm, (N,); ``inf`` for neutral particles or B = 0."""
    kappa = np.abs(curvature(pt, charge, b_field))
    with np.errstate(divide="ignore"):
        return np.where(kappa > 0, 1.0 / np.where(kappa > 0, kappa, 1.0), np.inf)


def curvature(pt: np.ndarray, charge: np.ndarray, b_field: float) -> np.ndarray:
    """Signed curvature ``kappa = 0.00299792458 B q / pT`` in 1/cm, (N,)."""
    pt = np.maximum(np.asarray(pt, dtype=np.float64), _PT_FLOOR)
    return _CURVATURE * float(b_field) * np.asarray(charge, dtype=np.float64) / pt


@dataclass(frozen=True)
class Helix(Columns):
    """Trajectories given by a point and the momentum there, arrays (N,).

    Attributes:
        x, y, z: starting point, cm.
        pt: transverse momentum, GeV (clamped to >= 1e-9).
        pz: longitudinal momentum, GeV.
        cos_phi, sin_phi: direction of the transverse momentum at the start.
        kappa: signed curvature, 1/cm (0 for neutrals).
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    pt: np.ndarray
    pz: np.ndarray
    cos_phi: np.ndarray
    sin_phi: np.ndarray
    kappa: np.ndarray

    @classmethod
    def from_momentum(cls, x, y, z, px, py, pz, charge, b_field: float) -> "Helix":
        """Build from a point (cm), a momentum (GeV) and a charge (e), all (N,) or scalars."""
        arrays: Sequence[np.ndarray] = [np.asarray(a, dtype=np.float64) for a in (x, y, z, px, py, pz, charge)]
        if len({a.shape for a in arrays}) > 1:
            arrays = np.broadcast_arrays(*arrays)
        x, y, z, px, py, pz, charge = arrays
        pt_true = np.hypot(px, py)
        moving = pt_true > 0
        safe = np.where(moving, pt_true, 1.0)
        cos_phi = np.where(moving, px / safe, 1.0)
        sin_phi = np.where(moving, py / safe, 0.0)
        pt = np.maximum(pt_true, _PT_FLOOR)
        return cls(x, y, z, pt, pz, cos_phi, sin_phi, curvature(pt, charge, b_field))

    @property
    def p(self) -> np.ndarray:
        return np.hypot(self.pt, self.pz)


@dataclass(frozen=True)
class SurfaceHit:
    """Where trajectories cross a surface, arrays (N,); NaN position where ``hit`` is False.

    Attributes:
        hit: the surface is reached going forward.
        endcap: the crossing is on a disk (False: on the cylinder).
        s: transverse arc length to the crossing, cm (``inf`` if not reached).
        x, y, z: crossing point, cm.
        px, py, pz: momentum at the crossing, GeV.
    """

    hit: np.ndarray
    endcap: np.ndarray
    s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray


@dataclass(frozen=True)
class BeamlineApproach:
    """Point of closest approach to the beam line x = y = 0, arrays (N,).

    Attributes:
        s: signed transverse arc length from the start to the point (negative: behind), cm.
        x, y, z: the point, cm.
        phi: azimuth of the momentum there.
        d0: signed transverse impact parameter ``-x sin(phi) + y cos(phi)``, cm.
        z0: longitudinal position of the point (equal to ``z``), cm.
    """

    s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    phi: np.ndarray
    d0: np.ndarray
    z0: np.ndarray


def _is_straight(helix: Helix) -> bool:
    """Whether every trajectory is a straight line (all neutral): the cheap formulas apply."""
    return not helix.kappa.any()


def propagate(helix: Helix, s: np.ndarray) -> tuple[np.ndarray, ...]:
    """Position and momentum after transverse arc length ``s`` (cm, may be negative).

    ``s`` has shape (N,) or any shape that broadcasts against (N,), such as (K, N).

    Returns:
        ``(x, y, z, px, py, pz)``, each of the broadcast shape; NaN where ``s`` is not finite.
    """
    s = np.asarray(s, dtype=np.float64)
    finite = np.isfinite(s)
    all_finite = bool(finite.all())
    s0 = s if all_finite else np.where(finite, s, 0.0)
    if _is_straight(helix):
        x = helix.x + s0 * helix.cos_phi
        y = helix.y + s0 * helix.sin_phi
        px = helix.pt * helix.cos_phi
        py = helix.pt * helix.sin_phi
    else:
        delta = helix.kappa * s0
        half = 0.5 * delta
        sin_h, cos_h = np.sin(half), np.cos(half)
        sin_d, cos_d = 2.0 * sin_h * cos_h, 1.0 - 2.0 * sin_h * sin_h
        nonzero = delta != 0
        safe = np.where(nonzero, delta, 1.0)
        sinc = np.where(nonzero, sin_d / safe, 1.0)        # sin(delta) / delta
        versine = 2.0 * sin_h * sin_h / safe                # (1 - cos(delta)) / delta
        x = helix.x + s0 * (helix.cos_phi * sinc + helix.sin_phi * versine)
        y = helix.y + s0 * (helix.sin_phi * sinc - helix.cos_phi * versine)
        px = helix.pt * (helix.cos_phi * cos_d + helix.sin_phi * sin_d)
        py = helix.pt * (helix.sin_phi * cos_d - helix.cos_phi * sin_d)
    z = helix.z + s0 * helix.pz / helix.pt
    px, py, pz = (a if a.shape == x.shape else np.broadcast_to(a, x.shape).copy() for a in (px, py, helix.pz))
    if pz is helix.pz:
        pz = pz.copy()
    if all_finite:
        return x, y, z, px, py, pz
    return tuple(np.where(finite, a, np.nan) for a in (x, y, z, px, py, pz))


#: curvature used for straight lines in the arc-length formula: 2 atan(sigma k / 2) / k = sigma
_KAPPA_STRAIGHT = 1e-30
#: arc lengths beyond this (cm) mean "never" (backward roots of straight lines land near 6e30)
_NEVER = 1e25


def _arc_from_sigma(sigma: np.ndarray, kappa_abs: np.ndarray) -> np.ndarray:
    """Forward arc length for roots ``sigma = 2 tan(psi / 2) / |kappa|``; inf where none.

    Call inside ``np.errstate(invalid="ignore", divide="ignore")``: roots may be +-inf or NaN.
    """
    kappa_abs = np.maximum(kappa_abs, _KAPPA_STRAIGHT)
    psi = 2.0 * np.arctan(0.5 * sigma * kappa_abs)
    psi = np.where(psi < 0, psi + _TWO_PI, psi)
    s = psi / kappa_abs
    return np.where(s < _NEVER, s, np.inf)  # also maps NaN to inf


def intersect_cylinder(helix: Helix, radius) -> np.ndarray:
    """Transverse arc length (cm) to the first forward crossing of ``x^2 + y^2 = radius^2``.

    ``radius`` is a scalar, (N,) or (K, 1) (then the result is (K, N)). Returns ``inf`` where
    the circle never reaches that radius (for example loopers with ``2R`` smaller than it).
    """
    radius = np.asarray(radius, dtype=np.float64)
    along = helix.x * helix.cos_phi + helix.y * helix.sin_phi          # P0 . u
    c = radius * radius - (helix.x * helix.x + helix.y * helix.y)
    if _is_straight(helix):
        disc = along * along + c
        root = np.sqrt(np.maximum(disc, 0.0))
        near, far = -along - root, -along + root
        s = np.where(near >= 0, near, np.where(far >= 0, far, np.inf))
        return np.where(disc >= 0, s, np.inf)
    normal = helix.x * helix.sin_phi - helix.y * helix.cos_phi         # P0 . n
    k = helix.kappa
    quad = 1.0 + k * normal - 0.25 * c * k * k
    disc = along * along + quad * c
    root = np.sqrt(np.maximum(disc, 0.0))
    q = -(along + np.copysign(root, along))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        sigma = np.stack([q / quad, -c / q])                               # (2, N)
        s = _arc_from_sigma(sigma, np.abs(k)).min(axis=0)
    return np.where(disc >= 0, s, np.inf)


def intersect_disks(helix: Helix, half_length) -> np.ndarray:
    """Transverse arc length (cm) to the plane ``z = sign(pz) * half_length``; inf if never reached.

    ``half_length`` is a scalar, (N,) or (K, 1) (then the result is (K, N)).
    """
    target = np.copysign(np.asarray(half_length, dtype=np.float64), helix.pz)
    moving = helix.pz != 0
    s = (target - helix.z) * helix.pt / np.where(moving, helix.pz, 1.0)
    return np.where(moving & (s >= 0), s, np.inf)


def intersect_surface(helix: Helix, radius, half_length, max_turns: float = np.inf) -> SurfaceHit:
    """First forward crossing of a closed cylinder: barrel ``r = radius``, disks ``|z| = half_length``.

    ``radius`` and ``half_length`` are scalars, (N,), or (K, 1) to intersect K cylinders at
    once (the results are then (K, N)). The trajectory is assumed to start inside the
    cylinder; ``hit`` is False for particles that reach neither surface, or that would reach
    a disk only after spiralling more than ``max_turns`` full turns.
    """
    s_barrel = intersect_cylinder(helix, radius)
    s_disk = intersect_disks(helix, half_length)
    if np.isfinite(max_turns):
        longest = _TWO_PI * max_turns / np.maximum(np.abs(helix.kappa), 1e-300)
        s_disk = np.where(s_disk <= longest, s_disk, np.inf)
    endcap = s_disk < s_barrel
    s = np.where(endcap, s_disk, s_barrel)
    hit = np.isfinite(s)
    return SurfaceHit(hit, endcap & hit, s, *propagate(helix, s))


def closest_approach(helix: Helix) -> BeamlineApproach:
    """Point of closest approach of the full circle (or line) to the beam line x = y = 0.

    The turning angle to that point is ``psi = atan2(-a |kappa|, 1 + kappa (P0 . n))`` with
    ``a = P0 . u``, so that ``s = psi / |kappa|`` (``s = -a`` for straight lines).
    """
    along = helix.x * helix.cos_phi + helix.y * helix.sin_phi
    normal = helix.x * helix.sin_phi - helix.y * helix.cos_phi
    kabs = np.abs(helix.kappa)
    psi = np.arctan2(-along * kabs, 1.0 + helix.kappa * normal)
    s = np.where(kabs > 0, psi / np.where(kabs > 0, kabs, 1.0), -along)
    x, y, z, px, py, _ = propagate(helix, s)
    phi = np.arctan2(py, px)
    d0 = (-x * py + y * px) / helix.pt
    return BeamlineApproach(s, x, y, z, phi, d0, z)


def path_length(helix: Helix, s: np.ndarray) -> np.ndarray:
    """Three-dimensional path length (cm, (N,)) for a transverse arc length ``s``."""
    return np.asarray(s) * helix.p / helix.pt


def time_of_flight(length: np.ndarray, p: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Time (ns, (N,)) to fly ``length`` cm with momentum ``p`` and energy ``energy`` (GeV)."""
    p = np.asarray(p, dtype=np.float64)
    moving = p > 0
    return np.where(moving, np.asarray(length) * np.asarray(energy) / (np.where(moving, p, 1.0) * C_LIGHT), np.inf)


def position_eta_phi(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pseudorapidity and azimuth of points seen from the origin, (N,) each (eta = +-1e4 on the axis)."""
    r = np.hypot(x, y)
    on_axis = r == 0
    eta = np.arcsinh(z / np.where(on_axis, 1.0, r))
    return np.where(on_axis, np.copysign(1e4, z), eta), np.arctan2(y, x)
