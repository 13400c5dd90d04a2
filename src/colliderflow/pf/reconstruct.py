"""PF reconstruction of one event: links, particles, vertices, CHS and PUPPI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from colliderflow.pf.algorithm import PFConfig, build_particles
from colliderflow.pf.calibration import HadronCalibration
from colliderflow.pf.links import LinkConfig, link_elements
from colliderflow.pf.pileup import PuppiConfig, VertexConfig, mitigate_pileup

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
    return mitigate_pileup(x, cands, config.vertex, config.puppi)
