"""Seeded random streams: every draw in the project comes from one of these.

An event's randomness depends only on ``(seed, event_index)``, split into named streams
so that, for example, changing the detector card does not change the generated event.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["event_rng", "stream_seed", "pythia_seed"]

#: Pythia accepts seeds in [1, 900_000_000]
_PYTHIA_MAX_SEED = 900_000_000


def _stream_id(stream: str) -> int:
    return zlib.crc32(stream.encode())


def stream_seed(seed: int, index: int, stream: str) -> np.random.SeedSequence:
    """The seed sequence of one named stream of one event."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and event index must be non-negative, got seed={seed}, index={index}")
    return np.random.SeedSequence([int(seed), int(index), _stream_id(stream)])


def event_rng(seed: int, index: int, stream: str) -> np.random.Generator:
    """A numpy Generator for stream ``stream`` of event ``index`` in run ``seed``."""
    return np.random.Generator(np.random.PCG64(stream_seed(seed, index, stream)))


def pythia_seed(seed: int, index: int, stream: str = "pythia") -> int:
    """A Pythia ``Random:seed`` value in [1, 900000000] for one event."""
    value = int(stream_seed(seed, index, stream).generate_state(1, np.uint32)[0])
    return 1 + value % (_PYTHIA_MAX_SEED - 1)
