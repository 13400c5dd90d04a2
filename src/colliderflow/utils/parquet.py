"""Parquet files of awkward arrays with a typed header: atomic writes, validated reads.

Every file the project writes carries, in its Parquet key-value metadata, a ``colliderflow``
JSON header with at least ``kind`` (what the file holds) and ``schema_version``. Reading a file
checks both and turns any low-level failure (truncation, corruption, missing columns) into one
``FileFormatError`` whose message names the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import awkward as ak
import pyarrow as pa
import pyarrow.parquet as pq

from colliderflow.utils.atomic import atomic_path
from colliderflow.utils.errors import one_line

__all__ = ["FileFormatError", "write_parquet", "read_parquet", "read_header"]

_META_KEY = b"colliderflow"


class FileFormatError(ValueError):
    """A file is unreadable, truncated, corrupt, or of the wrong kind or schema version."""


def write_parquet(path: str | os.PathLike, array: ak.Array, header: dict[str, Any]) -> None:
    """Write ``array`` to ``path`` atomically with ``header`` stored in the file metadata.

    Args:
        header: JSON-serialisable; must contain ``kind`` and ``schema_version``.
    """
    for key in ("kind", "schema_version"):
        if key not in header:
            raise ValueError(f"parquet header needs {key!r}")
    table = ak.to_arrow_table(array, extensionarray=False)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps(header, sort_keys=True).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The ``colliderflow`` header of a Parquet file (reads only the footer)."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as err:
        raise FileFormatError(f"{path}: not a readable Parquet file (truncated or corrupt?): {one_line(err)}") from None
    if _META_KEY not in meta:
        raise FileFormatError(f"{path}: Parquet file without a colliderflow header (not written by colliderflow)")
    try:
        return json.loads(meta[_META_KEY])
    except json.JSONDecodeError as err:
        raise FileFormatError(f"{path}: corrupt colliderflow header: {one_line(err)}") from None


def read_parquet(path: str | os.PathLike, kind: str, schema_version: int,
                 columns: list[str] | None = None, optional: tuple[str, ...] = ()) -> tuple[ak.Array, dict[str, Any]]:
    """Read a file written by :func:`write_parquet`, checking its kind and schema version.

    Args:
        columns: top-level fields to read (all if None); a missing one is an error unless it is
            in ``optional`` (fields a schema gained after some of its files were written), which
            are then left out of the result.

    Returns:
        (array, header).
    """
    path = Path(path)
    header = read_header(path)
    if header.get("kind") != kind:
        raise FileFormatError(f"{path}: holds {header.get('kind')!r}, expected {kind!r}")
    if header.get("schema_version") != schema_version:
        raise FileFormatError(
            f"{path}: schema version {header.get('schema_version')}, this colliderflow reads version "
            f"{schema_version}; regenerate the file or use a matching colliderflow release"
        )
    if columns:
        names = pq.read_schema(path).names
        columns = [c for c in columns if c in names or c not in optional]
        absent = [c for c in columns if c not in names]
        if absent:
            raise FileFormatError(f"{path}: missing top-level field(s) {absent}")
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError, KeyError) as err:
        raise FileFormatError(f"{path}: cannot read data (truncated or corrupt?): {one_line(err)}") from None
    return ak.from_arrow(table), header
