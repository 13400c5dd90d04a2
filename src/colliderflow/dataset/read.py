"""Read and validate datasets: chunk discovery, loading, and the ``inspect`` summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

import awkward as ak
import numpy as np

from colliderflow.dataset.schema import (ADDED_FIELDS, ADDED_TOP_FIELDS, CHUNK_KIND, RECORD_FIELDS, SCHEMA_VERSION,
                                         TOP_FIELDS, manifest_path, parse_chunk_name)
from colliderflow.schema.classes import CLASS_NAMES
from colliderflow.schema.elements import ELEMENT_NAMES
from colliderflow.utils.jagged import first_non_finite
from colliderflow.utils.parquet import FileFormatError, read_parquet

__all__ = ["IncompleteDatasetError", "dataset_files", "has_chunks", "read_manifest", "missing_chunks", "dataset_card",
           "load_dataset", "validate_chunk", "inspect_dataset"]


class IncompleteDatasetError(FileFormatError):
    """A dataset whose manifest lists chunks that are not (yet) there."""


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of dataset folder ``folder`` (``_dataset.json``, or a legacy ``dataset.json``),
    or None if it has none.

    Raises:
        FileFormatError: the manifest is not a JSON object with a chunk list and an identity.
    """
    manifest = manifest_path(Path(folder))
    if not manifest.exists():
        return None
    try:
        content = json.loads(manifest.read_text())
        if not (isinstance(content.get("chunks", []), list) and isinstance(content.get("identity", {}), dict)):
            raise TypeError("'chunks' must be a list and 'identity' a mapping")
    except (json.JSONDecodeError, AttributeError, TypeError) as err:
        raise FileFormatError(f"{manifest}: corrupt manifest: {err!r}") from None
    return content


def missing_chunks(path: str | os.PathLike) -> tuple[list[str], int]:
    """The chunks a dataset directory's manifest lists but that are absent, and how many it lists.

    A single chunk file, or a directory without a manifest, is complete by definition: ([], 0).
    """
    path = Path(path)
    manifest = read_manifest(path) if path.is_dir() else None
    if manifest is None:
        return [], 0
    listed = manifest.get("chunks", [])
    return [c for c in listed if not (path / c).is_file()], len(listed)


def dataset_files(path: str | os.PathLike, allow_partial: bool = False) -> list[Path]:
    """The chunk files of a dataset directory (in event order), or ``[path]`` for one file.

    Raises:
        IncompleteDatasetError: the manifest lists chunks that are missing (unless
            ``allow_partial``): an unfinished or interrupted 'colliderflow dataset', or lost files.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such dataset file or directory")
    missing, listed = missing_chunks(path)
    if missing and not allow_partial:
        raise IncompleteDatasetError(
            f"{path}: incomplete dataset, {len(missing)} of {listed} chunks missing (first {missing[0]}); finish it "
            "by re-running the same 'colliderflow dataset' command, or pass --allow-partial to use the rest")
    files = sorted((p for p in path.iterdir() if parse_chunk_name(p.name)),
                   key=lambda p: cast(tuple[int, int], parse_chunk_name(p.name)))  # chunk names only: never None
    if not files:
        raise FileNotFoundError(f"{path}: no dataset chunks (chunk_*.parquet) found")
    return files


def has_chunks(folder: Path) -> bool:
    """True if ``folder`` holds at least one (complete: written atomically) chunk file."""
    return any(parse_chunk_name(p.name) for p in folder.iterdir())


def dataset_card(path: str | os.PathLike) -> str | None:
    """The detector card named in a dataset's manifest (directory or one of its chunks), or None."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    if "detector" not in manifest.get("identity", {}):
        raise FileFormatError(f"{manifest_path(folder)}: corrupt manifest: no identity.detector")
    return manifest["identity"]["detector"]


def validate_chunk(path: Path, array: ak.Array, fields: tuple[str, ...] | list[str] = TOP_FIELDS) -> None:
    """Check a chunk's layout and values; raises FileFormatError naming the file, event and field.

    Every requested top-level field must hold all its schema fields (``RECORD_FIELDS``), its
    floating-point values must be finite, and elements and targets must be aligned.

    Args:
        fields: the top-level fields that must be present (all by default; the columns read).
    """
    missing = [f for f in fields if f not in array.fields]
    if missing:
        raise FileFormatError(f"{path}: missing top-level field(s) {missing}")
    for top in fields:
        schema = RECORD_FIELDS.get(top)
        if schema is None:
            continue
        sub = array[top]
        absent = [f for f in schema if f not in sub.fields]
        if absent:
            what = "element features" if top == "X" else f"{top} fields"
            raise FileFormatError(f"{path}: {what} missing: {absent}")
        for name, dtype in schema.items():
            if dtype is str or not np.issubdtype(np.dtype(dtype), np.floating):
                continue
            ev = first_non_finite(sub[name])
            if ev is not None:
                what = "element feature" if top == "X" else f"{top} field"
                raise FileFormatError(f"{path}: event {ev}: {what} {name!r} is NaN or inf")
    if "X" in fields and "ytarget" in fields:
        nx, ny = ak.num(array["X"]), ak.num(array["ytarget"])
        bad = np.flatnonzero(ak.to_numpy(nx != ny))
        if len(bad):
            raise FileFormatError(f"{path}: event {bad[0]}: {int(nx[bad[0]])} elements but {int(ny[bad[0]])} targets")


def _read_chunk(path: Path, columns: list[str] | None = None) -> ak.Array:
    array, header = read_parquet(path, CHUNK_KIND, SCHEMA_VERSION, columns=list(columns or TOP_FIELDS),
                                 optional=ADDED_TOP_FIELDS)
    expected = header.get("stop", 0) - header.get("start", 0)
    if len(array) != expected:
        raise FileFormatError(f"{path}: holds {len(array)} events, its header says {expected}")
    return with_added_fields(array, columns or TOP_FIELDS)


def with_added_fields(array: ak.Array, columns: tuple[str, ...] | list[str]) -> ak.Array:
    """``array`` with the fields schema 1 gained later (``ADDED_FIELDS``, ``ADDED_TOP_FIELDS``) filled in
    where a chunk written before lacks them: the requested added records empty, added fields at their value."""
    n = len(array)
    for top in ADDED_TOP_FIELDS:
        if top in columns and top not in array.fields:
            empty = ak.zip({k: np.zeros(0, dtype=dt) for k, dt in RECORD_FIELDS[top].items()})
            array = ak.with_field(array, ak.unflatten(empty, np.zeros(n, dtype=np.int64)), top)
    for top, added in ADDED_FIELDS.items():
        if top in array.fields:
            for name, value in added.items():
                if name not in array[top].fields:
                    column = ak.values_astype(ak.full_like(array[top][array[top].fields[0]], value),
                                              RECORD_FIELDS[top][name])
                    array = ak.with_field(array, column, [top, name])
    return array


def load_dataset(path: str | os.PathLike, columns: list[str] | None = None, validate: bool = True,
                 stop: int | None = None, allow_partial: bool = False) -> ak.Array:
    """All events of a dataset (directory or single chunk) as one awkward array.

    Args:
        columns: top-level fields to read (all if None); each is validated (``validate_chunk``)
            unless ``validate`` is False.
        stop: read only the chunks holding the first ``stop`` events, and return those events
            (all events if None).
        allow_partial: read a dataset whose manifest lists missing chunks (see ``dataset_files``).
    """
    if stop is not None and stop < 1:
        raise ValueError(f"load_dataset: stop must be >= 1 (or None for all events), got {stop}")
    arrays, n = [], 0
    for f in dataset_files(path, allow_partial):
        if stop is not None and n >= stop:
            break
        arr = _read_chunk(f, columns)
        if validate:
            validate_chunk(f, arr, fields=tuple(columns) if columns else TOP_FIELDS)
        arrays.append(arr)
        n += len(arr)
    array = ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    return array if stop is None else array[:stop]


def inspect_dataset(path: str | os.PathLike) -> dict[str, Any]:
    """Validate every chunk and summarise the dataset.

    Raises:
        FileFormatError: on the first bad file, naming it.
    """
    path = Path(path)
    files = dataset_files(path, allow_partial=True)
    n_events = 0
    n_elements, n_tracks, n_pu = [], [], []
    elem_types: dict[str, int] = {}
    classes = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    processes: set[str] = set()
    pu_target = 0
    for f in files:
        arr = _read_chunk(f)
        validate_chunk(f, arr)
        n_events += len(arr)
        n_elements.append(ak.to_numpy(arr.event.n_elements))
        n_tracks.append(ak.to_numpy(arr.event.n_tracks))
        n_pu.append(ak.to_numpy(arr.event.n_pu))
        types = ak.to_numpy(ak.flatten(arr.X["type"])).astype(int)
        for code, count in zip(*np.unique(types, return_counts=True)):
            name = ELEMENT_NAMES.get(int(code), f"type{code}")
            elem_types[name] = elem_types.get(name, 0) + int(count)
        cls = ak.to_numpy(ak.flatten(arr.ytarget.cls)).astype(int)
        classes += np.bincount(cls, minlength=len(CLASS_NAMES))[: len(CLASS_NAMES)]
        pu_target += int(ak.sum((arr.ytarget.cls > 0) & (arr.ytarget.pu_frac > 0.5)))
        processes |= set(ak.to_list(arr.event.process))
    ne = np.concatenate(n_elements)
    summary: dict[str, Any] = {
        "path": str(path), "files": len(files), "events": n_events, "processes": sorted(processes),
        "elements_per_event": {"mean": float(ne.mean()), "min": int(ne.min()), "max": int(ne.max())},
        "tracks_per_event": float(np.concatenate(n_tracks).mean()),
        "pileup_per_event": float(np.concatenate(n_pu).mean()),
        "element_types": elem_types,
        "target_classes": {CLASS_NAMES[i]: int(c) for i, c in enumerate(classes) if i > 0},
        "target_pileup_fraction": pu_target / max(int(classes[1:].sum()), 1),
    }
    if path.is_dir() and manifest_path(path).exists():
        summary["missing_chunks"] = missing_chunks(path)[0]
        summary["detector"] = dataset_card(path)
    return summary
