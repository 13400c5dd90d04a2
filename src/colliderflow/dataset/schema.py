"""Dataset schema (version 1). docs/dataset.md documents every field.

Version 1 has grown by additions only (``ADDED_FIELDS``, ``ADDED_TOP_FIELDS``: the hard-process
resonances and each truth particle's link to them); chunks written before read with the
added fields at their defaults.

One record per event with the fields below; ``X`` and ``ytarget`` are aligned (one row per
element). Files are chunks ``chunk_SSSSSSS_EEEEEEE.parquet`` holding events [S, E) plus a
manifest ``_dataset.json`` (``dataset.json`` before; both are read). The leading underscore
makes pyarrow, pandas and other Parquet dataset readers skip it, so a dataset directory opens
as one Parquet dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from colliderflow.generate.event import HADRON_FIELDS, PARTON_FIELDS, RESONANCE_FIELDS, TAU_FIELDS
from colliderflow.schema.elements import ELEMENT_FEATURES

__all__ = ["SCHEMA_VERSION", "CHUNK_KIND", "MANIFEST", "TARGET_FIELDS", "TRUTH_FIELDS", "EVENT_FIELDS",
           "TOP_FIELDS", "RECORD_FIELDS", "ADDED_FIELDS", "ADDED_TOP_FIELDS", "chunk_name", "parse_chunk_name",
           "manifest_path"]

SCHEMA_VERSION = 1
CHUNK_KIND = "dataset-chunk"
MANIFEST = "_dataset.json"
#: the manifest's name in datasets written before: still read, and kept when such a dataset is resumed
LEGACY_MANIFEST = "dataset.json"

#: target columns, aligned with the elements
TARGET_FIELDS: dict[str, type] = {"cls": np.int8, "charge": np.int8, "pt": np.float32, "eta": np.float32,
                                  "phi": np.float32, "energy": np.float32, "pu_frac": np.float32}
#: generator truth: hard-scatter final-state particles without neutrinos
TRUTH_FIELDS: dict[str, type] = {"pid": np.int32, "charge": np.int8, "pt": np.float32, "eta": np.float32,
                                 "phi": np.float32, "energy": np.float32, "mass": np.float32, "vx": np.float32,
                                 "vy": np.float32, "vz": np.float32, "flags": np.uint8, "tau_index": np.int16,
                                 "resonance_index": np.int16, "element": np.int32}
#: per-event scalars
EVENT_FIELDS: dict[str, type] = {"index": np.int64, "seed": np.int64, "sqrt_s": np.float32, "weight": np.float64,
                                 "n_pu": np.int32, "pv_x": np.float32, "pv_y": np.float32, "pv_z": np.float32,
                                 "pv_t": np.float32, "n_particles": np.int32, "n_tracks": np.int32,
                                 "n_elements": np.int32, "genmet_x": np.float32, "genmet_y": np.float32}
#: top-level fields of one event record
TOP_FIELDS = ("X", "ytarget", "truth", "gen_hadrons", "gen_taus", "gen_partons", "gen_resonances", "event")
#: the fields every top-level field must hold (element features are all float32)
RECORD_FIELDS: dict[str, dict[str, type]] = {
    "X": {name: np.float32 for name in ELEMENT_FEATURES}, "ytarget": TARGET_FIELDS, "truth": TRUTH_FIELDS,
    "gen_hadrons": HADRON_FIELDS, "gen_taus": TAU_FIELDS, "gen_partons": PARTON_FIELDS,
    "gen_resonances": RESONANCE_FIELDS, "event": {**EVENT_FIELDS, "process": str},
}
#: fields added to schema 1 after its first files (additions only, so the version stays): chunks
#: written before lack them and read as these values (field -> value of every row)
ADDED_FIELDS: dict[str, dict[str, int]] = {"truth": {"resonance_index": -1}}
#: top-level records added the same way; older chunks read as no entries
ADDED_TOP_FIELDS = ("gen_resonances",)
assert len(set(ELEMENT_FEATURES)) == len(ELEMENT_FEATURES)


def manifest_path(folder: Path) -> Path:
    """The manifest of dataset folder ``folder``: ``_dataset.json``, or a legacy ``dataset.json``."""
    legacy = folder / LEGACY_MANIFEST
    return legacy if legacy.exists() and not (folder / MANIFEST).exists() else folder / MANIFEST


def chunk_name(start: int, stop: int) -> str:
    return f"chunk_{start:07d}_{stop:07d}.parquet"


def parse_chunk_name(name: str) -> tuple[int, int] | None:
    """(start, stop) of a chunk file name, or None if the name is not a chunk name."""
    if not (name.startswith("chunk_") and name.endswith(".parquet")):
        return None
    parts = name[len("chunk_"):-len(".parquet")].split("_")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])
