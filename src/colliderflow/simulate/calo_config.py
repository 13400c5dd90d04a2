"""Configuration of the calorimeters: ECAL, HCAL and HF cell sizes, shower-model parameters,
noise, zero-suppression thresholds, timing and the tabulated cluster responses (CMS-like
defaults, CMS JINST 3 (2008) S08004).

Each config validates itself on construction: the ranges are declared on the fields, the shapes
of the response tables and depth boundaries are checked in ``__post_init__``. Detector cards
(:mod:`colliderflow.simulate.card`) hold one of each. Units: GeV, cm, ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.schema.elements import N_DEPTH_LAYERS
from colliderflow.utils.config import RangeChecked, bounded, fraction, non_negative, positive

__all__ = ["EcalConfig", "HcalConfig", "HfConfig"]


_CMS_HCAL_ETA_EDGES = tuple(round(0.087 * i, 3) for i in range(21)) + (
    1.830, 1.930, 2.043, 2.172, 2.322, 2.500, 2.650, 2.868, 3.000)


def _validate_response(cfg: object, energies: str, tables: tuple[str, ...]) -> None:
    """Shapes of a response table (the ranges of its values are declared on the fields)."""
    name = type(cfg).__name__
    e = np.asarray(getattr(cfg, energies), dtype=float)
    if e.size < 1 or np.any(np.diff(e) <= 0):
        raise ValueError(f"{name}.{energies}: expected increasing positive energies, got {getattr(cfg, energies)!r}")
    for table in tables:
        r = np.asarray(getattr(cfg, table), dtype=float)
        if r.shape != e.shape:
            raise ValueError(f"{name}.{table}: expected {e.size} positive responses (one per "
                             f"{energies} value), got {getattr(cfg, table)!r}")


@dataclass(frozen=True)
class EcalConfig(RangeChecked):
    """The PbWO4 electromagnetic calorimeter (CMS-like defaults).

    Attributes:
        barrel_cell_deta: EB crystal size in eta (the barrel is split into equal rings).
        barrel_phi_cells: number of EB crystals in phi (360: 0.0174 rad).
        endcap_cell_size: EE crystal front-face pitch, cm.
        moliere_radius: Molière radius R_M, cm.
        lateral_core, lateral_tail: widths of the core and tail Gaussians of the EM lateral
            profile, in units of R_M (defaults give ~92% in 3x3 and ~97% in 5x5 crystals,
            averaged over the impact position).
        lateral_tail_fraction: energy fraction in the tail Gaussian.
        radiation_lengths: depth of the crystals, X0.
        critical_energy: critical energy of PbWO4, GeV (sets the shower maximum).
        longitudinal_b: slope b of the Gamma longitudinal profile (0.6: 120 GeV electrons leak
            ~0.3% out of the back, as in CMS).
        stochastic: stochastic term a of sigma/E = a/sqrt(E) (+) n/E (+) c, sqrt(GeV).
        constant: constant term c.
        noise_barrel, noise_endcap: electronic noise per crystal, GeV (3x3 crystals give the
            noise term n: 0.12 GeV in EB).
        threshold_barrel, threshold_endcap: zero-suppression threshold per crystal, GeV.
        interaction_lengths: depth of the ECAL in nuclear interaction lengths lambda_I.
        hadron_response: response to the non-EM part of hadron showers relative to EM (h/e).
        hadron_lateral_core, hadron_lateral_halo: core and halo Gaussian widths of the part of a
            hadron shower deposited in the ECAL (its first lambda_I, still narrow), cm.
        hadron_halo_fraction: energy fraction in that halo.
        mip_mpv, mip_width: most probable value and Moyal width of a MIP crossing the ECAL, GeV.
        time_noise: noise term of the cell time resolution sigma_t = N/E (+) C, ns GeV.
        time_constant: constant term C of the cell time resolution, ns.
        shower_delay: mean signal delay of a cell after the particle arrives, ns.
        response_energies: true energies at which the cluster responses below are given, GeV.
        response_barrel, response_endcap: mean raw PF-cluster energy over the true energy of
            photons in EB / EE (threshold, lateral and rear leakage losses); ``e_corr`` inverts
            it (derived from single photons with the default configuration: re-derive it for
            a card with other cells, noise or thresholds).
        stamp_energy_cut: cells that would get less than this from one shower are folded into
            the rest of its footprint, GeV (speed; energy is conserved).
        stamp_max_half: a shower footprint spans at most 2 n + 1 crystals per axis.
    """

    barrel_cell_deta: float = positive(0.0174)
    barrel_phi_cells: int = positive(360)
    endcap_cell_size: float = positive(2.862)
    moliere_radius: float = positive(2.2)
    lateral_core: float = positive(0.3)
    lateral_tail: float = positive(1.5)
    lateral_tail_fraction: float = fraction(0.14)
    radiation_lengths: float = positive(25.8)
    critical_energy: float = positive(0.0086)
    longitudinal_b: float = positive(0.6)
    stochastic: float = non_negative(0.03)
    constant: float = non_negative(0.003)
    noise_barrel: float = non_negative(0.04)
    noise_endcap: float = non_negative(0.12)
    threshold_barrel: float = non_negative(0.08)
    threshold_endcap: float = non_negative(0.30)
    interaction_lengths: float = positive(1.1)
    hadron_response: float = fraction(0.5)
    hadron_lateral_core: float = positive(2.0)
    hadron_lateral_halo: float = positive(6.0)
    hadron_halo_fraction: float = fraction(0.25)
    mip_mpv: float = non_negative(0.28)
    mip_width: float = non_negative(0.025)
    time_noise: float = non_negative(0.3)
    time_constant: float = non_negative(0.1)
    shower_delay: float = non_negative(0.1)
    response_energies: tuple[float, ...] = positive((1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0))
    response_barrel: tuple[float, ...] = positive((0.895, 0.902, 0.923, 0.937, 0.958, 0.981, 0.987, 0.989, 0.985,
                                                   0.981))
    response_endcap: tuple[float, ...] = positive((0.800, 0.819, 0.887, 0.906, 0.925, 0.955, 0.973, 0.981, 0.982,
                                                   0.979))
    stamp_energy_cut: float = positive(0.004)
    stamp_max_half: int = positive(8)

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate_response(self, "response_energies", ("response_barrel", "response_endcap"))


@dataclass(frozen=True)
class HcalConfig(RangeChecked):
    """The brass-scintillator hadron calorimeter and the hadron shower model (CMS-like).

    Attributes:
        tower_eta_edges: tower boundaries in |eta| from 0 to the calorimeter edge (mirrored
            for eta < 0); 0.087 up to 1.74, then the CMS HE rings.
        phi_towers: number of towers in phi (72: 0.087 rad).
        depth_edges: boundaries of the depth layers, lambda_I from the HCAL front face
            (``N_DEPTH_LAYERS`` + 1 values); energy beyond the last one leaks out.
        lambda_cm: length of one lambda_I in the HCAL, cm (places the depth layers).
        noise: electronic noise per depth cell, GeV.
        threshold: zero-suppression threshold on the depth-summed tower energy, GeV.
        hadron_response: response to the non-EM part of hadron showers relative to EM (h/e).
        em_fraction_e0, em_fraction_exponent: Groom's mean EM fraction
            <f_em> = 1 - (E/e0)^(m-1) (e0 in GeV, m dimensionless).
        em_fraction_spread: shower-to-shower standard deviation of f_em.
        em_profile_shape, em_profile_scale: Gamma longitudinal profile of the EM part of a
            hadron shower (shape, scale in lambda_I).
        hadronic_profile_scale: scale of the Gamma profile of the non-EM part, lambda_I.
        shower_max_offset, shower_max_slope: depth of the non-EM shower maximum,
            t_max = offset + slope ln(E/GeV), lambda_I.
        sampling_stochastic: stochastic fluctuation of visible hadronic deposits (sampling and
            intrinsic), sigma = a sqrt(E_vis) per depth segment, sqrt(GeV).
        lateral_core, lateral_halo: widths of the core and halo Gaussians of the hadron
            lateral profile, cm.
        lateral_halo_fraction: energy fraction in the halo.
        mip_mpv, mip_width: most probable energy and Moyal width of a MIP crossing the full
            HCAL depth, GeV (shared between the layers by their thickness).
        response_energies: true energies at which ``response`` is given, GeV.
        response: mean raw PF-cluster energy over the true energy of hadrons showering in the
            HCAL only (EM fraction, h/e, thresholds, leakage); ``e_corr`` inverts it (derived
            from single pions, |eta| < 2.8, with the default configuration: re-derive it for
            a card with other towers, noise or thresholds).
        resolution_stochastic, resolution_constant: nominal single-hadron resolution used for
            ``e_corr_err`` (sqrt(GeV), dimensionless).
        time_noise: noise term of the cell time resolution, ns GeV.
        time_constant: constant term of the cell time resolution, ns.
        shower_delay: mean signal delay after the particle reaches the HCAL face, ns.
        stamp_energy_cut: as ``EcalConfig.stamp_energy_cut``, GeV.
        stamp_max_half: a shower footprint spans at most 2 n + 1 towers per axis.
    """

    tower_eta_edges: tuple[float, ...] = bounded(_CMS_HCAL_ETA_EDGES, ge=0, le=10)
    phi_towers: int = positive(72)
    depth_edges: tuple[float, ...] = non_negative((0.0, 1.0, 2.5, 4.0, 6.0))
    lambda_cm: float = positive(18.0)
    noise: float = non_negative(0.12)
    threshold: float = non_negative(0.8)
    hadron_response: float = fraction(0.55)
    em_fraction_e0: float = positive(1.0)
    em_fraction_exponent: float = fraction(0.83)
    em_fraction_spread: float = non_negative(0.10)
    em_profile_shape: float = positive(1.5)
    em_profile_scale: float = positive(0.4)
    hadronic_profile_scale: float = positive(1.0)
    shower_max_offset: float = non_negative(0.7)
    shower_max_slope: float = non_negative(0.2)
    sampling_stochastic: float = non_negative(0.8)
    lateral_core: float = positive(4.0)
    lateral_halo: float = positive(10.0)
    lateral_halo_fraction: float = fraction(0.25)
    mip_mpv: float = non_negative(2.2)
    mip_width: float = non_negative(0.15)
    response_energies: tuple[float, ...] = positive((2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0))
    response: tuple[float, ...] = positive((0.45, 0.45, 0.45, 0.57, 0.70, 0.75, 0.78, 0.81, 0.83))
    resolution_stochastic: float = non_negative(1.0)
    resolution_constant: float = non_negative(0.05)
    time_noise: float = non_negative(2.0)
    time_constant: float = non_negative(1.0)
    shower_delay: float = non_negative(1.0)
    stamp_energy_cut: float = positive(0.01)
    stamp_max_half: int = positive(6)

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate_response(self, "response_energies", ("response",))
        for name, n in (("tower_eta_edges", None), ("depth_edges", N_DEPTH_LAYERS + 1)):
            edges = np.asarray(getattr(self, name), dtype=float)
            if (n is not None and edges.size != n) or edges.size < 2 or edges[0] != 0 \
                    or np.any(np.diff(edges) <= 0):
                size = f"{n} " if n else ""
                raise ValueError(f"HcalConfig.{name}: expected {size}increasing values starting "
                                 f"at 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class HfConfig(RangeChecked):
    """The forward Cherenkov (quartz-fibre) calorimeter, 3 < |eta| < 5 (CMS-like).

    Attributes:
        cell_deta: nominal cell size in eta (the acceptance is split into equal rings).
        phi_cells: number of cells in phi (36: 0.175 rad).
        em_stochastic, em_constant: EM shower resolution a/sqrt(E) (+) c (sqrt(GeV), -).
        hadron_response: response to the non-EM part of hadron showers relative to EM (h/e).
        hadron_stochastic: fluctuation of the visible non-EM deposit, a sqrt(E_vis), sqrt(GeV).
        resolution_stochastic, resolution_constant: nominal hadron resolution used for
            ``e_corr_err`` of HF-HAD clusters (sqrt(GeV), -).
        short_fraction_em: fraction of an EM shower's signal read by the short fibres.
        short_fraction_hadron: mean fraction of the non-EM signal read by the short fibres.
        short_fraction_spread: shower-to-shower standard deviation of that fraction.
        noise: electronic noise per fibre readout (long or short), GeV.
        threshold: threshold on the HF-EM (long - short) and HF-HAD (2 short) cell energies, GeV.
        em_lateral: width of the EM lateral Gaussian, cm.
        hadron_lateral_core, hadron_lateral_halo: hadron core and halo Gaussian widths, cm.
        hadron_halo_fraction: energy fraction in the hadron halo.
        time_noise: noise term of the cell time resolution, ns GeV.
        time_constant: constant term of the cell time resolution, ns.
        shower_delay: mean signal delay, ns.
        stamp_energy_cut: as ``EcalConfig.stamp_energy_cut``, GeV.
        stamp_max_half: a shower footprint spans at most 2 n + 1 cells per axis.
    """

    cell_deta: float = positive(0.175)
    phi_cells: int = positive(36)
    em_stochastic: float = non_negative(1.4)
    em_constant: float = non_negative(0.05)
    hadron_response: float = fraction(0.35)
    hadron_stochastic: float = non_negative(1.6)
    resolution_stochastic: float = non_negative(2.0)
    resolution_constant: float = non_negative(0.10)
    short_fraction_em: float = fraction(0.04)
    short_fraction_hadron: float = fraction(0.5)
    short_fraction_spread: float = non_negative(0.08)
    noise: float = non_negative(0.15)
    threshold: float = non_negative(1.0)
    em_lateral: float = positive(1.5)
    hadron_lateral_core: float = positive(3.0)
    hadron_lateral_halo: float = positive(10.0)
    hadron_halo_fraction: float = fraction(0.3)
    time_noise: float = non_negative(1.0)
    time_constant: float = non_negative(0.5)
    shower_delay: float = non_negative(0.5)
    stamp_energy_cut: float = positive(0.02)
    stamp_max_half: int = positive(4)
