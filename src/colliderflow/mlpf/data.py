"""MLPF training data: events from datasets as numpy arrays, a seeded split, bucketed batches.

An event is ``(X (N, F) float32, Y (N, 6) float32)`` with the element features in
``ELEMENT_FEATURES`` order and the target columns ``TARGET_COLUMNS``. Batches pad events to the
largest event of the batch; events are bucketed by size so that little padding is wasted, and
the batch order of an epoch is a function of (seed, epoch) only, so that training resumes
exactly.

Events are held in RAM, or (``cache_dir``) memory-mapped from flat float32 copies of the datasets
written once into a cache folder: the same values, but the process then holds only the pages of
the batches in use, so a training set larger than the machine's memory can be used (a pileup
event with per-cell HF clusters is about 1.1 MB).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from colliderflow.dataset.read import dataset_files, load_dataset
from colliderflow.schema.elements import ELEMENT_FEATURES
from colliderflow.utils.atomic import atomic_dir
from colliderflow.utils.memory import release_free_memory

__all__ = ["TARGET_COLUMNS", "Events", "load_events", "split_indices", "make_batches", "pad_batch"]

#: target columns of Y, per element
TARGET_COLUMNS = ("cls", "pt", "eta", "phi", "energy", "pu_frac")


@dataclass
class Events:
    """Events held in memory.

    Attributes:
        X: list of (N_i, F) float32 element features.
        Y: list of (N_i, 6) float32 targets (``TARGET_COLUMNS``).
        source: list of (dataset path, event index) per event.
    """

    X: list[np.ndarray]
    Y: list[np.ndarray]
    source: list[tuple[str, int]]

    def __len__(self) -> int:
        return len(self.X)

    def sizes(self) -> np.ndarray:
        return np.array([len(x) for x in self.X], dtype=np.int64)

    def subset(self, idx: np.ndarray) -> "Events":
        return Events([self.X[i] for i in idx], [self.Y[i] for i in idx], [self.source[i] for i in idx])


def _flat(arr: ak.Array, names) -> tuple[np.ndarray, np.ndarray]:
    counts = ak.to_numpy(ak.num(arr)).astype(np.int64)
    cols = [ak.to_numpy(ak.flatten(arr[n])).astype(np.float32) for n in names]
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0), np.float32), counts


def _flat_dataset(path: str | os.PathLike, max_events: int | None, with_target: bool) -> dict[str, np.ndarray]:
    """One dataset as flat arrays: X (sum N_i, F), Y (sum N_i, 6) if ``with_target``, offsets
    (events + 1,) into them and the dataset's event indices (events,).

    Chunk by chunk: the awkward records of one chunk take about ten times its flat arrays, so
    reading the whole dataset first (as before) peaked at several times the result.
    """
    columns = ["X", "ytarget", "event"] if with_target else ["X", "event"]
    xs, ys, counts, idx = [], [], [], []
    n = 0
    for f in dataset_files(path):
        if max_events is not None and n >= max_events:
            break
        data = load_dataset(f, columns=columns, validate=True)
        if max_events is not None:
            data = data[:max_events - n]
        X, c = _flat(data.X, ELEMENT_FEATURES)
        xs.append(X)
        counts.append(c)
        idx.append(ak.to_numpy(data.event["index"]).astype(np.int64))
        if with_target:
            ys.append(_flat(data.ytarget, TARGET_COLUMNS)[0])
        n += len(data)
        del data
    out = {"X": np.concatenate(xs) if xs else np.zeros((0, len(ELEMENT_FEATURES)), np.float32),
           "offsets": np.concatenate([[0], np.cumsum(np.concatenate(counts) if counts else [])]).astype(np.int64),
           "index": np.concatenate(idx) if idx else np.zeros(0, np.int64)}
    if with_target:
        out["Y"] = np.concatenate(ys) if ys else np.zeros((0, len(TARGET_COLUMNS)), np.float32)
    del xs, ys
    release_free_memory()
    return out


def _cache_key(path: str | os.PathLike, max_events: int | None, with_target: bool) -> str:
    """Changes whenever the dataset's chunk files (names, sizes, modification times), the event cap
    or the feature/target columns change."""
    h = hashlib.sha256(json.dumps([str(Path(path).resolve()), max_events, with_target, list(ELEMENT_FEATURES),
                                   list(TARGET_COLUMNS)]).encode())
    for f in dataset_files(path):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{Path(path).name}-{h.hexdigest()[:16]}"


def _cached_dataset(path: str | os.PathLike, max_events: int | None, with_target: bool,
                    cache_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of :func:`_flat_dataset`, memory-mapped from ``cache_dir`` (written on first use,
    atomically: a killed write leaves no partial cache)."""
    folder = Path(cache_dir) / _cache_key(path, max_events, with_target)
    names = ["X", "offsets", "index"] + (["Y"] if with_target else [])
    if not all((folder / f"{n}.npy").exists() for n in names):
        arrays = _flat_dataset(path, max_events, with_target)
        with atomic_dir(folder) as tmp:
            for n in names:
                np.save(tmp / f"{n}.npy", arrays[n])
        del arrays
    return {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}


def load_events(paths: list[str | os.PathLike], max_events: int | None = None,
                with_target: bool = True, cache_dir: str | os.PathLike | None = None) -> Events:
    """Load events of one or more datasets (each capped at ``max_events``).

    Args:
        cache_dir: memory-map the events from flat copies in this folder (module docstring);
            None: hold them in RAM.
    """
    xs, ys, src = [], [], []
    for path in paths:
        arrays = (_flat_dataset(path, max_events, with_target) if cache_dir is None else
                  _cached_dataset(path, max_events, with_target, cache_dir))
        X, offsets, idx = arrays["X"], arrays["offsets"], arrays["index"]
        for k, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
            xs.append(X[a:b])
            ys.append(arrays["Y"][a:b] if with_target else np.zeros((b - a, len(TARGET_COLUMNS)), np.float32))
            src.append((str(path), int(idx[k])))
    return Events(xs, ys, src)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``n`` events into (train, validation) index arrays."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {val_fraction}")
    perm = np.random.Generator(np.random.PCG64([seed, 0x5B11])).permutation(n)
    n_val = max(1, int(round(n * val_fraction))) if n > 1 else 0
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def make_batches(sizes: np.ndarray, max_elements: int, seed: int, epoch: int,
                 shuffle: bool = True) -> list[np.ndarray]:
    """Group events into batches of at most ``max_elements`` padded elements (B * N_max).

    Events are sorted by size (with a seeded jitter so buckets mix between epochs), cut into
    batches, and the batches shuffled; the result depends only on (sizes, seed, epoch).
    An event larger than ``max_elements`` forms a batch of its own.
    """
    rng = np.random.Generator(np.random.PCG64([seed, epoch, 0xBA7C]))
    key = sizes * (1.0 + (0.1 * rng.random(len(sizes)) if shuffle else 0.0))
    order = np.argsort(key, kind="stable")
    batches: list[np.ndarray] = []
    current: list[int] = []
    current_max = 0
    for i in order:
        n_max = max(current_max, int(sizes[i]), 1)
        if current and n_max * (len(current) + 1) > max_elements:
            batches.append(np.array(current))
            current, n_max = [], max(int(sizes[i]), 1)
        current.append(i)
        current_max = n_max
    if current:
        batches.append(np.array(current))
    if shuffle:
        rng.shuffle(batches)
    return batches


def pad_batch(events: Events, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X (B, N_max, F), Y (B, N_max, 6)) zero-padded float32 arrays of events ``idx``."""
    n_max = max(1, max(len(events.X[i]) for i in idx))
    X = np.zeros((len(idx), n_max, len(ELEMENT_FEATURES)), np.float32)
    Y = np.zeros((len(idx), n_max, len(TARGET_COLUMNS)), np.float32)
    for k, i in enumerate(idx):
        n = len(events.X[i])
        X[k, :n] = events.X[i]
        Y[k, :n] = events.Y[i]
    return X, Y


def iterate(events: Events, batches: list[np.ndarray], start: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (batch number, X, Y) from batch ``start`` on."""
    for b in range(start, len(batches)):
        X, Y = pad_batch(events, batches[b])
        yield b, X, Y
