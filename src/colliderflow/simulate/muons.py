"""Muon system hits: drift tubes (barrel) and cathode strip chambers (endcaps).

CMS-like layout (JINST 3 (2008) S08004, ch. 7): four stations in each region. DT stations
cover |eta| < 1.2 (the outer ones a little less) with 12 hits (8 r-phi + 4 r-z layers) in
stations 1-3 and 8 in station 4; CSC stations cover 0.9 < |eta| < 2.4 with 6 layers each.
A muon reaches station k if its momentum exceeds a threshold (the energy lost in the
calorimeters, the coil and the return yoke) that grows with |eta| and with k. High-energy
hadrons rarely punch through the calorimeters and leave a few hits in the first station.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.utils.config import RangeChecked, bounded, fraction, non_negative

__all__ = ["MuonConfig", "muon_station_hits"]

_N_STATIONS = 4


@dataclass(frozen=True)
class MuonConfig(RangeChecked):
    """Acceptance, reach and efficiency of the muon chambers.

    Attributes:
        dt_eta_max: |eta| < this for DT stations 1-4.
        csc_eta_min: |eta| > this for CSC stations 1-4 (up to the system's ``muon_eta_max``).
        dt_hits_per_station: layers of DT stations 1-4.
        csc_hits_per_station: layers of every CSC station.
        threshold_eta, threshold_p: momentum (GeV) needed to reach station 1 vs |eta|.
        threshold_step: extra momentum (GeV) per further station.
        threshold_spread: relative Gaussian spread of the threshold (energy-loss fluctuations).
        station_efficiency: probability that a reached station is live (cracks, dead chambers).
        hit_efficiency: probability of a hit per layer.
        punch_through_probability: probability of punch-through for a 10 GeV hadron;
            scales as sqrt(E / 10 GeV), capped at 5 %.
        punch_through_min_energy: hadrons below this energy (GeV) never punch through.
        punch_through_hit_fraction: fraction of the station-1 layers a punch-through fires.
    """

    dt_eta_max: tuple[float, ...] = bounded((1.2, 1.15, 1.05, 0.95), ge=0, le=10)
    csc_eta_min: tuple[float, ...] = bounded((0.9, 0.95, 1.05, 1.1), ge=0, le=10)
    dt_hits_per_station: tuple[int, ...] = non_negative((12, 12, 12, 8))
    csc_hits_per_station: int = non_negative(6)
    threshold_eta: tuple[float, ...] = bounded((0.0, 1.2, 2.4), ge=0, le=10)
    threshold_p: tuple[float, ...] = non_negative((3.0, 4.0, 5.0))
    threshold_step: float = non_negative(0.5)
    threshold_spread: float = non_negative(0.1)
    station_efficiency: float = fraction(0.97)
    hit_efficiency: float = fraction(0.95)
    punch_through_probability: float = fraction(0.003)
    punch_through_min_energy: float = non_negative(5.0)
    punch_through_hit_fraction: float = fraction(0.5)

    def __post_init__(self) -> None:
        super().__post_init__()

        def fail(field: str, expected: str) -> None:
            raise ValueError(f"MuonConfig.{field}: expected {expected}, got {getattr(self, field)!r}")

        for name in ("dt_eta_max", "csc_eta_min", "dt_hits_per_station"):
            if len(getattr(self, name)) != _N_STATIONS:
                fail(name, f"{_N_STATIONS} values, one per station")
        if len(self.threshold_eta) != len(self.threshold_p) or np.any(np.diff(self.threshold_eta) <= 0):
            fail("threshold_eta", "strictly increasing |eta| nodes, as many as threshold_p")


def muon_station_hits(p: np.ndarray, eta: np.ndarray, energy: np.ndarray, is_muon: np.ndarray,
                      is_hadron: np.ndarray, config: MuonConfig, eta_max: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Number of DT and CSC hits of particles, (N,) int64 each.

    Args:
        p, eta, energy: momentum (GeV), direction pseudorapidity and energy (GeV) at the vertex, (N,).
        is_muon: muons, which reach stations according to their momentum, (N,).
        is_hadron: hadrons, which may punch through into station 1, (N,).
        eta_max: outer |eta| of the muon system (``Geometry.muon_eta_max``).

    Returns:
        ``(dt_hits, csc_hits)``.
    """
    n = len(p)
    abseta = np.abs(eta)
    inside = abseta < eta_max
    stations = np.arange(_N_STATIONS)
    threshold = np.interp(abseta, config.threshold_eta, config.threshold_p)
    threshold = threshold[:, None] * (1.0 + config.threshold_spread * rng.standard_normal((n, 1)))
    reach = (np.asarray(p)[:, None] > threshold + config.threshold_step * stations) & (is_muon & inside)[:, None]

    punch_probability = np.minimum(config.punch_through_probability * np.sqrt(np.asarray(energy) / 10.0), 0.05)
    punch = (is_hadron & inside & (energy > config.punch_through_min_energy)
             & (rng.random(n) < punch_probability))
    reach[:, 0] |= punch
    live = reach & (rng.random((n, _N_STATIONS)) < config.station_efficiency)

    layer_eff = np.where(punch, config.hit_efficiency * config.punch_through_hit_fraction, config.hit_efficiency)
    dt_live = live & (abseta[:, None] < np.asarray(config.dt_eta_max))
    csc_live = live & (abseta[:, None] > np.asarray(config.csc_eta_min))
    dt_layers = np.where(dt_live, np.asarray(config.dt_hits_per_station), 0)
    csc_layers = np.where(csc_live, config.csc_hits_per_station, 0)
    dt = rng.binomial(dt_layers, layer_eff[:, None]).sum(axis=1)
    csc = rng.binomial(csc_layers, layer_eff[:, None]).sum(axis=1)
    return dt.astype(np.int64), csc.astype(np.int64)
