"""The full detector simulation of one event: tracker volume, then calorimeters.

``simulate_event`` turns the generator particles of an event into PF elements (tracks and
calorimeter clusters) with truth links back to the generator particles.
"""

from __future__ import annotations

import numpy as np

from colliderflow.generate.particles import GenParticles
from colliderflow.schema.elements import stack_elements
from colliderflow.simulate.calorimeter import simulate_calorimeters
from colliderflow.simulate.card import DetectorCard
from colliderflow.simulate.simevent import SimEvent
from colliderflow.simulate.tracking import propagate_and_track

__all__ = ["SimEvent", "simulate_event"]


def simulate_event(particles: GenParticles, card: DetectorCard, rng: np.random.Generator) -> SimEvent:
    """Simulate the detector response to ``particles``.

    Args:
        particles: all final-state particles of the event (hard scatter and pileup), (N,).
        card: the detector description.
        rng: the event's simulation random stream.
    """
    trk = propagate_and_track(particles, card.geometry, card.tracker, card.material, card.muon, rng)
    calo = simulate_calorimeters(trk.impacts, card.geometry, card.ecal, card.hcal, card.hf,
                                 card.clustering, rng)
    n_tracks = len(trk.track_particle)
    elements = stack_elements(trk.tracks, calo.clusters)
    return SimEvent(
        elements=elements,
        n_tracks=n_tracks,
        track_particle=trk.track_particle,
        link_element=np.asarray(calo.link_cluster, dtype=np.int64) + n_tracks,
        link_particle=calo.link_particle,
        link_energy=calo.link_energy,
    )
