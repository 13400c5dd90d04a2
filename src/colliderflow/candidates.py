"""Reconstructed particle candidates: the common output of PF and MLPF.

One Parquet file per input chunk, records per event; fields (all jagged per event):

| field | content |
|---|---|
| ``cls`` | candidate class, as the target classes (1 charged hadron ... 7 HF-HAD) |
| ``charge`` | charge |
| ``pt``, ``eta``, ``phi``, ``energy`` | four-momentum (GeV, rad) |
| ``element`` | index of the candidate's primary element (track or cluster) in the event |
| ``vertex`` | vertex association: 0 primary vertex, k > 0 pileup vertex k, -1 none (neutrals) |
| ``puppi_weight`` | PUPPI weight in [0, 1] (1 where PUPPI was not run) |
| ``chs`` | charged-hadron-subtraction decision: True if the candidate survives CHS |
| ``pu_score`` | MLPF pileup probability (0 for PF) |
"""

from __future__ import annotations

import os

import awkward as ak
import numpy as np

__all__ = ["CANDIDATE_FIELDS", "CANDIDATES_KIND", "CANDIDATES_SCHEMA_VERSION", "empty_candidates",
           "concat_candidates", "validate_candidates"]

CANDIDATES_KIND = "candidates"
CANDIDATES_SCHEMA_VERSION = 1

CANDIDATE_FIELDS = {
    "cls": np.int8, "charge": np.int8, "pt": np.float32, "eta": np.float32, "phi": np.float32,
    "energy": np.float32, "element": np.int32, "vertex": np.int16, "puppi_weight": np.float32,
    "chs": np.bool_, "pu_score": np.float32,
}


def empty_candidates(n: int = 0) -> dict[str, np.ndarray]:
    """A candidate dictionary of ``n`` rows with neutral defaults."""
    out = {k: np.zeros(n, dtype=dt) for k, dt in CANDIDATE_FIELDS.items()}
    out["vertex"][:] = -1
    out["puppi_weight"][:] = 1.0
    out["chs"][:] = True
    return out


def concat_candidates(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return empty_candidates()
    return {k: np.concatenate([np.asarray(p[k], dtype=dt) for p in parts]) for k, dt in CANDIDATE_FIELDS.items()}


def validate_candidates(path: str | os.PathLike, cands: ak.Array) -> None:
    """Check candidates (events, candidates) read from ``path``: every field present, values finite.

    Raises:
        FileFormatError: naming the file, and the event and field of the first bad value.
    """
    from colliderflow.utils.jagged import first_non_finite
    from colliderflow.utils.parquet import FileFormatError

    absent = [f for f in CANDIDATE_FIELDS if f not in cands.fields]
    if absent:
        raise FileFormatError(f"{path}: candidate fields missing: {absent}")
    for name, dtype in CANDIDATE_FIELDS.items():
        if not np.issubdtype(dtype, np.floating):
            continue
        ev = first_non_finite(cands[name])
        if ev is not None:
            raise FileFormatError(f"{path}: event {ev}: candidate field {name!r} is NaN or inf")
