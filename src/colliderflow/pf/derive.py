"""Derive the PF hadron calibration of a detector card from single neutral-hadron guns."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from colliderflow.generate.guns import GunConfig
from colliderflow.generate.source import EventSource, GenerationConfig
from colliderflow.pf.calibration import HadronCalibration, fit_calibration
from colliderflow.physics.jets import delta_r
from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_HCAL
from colliderflow.simulate.card import load_card
from colliderflow.simulate.detector import simulate_event
from colliderflow.utils.rng import event_rng

__all__ = ["gun_calorimeter_response", "derive_calibration"]


def gun_calorimeter_response(detector: str, particle: str, events: int, seed: int = 0,
                             pt_range: tuple[float, float] = (0.5, 1000.0), eta_max: float = 3.0,
                             cone_ecal: float = 0.3, cone_hcal: float = 0.4,
                             progress: bool = True) -> dict[str, np.ndarray]:
    """Raw ECAL and HCAL cluster energies around single-particle gun events.

    Returns:
        ``e_ecal``, ``e_hcal`` (sum of raw cluster energies within the cones around the
        particle direction), ``eta``, ``e_true``; arrays of shape (events,).
    """
    card = load_card(detector)
    gun = GunConfig(particle, pt_range[0], pt_range[1], -eta_max, eta_max, 1)
    source = EventSource(GenerationConfig(process="gun", seed=seed, gun=gun))
    out = {k: np.zeros(events) for k in ("e_ecal", "e_hcal", "eta", "e_true")}
    for i in tqdm(range(events), desc=f"{particle} gun ({detector})", unit="ev", disable=not progress):
        ev = source.generate(i)
        p = ev.particles
        sim = simulate_event(p, card, event_rng(seed, i, "simulate"))
        x = sim.elements
        dr = delta_r(x["eta"], x["phi"], p.eta[0], p.phi[0])
        ecal = (x["type"] == ELEMENT_ECAL) & (dr < cone_ecal)
        hcal = (x["type"] == ELEMENT_HCAL) & (dr < cone_hcal)
        out["e_ecal"][i] = x["energy"][ecal].sum()
        out["e_hcal"][i] = x["energy"][hcal].sum()
        out["eta"][i] = p.eta[0]
        out["e_true"][i] = p.energy[0]
    return out


def derive_calibration(detector: str, events: int = 20000, seed: int = 12345,
                       progress: bool = True) -> HadronCalibration:
    """Fit the hadron calibration of ``detector`` on K0L and neutron guns (half each)."""
    parts = [gun_calorimeter_response(detector, name, events // 2, seed + k, progress=progress)
             for k, name in enumerate(("k0l", "n"))]
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    central = np.abs(data["eta"]) < 2.8  # the HCAL-HF transition region is left out of the fit
    return fit_calibration(data["e_ecal"][central], data["e_hcal"][central], data["eta"][central],
                           data["e_true"][central])
