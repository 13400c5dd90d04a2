"""The calorimeters, from impacts to calibrated PF clusters: the entry point of the calorimeter
simulation and the cluster calibration.

``simulate_calorimeters`` turns the :class:`~colliderflow.simulate.impacts.CaloImpacts` handed
over by the tracker volume into PF clusters with truth links:

1. ``simulate_hits``: each impact showers (:mod:`colliderflow.simulate.showers`); the deposits
   are spread over the cells (:mod:`colliderflow.simulate.cells`) and read out with noise,
   zero-suppression thresholds and timing (:mod:`colliderflow.simulate.readout`);
2. the cells of each plane are clustered (:mod:`colliderflow.simulate.clustering`);
3. the raw energy of each cluster is corrected with the card's response tables (``e_corr``)
   and given its expected resolution (``e_corr_err``).

The detector numbers come from :mod:`colliderflow.simulate.calo_config`. Units: GeV, cm, ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colliderflow.schema.elements import (
    CLUSTER_FEATURES, COMMON_FEATURES, ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFEM, ELEMENT_HFHAD,
)
from colliderflow.simulate.calo_config import EcalConfig, HcalConfig, HfConfig
from colliderflow.simulate.cells import build_cells
from colliderflow.simulate.clustering import CaloClusters, ClusteringConfig, cluster_hits
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.impacts import (
    KIND_EM, KIND_HADRON, KIND_MIP, SURFACE_CALO, SURFACE_HF, CaloImpacts,
)
from colliderflow.simulate.readout import CaloHits, read_ecal, read_hcal, read_hf
from colliderflow.simulate.showers import ShowerDeposits, em_showers, hadron_showers, hf_showers, mip_tracks

__all__ = ["CaloOutput", "simulate_calorimeters", "simulate_hits", "invert_response"]


@dataclass
class CaloOutput:
    """Calorimeter clusters of one event and their truth links.

    Attributes:
        clusters: every name in ``COMMON_FEATURES + CLUSTER_FEATURES`` -> float64 array (C,);
            ECAL clusters first, then HCAL, HF-EM, HF-HAD.
        link_cluster: index into the clusters, (L,) int64.
        link_particle: ``CaloImpacts.particle`` of the linked particle, (L,) int64.
        link_energy: the particle's noise-free energy in the cluster after energy sharing,
            GeV, (L,) (positive).
    """

    clusters: dict[str, np.ndarray]
    link_cluster: np.ndarray
    link_particle: np.ndarray
    link_energy: np.ndarray

    @property
    def n_clusters(self) -> int:
        return len(self.clusters["type"])


def simulate_calorimeters(impacts: CaloImpacts, geometry: Geometry, ecal: EcalConfig, hcal: HcalConfig,
                          hf: HfConfig, clustering: ClusteringConfig, rng: np.random.Generator) -> CaloOutput:
    """Simulate the calorimeter response to ``impacts`` and build PF clusters.

    Args:
        impacts: showers entering the calorimeters, (M,).
        geometry, ecal, hcal, hf: the detector.
        clustering: PF clustering parameters.
        rng: the event's random stream (all draws come from it).

    Returns:
        clusters (ECAL, HCAL, HF-EM, HF-HAD) with their features and truth links; an event
        without impacts has no clusters (its electronic noise is not simulated).
    """
    if len(impacts) == 0:
        return _empty_output()
    hits = simulate_hits(impacts, geometry, ecal, hcal, hf, rng)
    clusters = cluster_hits(hits, clustering)
    if clusters.n_clusters == 0:
        return _empty_output()
    return _calibrated(clusters, ecal, hcal, hf)


def _empty_output() -> CaloOutput:
    return CaloOutput(clusters={name: np.zeros(0) for name in COMMON_FEATURES + CLUSTER_FEATURES},
                      link_cluster=np.zeros(0, np.int64), link_particle=np.zeros(0, np.int64),
                      link_energy=np.zeros(0))


# --------------------------------------------------------------------------------------------
# Showers in the cells, and their readout
# --------------------------------------------------------------------------------------------


def simulate_hits(impacts: CaloImpacts, geometry: Geometry, ecal: EcalConfig, hcal: HcalConfig,
                  hf: HfConfig, rng: np.random.Generator) -> CaloHits:
    """Deposit the showers of ``impacts`` in the calorimeter cells and read them out.

    EM showers, hadron showers and MIPs hitting the ECAL face deposit in ECAL and HCAL;
    impacts on the HF face deposit in the HF long and short fibres (MIPs there are ignored).
    Deposits outside every cell (beyond the acceptance, between EB and EE) are lost.

    Returns:
        the readout of the ECAL, HCAL (towers with depths), HF-EM (long - short) and HF-HAD
        (2 short) planes, with the noise-free deposit of every particle in every cell.
    """
    cells = build_cells(geometry, ecal, hcal, hf)
    calo = impacts.surface == SURFACE_CALO
    hf_face = impacts.surface == SURFACE_HF
    parts = [
        em_showers(impacts.take(calo & (impacts.kind == KIND_EM)), ecal, hcal, rng),
        hadron_showers(impacts.take(calo & (impacts.kind == KIND_HADRON)), ecal, hcal, rng),
        mip_tracks(impacts.take(calo & (impacts.kind == KIND_MIP)), ecal, hcal, rng),
    ]
    ecal_dep = ShowerDeposits.concatenate([p[0] for p in parts]).by_particle()
    hcal_dep = ShowerDeposits.concatenate([p[1] for p in parts]).by_particle()
    hf_dep = hf_showers(impacts.take(hf_face & (impacts.kind == KIND_EM)),
                        impacts.take(hf_face & (impacts.kind == KIND_HADRON)), hcal, hf, rng).by_particle()

    ecal_plane = read_ecal(ecal_dep, cells, geometry, ecal, rng)
    hcal_plane = read_hcal(hcal_dep, cells, hcal, rng)
    hfem, hfhad = read_hf(hf_dep, cells, hf, rng)
    return CaloHits(cells=cells, ecal=ecal_plane, hcal=hcal_plane, hfem=hfem, hfhad=hfhad)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


def _resolution(energy: np.ndarray, stochastic: float, noise: np.ndarray, constant: float) -> np.ndarray:
    """sigma_E = E (a/sqrt(E) (+) n/E (+) c), GeV."""
    e = np.maximum(energy, 1e-6)
    return np.sqrt(stochastic**2 * e + noise**2 + (constant * e) ** 2)


def invert_response(raw: np.ndarray, energies: tuple[float, ...], response: tuple[float, ...]) -> np.ndarray:
    """Energy E with E r(E) = raw, for a response r tabulated at ``energies`` (log-linear
    interpolation, constant beyond the ends); solved by fixed-point iteration."""
    log_e = np.log(np.asarray(energies, dtype=float))
    r = np.asarray(response, dtype=float)
    raw = np.asarray(raw, dtype=float)
    energy = raw / r.mean()
    for _ in range(10):
        energy = raw / np.interp(np.log(np.maximum(energy, 1e-6)), log_e, r)
    return energy


def _calibrate(kind: int, energy: np.ndarray, noise: np.ndarray, endcap: np.ndarray, ecal: EcalConfig,
               hcal: HcalConfig, hf: HfConfig) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated energy and its expected resolution for clusters of one plane.

    ECAL clusters are corrected to the photon energy with the tabulated EB/EE response, HF-EM
    clusters for the EM signal seen by the short fibres; HCAL clusters to the hadron energy
    with the tabulated response of hadrons showering in the HCAL; HF-HAD clusters (2 x short
    fibres, the non-EM part of a shower) are divided by h/e.
    """
    if kind == ELEMENT_ECAL:
        e_corr = np.where(endcap, invert_response(energy, ecal.response_energies, ecal.response_endcap),
                          invert_response(energy, ecal.response_energies, ecal.response_barrel))
        return e_corr, _resolution(e_corr, ecal.stochastic, noise, ecal.constant)
    if kind == ELEMENT_HCAL:
        e_corr = invert_response(energy, hcal.response_energies, hcal.response)
        return e_corr, _resolution(e_corr, hcal.resolution_stochastic, noise, hcal.resolution_constant)
    if kind == ELEMENT_HFEM:
        e_corr = energy / (1.0 - 2.0 * hf.short_fraction_em)
        return e_corr, _resolution(e_corr, hf.em_stochastic, noise, hf.em_constant)
    e_corr = energy / hf.hadron_response
    return e_corr, _resolution(e_corr, hf.resolution_stochastic, noise, hf.resolution_constant)


def _calibrated(clusters: CaloClusters, ecal: EcalConfig, hcal: HcalConfig, hf: HfConfig) -> CaloOutput:
    """The clusters with their calibrated energies ``e_corr`` and resolutions ``e_corr_err``."""
    kinds = clusters.features["type"]
    e_corr = np.empty(clusters.n_clusters)
    e_err = np.empty(clusters.n_clusters)
    for kind in (ELEMENT_ECAL, ELEMENT_HCAL, ELEMENT_HFEM, ELEMENT_HFHAD):
        sel = kinds == kind
        e_corr[sel], e_err[sel] = _calibrate(kind, clusters.features["energy"][sel], clusters.noise[sel],
                                             clusters.endcap[sel], ecal, hcal, hf)
    feats = {**clusters.features, "e_corr": e_corr, "e_corr_err": e_err}
    return CaloOutput(clusters={name: np.asarray(feats[name], dtype=np.float64)
                                for name in COMMON_FEATURES + CLUSTER_FEATURES},
                      link_cluster=clusters.link_cluster, link_particle=clusters.link_particle,
                      link_energy=clusters.link_energy)
