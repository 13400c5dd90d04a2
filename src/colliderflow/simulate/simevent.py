"""The detector-level content of one event: elements and their truth links."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SimEvent"]


@dataclass
class SimEvent:
    """Elements of one event and their truth links.

    Attributes:
        elements: feature name -> float32 array (E,), tracks first, then clusters.
        n_tracks: number of track elements (rows 0..n_tracks-1).
        track_particle: (n_tracks,) generator-particle index of each track, -1 for fakes.
        link_element, link_particle, link_energy: (L,) cluster truth links: element index,
            generator-particle index and the particle's true energy in that cluster (GeV).
    """

    elements: dict[str, np.ndarray]
    n_tracks: int
    track_particle: np.ndarray
    link_element: np.ndarray
    link_particle: np.ndarray
    link_energy: np.ndarray

    @property
    def n_elements(self) -> int:
        return len(self.elements["type"])

    def __post_init__(self) -> None:
        self.track_particle = np.asarray(self.track_particle, dtype=np.int64)
        self.link_element = np.asarray(self.link_element, dtype=np.int64)
        self.link_particle = np.asarray(self.link_particle, dtype=np.int64)
        self.link_energy = np.asarray(self.link_energy, dtype=np.float64)
        if len(self.track_particle) != self.n_tracks:
            raise ValueError(f"SimEvent: {len(self.track_particle)} track links for {self.n_tracks} tracks")
        if not (len(self.link_element) == len(self.link_particle) == len(self.link_energy)):
            raise ValueError("SimEvent: cluster link arrays differ in length")
