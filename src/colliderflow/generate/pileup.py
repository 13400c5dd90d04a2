"""Pileup: a minimum-bias pool generated once, and its overlay on hard-scatter events.

Overlay draws Npu distinct pool events per hard event (no repeats within an event), gives
each its own vertex and time from the beam spot, and tags its particles with the interaction
number 1..Npu. It costs array copies only, no generation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from colliderflow.generate.particles import GenParticles
from colliderflow.utils.config import RangeChecked, bounded, non_negative
from colliderflow.utils.parquet import FileFormatError, read_parquet, write_parquet

__all__ = ["BeamSpot", "PileupRange", "PileupPool", "POOL_KIND", "POOL_SCHEMA_VERSION", "write_pool"]

POOL_KIND = "pileup-pool"
POOL_SCHEMA_VERSION = 1
_FIELDS = ("pid", "charge", "px", "py", "pz", "energy", "mass", "vx", "vy", "vz", "t")


@dataclass(frozen=True)
class BeamSpot(RangeChecked):
    """Luminous region: Gaussian spreads of the interaction vertices (cm) and times (ns)."""

    sigma_xy: float = non_negative(0.0012)
    sigma_z: float = non_negative(3.5)
    sigma_t: float = non_negative(0.18)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 4) array of vertex x, y, z (cm) and t (ns)."""
        s = np.array([self.sigma_xy, self.sigma_xy, self.sigma_z, self.sigma_t])
        return rng.normal(size=(n, 4)) * s


@dataclass(frozen=True)
class PileupRange(RangeChecked):
    """Number of pileup interactions per event, drawn uniformly from [low, high] (inclusive)."""

    low: int = non_negative(0)
    high: int = bounded(0, ge="low")

    @classmethod
    def parse(cls, text: str | int) -> "PileupRange":
        """Parse ``"55-75"``, ``"55:75"`` (the range syntax of the other options), ``"60"`` or ``0``."""
        s = str(text).strip()
        try:
            sep = ":" if ":" in s else "-" if "-" in s else None
            if sep:
                lo, hi = s.split(sep, 1)
                return cls(int(lo), int(hi))
            return cls(int(s), int(s))
        except ValueError as err:
            raise ValueError(f"cannot read pileup {text!r}: expected N, LOW:HIGH or LOW-HIGH ({err})") from None

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def __str__(self) -> str:
        return f"{self.low}" if self.low == self.high else f"{self.low}-{self.high}"


def write_pool(path: str | os.PathLike, events: list[GenParticles], header: dict) -> None:
    """Write minimum-bias events (vertices relative to their interaction point) as a pool file."""
    counts = np.array([len(e) for e in events], dtype=np.int64)
    content = {f: np.concatenate([getattr(e, f) for e in events]) if events else np.zeros(0) for f in _FIELDS}
    array = ak.unflatten(ak.zip(content), counts)
    write_parquet(path, array, {**header, "kind": POOL_KIND, "schema_version": POOL_SCHEMA_VERSION,
                                "n_events": len(events)})


class PileupPool:
    """A minimum-bias library held in memory as flat arrays with per-event offsets."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        array, self.header = read_parquet(self.path, POOL_KIND, POOL_SCHEMA_VERSION)
        if len(array) == 0:
            raise FileFormatError(f"{self.path}: the pileup pool holds no events")
        counts = ak.to_numpy(ak.num(array)).astype(np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        flat = ak.flatten(array)
        self._flat = {f: ak.to_numpy(flat[f]) for f in _FIELDS}

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @property
    def sqrt_s(self) -> float:
        return float(self.header.get("sqrt_s", float("nan")))

    def overlay(self, n_pu: int, rng: np.random.Generator, beam_spot: BeamSpot) -> GenParticles:
        """Particles of ``n_pu`` distinct pool events, each at its own vertex, interaction 1..n_pu."""
        if n_pu == 0:
            return GenParticles.empty()
        if n_pu > len(self):
            raise ValueError(
                f"{self.path}: pileup pool has {len(self)} events, fewer than the {n_pu} interactions "
                "requested for one event; generate a larger pool (colliderflow pileup-pool --events N)"
            )
        chosen = rng.choice(len(self), size=n_pu, replace=False)
        starts, stops = self._offsets[chosen], self._offsets[chosen + 1]
        counts = stops - starts
        idx = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
        vertices = beam_spot.sample(n_pu, rng)
        which = np.repeat(np.arange(n_pu), counts)
        f = {k: v[idx] for k, v in self._flat.items()}
        return GenParticles(
            pid=f["pid"], charge=f["charge"], px=f["px"], py=f["py"], pz=f["pz"], energy=f["energy"],
            mass=f["mass"], vx=f["vx"] + vertices[which, 0], vy=f["vy"] + vertices[which, 1],
            vz=f["vz"] + vertices[which, 2], t=f["t"] + vertices[which, 3],
            interaction=which + 1, flags=np.zeros(len(idx)), tau_index=np.full(len(idx), -1),
            resonance_index=np.full(len(idx), -1),
        )
