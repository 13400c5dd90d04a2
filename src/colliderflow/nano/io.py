"""Reading and writing NanoAOD-like events as ROOT TTrees (uproot ``mktree``) or Parquet.

In memory an event batch is an awkward record array whose fields are collections (jagged
records, e.g. ``Jet``), singletons (records, e.g. ``MET``) and scalars (``event``). In files the
same event is NanoAOD-style flat branches or columns: ``nJet``, ``Jet_pt``, ``MET_pt``, ``event``
(what coffea's NanoAODSchema reads). ROOT files hold the colliderflow header as a JSON string next
to the ``Events`` tree and a ``Runs`` tree (``genEventCount``, ``genEventSumw``,
``genEventSumw2`` per run); Parquet files hold the header in their metadata. Both writers stream batches and
write atomically (temporary file renamed on success); readers check kind and schema version and
turn truncated or foreign files into one :class:`FileFormatError` naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Literal

import awkward as ak
import numpy as np
import pyarrow.parquet as pq

from colliderflow.nano.schema import COLLECTIONS, NANO_KIND, NANO_SCHEMA_VERSION, SCALARS, SINGLETONS
from colliderflow.utils.atomic import atomic_path
from colliderflow.utils.errors import one_line
from colliderflow.utils.jagged import first_non_finite
from colliderflow.utils.parquet import FileFormatError, read_parquet

__all__ = ["NanoWriter", "event_ids", "write_nano", "read_nano", "iter_nano", "nano_entries", "read_nano_header", "validate_nano", "nano_oversample",
           "nano_format", "FileFormatError"]

_TREE = "Events"
_RUNS = "Runs"
_HEADER_KEY = "colliderflow_header"


def nano_format(path: str | os.PathLike) -> str:
    """'root' or 'parquet' from the file suffix; ValueError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix == ".root":
        return "root"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"{path}: unknown NanoAOD output format {suffix!r}; use .root or .parquet")


def event_ids(seed: np.ndarray, index: np.ndarray, replica: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """CMS event identity of generator events: run = sample seed, luminosityBlock = 1 + replica
    (1 without oversampling), event = generator event index (shared by the replicas of an event)."""
    lumi = np.ones(len(index), np.int64) if replica is None else 1 + np.asarray(replica, np.int64)
    return {"run": np.asarray(seed).astype(SCALARS["run"]), "luminosityBlock": lumi.astype(SCALARS["luminosityBlock"]),
            "event": np.asarray(index).astype(SCALARS["event"])}


def _flat_branches(batch: ak.Array, zipped: bool = True) -> dict[str, Any]:
    """NanoAOD branches of a batch: ``nJet``/``Jet_pt``..., ``PuppiMET_pt``..., scalars.

    Args:
        zipped: keep each collection as one jagged record (uproot writes it as ``nX`` + ``X_field``
            branches); otherwise give ``nX`` and one jagged array per ``X_field`` (Parquet columns).
    """
    out: dict[str, Any] = {}
    for name in batch.fields:
        arr = batch[name]
        if name in COLLECTIONS:
            if zipped:
                out[name] = ak.zip({f: arr[f] for f in arr.fields})
            else:
                out[f"n{name}"] = ak.to_numpy(ak.num(arr)).astype(np.int32)
                out.update({f"{name}_{f}": arr[f] for f in arr.fields})
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
        self._file: Any = None  # uproot's writable file and tree, made on the first write
        self._tree: Any = None
        self._writer: pq.ParquetWriter | None = None
        self.n_events = 0
        self._runs: dict[int, list[float]] = {}  # run -> [events, sum of weights, sum of squared weights]

    def write(self, batch: ak.Array) -> None:
        """Append a batch of events (an awkward record array in the layout above)."""
        if len(batch) == 0:
            return
        if "run" in batch.fields:
            w = ak.to_numpy(batch.genWeight).astype(np.float64) if "genWeight" in batch.fields else np.ones(len(batch))
            runs = ak.to_numpy(batch.run).astype(np.int64)
            for r in np.unique(runs):
                sel = runs == r
                acc = self._runs.setdefault(int(r), [0.0, 0.0, 0.0])
                acc[0] += int(sel.sum())
                acc[1] += float(w[sel].sum())
                acc[2] += float((w[sel] ** 2).sum())
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
            table = ak.to_arrow_table(ak.zip(_flat_branches(batch, zipped=False), depth_limit=1),
                                      extensionarray=False)
            if self._writer is None:
                meta = dict(table.schema.metadata or {})
                meta[b"colliderflow"] = json.dumps(self.header, sort_keys=True).encode()
                self._schema = table.schema.with_metadata(meta)
                self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")
            self._writer.write_table(table.cast(self._schema))
        self.n_events += len(batch)

    def close(self, ok: bool = True) -> None:
        """Finish the file (ROOT: with the ``Runs`` tree); with ``ok=False`` discard it."""
        if self._file is not None:
            if ok and self._runs:
                runs = sorted(self._runs)
                self._file[_RUNS] = {
                    "run": np.array(runs, SCALARS["run"]),
                    "genEventCount": np.array([self._runs[r][0] for r in runs], np.int64),
                    "genEventSumw": np.array([self._runs[r][1] for r in runs], np.float64),
                    "genEventSumw2": np.array([self._runs[r][2] for r in runs], np.float64)}
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

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
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


#: the header of a file that lost ours (re-saved by uproot, pandas, a skim): read by its content
_NO_HEADER = {"kind": NANO_KIND, "schema_version": NANO_SCHEMA_VERSION, "header": "missing"}


def _headerless(path: Path, names: set[str]) -> dict[str, Any]:
    """The stand-in header of a file without ours, if its branches look like this format's."""
    if not {"run", "event"} <= names:
        raise FileFormatError(f"{path}: no colliderflow header and no 'run' and 'event' branches; not a "
                              "NanoAOD-like file of this project")
    return dict(_NO_HEADER)


def read_nano_header(path: str | os.PathLike) -> dict[str, Any]:
    """The colliderflow header of a NanoAOD-like file.

    A file re-saved by another tool (uproot, pandas, a skim) may have lost the header; it is read
    by its content if it has the ``run`` and ``event`` branches, and gets the header
    ``{"kind": "nanoaod", "schema_version": 1, "header": "missing"}``.
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if nano_format(path) == "parquet":
        from colliderflow.utils.parquet import read_header

        try:
            return _check_header(path, read_header(path))
        except FileFormatError as err:
            if "without a colliderflow header" not in str(err):
                raise
            return _headerless(path, set(pq.read_schema(path).names))
    import uproot

    try:
        with uproot.open(path) as f:
            if _HEADER_KEY in f:
                header = json.loads(str(f[_HEADER_KEY]))
            elif _TREE in f:
                header = _headerless(path, set(f[_TREE].keys()))
            else:
                raise FileFormatError(f"{path}: ROOT file without a colliderflow header or an {_TREE} tree")
    except FileFormatError:
        raise
    except Exception as err:  # uproot raises many types on truncated/corrupt files
        raise FileFormatError(f"{path}: not a readable ROOT file (truncated or corrupt?): {one_line(err)}") from None
    return _check_header(path, header)


def _is_counter(branch: str) -> bool:
    """Whether ``branch`` is a collection's counter (``nJet``), which the in-memory layout derives."""
    return branch.startswith("n") and branch[1:] in COLLECTIONS


def _in_memory_layout(events: ak.Array) -> ak.Array:
    """Events as collections, singletons and scalars: flat NanoAOD branches or columns (as files hold
    them) are grouped; an array already in that layout (e.g. re-saved by awkward) is kept."""
    if any(name in events.fields for name in (*COLLECTIONS, *SINGLETONS)):
        return events
    return _group_root(events)


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


def validate_nano(path: str | os.PathLike, events: ak.Array, require: tuple[str, ...] = ()) -> None:
    """Check NanoAOD-like events read from ``path``.

    Every collection, singleton or scalar in ``require`` must be present with all its schema
    fields; every floating-point value of every known collection must be finite.

    Raises:
        FileFormatError: one line naming the file, and the branch and event of the first bad value.
    """
    missing = [n for n in require if n not in events.fields]
    if missing:
        raise FileFormatError(f"{path}: no {', '.join(missing)} (needed here); write full files with "
                              "'colliderflow nano'")
    for name in events.fields:
        schema = COLLECTIONS.get(name) or SINGLETONS.get(name)
        if schema is None:
            if name in SCALARS and np.issubdtype(SCALARS[name], np.floating):
                ev = first_non_finite(events[name])
                if ev is not None:
                    raise FileFormatError(f"{path}: event {ev}: {name} is NaN or inf")
            continue
        sub = events[name]
        if name in require:
            absent = [f"{name}_{f}" for f in schema if f not in sub.fields]
            if absent:
                raise FileFormatError(f"{path}: branches missing: {absent}")
        for f, dtype in schema.items():
            if f in sub.fields and np.issubdtype(dtype, np.floating):
                ev = first_non_finite(sub[f])
                if ev is not None:
                    raise FileFormatError(f"{path}: event {ev}: {name}_{f} is NaN or inf")


def read_nano(path: str | os.PathLike, entry_start: int | None = None, entry_stop: int | None = None,
              require: tuple[str, ...] = ()) -> ak.Array:
    """Events of a NanoAOD-like file (.root or .parquet) in the in-memory layout, validated.

    Args:
        require: collections, singletons and scalars the caller needs (see :func:`validate_nano`).
    """
    path = Path(path)
    header = read_nano_header(path)
    if nano_format(path) == "parquet":
        if header.get("header") == "missing":
            try:
                events = ak.from_parquet(path)
            except Exception as err:
                raise FileFormatError(f"{path}: cannot read data (truncated or corrupt?): {one_line(err)}") from None
        else:
            events, _ = read_parquet(path, NANO_KIND, NANO_SCHEMA_VERSION)
        events = _in_memory_layout(events[entry_start:entry_stop])
    else:
        import uproot

        try:
            with uproot.open(path) as f:
                tree = f[_TREE]
                arrays = tree.arrays(entry_start=entry_start, entry_stop=entry_stop,
                                     filter_name=lambda n: not _is_counter(n))
        except Exception as err:
            raise FileFormatError(f"{path}: cannot read the {_TREE} tree (truncated or corrupt?): {one_line(err)}") \
                from None
        events = _in_memory_layout(arrays)
    validate_nano(path, events, require)
    return events


def nano_entries(path: str | os.PathLike) -> int:
    """Number of events of a NanoAOD-like file (reads only its metadata)."""
    path = Path(path)
    read_nano_header(path)
    try:
        if nano_format(path) == "parquet":
            return pq.ParquetFile(path).metadata.num_rows
        import uproot

        with uproot.open(path) as f:
            return int(f[_TREE].num_entries)
    except Exception as err:
        raise FileFormatError(f"{path}: cannot read the event count (truncated or corrupt?): {one_line(err)}") from None


def _wanted(names: tuple[str, ...] | None):
    """Branch filter: the branches and columns of the collections, singletons and scalars ``names``."""
    if names is None:
        return lambda branch: True
    keep = set(names)
    return lambda branch: (branch in keep or branch.split("_", 1)[0] in keep
                           or (branch.startswith("n") and branch[1:] in keep))


def iter_nano(path: str | os.PathLike, step: int, require: tuple[str, ...] = (),
              only: tuple[str, ...] | None = None) -> Iterator[ak.Array]:
    """Events of a NanoAOD-like file in batches of ``step``, validated, with bounded memory.

    Args:
        require: collections, singletons and scalars every batch must hold (:func:`validate_nano`).
        only: read only these collections, singletons and scalars (all if None).
    """
    path = Path(path)
    if step < 1:
        raise ValueError(f"iter_nano: step must be >= 1, got {step}")
    read_nano_header(path)
    try:
        for events in _raw_batches(path, step, _wanted(only)):
            events = _in_memory_layout(events)
            validate_nano(path, events, require)
            yield events
    except FileFormatError:
        raise
    except Exception as err:
        raise FileFormatError(f"{path}: cannot read events (truncated or corrupt?): {one_line(err)}") from None


def _raw_batches(path: Path, step: int, keep) -> Iterator[ak.Array]:
    """Batches of ``step`` events as stored (flat branches or columns ``keep`` accepts)."""
    if nano_format(path) == "parquet":
        pf = pq.ParquetFile(path)
        columns = [c for c in pf.schema_arrow.names if keep(c)]
        for batch in pf.iter_batches(batch_size=step, columns=columns):
            yield ak.from_arrow(batch)
        return
    import uproot

    with uproot.open(path) as f:
        yield from f[_TREE].iterate(step_size=step, filter_name=lambda n: keep(n) and not _is_counter(n))


def nano_oversample(header: dict[str, Any], events: ak.Array) -> int:
    """Replicas K per generator event of a file: from its header, else from ``FlashSim.replica``."""
    if "oversample" in header:
        return int(header["oversample"])
    if "FlashSim" in events.fields and len(events):
        return int(ak.max(events.FlashSim.replica)) + 1
    return 1
