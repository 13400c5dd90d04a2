"""Detector geometry shared by tracking and calorimetry: surfaces and acceptances.

Defaults follow the CMS detector (JINST 3 (2008) S08004). Lengths in cm, field in T.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Geometry"]


@dataclass(frozen=True)
class Geometry:
    """Cylindrical surfaces of the detector.

    Attributes:
        b_field: solenoid field along +z inside the coil, T.
        tracker_radius, tracker_half_length: outer envelope of the tracker, cm.
        tracker_eta_max: tracking acceptance |eta| <.
        ecal_radius: inner radius of the ECAL barrel (front face), cm.
        ecal_z: |z| of the ECAL endcap front face, cm.
        ecal_barrel_eta_max: barrel/endcap boundary in |eta|.
        calo_eta_max: outer |eta| of ECAL and HCAL endcaps.
        hcal_radius: inner radius of the HCAL barrel, cm.
        hcal_z: |z| of the HCAL endcap front face, cm.
        hcal_barrel_eta_max: HCAL barrel/endcap boundary in |eta|.
        hf_z: |z| of the HF front face, cm.
        hf_eta_min, hf_eta_max: HF acceptance in |eta|.
        coil_radius: outer radius of the field volume, cm (muons bend back outside).
        muon_eta_max: muon system acceptance |eta| <.
    """

    b_field: float = 3.8
    tracker_radius: float = 110.0
    tracker_half_length: float = 280.0
    tracker_eta_max: float = 2.5
    ecal_radius: float = 129.0
    ecal_z: float = 315.4
    ecal_barrel_eta_max: float = 1.479
    calo_eta_max: float = 3.0
    hcal_radius: float = 177.7
    hcal_z: float = 388.0
    hcal_barrel_eta_max: float = 1.3
    hf_z: float = 1115.0
    hf_eta_min: float = 3.0
    hf_eta_max: float = 5.0
    coil_radius: float = 295.0
    muon_eta_max: float = 2.4
