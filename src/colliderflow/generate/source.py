"""Event sources: hard scatter (Pythia or particle gun) plus pileup, one event per index.

An event depends only on (seed, index): ``EventSource(config).generate(i)`` gives the same
event in any process and in any order. The stream ``pileup`` of (seed, index) draws, in this
order, the primary vertex, the pileup count and the overlaid pool events (:func:`place_event`),
so a source without overlay (``overlay=False``: generator-level samples) gives the same hard
scatter, vertex and pileup count as one with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from tqdm.auto import tqdm

from colliderflow.generate.event import EventInfo, GenEvent, HardScatter
from colliderflow.generate.guns import GunConfig, shoot
from colliderflow.generate.particles import GenParticles
from colliderflow.generate.pileup import BeamSpot, PileupPool, PileupRange, write_pool
from colliderflow.generate.processes import GUN_PROCESS, MINBIAS, process_settings
from colliderflow.generate.pythia import PythiaGenerator
from colliderflow.utils.config import RangeChecked, non_negative, positive
from colliderflow.utils.rng import event_rng
from colliderflow.utils.workers import process_pool

__all__ = ["GenerationConfig", "EventSource", "place_event", "generate_pool"]


@dataclass(frozen=True)
class GenerationConfig(RangeChecked):
    """What to generate.

    Attributes:
        process: a Pythia process name (ttbar, qcd, ztautau, zmumu, gammajets) or ``gun``.
        sqrt_s: centre-of-mass energy in TeV.
        seed: run seed; event i depends only on (seed, i).
        pileup: number of pileup interactions per event (uniform range).
        pileup_pool: path of the minimum-bias pool file (required to overlay pileup > 0:
            :meth:`check_overlay`).
        gun: particle gun settings (only with process ``gun``).
        beam_spot: luminous region.
    """

    process: str = "ttbar"
    sqrt_s: float = positive(14.0)
    seed: int = non_negative(0)
    pileup: PileupRange = field(default_factory=PileupRange)
    pileup_pool: str | None = None
    gun: GunConfig | None = None
    beam_spot: BeamSpot = field(default_factory=BeamSpot)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.process == GUN_PROCESS:
            if self.gun is None:
                object.__setattr__(self, "gun", GunConfig())
        else:
            process_settings(self.process)  # validates the name
            if self.gun is not None:
                raise ValueError("gun settings given for a Pythia process; use process 'gun'")

    def check_overlay(self) -> None:
        """Raise ``ValueError`` if pileup is requested but there is no pool to overlay it from."""
        if self.pileup.high > 0 and not self.pileup_pool:
            raise ValueError(
                f"pileup {self.pileup} requested but no pileup pool given; create one with "
                "'colliderflow pileup-pool --out pool.parquet' and pass --pileup-pool"
            )


def place_event(hard: HardScatter, info: EventInfo, pileup: PileupRange, beam_spot: BeamSpot,
                pool: PileupPool | None = None) -> GenEvent:
    """Put a hard scatter at a beam-spot vertex and add pileup, drawn from the stream ``pileup`` of
    (``info.seed``, ``info.index``): the vertex, then the count, then (with a pool) the overlaid events.

    ``info`` gives the event's identity (process, index, seed, sqrt_s); its weight, pileup count
    and vertex are filled here. Without a pool the count is drawn all the same and no particle is
    added. The hard scatter's vertices are shifted in place.
    """
    rng = event_rng(info.seed, info.index, "pileup")
    pv = beam_spot.sample(1, rng)[0]
    particles = hard.particles
    particles.vx += pv[0]
    particles.vy += pv[1]
    particles.vz += pv[2]
    particles.t += pv[3]
    n_pu = pileup.sample(rng)
    if n_pu and pool is not None:
        particles = GenParticles.concatenate([particles, pool.overlay(n_pu, rng, beam_spot)])
    info.weight, info.n_pu = hard.weight, n_pu
    info.pv_x, info.pv_y, info.pv_z, info.pv_t = (float(v) for v in pv)
    return GenEvent(particles=particles, info=info, hadrons=hard.hadrons, taus=hard.taus, partons=hard.partons,
                    resonances=hard.resonances)


class EventSource:
    """Generates ``GenEvent`` objects by index (Pythia is initialised lazily, once).

    Args:
        config: what to generate.
        overlay: overlay the pileup interactions from ``config.pileup_pool``. Without overlay
            (generator-level samples) the pileup count ``info.n_pu`` is drawn as with it, the same
            for the same (seed, index), and no pool is needed.
    """

    def __init__(self, config: GenerationConfig, overlay: bool = True) -> None:
        self.config = config
        self.overlay = overlay
        self._pythia: PythiaGenerator | None = None
        self._pool: PileupPool | None = None
        if overlay:
            config.check_overlay()
            if config.pileup.high > 0:
                self._pool = PileupPool(cast(str, config.pileup_pool))  # check_overlay: set

    def _hard(self, index: int) -> HardScatter:
        cfg = self.config
        if cfg.process == GUN_PROCESS:
            # __post_init__ fills in a default gun for process 'gun'
            return HardScatter(shoot(cast(GunConfig, cfg.gun), event_rng(cfg.seed, index, "gun")))
        if self._pythia is None:
            self._pythia = PythiaGenerator(cfg.process, cfg.sqrt_s, cfg.seed)
        return self._pythia.generate(index)

    def generate(self, index: int) -> GenEvent:
        cfg = self.config
        info = EventInfo(process=cfg.process, index=index, seed=cfg.seed, sqrt_s=cfg.sqrt_s)
        return place_event(self._hard(index), info, cfg.pileup, cfg.beam_spot, self._pool)


_GENERATORS: dict[tuple[int, float], PythiaGenerator] = {}


def _minbias_block(args: tuple[int, float, int, int]) -> list[GenParticles]:
    """Events [start, stop) of the pool; one Pythia instance per process is reused (init ~6 s)."""
    seed, sqrt_s, start, stop = args
    gen = _GENERATORS.get((seed, sqrt_s))
    if gen is None:
        gen = _GENERATORS[(seed, sqrt_s)] = PythiaGenerator(MINBIAS, sqrt_s, seed)
    out = []
    for i in range(start, stop):
        p = gen.generate(i).particles
        p.flags[:] = 0
        p.tau_index[:] = -1
        p.resonance_index[:] = -1
        out.append(p)
    return out


def generate_pool(path: str | os.PathLike, n_events: int, seed: int = 1, sqrt_s: float = 14.0,
                  jobs: int = 1, progress: bool = True) -> Path:
    """Generate a minimum-bias pool of ``n_events`` events and write it atomically to ``path``.

    The pool is identical for any ``jobs``: event i depends only on (seed, i).
    """
    if n_events < 1:
        raise ValueError(f"a pileup pool needs at least one event, got {n_events}")
    block = 250
    tasks = [(seed, sqrt_s, a, min(a + block, n_events)) for a in range(0, n_events, block)]
    events: list[GenParticles] = []
    with tqdm(total=n_events, desc="min-bias pool", unit="ev", disable=not progress) as bar:
        if jobs <= 1:
            for t in tasks:
                events += _minbias_block(t)
                bar.update(t[3] - t[2])
        else:
            with process_pool(jobs) as pool:
                for t, res in zip(tasks, pool.map(_minbias_block, tasks)):
                    events += res
                    bar.update(t[3] - t[2])
    write_pool(path, events, {"process": MINBIAS, "seed": seed, "sqrt_s": sqrt_s})
    return Path(path)
