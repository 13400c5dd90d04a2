"""Missing transverse momentum: the negative vector sum of particle pT, and its performance figures.

Resolution and response are measured against the generator MET (the neutrino pT sum), with
errors from resampling events (:func:`colliderflow.physics.uncertainty.event_bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable

import awkward as ak
import numpy as np

from colliderflow.physics.uncertainty import event_bootstrap

__all__ = ["met", "type1_met", "met_xy_resolution", "met_response_median", "met_projected_response_median"]


def met(pt: ak.Array, phi: ak.Array, weight: ak.Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(MET, MET phi) per event, GeV and rad, from jagged particle pT and phi."""
    w = 1.0 if weight is None else weight
    mx = -ak.to_numpy(ak.sum(pt * w * np.cos(phi), axis=1))
    my = -ak.to_numpy(ak.sum(pt * w * np.sin(phi), axis=1))
    return np.hypot(mx, my), np.arctan2(my, mx)


def type1_met(met_x: np.ndarray, met_y: np.ndarray, jet_pt: ak.Array, jet_phi: ak.Array, jet_pt_corrected: ak.Array,
              min_pt: float = 15.0, jet_offset: ak.Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Type-1 corrected MET: the jet energy corrections, less the pileup offset, propagated to the MET.

    MET_T1 = MET_raw - sum over jets with corrected pT > ``min_pt`` of (pT_L123 - pT_L1)(cos phi, sin phi),
    with pT_L123 the fully corrected pT and pT_L1 = max(pT_raw - offset, 0) the raw pT less the
    pileup offset (CMS: L123 - L1). The raw MET already holds the pileup inside jets as it holds
    all other pileup, which balances over the event; subtracting it from jets alone would
    unbalance it. Our corrections are one factor per jet that includes the offset, so
    pT_L123 - pT_L1 = (pT_corr - pT_raw) + offset. ``jet_offset`` None (collections without an
    offset step: PUPPI, as in CMS) propagates pT_corr - pT_raw.

    Args:
        met_x, met_y: (events,) raw MET components, GeV.
        jet_pt, jet_phi, jet_pt_corrected: (events, jets) raw pT (GeV), phi (rad), corrected pT (GeV).
        min_pt: corrected-pT threshold of the jets that enter, GeV.
        jet_offset: (events, jets) pileup offset of each jet, GeV (:func:`colliderflow.physics.offset.jet_offset`).

    Returns:
        (met_x, met_y) after the correction, (events,) GeV.
    """
    use = jet_pt_corrected > min_pt
    l1 = jet_pt if jet_offset is None else np.maximum(jet_pt - jet_offset, 0.0)
    delta = (jet_pt_corrected - l1)[use]
    phi = jet_phi[use]
    dx = ak.to_numpy(ak.sum(delta * np.cos(phi), axis=1))
    dy = ak.to_numpy(ak.sum(delta * np.sin(phi), axis=1))
    return np.asarray(met_x, dtype=float) - dx, np.asarray(met_y, dtype=float) - dy


def _xy_halfwidth(dx: np.ndarray, dy: np.ndarray) -> float:
    q16, q84 = np.percentile(np.concatenate([dx, dy]), [16, 84])
    return float((q84 - q16) / 2)


def met_xy_resolution(dx: np.ndarray, dy: np.ndarray, rng: np.random.Generator,
                      n_boot: int = 200) -> tuple[float, float]:
    """MET x/y resolution, GeV: half the 16-84% width of the x and y residuals pooled, and its error.

    For Gaussian residuals of width sigma this is 0.995 sigma, and its standard error
    0.68 sigma / sqrt(events) (quantile variance q(1-q) / (n f(x_q)^2), n = 2 events).

    Args:
        dx, dy: (events,) reco minus generator MET, x and y components, GeV.
        rng: generator of the event bootstrap (an event's x and y residuals are drawn together).
        n_boot: bootstrap replicas.

    Returns:
        (resolution, bootstrap standard error), GeV; NaN error for fewer than 2 events.
    """
    return event_bootstrap(_xy_halfwidth, [dx, dy], rng, n_boot)


def _median_ratio(reco: np.ndarray, gen: np.ndarray) -> float:
    return float(np.median(reco / gen))


def met_response_median(met_reco: np.ndarray, met_gen: np.ndarray, rng: np.random.Generator,
                        min_gen_gev: float = 20.0, min_events: int = 10,
                        n_boot: int = 200) -> tuple[float, float]:
    """Median MET response reco / gen over events with generator MET above ``min_gen_gev``, and its error.

    Args:
        met_reco, met_gen: (events,) MET magnitudes, GeV.
        rng: generator of the event bootstrap.
        min_gen_gev: events with a smaller generator MET (no true MET to respond to) are left out.
        min_events: fewer selected events than this give (NaN, NaN).
        n_boot: bootstrap replicas.

    Returns:
        (median response, bootstrap standard error), dimensionless.
    """
    met_reco, met_gen = np.asarray(met_reco, dtype=float), np.asarray(met_gen, dtype=float)
    return _above_gen_met(_median_ratio, [met_reco, met_gen], met_gen, rng, min_gen_gev, min_events, n_boot)


def _above_gen_met(stat: Callable[..., float], arrays: list[np.ndarray], met_gen: np.ndarray, rng: np.random.Generator,
                   min_gen_gev: float, min_events: int, n_boot: int) -> tuple[float, float]:
    """``stat`` of ``arrays`` over the events with generator MET above ``min_gen_gev`` and its
    bootstrap error; (NaN, NaN) when fewer than ``min_events`` are left."""
    sel = met_gen > min_gen_gev
    if sel.sum() < max(min_events, 1):
        return float("nan"), float("nan")
    return event_bootstrap(stat, [a[sel] for a in arrays], rng, n_boot)


def _median_projection(mx: np.ndarray, my: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> float:
    return float(np.median((mx * gx + my * gy) / (gx * gx + gy * gy)))


def met_projected_response_median(met_x: np.ndarray, met_y: np.ndarray, gen_x: np.ndarray, gen_y: np.ndarray,
                                  rng: np.random.Generator, min_gen_gev: float = 20.0, min_events: int = 10,
                                  n_boot: int = 200) -> tuple[float, float]:
    """Median MET scale: the reconstructed MET projected on the generator MET direction, over the generator MET.

    The response CMS quotes is a projection (-u_par / q_T of the recoil, JINST 14 (2019) P07004):
    resolution smearing averages out of a projection, while it biases the magnitude ratio of
    :func:`met_response_median` upwards. A perfectly calibrated MET with 36 GeV x/y resolution
    on ttbar's generator MET (events above 20 GeV) has a median magnitude ratio of about 1.2 and
    a median projected ratio of 1.00; the magnitude ratio measures the resolution as much as
    the scale.

    Args:
        met_x, met_y: (events,) reconstructed MET components, GeV.
        gen_x, gen_y: (events,) generator MET components, GeV.
        rng: generator of the event bootstrap.
        min_gen_gev: events with a smaller generator MET (no direction to project on) are left out.
        min_events: fewer selected events than this give (NaN, NaN).
        n_boot: bootstrap replicas.

    Returns:
        (median of MET . u_gen / |MET_gen|, bootstrap standard error), dimensionless.
    """
    mx, my = np.asarray(met_x, dtype=float), np.asarray(met_y, dtype=float)
    gx, gy = np.asarray(gen_x, dtype=float), np.asarray(gen_y, dtype=float)
    return _above_gen_met(_median_projection, [mx, my, gx, gy], np.hypot(gx, gy), rng, min_gen_gev, min_events, n_boot)
