"""Conversions between jagged awkward records and per-event dictionaries of numpy arrays.

Per-event algorithms (PF, object building) work on plain numpy arrays; files hold awkward
records (events, objects). ``per_event`` flattens each field once and slices it per event,
``to_jagged`` concatenates per-event results back into one record array.
"""

from __future__ import annotations

from typing import Iterable

import awkward as ak
import numpy as np

__all__ = ["per_event", "to_jagged", "first_non_finite"]


def per_event(array: ak.Array, fields: Iterable[str], dtype=None) -> list[dict[str, np.ndarray]]:
    """One dict field -> (n_i,) numpy array per event of the jagged records ``array`` (events, objects).

    Args:
        fields: the fields to take (at least one).
        dtype: cast every field to this type (default: keep the stored types).
    """
    fields = list(fields)
    counts = ak.to_numpy(ak.num(array[fields[0]])).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    flat = {f: ak.to_numpy(ak.flatten(array[f])) for f in fields}
    if dtype is not None:
        flat = {f: v.astype(dtype) for f, v in flat.items()}
    return [{f: v[a:b] for f, v in flat.items()} for a, b in zip(offsets[:-1], offsets[1:])]


def to_jagged(records: list[dict[str, np.ndarray]], fields: dict[str, type] | None = None) -> ak.Array:
    """Jagged records (events, objects) from one dict of equal-length arrays per event.

    Args:
        records: per event, field -> (n_i,) array; an empty dict stands for an event without objects.
        fields: field -> dtype to cast to; default: the fields of the first record, types kept.
    """
    names = list(fields) if fields is not None else list(records[0])
    counts = np.array([len(r[names[0]]) if r else 0 for r in records], dtype=np.int64)
    flat = {}
    for name in names:
        parts = [np.asarray(r[name]) if fields is None else np.asarray(r[name], dtype=fields[name])
                 for r in records if r]
        flat[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=fields[name] if fields else np.float64)
    return ak.unflatten(ak.zip(flat, depth_limit=1), counts)


def first_non_finite(column: ak.Array) -> int | None:
    """The first event whose values in ``column`` (jagged (events, n) or flat (events,)) include NaN
    or inf, or None if all are finite."""
    jagged = column.ndim > 1
    values = ak.to_numpy(ak.flatten(column) if jagged else column)
    bad = np.flatnonzero(~np.isfinite(values))
    if not len(bad):
        return None
    if not jagged:
        return int(bad[0])
    return int(np.searchsorted(np.cumsum(ak.to_numpy(ak.num(column))), bad[0], side="right"))
