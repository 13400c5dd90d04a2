"""Detector geometry shared by tracking and calorimetry: surfaces and acceptances.

Defaults follow the CMS detector (JINST 3 (2008) S08004). Lengths in cm, field in T.
"""

from __future__ import annotations

from dataclasses import dataclass

from colliderflow.utils.config import RangeChecked, bounded, positive

__all__ = ["Geometry"]


@dataclass(frozen=True)
class Geometry(RangeChecked):
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

    Surfaces nest: tracker < ECAL < HCAL (< HF in z), and the field volume holds the tracker.
    """

    b_field: float = positive(3.8)
    tracker_radius: float = positive(110.0)
    tracker_half_length: float = positive(280.0)
    tracker_eta_max: float = bounded(2.5, gt=0, le=10)
    ecal_radius: float = bounded(129.0, gt="tracker_radius")
    ecal_z: float = bounded(315.4, gt="tracker_half_length")
    ecal_barrel_eta_max: float = bounded(1.479, gt=0, lt="calo_eta_max")
    calo_eta_max: float = bounded(3.0, gt=0, le=10)
    hcal_radius: float = bounded(177.7, gt="ecal_radius")
    hcal_z: float = bounded(388.0, gt="ecal_z")
    hcal_barrel_eta_max: float = bounded(1.3, gt=0, lt="calo_eta_max")
    hf_z: float = bounded(1115.0, gt="hcal_z")
    hf_eta_min: float = bounded(3.0, gt=0, le=10)
    hf_eta_max: float = bounded(5.0, gt="hf_eta_min", le=10)
    coil_radius: float = bounded(295.0, ge="tracker_radius")
    muon_eta_max: float = bounded(2.4, gt=0, le=10)
