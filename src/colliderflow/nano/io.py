"""Reading and writing NanoAOD-like events as ROOT TTrees (uproot ``mktree``) or Parquet.

In memory an event batch is an awkward record array whose fields are collections (jagged
records, e.g. ``Jet``), singletons (records, e.g. ``MET``) and scalars (``event``). In ROOT the
same event is NanoAOD-style flat branches: ``nJet``, ``Jet_pt``, ``MET_pt``, ``event``; the
colliderflow header is a JSON string stored next to the tree. Both writers stream batches and
write atomically (temporary file renamed on success); readers check kind and schema version and
turn truncated or foreign files into one :class:`FileFormatError` naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import awkward as ak
import pyarrow.parquet as pq

from colliderflow.nano.schema import COLLECTIONS, NANO_KIND, NANO_SCHEMA_VERSION, SCALARS, SINGLETONS
from colliderflow.utils.atomic import atomic_path
from colliderflow.utils.parquet import FileFormatError, read_parquet

__all__ = ["NanoWriter", "write_nano", "read_nano", "read_nano_header", "nano_format", "FileFormatError"]

_TREE = "Events"
_HEADER_KEY = "colliderflow_header"


def nano_format(path: str | os.PathLike) -> str:
    """'root' or 'parquet' from the file suffix; ValueError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix == ".root":
        return "root"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"{path}: unknown NanoAOD output format {suffix!r}; use .root or .parquet")


def _flat_branches(batch: ak.Array) -> dict[str, Any]:
    """uproot branch dictionary: jagged records stay zipped (uproot writes nX + X_field)."""
    out: dict[str, Any] = {}
    for name in batch.fields:
        arr = batch[name]
        if name in COLLECTIONS:
            out[name] = ak.zip({f: arr[f] for f in arr.fields})
        elif name in SINGLETONS:
            for f in arr.fields:
                out[f"{name}_{f}"] = ak.to_numpy(arr[f])
        else:
            out[name] = ak.to_numpy(arr)
    return out


class NanoWriter:
    """Stream event batches into one ROOT or Parquet file, renamed into place on :meth:`close`.

    Usage::

        with NanoWriter("nano.root", header) as w:
            for batch in batches:
                w.write(batch)
    """

    def __init__(self, path: str | os.PathLike, header: dict[str, Any]):
        self.path = Path(path)
        self.format = nano_format(self.path)
        self.header = {"kind": NANO_KIND, "schema_version": NANO_SCHEMA_VERSION, **header}
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._file = None
        self._tree = None
        self._writer: pq.ParquetWriter | None = None
        self.n_events = 0

    def write(self, batch: ak.Array) -> None:
        """Append a batch of events (an awkward record array in the layout above)."""
        if len(batch) == 0:
            return
        if self.format == "root":
            import uproot

            branches = _flat_branches(batch)
            if self._file is None:
                self._file = uproot.recreate(self._tmp)
                self._file[_HEADER_KEY] = json.dumps(self.header, sort_keys=True)
                types = {k: (v.type.content if isinstance(v, ak.Array) else v.dtype) for k, v in branches.items()}
                self._tree = self._file.mktree(_TREE, types, title="colliderflow NanoAOD-like events")
            self._tree.extend(branches)
        else:
            table = ak.to_arrow_table(batch, extensionarray=False)
            if self._writer is None:
                meta = dict(table.schema.metadata or {})
                meta[b"colliderflow"] = json.dumps(self.header, sort_keys=True).encode()
                self._schema = table.schema.with_metadata(meta)
                self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")
            self._writer.write_table(table.cast(self._schema))
        self.n_events += len(batch)

    def close(self, ok: bool = True) -> None:
        """Finish the file; with ``ok=False`` discard it."""
        if self._file is not None:
            self._file.close()
        if self._writer is not None:
            self._writer.close()
        if self._file is None and self._writer is None and ok:
            raise ValueError(f"{self.path}: no events written")
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("discarded"), None)

    def __enter__(self) -> "NanoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close(ok=True)
        else:
            try:
                self.close(ok=False)
            except RuntimeError:
                pass
        return False


def write_nano(path: str | os.PathLike, events: ak.Array, header: dict[str, Any] | None = None) -> Path:
    """Write one array of events to ``path`` (.root or .parquet), atomically."""
    with NanoWriter(path, header or {}) as w:
        w.write(events)
    return Path(path)


def _check_header(path: Path, header: dict[str, Any]) -> dict[str, Any]:
    if header.get("kind") != NANO_KIND:
        raise FileFormatError(f"{path}: holds {header.get('kind')!r}, expected {NANO_KIND!r}")
    if header.get("schema_version") != NANO_SCHEMA_VERSION:
        raise FileFormatError(f"{path}: NanoAOD schema version {header.get('schema_version')}, this colliderflow "
                              f"reads version {NANO_SCHEMA_VERSION}; regenerate the file")
    return header


def read_nano_header(path: str | os.PathLike) -> dict[str, Any]:
    """The colliderflow header of a NanoAOD-like file."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if nano_format(path) == "parquet":
        from colliderflow.utils.parquet import read_header

        return _check_header(path, read_header(path))
    import uproot

    try:
        with uproot.open(path) as f:
            if _HEADER_KEY not in f:
                raise FileFormatError(f"{path}: ROOT file without a colliderflow header (not written by colliderflow)")
            header = json.loads(str(f[_HEADER_KEY]))
    except FileFormatError:
        raise
    except Exception as err:  # uproot raises many types on truncated/corrupt files
        raise FileFormatError(f"{path}: not a readable ROOT file (truncated or corrupt?): {err}") from None
    return _check_header(path, header)


def _group_root(arrays: ak.Array) -> ak.Array:
    fields: dict[str, Any] = {}
    names = set(arrays.fields)
    for coll in COLLECTIONS:
        sub = {n[len(coll) + 1:]: arrays[n] for n in names if n.startswith(coll + "_")}
        if sub:
            fields[coll] = ak.zip(sub)
    for single in SINGLETONS:
        sub = {n[len(single) + 1:]: arrays[n] for n in names if n.startswith(single + "_")}
        if sub:
            fields[single] = ak.zip(sub)
    for s in SCALARS:
        if s in names:
            fields[s] = arrays[s]
    return ak.zip(fields, depth_limit=1)


def read_nano(path: str | os.PathLike, entry_start: int | None = None, entry_stop: int | None = None) -> ak.Array:
    """Events of a NanoAOD-like file (.root or .parquet) in the in-memory layout."""
    path = Path(path)
    if nano_format(path) == "parquet":
        array, _ = read_parquet(path, NANO_KIND, NANO_SCHEMA_VERSION)
        return array[entry_start:entry_stop]
    read_nano_header(path)
    import uproot

    try:
        with uproot.open(path) as f:
            tree = f[_TREE]
            arrays = tree.arrays(entry_start=entry_start, entry_stop=entry_stop,
                                 filter_name=lambda n: not (n.startswith("n") and n[1:] in COLLECTIONS))
    except Exception as err:
        raise FileFormatError(f"{path}: cannot read the {_TREE} tree (truncated or corrupt?): {err}") from None
    return _group_root(arrays)

