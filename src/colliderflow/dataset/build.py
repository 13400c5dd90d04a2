"""Build a dataset: generate -> simulate -> target, written as atomic, resumable Parquet chunks.

Chunk k holds events [k*chunk_size, (k+1)*chunk_size) and depends only on the configuration
and those event indices, so chunks can be produced in any order, in parallel processes or as
independent batch jobs (``--chunks``), and a re-run fills in only the missing ones.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

import colliderflow
from colliderflow.dataset.read import has_chunks, read_manifest
from colliderflow.dataset.schema import (CHUNK_KIND, EVENT_FIELDS, SCHEMA_VERSION, TARGET_FIELDS, TRUTH_FIELDS,
                                         chunk_name, manifest_path)
from colliderflow.generate.event import HADRON_FIELDS, PARTON_FIELDS, RESONANCE_FIELDS, TAU_FIELDS, GenEvent
from colliderflow.generate.source import EventSource, GenerationConfig
from colliderflow.simulate.card import DetectorCard, card_hash, load_card
from colliderflow.simulate.detector import SimEvent, simulate_event
from colliderflow.target.build import Target, build_target, truth_mask
from colliderflow.utils.atomic import atomic_write_text, output_dir
from colliderflow.utils.config import RangeChecked, positive, to_dict
from colliderflow.utils.jagged import to_jagged
from colliderflow.utils.parquet import FileFormatError, read_header, write_parquet
from colliderflow.utils.rng import event_rng
from colliderflow.utils.workers import process_pool

__all__ = ["DatasetConfig", "build_dataset", "process_event", "event_record", "generator_record",
           "records_to_array", "StageTimer"]


@dataclass(frozen=True)
class DatasetConfig(RangeChecked):
    """A dataset to build.

    Attributes:
        generation: what to generate (process, energy, seed, pileup).
        detector: a shipped card name or a card file path.
        events: number of events.
        chunk_size: events per Parquet chunk.
    """

    generation: GenerationConfig = field(default_factory=GenerationConfig)
    detector: str = "cms-like"
    events: int = positive(100)
    chunk_size: int = positive(50)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.generation.check_overlay()  # a dataset overlays its pileup: the pool is needed up front

    def chunks(self) -> list[tuple[int, int]]:
        return [(a, min(a + self.chunk_size, self.events)) for a in range(0, self.events, self.chunk_size)]

    def identity(self, card: DetectorCard) -> dict[str, Any]:
        """What a chunk must match to be reused: everything that changes its content.

        The pileup pool enters through its header (process, seed, energy, size), not its path,
        so a pool that was moved or copied still matches.
        """
        generation = to_dict(self.generation)
        if self.generation.pileup_pool:
            header = read_header(self.generation.pileup_pool)
            generation["pileup_pool"] = {k: header.get(k) for k in ("process", "seed", "sqrt_s", "n_events",
                                                                    "schema_version")}
        return {"generation": generation, "detector": card.name, "card_hash": card_hash(card),
                "chunk_size": self.chunk_size, "schema_version": SCHEMA_VERSION}


class StageTimer:
    """Accumulates wall time per pipeline stage (generation, simulation, target)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"generate": 0.0, "simulate": 0.0, "target": 0.0}

    def add(self, stage: str, dt: float) -> None:
        self.seconds[stage] += dt


def process_event(source: EventSource, card: DetectorCard, index: int,
                  timer: StageTimer | None = None) -> tuple[GenEvent, SimEvent, Target]:
    """Run generation, detector simulation and target building for one event."""
    t0 = time.perf_counter()
    event = source.generate(index)
    t1 = time.perf_counter()
    sim = simulate_event(event.particles, card, event_rng(source.config.seed, index, "simulate"))
    t2 = time.perf_counter()
    target = build_target(event.particles, sim)
    t3 = time.perf_counter()
    if timer is not None:
        timer.add("generate", t1 - t0)
        timer.add("simulate", t2 - t1)
        timer.add("target", t3 - t2)
    return event, sim, target


def _cast(values: dict[str, np.ndarray], fields: dict[str, type]) -> dict[str, np.ndarray]:
    return {k: np.asarray(values[k], dtype=dt) for k, dt in fields.items()}


def generator_record(event: GenEvent) -> dict[str, Any]:
    """The generator part of an event record: ``truth`` (without ``element``), ``gen_hadrons``,
    ``gen_taus``, ``gen_partons``, ``gen_resonances`` and ``event`` (without the detector's ``n_tracks`` and
    ``n_elements``). Generator-level samples (``colliderflow generate``) are built from it alone."""
    p = event.particles
    t = p.take(truth_mask(p))
    nu = (p.interaction == 0) & np.isin(np.abs(p.pid), (12, 14, 16))
    truth = {"pid": t.pid, "charge": t.charge, "pt": t.pt, "eta": t.eta, "phi": t.phi, "energy": t.energy,
             "mass": t.mass, "vx": t.vx, "vy": t.vy, "vz": t.vz, "flags": t.flags, "tau_index": t.tau_index,
             "resonance_index": t.resonance_index}
    info = event.info
    ev = {"index": info.index, "seed": info.seed, "sqrt_s": info.sqrt_s, "weight": info.weight,
          "n_pu": info.n_pu, "pv_x": info.pv_x, "pv_y": info.pv_y, "pv_z": info.pv_z, "pv_t": info.pv_t,
          "n_particles": len(p), "genmet_x": p.px[nu].sum(), "genmet_y": p.py[nu].sum()}
    return {
        "truth": _cast(truth, {k: TRUTH_FIELDS[k] for k in truth}),
        "gen_hadrons": _cast(event.hadrons, HADRON_FIELDS),
        "gen_taus": _cast(event.taus, TAU_FIELDS),
        "gen_partons": _cast(event.partons, PARTON_FIELDS),
        "gen_resonances": _cast(event.resonances, RESONANCE_FIELDS),
        "event": _event_scalars(ev, info.process),
    }


def _event_scalars(ev: dict[str, Any], process: str) -> dict[str, Any]:
    """The ``event`` record in schema order (which fixes the column order in the files)."""
    return {**{k: np.asarray(ev[k], dtype=dt) for k, dt in EVENT_FIELDS.items() if k in ev}, "process": process}


def event_record(event: GenEvent, sim: SimEvent, target: Target) -> dict[str, Any]:
    """One event as a dictionary of arrays following the schema."""
    record = generator_record(event)
    element = target.particle_element[truth_mask(event.particles)]
    ytarget = {k: getattr(target, k) for k in TARGET_FIELDS}
    return {
        "X": sim.elements,
        "ytarget": _cast(ytarget, TARGET_FIELDS),
        **record,
        "truth": {**record["truth"], "element": np.asarray(element, dtype=TRUTH_FIELDS["element"])},
        "event": _event_scalars({**record["event"], "n_tracks": sim.n_tracks, "n_elements": sim.n_elements},
                                event.info.process),
    }


def records_to_array(records: list[dict[str, Any]]) -> ak.Array:
    """Events (from :func:`event_record` or :func:`generator_record`) as one awkward array with
    the schema's layout (the fields the records have)."""
    jagged: dict[str, ak.Array] = {
        key: to_jagged([r[key] for r in records])
        for key in ("X", "ytarget", "truth", "gen_hadrons", "gen_taus", "gen_partons", "gen_resonances")
        if key in records[0]}
    ev = ak.Array([{k: (v.item() if isinstance(v, np.ndarray) else v) for k, v in r["event"].items()}
                   for r in records])
    return ak.zip({**jagged, "event": ev}, depth_limit=1)


# per-process cache: Pythia initialisation and pool loading happen once per worker
_STATE: dict[str, Any] = {}


def _worker_state(config: DatasetConfig) -> tuple[EventSource, DetectorCard]:
    key = json.dumps(to_dict(config), sort_keys=True)
    if _STATE.get("key") != key:
        _STATE.update(key=key, source=EventSource(config.generation), card=load_card(config.detector))
    return _STATE["source"], _STATE["card"]


def _build_chunk(config: DatasetConfig, out: str, start: int, stop: int, progress=None) -> dict[str, float]:
    source, card = _worker_state(config)
    timer = StageTimer()
    records = []
    for i in range(start, stop):
        records.append(event_record(*process_event(source, card, i, timer)))
        if progress is not None:
            progress(1)
    header = {"kind": CHUNK_KIND, **config.identity(card), "start": start, "stop": stop,
              "colliderflow_version": colliderflow.__version__}
    write_parquet(Path(out) / chunk_name(start, stop), records_to_array(records), header)
    return timer.seconds


def _chunk_done(path: Path, identity: dict[str, Any]) -> bool:
    """True if ``path`` is a complete chunk of this configuration."""
    if not path.exists():
        return False
    try:
        header = read_header(path)
    except FileFormatError:
        return False
    return all(header.get(k) == v for k, v in identity.items())


def build_dataset(config: DatasetConfig, out: str | os.PathLike, jobs: int = 1,
                  chunk_range: tuple[int, int] | None = None, progress: bool = True) -> dict[str, Any]:
    """Build (or complete) the dataset in directory ``out``.

    Args:
        jobs: worker processes; the output is identical for any value.
        chunk_range: only build chunks [a, b) of the chunk list (for batch arrays).

    Returns:
        A summary: chunks built and skipped, events, wall time per stage.

    Raises:
        FileExistsError: if ``out`` holds a dataset of a different configuration.
    """
    card = load_card(config.detector)
    identity = config.identity(card)
    with output_dir(out, complete=has_chunks) as out:
        manifest = manifest_path(out)
        old = read_manifest(out)
        if old is not None:
            if old.get("identity") != identity or old.get("events") != config.events:
                raise FileExistsError(
                    f"{out} holds a dataset of another configuration (see {manifest}); "
                    "choose a new --out directory or delete the old one"
                )
        content = {"kind": "dataset", "schema_version": SCHEMA_VERSION, "events": config.events,
                    "identity": identity, "config": to_dict(config), "card": card.to_dict(),
                    "chunks": [chunk_name(a, b) for a, b in config.chunks()],
                    "colliderflow_version": colliderflow.__version__}
        atomic_write_text(manifest, json.dumps(content, indent=1, sort_keys=True) + "\n")

        chunks = config.chunks()
        if chunk_range is not None:
            a, b = chunk_range
            if not (0 <= a < b <= len(chunks)):
                raise ValueError(f"chunk range {a}-{b} outside the dataset's {len(chunks)} chunks")
            chunks = chunks[a:b]
        todo = [c for c in chunks if not _chunk_done(out / chunk_name(*c), identity)]
        stage = {"generate": 0.0, "simulate": 0.0, "target": 0.0}
        t0 = time.perf_counter()
        n_todo = sum(b - a for a, b in todo)
        with tqdm(total=n_todo, desc=f"{config.generation.process} events", unit="ev", disable=not progress) as bar:
            if jobs <= 1:
                for a, b in todo:
                    for k, v in _build_chunk(config, str(out), a, b, bar.update).items():
                        stage[k] += v
            else:
                with process_pool(jobs) as pool:
                    futures = {pool.submit(_build_chunk, config, str(out), a, b): (a, b) for a, b in todo}
                    for fut in as_completed(futures):
                        for k, v in fut.result().items():
                            stage[k] += v
                        a, b = futures[fut]
                        bar.update(b - a)
    return {"out": str(out), "chunks_built": len(todo), "chunks_skipped": len(chunks) - len(todo),
            "events_built": n_todo, "wall_seconds": time.perf_counter() - t0, "stage_seconds": stage}
