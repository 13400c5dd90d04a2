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

Beside ``cands`` each event record holds its ``event_index`` in the dataset and the vertices the
reconstruction found (``VERTEX_FIELDS``): ``pv_z``, the primary vertex z (cm; 0 when no vertex
was found), and ``npvs``, the number of vertices, from the vertex settings the reconstruction
used, so that later stages (``nano``) need not find them again. Version 1 files lack them.

The header of each file holds ``algo`` ('pf' or 'mlpf'), the resolved ``settings`` (the JSON of
``colliderflow.reconstruct``'s typed ``PFSettings`` / ``MLPFSettings``, compared here as plain data)
and the header of the dataset chunk it was made from (``input_header``); readers check all three. This
module is the format's one home: ``pf`` and ``mlpf`` fill the fields, ``reconstruct`` writes the
files, ``evaluate`` and ``nano`` read them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from colliderflow.utils.jagged import first_non_finite
from colliderflow.utils.parquet import FileFormatError, read_header, read_parquet

__all__ = ["CANDIDATE_FIELDS", "VERTEX_FIELDS", "CANDIDATES_KIND", "CANDIDATES_SCHEMA_VERSION", "MLPF_PILEUP_KEY",
           "empty_candidates", "concat_candidates", "validate_candidates", "result_settings", "read_candidate_chunk",
           "read_candidate_events", "load_reconstruction", "load_candidates"]

#: key of the MLPF settings holding the resolved ``MLPFPileupConfig``; MLPF output without it was
#: written before MLPF+CHS/PUPPI existed (its ``chs`` held the pileup-score cut) and is refused
MLPF_PILEUP_KEY = "pileup"

CANDIDATES_KIND = "candidates"
#: 2: per-event vertices (``VERTEX_FIELDS``) beside the candidates
CANDIDATES_SCHEMA_VERSION = 2

CANDIDATE_FIELDS: dict[str, type] = {
    "cls": np.int8, "charge": np.int8, "pt": np.float32, "eta": np.float32, "phi": np.float32,
    "energy": np.float32, "element": np.int32, "vertex": np.int16, "puppi_weight": np.float32,
    "chs": np.bool_, "pu_score": np.float32,
}


#: per-event vertex fields: primary-vertex z (cm, 0 without vertex) and the number of vertices
VERTEX_FIELDS: dict[str, type] = {"pv_z": np.float32, "npvs": np.int16}


def empty_candidates(n: int = 0) -> dict[str, np.ndarray]:
    """A candidate dictionary of ``n`` rows with neutral defaults."""
    out: dict[str, np.ndarray] = {k: np.zeros(n, dtype=dt) for k, dt in CANDIDATE_FIELDS.items()}
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
    absent = [f for f in CANDIDATE_FIELDS if f not in cands.fields]
    if absent:
        raise FileFormatError(f"{path}: candidate fields missing: {absent}")
    for name, dtype in CANDIDATE_FIELDS.items():
        if not np.issubdtype(dtype, np.floating):
            continue
        ev = first_non_finite(cands[name])
        if ev is not None:
            raise FileFormatError(f"{path}: event {ev}: candidate field {name!r} is NaN or inf")


#: settings of how a run goes (memory, threads, the address and timeout of an MLPF server), not of
#: what it computes: chunks made with other values are reused and may be mixed
_RUNTIME_KEYS = ("max_memory_gb", "num_threads", "server", "server_timeout")


def result_settings(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """``settings`` without the runtime keys of its ``config``."""
    if not isinstance(settings, dict) or not isinstance(settings.get("config"), dict):
        return settings
    return {**settings, "config": {k: v for k, v in settings["config"].items() if k not in _RUNTIME_KEYS}}


def read_candidate_chunk(path: str | os.PathLike, dataset_chunk: str | os.PathLike | None = None
                         ) -> tuple[ak.Array, dict[str, Any]]:
    """One validated chunk of candidates, (events, candidates), and its header.

    Args:
        dataset_chunk: the dataset chunk these candidates must have been reconstructed from; a
            chunk made from another file (another dataset, or an older version of it) is refused.
    """
    array, header = read_candidate_events(path, dataset_chunk)
    return array.cands, header


def read_candidate_events(path: str | os.PathLike, dataset_chunk: str | os.PathLike | None = None
                          ) -> tuple[ak.Array, dict[str, Any]]:
    """One validated chunk as event records (``cands``, ``event_index``, ``pv_z``, ``npvs``), and its header.

    As :func:`read_candidate_chunk`, which returns only the candidates.
    """
    path = Path(path)
    if dataset_chunk is not None and not path.exists():
        raise FileFormatError(f"{path}: no candidates for dataset chunk {Path(dataset_chunk).name}; reconstruct the "
                              "same dataset (or finish its reconstruction) with 'colliderflow reconstruct'")
    array, header = read_parquet(path, CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION)
    if "cands" not in array.fields:
        raise FileFormatError(f"{path}: no 'cands' field; not a candidates file")
    validate_candidates(path, array.cands)
    absent = [f for f in VERTEX_FIELDS if f not in array.fields]
    if absent:
        raise FileFormatError(f"{path}: vertex fields missing: {absent}")
    ev = first_non_finite(array.pv_z)
    if ev is not None:
        raise FileFormatError(f"{path}: event {ev}: 'pv_z' is NaN or inf")
    if dataset_chunk is not None and header.get("input_header") != read_header(dataset_chunk):
        raise FileFormatError(f"{path}: reconstructed from another file than {dataset_chunk}; reconstruct the "
                              "same dataset again")
    return array, header


def load_reconstruction(path: str | os.PathLike, dataset_chunks: list[Path] | None = None
                        ) -> tuple[ak.Array, dict[str, Any]]:
    """Candidates of every chunk in a reconstruction output directory (or one chunk), and their header.

    Args:
        dataset_chunks: the dataset chunks the candidates must cover, one candidates chunk of the same
            name each, in this order (``colliderflow.dataset.read.dataset_files``); all chunks of
            ``path`` if None.

    Returns:
        (candidates (events, candidates), header of the first chunk: ``algo``, ``settings``, ...).

    Raises:
        FileFormatError: chunks written with different algorithms or settings, a dataset chunk
            without candidates or reconstructed from another file, invalid candidates, or MLPF
            candidates from before MLPF+CHS/PUPPI (whose ``chs`` held the pileup-score cut).
    """
    path = Path(path)
    if dataset_chunks is not None and path.is_dir():
        pairs: list[tuple[Path, Path | None]] = [(path / d.name, d) for d in dataset_chunks]
    else:
        files = sorted(p for p in path.iterdir() if p.name.startswith("chunk_")) if path.is_dir() else [path]
        pairs = [(f, None) for f in files]
    if not pairs:
        raise FileNotFoundError(f"{path}: no candidate chunks found")
    read = [read_candidate_chunk(f, d) for f, d in pairs]
    files = [f for f, _ in pairs]
    header = read[0][1]
    for f, (_, h) in zip(files, read):
        if (h.get("algo"), result_settings(h.get("settings"))) != (header.get("algo"),
                                                                   result_settings(header.get("settings"))):
            raise FileFormatError(f"{f}: written with other settings than {files[0].name}; reconstruct the "
                                  "directory again with one set of settings")
    if header.get("algo") == "mlpf" and MLPF_PILEUP_KEY not in header.get("settings", {}):
        raise FileFormatError(f"{files[0]}: MLPF candidates from an older colliderflow, whose 'chs' holds the "
                              "pileup-score cut (no vertices, no PUPPI); run 'colliderflow reconstruct --algo mlpf' "
                              "again")
    arrays = [r[0] for r in read]
    cands = ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    return cands, header


def load_candidates(path: str | os.PathLike) -> ak.Array:
    """Candidates of every chunk in a reconstruction output directory, (events, candidates).

    :func:`load_reconstruction` also returns their header (algorithm and settings).
    """
    return load_reconstruction(path)[0]
