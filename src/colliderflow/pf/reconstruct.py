"""PF reconstruction of one event: links, particles, vertices, CHS and PUPPI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from colliderflow.pf.algorithm import PFConfig, build_particles
from colliderflow.pf.calibration import HadronCalibration
from colliderflow.pf.links import LinkConfig, link_elements
from colliderflow.pf.pileup import PuppiConfig, VertexConfig, associate, find_vertices, puppi_weights
from colliderflow.simulate.elements import ELEMENT_TRACK

__all__ = ["PFRecoConfig", "reconstruct_event"]


@dataclass(frozen=True)
class PFRecoConfig:
    """Every setting of the PF chain."""

    link: LinkConfig = field(default_factory=LinkConfig)
    pf: PFConfig = field(default_factory=PFConfig)
    vertex: VertexConfig = field(default_factory=VertexConfig)
    puppi: PuppiConfig = field(default_factory=PuppiConfig)


def reconstruct_event(x: dict[str, np.ndarray], calib: HadronCalibration,
                      config: PFRecoConfig = PFRecoConfig()) -> dict[str, np.ndarray]:
    """PF candidates of one event with vertex association, CHS flags and PUPPI weights.

    Args:
        x: element features of the event, name -> (E,) array.
    """
    links = link_elements(x, config.link)
    cands = build_particles(x, links, calib, config.pf)
    tracks = np.flatnonzero(x["type"] == ELEMENT_TRACK)
    vertex_z, _ = find_vertices(x["vz"][tracks].astype(np.float64), x["dz_err"][tracks].astype(np.float64),
                                x["pt"][tracks].astype(np.float64), config.vertex)
    charged = cands["charge"] != 0
    elem = cands["element"][charged]
    z = x["vz"][elem].astype(np.float64)
    vtx = associate(z, x["dz_err"][elem].astype(np.float64), vertex_z, config.vertex)
    cands["vertex"][charged] = vtx
    cands["chs"] = ~(charged & (cands["vertex"] > 0))
    # PUPPI counts unassociated charged particles close to the primary vertex as primary
    puppi_in = dict(cands)
    if len(vertex_z):
        near_pv = (vtx < 0) & (np.abs(z - vertex_z[0]) < config.vertex.pv_dz_keep)
        puppi_in["vertex"] = cands["vertex"].copy()
        puppi_in["vertex"][np.flatnonzero(charged)[near_pv]] = 0
    cands["puppi_weight"] = puppi_weights(puppi_in, len(vertex_z), config.puppi)
    return cands
