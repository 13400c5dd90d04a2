"""A calorimeter particle gun for the tests: impacts of particles flying straight from the origin."""

from __future__ import annotations

import numpy as np

from colliderflow.simulate.cells import projective_point
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.impacts import KIND_EM, SURFACE_CALO, SURFACE_HF, CaloImpacts


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
        return projective_point(eta, phi, radius, z_face, barrel & ~forward)

    x, y, z = face(geometry.ecal_radius, geometry.ecal_z)
    xh, yh, zh = face(geometry.hcal_radius, geometry.hcal_z)
    xf, yf, zf = projective_point(eta, phi, 0.0, geometry.hf_z, np.zeros(n, bool))
    x, y, z = (np.where(forward, f, c) for f, c in ((xf, x), (yf, y), (zf, z)))
    xh, yh, zh = (np.where(forward, f, c) for f, c in ((xf, xh), (yf, yh), (zf, zh)))
    return CaloImpacts(particle=full(particle, np.arange(n)), kind=full(kind, KIND_EM),
                       surface=np.where(forward, SURFACE_HF, SURFACE_CALO), energy=full(energy, 1.0),
                       x=x, y=y, z=z, x_hcal=xh, y_hcal=yh, z_hcal=zh, t=full(t, 0.0),
                       nuclear_depth=full(nuclear_depth, np.nan))
