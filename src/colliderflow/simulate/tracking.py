"""Propagation through the tracker volume and parametric track reconstruction.

:func:`propagate_and_track` is the entry point: it follows the generator particles through
the field and the tracker material (:mod:`colliderflow.simulate.material`), hands every shower
that reaches the calorimeters to :class:`~colliderflow.simulate.impacts.CaloImpacts`, and
reconstructs tracks with CMS-like efficiencies and resolutions (CMS, JINST 9 (2014) P10009):

* efficiency: a plateau per particle type (muons 99 %, hadrons 97.5 % before nuclear
  interactions, electrons lower and falling with the brem loss), a logistic turn-on in pT,
  |eta| < 2.5, falling linearly with the production radius to zero at 60 cm, and at least
  ``min_hits`` hits before the particle leaves the tracker, curls up or interacts;
* ``sigma(pT) / pT = a(eta) (+) b(eta) pT`` (1 % at 1-10 GeV, 1.75 % at 100 GeV in the barrel),
  ``sigma(phi), sigma(eta) = a (+) b / pT``, ``sigma(d0), sigma(dz) = a (+) b / pT``, all
  scaled up for tracks with fewer than ``reference_hits`` hits and (d0, dz) without pixel hits;
  smearing is Gaussian in q / pT, phi, theta, d0, dz; electrons get a one-sided tail in q / pT
  that grows with their brem loss (GSF-like);
* fake tracks: Poisson with mean ``fake_rate`` times the number of charged particles in
  the acceptance, mostly low pT, with random parameters.

Units: GeV, cm, ns, rad.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from colliderflow.generate.particles import GenParticles
from colliderflow.schema.elements import COMMON_FEATURES, ELEMENT_TRACK, TRACK_FEATURES
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.helix import (
    C_LIGHT, Helix, SurfaceHit, closest_approach, intersect_surface, path_length, position_eta_phi, time_of_flight,
)
from colliderflow.simulate.impacts import KIND_EM, KIND_HADRON, KIND_MIP, SURFACE_CALO, SURFACE_HF, CaloImpacts
from colliderflow.simulate.material import (
    MaterialConfig, ParticleState, box_depth, convert_photons, interact_hadrons, material_fraction, radiate,
)
from colliderflow.simulate.muons import MuonConfig, muon_station_hits
from colliderflow.utils.config import RangeChecked, bounded, fraction, non_negative, positive

__all__ = [
    "TrackerConfig", "TrackerOutput", "TRACK_CLASS_HADRON", "TRACK_CLASS_ELECTRON", "TRACK_CLASS_MUON",
    "INVISIBLE_PIDS", "track_efficiency", "track_resolutions", "propagate_and_track",
]

TRACK_CLASS_HADRON = 0
TRACK_CLASS_ELECTRON = 1
TRACK_CLASS_MUON = 2
#: |pid| of particles that leave nothing in the detector (neutrinos, neutralino, gravitons)
INVISIBLE_PIDS = (12, 14, 16, 39, 1000022, 1000039)
_PION_MASS = 0.13957039


@dataclass(frozen=True)
class TrackerConfig(RangeChecked):
    """Efficiency, hit pattern, resolution and fake-rate parameters of the tracker.

    Attributes:
        efficiency_muon, efficiency_electron, efficiency_hadron: plateau efficiencies
            (hadrons before the losses from nuclear interactions, which are simulated).
        efficiency_brem_loss: the electron efficiency is scaled by ``1 - this * brem fraction``.
        turn_on_pt, turn_on_width: logistic turn-on in pT (50 % point and width), GeV.
        max_vertex_radius: the efficiency falls linearly to zero at this production radius, cm.
        layer_radii: radii of the barrel layers (cm), mapped to disks by the normalised depth
            ``max(r / tracker_radius, |z| / tracker_half_length)``.
        layer_hits: hits per layer (2 for stereo modules).
        n_pixel_layers: the innermost layers that are pixel layers.
        hit_efficiency: probability of a valid hit per module (sensor efficiency and gaps).
        edge_eta, edge_hit_fraction: the hit probability falls linearly from ``edge_eta`` to
            ``edge_hit_fraction`` of itself at the edge of the acceptance.
        min_hits: tracks need at least this many hits.
        reference_hits: tracks with fewer hits get resolutions scaled by sqrt(reference / hits).
        resolution_eta: |eta| nodes of the pT resolution tables.
        pt_res_a, pt_res_b: ``sigma(pT)/pT = a (+) b pT`` at each node (b in 1/GeV).
        phi_res_a, phi_res_b: ``sigma(phi) = a (+) b / pT`` (rad, rad GeV).
        eta_res_a, eta_res_b: ``sigma(eta) = a (+) b / pT``; ``sigma(theta) = sigma(eta) sin(theta)``.
        d0_res_a, d0_res_b: ``sigma(d0) = a (+) b / pT`` (cm, cm GeV).
        dz_res_a, dz_res_b: ``sigma(dz) = (a (+) b / pT) sqrt(cosh eta)`` (cm, cm GeV).
        no_pixel_factor: d0 and dz resolutions of tracks with fewer than two pixel hits grow by this.
        error_fluctuation: log-normal spread of the reported errors around the true resolution.
        gsf_tail: scale of the one-sided electron q/pT tail per unit brem fraction.
        chi2_brem_scale: chi2/ndf of electrons grows by ``1 + this * brem fraction``.
        fake_rate: mean fakes per charged particle in the acceptance.
        fake_pt_min, fake_pt_scale, fake_pt_shape: fake pT = min + scale * Lomax(shape), GeV.
        fake_d0_width, fake_dz_width: Laplace width of fake d0 and Gaussian width of fake dz, cm.
    """

    efficiency_muon: float = fraction(0.99)
    efficiency_electron: float = fraction(0.95)
    efficiency_hadron: float = fraction(0.975)
    efficiency_brem_loss: float = fraction(0.15)
    turn_on_pt: float = non_negative(0.2)
    turn_on_width: float = positive(0.08)
    max_vertex_radius: float = positive(60.0)
    layer_radii: tuple[float, ...] = positive((2.9, 6.8, 10.9, 16.0, 25.5, 33.9, 41.8, 49.8,
                                               60.8, 69.2, 78.0, 86.8, 96.5, 108.0))
    layer_hits: tuple[int, ...] = non_negative((1, 1, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 1, 1))
    n_pixel_layers: int = non_negative(4)
    hit_efficiency: float = fraction(0.85)
    edge_eta: float = bounded(2.0, ge=0, le=10)
    edge_hit_fraction: float = fraction(0.5)
    min_hits: int = positive(6)
    reference_hits: int = positive(12)
    resolution_eta: tuple[float, ...] = bounded((0.0, 0.9, 1.2, 1.6, 2.0, 2.5), ge=0, le=10)
    pt_res_a: tuple[float, ...] = non_negative((0.009, 0.010, 0.013, 0.018, 0.022, 0.030))
    pt_res_b: tuple[float, ...] = non_negative((1.5e-4, 1.7e-4, 2.2e-4, 3.0e-4, 4.0e-4, 6.0e-4))
    phi_res_a: float = non_negative(1.0e-4)
    phi_res_b: float = non_negative(1.5e-3)
    eta_res_a: float = non_negative(2.0e-4)
    eta_res_b: float = non_negative(1.5e-3)
    d0_res_a: float = non_negative(0.0015)
    d0_res_b: float = non_negative(0.0095)
    dz_res_a: float = non_negative(0.0030)
    dz_res_b: float = non_negative(0.0110)
    no_pixel_factor: float = bounded(5.0, ge=1)
    error_fluctuation: float = non_negative(0.1)
    gsf_tail: float = non_negative(0.15)
    chi2_brem_scale: float = non_negative(2.0)
    fake_rate: float = non_negative(0.01)
    fake_pt_min: float = non_negative(0.2)
    fake_pt_scale: float = non_negative(0.6)
    fake_pt_shape: float = positive(2.5)
    fake_d0_width: float = non_negative(0.1)
    fake_dz_width: float = non_negative(5.0)

    def __post_init__(self) -> None:
        super().__post_init__()

        def fail(field: str, expected: str) -> None:
            raise ValueError(f"TrackerConfig.{field}: expected {expected}, got {getattr(self, field)!r}")

        if len(self.layer_radii) != len(self.layer_hits) or np.any(np.diff(self.layer_radii) <= 0):
            fail("layer_radii", "strictly increasing radii, as many as layer_hits")
        if self.n_pixel_layers > len(self.layer_radii):
            fail("n_pixel_layers", f"an integer in [0, {len(self.layer_radii)}]")
        n = len(self.resolution_eta)
        if n < 1 or np.any(np.diff(self.resolution_eta) <= 0):
            fail("resolution_eta", "strictly increasing |eta| nodes")
        for name in ("pt_res_a", "pt_res_b"):
            if len(getattr(self, name)) != n:
                fail(name, f"{n} values, one per resolution_eta node")


@dataclass
class TrackerOutput:
    """Tracks and calorimeter impacts of one event.

    Attributes:
        tracks: every name in ``elements.COMMON_FEATURES + elements.TRACK_FEATURES`` ->
            float64 array (T,); ``type`` is ``ELEMENT_TRACK``.
        track_particle: (T,) int64 index into the input GenParticles; -1 for fake tracks.
        impacts: all showers entering the calorimeters.
    """

    tracks: dict[str, np.ndarray]
    track_particle: np.ndarray
    impacts: CaloImpacts


# ---------------------------------------------------------------------------------------------
# Parametrisations


def track_efficiency(pt: np.ndarray, eta: np.ndarray, vertex_radius: np.ndarray, particle_class: np.ndarray,
                     brem_fraction: np.ndarray, config: TrackerConfig, eta_max: float) -> np.ndarray:
    """Probability to reconstruct a track before the hit requirement, (N,).

    Args:
        pt, eta: true transverse momentum (GeV) and pseudorapidity, (N,).
        vertex_radius: transverse production radius, cm, (N,).
        particle_class: ``TRACK_CLASS_*``, (N,).
        brem_fraction: fraction of the electron energy lost to bremsstrahlung, (N,).
        eta_max: tracker acceptance ``Geometry.tracker_eta_max``.
    """
    plateau = np.choose(np.asarray(particle_class),
                        (config.efficiency_hadron, config.efficiency_electron, config.efficiency_muon))
    plateau = plateau * (1.0 - config.efficiency_brem_loss * np.asarray(brem_fraction))
    turn_on = 1.0 / (1.0 + np.exp(-(np.asarray(pt) - config.turn_on_pt) / config.turn_on_width))
    vertex = np.clip(1.0 - np.asarray(vertex_radius) / config.max_vertex_radius, 0.0, 1.0)
    return np.where(np.abs(eta) < eta_max, plateau * turn_on * vertex, 0.0)


def track_resolutions(pt: np.ndarray, eta: np.ndarray, n_hits: np.ndarray, n_pixel_hits: np.ndarray,
                      config: TrackerConfig) -> dict[str, np.ndarray]:
    """True resolutions of track parameters, (N,) each.

    Returns:
        ``pt`` (relative, of q/pT), ``phi`` (rad), ``theta`` (rad), ``eta``, ``d0`` (cm), ``dz`` (cm).
    """
    pt = np.asarray(pt, dtype=np.float64)
    abseta = np.abs(eta)
    hits = np.sqrt(np.maximum(config.reference_hits / np.maximum(n_hits, 1), 1.0))
    a = np.interp(abseta, config.resolution_eta, config.pt_res_a)
    b = np.interp(abseta, config.resolution_eta, config.pt_res_b)
    sigma_eta = np.hypot(config.eta_res_a, config.eta_res_b / pt) * hits
    no_pixel = np.where(np.asarray(n_pixel_hits) < 2, config.no_pixel_factor, 1.0) * hits
    return {
        "pt": np.hypot(a, b * pt) * hits,
        "phi": np.hypot(config.phi_res_a, config.phi_res_b / pt) * hits,
        "eta": sigma_eta,
        "theta": sigma_eta / np.cosh(eta),
        "d0": np.hypot(config.d0_res_a, config.d0_res_b / pt) * no_pixel,
        "dz": np.hypot(config.dz_res_a, config.dz_res_b / pt) * np.sqrt(np.cosh(eta)) * no_pixel,
    }


def _sample_hits(start: np.ndarray, stop: np.ndarray, eta: np.ndarray, config: TrackerConfig,
                 tracker_radius: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pixel and total hits for tracks crossing the normalised depths (start, stop], (N,) each."""
    layer_depth = np.asarray(config.layer_radii) / tracker_radius
    cum = np.concatenate([[0], np.cumsum(config.layer_hits)])
    first = np.searchsorted(layer_depth, start, side="right")
    last = np.maximum(np.searchsorted(layer_depth, stop, side="right"), first)
    npix = config.n_pixel_layers
    pixel = cum[np.minimum(last, npix)] - cum[np.minimum(first, npix)]
    strip = cum[last] - cum[first] - pixel
    edge = np.interp(np.abs(eta), [config.edge_eta, 2.5], [1.0, config.edge_hit_fraction])
    p_hit = config.hit_efficiency * edge
    n_pixel = rng.binomial(pixel, p_hit)
    return n_pixel, n_pixel + rng.binomial(strip, p_hit)


# ---------------------------------------------------------------------------------------------
# Track features


def _wrap(phi: np.ndarray) -> np.ndarray:
    return (phi + np.pi) % (2.0 * np.pi) - np.pi


#: names of the measured quantities from which :func:`_track_features` derives the features
_MEASURED = ("charge", "pt", "theta", "phi", "d0", "dz", "pt_err", "phi_err", "theta_err", "d0_err", "dz_err",
             "n_hits", "n_pixel_hits", "chi2_ndf", "muon_dt_hits", "muon_csc_hits")


def _track_features(m: dict[str, np.ndarray], geometry: Geometry, max_turns: float) -> dict[str, np.ndarray]:
    """Feature arrays of measured tracks (``_MEASURED`` quantities at the point of closest approach).

    Extrapolations that need more than ``max_turns`` turns to reach a calorimeter face count as
    not reaching it (eta and phi 0 there).
    """
    pt, theta, phi, d0, dz = m["pt"], m["theta"], m["phi"], m["d0"], m["dz"]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt / np.tan(theta)
    vx, vy = -d0 * np.sin(phi), d0 * np.cos(phi)
    feats = {name: np.asarray(m[name], dtype=np.float64) for name in _MEASURED if name != "theta"}
    feats.update({
        "type": np.full(len(pt), float(ELEMENT_TRACK)), "eta": -np.log(np.tan(0.5 * theta)),
        "energy": np.sqrt(pt**2 + pz**2 + _PION_MASS**2), "eta_err": m["theta_err"] / np.sin(theta),
        "px": px, "py": py, "pz": pz, "vx": vx, "vy": vy, "vz": dz, "theta": theta,
        "lambda_": 0.5 * np.pi - theta, "lambda_err": m["theta_err"],
    })
    helix = Helix.from_momentum(vx, vy, dz, px, py, pz, m["charge"], geometry.b_field)
    hit = intersect_surface(helix, np.array([[geometry.ecal_radius], [geometry.hcal_radius]]),
                            np.array([[geometry.ecal_z], [geometry.hcal_z]]), max_turns)      # (2, T)
    eta_s, phi_s = position_eta_phi(hit.x, hit.y, hit.z)
    eta_s, phi_s = np.where(hit.hit, eta_s, 0.0), np.where(hit.hit, phi_s, 0.0)
    feats["eta_ecal"], feats["eta_hcal"] = eta_s
    feats["phi_ecal"], feats["phi_hcal"] = phi_s
    return {name: feats[name] for name in COMMON_FEATURES + TRACK_FEATURES}


def _reported(sigma: dict[str, np.ndarray], config: TrackerConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fit uncertainties ``<name>_err``: the resolutions with a log-normal per-track fluctuation."""
    noise = np.exp(config.error_fluctuation * rng.standard_normal((5, len(sigma["pt"]))))
    return {f"{k}_err": sigma[k] * f for k, f in zip(("pt", "phi", "theta", "d0", "dz"), noise)}


def _chi2_ndf(n_hits: np.ndarray, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ndf = np.maximum(2 * n_hits - 5, 1)
    return rng.chisquare(ndf) / ndf * scale


def _measure(cands: ParticleState, particle_class: np.ndarray, brem_fraction: np.ndarray,
             stop_depth: np.ndarray, geometry: Geometry, tracker: TrackerConfig, muon: MuonConfig,
             rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Measured quantities of the reconstructed candidates, their indices, and the charged multiplicity."""
    rt, zt = geometry.tracker_radius, geometry.tracker_half_length
    helix = cands.helix(geometry.b_field)
    pt, p = helix.pt, helix.p
    eta = np.arcsinh(helix.pz / pt)
    # how deep a curling track gets: the whole circle stays inside r_max, and a half turn
    # takes it to z_half
    kabs = np.maximum(np.abs(helix.kappa), 1e-12)
    signed_radius = np.copysign(1.0 / kabs, helix.kappa)
    r_max = np.hypot(helix.x + helix.sin_phi * signed_radius, helix.y - helix.cos_phi * signed_radius) + 1.0 / kabs
    z_half = helix.z + np.pi / kabs * helix.pz / pt
    leaves = (r_max >= rt) | (np.abs(z_half) >= zt)
    stop = np.minimum(np.where(leaves, 1.0, np.maximum(r_max / rt, np.abs(z_half) / zt)), stop_depth)
    n_pixel, n_hits = _sample_hits(box_depth(cands.x, cands.y, cands.z, rt, zt), stop, eta, tracker, rt, rng)
    efficiency = track_efficiency(pt, eta, np.hypot(cands.x, cands.y), particle_class, brem_fraction,
                                  tracker, geometry.tracker_eta_max)
    found = (rng.random(len(cands)) < efficiency) & (n_hits >= tracker.min_hits)
    n_charged = int(np.count_nonzero(np.abs(eta) < geometry.tracker_eta_max))

    idx = np.flatnonzero(found)
    cls, brem = particle_class[idx], brem_fraction[idx]
    n_hits, n_pixel = n_hits[idx], n_pixel[idx]
    h = helix.take(idx)
    pca = closest_approach(h)
    eta_true = eta[idx]
    sigma = track_resolutions(h.pt, eta_true, n_hits, n_pixel, tracker)
    noise = rng.standard_normal((6, len(idx)))
    tail = tracker.gsf_tail * brem
    omega = np.sign(cands.charge[idx]) / h.pt * (1.0 + sigma["pt"] * noise[0] + tail * np.abs(noise[1]))
    m = _reported(sigma, tracker, rng)
    m["pt"] = 1.0 / np.maximum(np.abs(omega), 1e-12)
    m["pt_err"] = np.hypot(m["pt_err"], tail) * m["pt"]
    m["charge"] = np.where(omega >= 0, 1, -1)
    m["theta"] = np.clip(np.arctan2(h.pt, h.pz) + sigma["theta"] * noise[2], 1e-6, np.pi - 1e-6)
    m["phi"] = _wrap(pca.phi + sigma["phi"] * noise[3])
    m["d0"] = pca.d0 + sigma["d0"] * noise[4]
    m["dz"] = pca.z0 + sigma["dz"] * noise[5]
    interacted = stop_depth[idx] < 1.0
    m["n_hits"], m["n_pixel_hits"] = n_hits, n_pixel
    m["chi2_ndf"] = _chi2_ndf(n_hits, (1.0 + tracker.chi2_brem_scale * brem) * np.where(interacted, 1.3, 1.0), rng)
    m["muon_dt_hits"], m["muon_csc_hits"] = muon_station_hits(
        p[idx], eta_true, cands.energy[idx], cls == TRACK_CLASS_MUON, (cls == TRACK_CLASS_HADRON) & ~interacted,
        muon, geometry.muon_eta_max, rng)
    return m, idx, n_charged


def _fakes(n: int, geometry: Geometry, tracker: TrackerConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Measured quantities of ``n`` fake tracks: mostly low pT, random directions and impact parameters."""
    eta_max = geometry.tracker_eta_max
    pt = tracker.fake_pt_min + tracker.fake_pt_scale * rng.pareto(tracker.fake_pt_shape, n)
    eta = rng.uniform(-eta_max, eta_max, n)
    n_hits = rng.integers(tracker.min_hits, tracker.min_hits + 7, n)
    n_pixel = np.minimum(rng.integers(0, tracker.n_pixel_layers + 1, n), n_hits)
    m = _reported(track_resolutions(pt, eta, n_hits, n_pixel, tracker), tracker, rng)
    m["pt_err"] = m["pt_err"] * pt
    m.update({
        "charge": rng.choice(np.array([-1, 1]), n), "pt": pt, "theta": 2.0 * np.arctan(np.exp(-eta)),
        "phi": rng.uniform(-np.pi, np.pi, n), "d0": rng.laplace(0.0, tracker.fake_d0_width, n),
        "dz": rng.normal(0.0, tracker.fake_dz_width, n), "n_hits": n_hits, "n_pixel_hits": n_pixel,
        "chi2_ndf": _chi2_ndf(n_hits, np.full(n, 2.5), rng),
        "muon_dt_hits": np.zeros(n, dtype=np.int64), "muon_csc_hits": np.zeros(n, dtype=np.int64),
    })
    return m


def _reconstruct(cands: ParticleState, particle_class: np.ndarray, brem_fraction: np.ndarray,
                 stop_depth: np.ndarray, geometry: Geometry, tracker: TrackerConfig, muon: MuonConfig,
                 max_turns: float, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Track features of the reconstructed candidates followed by the fakes, and their truth links."""
    real, idx, n_charged = _measure(cands, particle_class, brem_fraction, stop_depth, geometry, tracker, muon, rng)
    n_fake = int(rng.poisson(tracker.fake_rate * n_charged))
    fake = _fakes(n_fake, geometry, tracker, rng)
    measured = {name: np.concatenate([real[name], fake[name]]) for name in _MEASURED}
    links = np.concatenate([cands.index[idx], np.full(n_fake, -1, dtype=np.int64)])
    return _track_features(measured, geometry, max_turns), links


# ---------------------------------------------------------------------------------------------
# Calorimeter impacts


def _to_calorimeters(states: ParticleState, geometry: Geometry, max_turns: float) -> CaloImpacts:
    """Impacts on the ECAL (or HF) and HCAL front faces of the states that reach them.

    Loopers, which reach no face or only after ``max_turns`` turns, leave no impact.
    """
    if len(states) == 0:
        return CaloImpacts.empty()
    helix = states.helix(geometry.b_field)
    both = intersect_surface(helix, np.array([[geometry.ecal_radius], [geometry.hcal_radius]]),
                             np.array([[geometry.ecal_z], [geometry.hcal_z]]), max_turns)     # (2, M)
    ecal = SurfaceHit(*(getattr(both, f.name)[0] for f in fields(SurfaceHit)))
    hcal = SurfaceHit(*(getattr(both, f.name)[1] for f in fields(SurfaceHit)))
    keep = ecal.hit
    x, y, z = ecal.x, ecal.y, ecal.z
    # |eta| of a point above eta0  <=>  |z| > r sinh(eta0)
    forward = keep & (np.abs(z) > np.hypot(x, y) * np.sinh(geometry.calo_eta_max))
    t = states.t + time_of_flight(path_length(helix, ecal.s), helix.p, states.energy)
    if forward.any():
        # the field is negligible beyond the ECAL endcap face: straight line to the HF face
        pz = np.where(forward, ecal.pz, 1.0)
        step = np.where(forward, (np.copysign(geometry.hf_z, pz) - z) / pz, 0.0)     # cm per GeV
        x, y, z = x + step * ecal.px, y + step * ecal.py, z + step * ecal.pz
        t = t + step * states.energy / C_LIGHT
        r, abs_z = np.hypot(x, y), np.abs(z)
        inside = (abs_z > r * np.sinh(geometry.hf_eta_min)) & (abs_z < r * np.sinh(geometry.hf_eta_max))
        keep &= ~forward | inside
    use_ecal = forward | ~hcal.hit
    sel = np.flatnonzero(keep)
    fwd = forward[sel]
    return CaloImpacts(
        particle=states.index[sel], kind=states.kind[sel], surface=np.where(fwd, SURFACE_HF, SURFACE_CALO),
        energy=states.energy[sel], x=x[sel], y=y[sel], z=z[sel],
        x_hcal=np.where(use_ecal, x, hcal.x)[sel], y_hcal=np.where(use_ecal, y, hcal.y)[sel],
        z_hcal=np.where(use_ecal, z, hcal.z)[sel], t=t[sel],
        nuclear_depth=np.where(states.interacted[sel], 0.0, np.nan))


# ---------------------------------------------------------------------------------------------
# Entry point


def _empty_tracks() -> dict[str, np.ndarray]:
    return {name: np.zeros(0) for name in COMMON_FEATURES + TRACK_FEATURES}


def propagate_and_track(particles: GenParticles, geometry: Geometry, tracker: TrackerConfig,
                        material: MaterialConfig, muon: MuonConfig, rng: np.random.Generator) -> TrackerOutput:
    """Propagate generator particles to the calorimeters and reconstruct their tracks.

    Args:
        particles: the event's final-state particles, (N,).
        geometry, tracker, material, muon: detector description.
        rng: the event's random stream; the output is a pure function of the inputs and its state.

    Returns:
        Tracks (real ones in particle order, then fakes), their truth links and the calorimeter impacts.
    """
    if len(particles) == 0:
        return TrackerOutput(_empty_tracks(), np.zeros(0, dtype=np.int64), CaloImpacts.empty())
    apid = np.abs(particles.pid)
    depth = box_depth(particles.vx, particles.vy, particles.vz, geometry.ecal_radius, geometry.ecal_z)
    moving = (particles.px != 0) | (particles.py != 0) | (particles.pz != 0)
    visible = moving & (particles.energy > 0) & (depth < 1.0)
    for invisible in INVISIBLE_PIDS:
        visible &= apid != invisible
    sel = np.flatnonzero(visible)
    apid = apid[sel]
    kind = np.where((apid == 11) | (apid == 22), KIND_EM, np.where(apid == 13, KIND_MIP, KIND_HADRON))
    states = ParticleState(
        sel, particles.pid[sel], kind, particles.charge[sel], particles.vx[sel], particles.vy[sel],
        particles.vz[sel], particles.px[sel], particles.py[sel], particles.pz[sel], particles.energy[sel],
        particles.mass[sel], particles.t[sel], material_fraction(depth[sel], material), np.zeros(len(sel), bool))

    is_photon, is_electron, is_muon = apid == 22, apid == 11, apid == 13
    is_hadron = kind == KIND_HADRON
    photons = states.take(is_photon)
    hadrons = states.take(is_hadron)
    electrons = states.take(is_electron)
    conversions = convert_photons(photons, material, geometry, rng)
    nuclear = interact_hadrons(hadrons, material, geometry, rng)
    brem = radiate(ParticleState.concatenate([electrons, conversions.legs]), material, geometry, rng)
    n_el = len(electrons)
    final_electrons = brem.electrons.take(brem.alive)
    # neutral and charged states apart, so that the straight lines take the cheap formulas
    neutral_hadron = hadrons.charge == 0
    impacts = CaloImpacts.concatenate([
        _to_calorimeters(ParticleState.concatenate([
            photons.take(~conversions.converted), hadrons.take(~nuclear.interacted & neutral_hadron),
            nuclear.secondaries, brem.photons]), geometry, material.max_loop_turns),
        _to_calorimeters(ParticleState.concatenate([
            final_electrons, states.take(is_muon), hadrons.take(~nuclear.interacted & ~neutral_hadron)]),
            geometry, material.max_loop_turns)])

    # track candidates: charged particles and conversion legs produced inside the tracker volume
    rt, zt = geometry.tracker_radius, geometry.tracker_half_length
    brem_fraction = np.zeros(len(states))
    brem_fraction[is_electron] = brem.lost_fraction[:n_el]
    stop_depth = np.ones(len(states))
    stop_depth[is_hadron] = np.where(nuclear.interacted, box_depth(nuclear.x, nuclear.y, nuclear.z, rt, zt), 1.0)
    particle_class = np.where(is_electron, TRACK_CLASS_ELECTRON, np.where(is_muon, TRACK_CLASS_MUON,
                                                                         TRACK_CLASS_HADRON))
    gen_cand = (states.charge != 0) & (box_depth(states.x, states.y, states.z, rt, zt) < 1.0)
    legs = conversions.legs
    leg_cand = box_depth(legs.x, legs.y, legs.z, rt, zt) < 1.0
    cands = ParticleState.concatenate([states.take(gen_cand), legs.take(leg_cand)])
    n_legs = int(leg_cand.sum())
    tracks, track_particle = _reconstruct(
        cands,
        np.concatenate([particle_class[gen_cand], np.full(n_legs, TRACK_CLASS_ELECTRON)]),
        np.concatenate([brem_fraction[gen_cand], brem.lost_fraction[n_el:][leg_cand]]),
        np.concatenate([stop_depth[gen_cand], np.ones(n_legs)]),
        geometry, tracker, muon, material.max_loop_turns, rng)
    return TrackerOutput(tracks, track_particle.astype(np.int64), impacts)
