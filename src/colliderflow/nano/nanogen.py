"""Generator-level nano files (CMS's NanoGEN) straight from the generator: FlashSim's input without the detector.

``colliderflow generate`` writes the generator collections of ``colliderflow nano`` (GenJet,
GenPart, GenMET, Pileup and the scalars run, event, genWeight; :mod:`colliderflow.nano.gen`)
for events of a Pythia process or of a HepMC file, without pileup overlay, detector simulation
or target building; ``colliderflow flashsim sample`` reads them as it reads full nano files.

A Pythia event is the full chain's event: the same (process, sqrt_s, seed, pileup range, event
index) give the same hard scatter and the same pileup count (drawn from the same stream, in the
same order, with no particle overlaid: :class:`~colliderflow.generate.source.EventSource` with
``overlay=False``), the same generator record (:func:`~colliderflow.dataset.build.generator_record`)
and hence the same collections, field for field. Only ``truth.element`` and the detector counts
of the dataset record are missing, and no generator collection uses them.

HepMC events (:mod:`colliderflow.generate.hepmc`) get ``event`` = their position in the file
(from 0) and ``run`` = ``seed``; their pileup count is drawn from ``seed`` and the position as
for Pythia events (0 unless a pileup range is given).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import awkward as ak
from tqdm.auto import tqdm

import colliderflow
from colliderflow.dataset.build import generator_record, records_to_array
from colliderflow.generate.event import EventInfo, GenEvent
from colliderflow.generate.pileup import BeamSpot, PileupRange
from colliderflow.generate.source import EventSource, GenerationConfig, place_event
from colliderflow.nano.gen import GenConfig, event_scalars, gen_objects
from colliderflow.nano.io import NanoWriter
from colliderflow.utils.config import RangeChecked, positive, to_dict
from colliderflow.utils.workers import process_pool

__all__ = ["NanoGenConfig", "generator_batch", "generate_nano", "hepmc_nano", "HEPMC_PROCESS"]

#: ``process`` of the generator record of events read from HepMC files
HEPMC_PROCESS = "hepmc"


@dataclass(frozen=True)
class NanoGenConfig(RangeChecked):
    """A generator-level sample.

    Attributes:
        generation: process, sqrt_s, seed and pileup range; no pool is needed (nothing is overlaid).
        events: number of events.
        chunk_size: events per batch: per worker task, and per write of the output file.
        gen: generator-object selections.
    """

    generation: GenerationConfig = field(default_factory=GenerationConfig)
    events: int = positive(100)
    chunk_size: int = positive(250)
    gen: GenConfig = field(default_factory=GenConfig)

    def chunks(self) -> list[tuple[int, int]]:
        return [(a, min(a + self.chunk_size, self.events)) for a in range(0, self.events, self.chunk_size)]


def generator_batch(data: ak.Array, config: GenConfig = GenConfig()) -> ak.Array:
    """Generator collections and scalars of a batch of generator records, in the nano layout.

    Args:
        data: records with ``truth``, ``gen_hadrons``, ``gen_partons`` and ``event`` (a dataset, or
            :func:`~colliderflow.dataset.build.generator_record` s through ``records_to_array``).

    Returns:
        (events,) records: ``GenJet``, ``GenPart``, ``GenMET``, ``Pileup``, the event identity
        (``run`` = seed, ``event`` = generator index) and ``genWeight``.
    """
    return ak.zip({**gen_objects(data, config), **event_scalars(data.event)}, depth_limit=1)


def _batch(events: Iterable[GenEvent], config: GenConfig) -> ak.Array:
    return generator_batch(records_to_array([generator_record(e) for e in events]), config)


# per-process cache: Pythia is initialised once per worker
_SOURCES: dict[str, EventSource] = {}


def _chunk(config: NanoGenConfig, start: int, stop: int, progress: Callable[[int], Any] | None = None) -> ak.Array:
    key = json.dumps(to_dict(config.generation), sort_keys=True)
    if key not in _SOURCES:
        _SOURCES.clear()
        _SOURCES[key] = EventSource(config.generation, overlay=False)
    source = _SOURCES[key]

    def events():
        for i in range(start, stop):
            yield source.generate(i)
            if progress is not None:
                progress(1)

    return _batch(events(), config.gen)


def generate_nano(config: NanoGenConfig, output: str | os.PathLike, jobs: int = 1,
                  progress: bool = True) -> dict[str, Any]:
    """Generate ``config.events`` Pythia events and write their generator collections to ``output``.

    Args:
        output: ``.root`` or ``.parquet``, written atomically.
        jobs: worker processes; the file's content is the same for any value.

    Returns:
        ``{"events", "output", "seconds", "events_per_second"}``.
    """
    if config.generation.process in ("gun", "minbias"):
        raise ValueError(f"generate: process {config.generation.process!r} makes no analysis sample; "
                         "choose a physics process")
    if jobs < 1:
        raise ValueError(f"generate: jobs must be >= 1, got {jobs}")
    gen = config.generation
    header = {"source": "generator", "process": gen.process, "seed": gen.seed, "sqrt_s": gen.sqrt_s,
              "pileup": str(gen.pileup), "events": config.events, "chunk_size": config.chunk_size,
              "gen_config": to_dict(config.gen), "colliderflow_version": colliderflow.__version__}
    chunks = config.chunks()
    t0 = time.perf_counter()
    with NanoWriter(output, header) as writer, \
            tqdm(total=config.events, desc=f"{gen.process} generator events", unit="ev", disable=not progress) as bar:
        if jobs == 1:
            for a, b in chunks:
                writer.write(_chunk(config, a, b, bar.update))
        else:
            with process_pool(min(jobs, len(chunks))) as pool:
                for (a, b), batch in zip(chunks, pool.map(_chunk, [config] * len(chunks), *zip(*chunks))):
                    writer.write(batch)
                    bar.update(b - a)
    return _summary(config.events, output, time.perf_counter() - t0)


def hepmc_nano(path: str | os.PathLike, output: str | os.PathLike, seed: int = 0,
               pileup: PileupRange = PileupRange(), events: int | None = None, chunk_size: int = 250,
               gen_config: GenConfig = GenConfig(), progress: bool = True) -> dict[str, Any]:
    """Read the events of a HepMC file and write their generator collections to ``output``.

    Args:
        seed: ``run`` of every event, and the seed of its vertex and pileup-count draws.
        pileup: the pileup range ``Pileup.nPU`` is drawn from (default: none).
        events: read at most this many events (default: all).
    """
    from colliderflow.generate.hepmc import read_hepmc

    for name, value in (("events", events), ("chunk size", chunk_size)):
        if value is not None and value < 1:
            raise ValueError(f"generate: the {name} must be >= 1, got {value}")
    header = {"source": HEPMC_PROCESS, "input": str(path), "seed": seed, "pileup": str(pileup),
              "chunk_size": chunk_size, "gen_config": to_dict(gen_config),
              "colliderflow_version": colliderflow.__version__}
    beam_spot = BeamSpot()

    def placed(hepmc_events):
        for e in hepmc_events:
            info = EventInfo(process=HEPMC_PROCESS, index=e.position, seed=seed, sqrt_s=e.sqrt_s)
            yield place_event(e.hard, info, pileup, beam_spot)

    n = 0
    t0 = time.perf_counter()
    stream = placed(islice(read_hepmc(path), events))
    with NanoWriter(output, header) as writer, \
            tqdm(total=events, desc=f"{Path(path).name} events", unit="ev", disable=not progress) as bar:
        while batch := list(islice(stream, chunk_size)):
            writer.write(_batch(batch, gen_config))
            n += len(batch)
            bar.update(len(batch))
    return _summary(n, output, time.perf_counter() - t0)


def _summary(n: int, output: str | os.PathLike, seconds: float) -> dict[str, Any]:
    return {"events": n, "output": str(output), "seconds": seconds, "events_per_second": n / max(seconds, 1e-9)}
