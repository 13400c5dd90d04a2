"""HepMC input: hard-scatter events made by other generators (MadGraph + Pythia, Herwig, Sherpa).

Each event of a HepMC3 or HepMC2 ASCII file (plain or compressed; read with pyhepmc, the
``hepmc`` extra) becomes the :class:`~colliderflow.generate.event.HardScatter` that
:mod:`colliderflow.generate.pythia` makes from Pythia's own record, by the same rules read off
the event graph:

* final state: status 1;
* decay products: the outgoing particles of a vertex whose one incoming particle has status 2
  (decayed), as Pythia's status 91-99. They inherit their mother's ancestry flags, plus
  ``FLAG_FROM_B`` / ``FLAG_FROM_C`` if the mother is a b / c hadron and ``FLAG_FROM_TAU`` if it
  is a tau;
* weakly decaying b / c hadrons: hadrons other than status 1 none of whose daughters carries
  the same heavy flavour;
* taus: taus that have daughters and no tau among them; visible momentum and decay mode from
  those daughters;
* hard partons: quarks and gluons of status 23, the Pythia 8 code of the outgoing particles of
  the hard process and of resonance decays (kept by MadGraph + Pythia 8 showering). A generator
  that marks its hard process otherwise gives no hard partons: its GenJets get ``partonFlavour`` 0.
* resonances: top, Z, W and Higgs at their last copy (no outgoing particle of their end vertex has
  their PDG id). A particle whose production vertex has one incoming particle links to it: to
  its resonance index if that is a resonance's last copy, to the same resonance as it if it has
  the same PDG id (a copy after radiation or recoil), else to none.

Pythia's own HepMC output (Pythia8ToHepMC3) gives back exactly the particles, flags and records
of :class:`~colliderflow.generate.pythia.PythiaGenerator`, in the file's (topological) order.
Units become GeV, cm and ns; vertices are relative to the file's interaction point. Charges
come from the PDG id (the ``particle`` package). The event weight is the event's first weight
(1 if it has none).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from colliderflow.generate.event import HADRON_FIELDS, PARTON_FIELDS, RESONANCE_FIELDS, RESONANCE_IDS, TAU_FIELDS, HardScatter
from colliderflow.generate.particles import FLAG_FROM_B, FLAG_FROM_C, FLAG_FROM_TAU, GenParticles
from colliderflow.generate.pythia import HARD_PARTON_STATUS, hadron_flavour, tau_row
from colliderflow.utils.errors import one_line
from colliderflow.utils.parquet import FileFormatError
from colliderflow.utils.quiet import capture_output

__all__ = ["HepMCEvent", "EventGraph", "read_hepmc", "hard_scatter"]

_MM_TO_CM = 0.1
_MM_PER_NS = 299.792458
_FINAL, _DECAYED, _BEAM = 1, 2, 4
_OPENERS: dict[str, Callable] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
#: the header that marks each format, and the name pyhepmc reads it by
_FORMATS = {b"HepMC::Asciiv3": "hepmc3", b"HepMC::IO_GenEvent": "hepmc2"}


@dataclass
class HepMCEvent:
    """One event of a HepMC file.

    Attributes:
        hard: its hard scatter.
        position: its place in the file, from 0.
        sqrt_s: centre-of-mass energy of its two beam particles (status 4) in TeV; NaN without them.
    """

    hard: HardScatter
    position: int
    sqrt_s: float


@dataclass
class EventGraph:
    """A HepMC event as arrays: N particles (in file order) and V vertices.

    Attributes:
        pid, status: (N,) PDG id and HepMC status.
        momentum: (N, 4) px, py, pz, E in GeV.
        mass: (N,) generated mass in GeV.
        prod, end: (N,) production and end vertex index, -1 if none.
        vertex: (V, 4) x, y, z, c t in mm as stored (all zero: not set).
        first_in: (V,) the first incoming particle of each vertex, -1 if none.
        weight: the event weight.
    """

    pid: np.ndarray
    status: np.ndarray
    momentum: np.ndarray
    mass: np.ndarray
    prod: np.ndarray
    end: np.ndarray
    vertex: np.ndarray
    first_in: np.ndarray
    weight: float

    @classmethod
    def from_pyhepmc(cls, event, pyhepmc) -> EventGraph:
        """The arrays of a ``pyhepmc.GenEvent`` (converted to GeV and mm in place)."""
        event.set_units(pyhepmc.Units.GEV, pyhepmc.Units.MM)
        data = pyhepmc.GenEventData()
        event.write_data(data)
        part, vert = data.particles, data.vertices
        n, n_vert = len(part), len(vert)
        # links hold ids; particles and vertices are listed in the event's order, which for vertices
        # read from a file is not the order of their ids
        particle_at = _index_of(np.asarray(event.numpy.particles.id, np.int64), n)
        vertex_at = _index_of(-np.asarray(event.numpy.vertices.id, np.int64), n_vert)
        a, b = np.asarray(data.links1, np.int64), np.asarray(data.links2, np.int64)
        into = a > 0  # (particle, vertex): the particle enters the vertex; (vertex, particle): it leaves it
        prod = np.full(n, -1, dtype=np.int64)
        end = np.full(n, -1, dtype=np.int64)
        end[particle_at[a[into]]] = vertex_at[-b[into]]
        prod[particle_at[b[~into]]] = vertex_at[-a[~into]]
        first_in = np.full(n_vert, -1, dtype=np.int64)
        k = np.flatnonzero(into)[::-1]  # reversed: the first link of each vertex is written last
        first_in[vertex_at[-b[k]]] = particle_at[a[k]]
        momentum = np.column_stack([part["px"], part["py"], part["pz"], part["e"]])
        m_calc = np.sqrt(np.maximum(momentum[:, 3] ** 2 - (momentum[:, :3] ** 2).sum(axis=1), 0.0))
        weights = np.asarray(data.weights)
        return cls(pid=part["pid"].astype(np.int64), status=part["status"].astype(np.int64), momentum=momentum,
                   mass=np.where(part["is_mass_set"], part["mass"], m_calc), prod=prod, end=end,
                   vertex=np.column_stack([vert["x"], vert["y"], vert["z"], vert["t"]]).reshape(n_vert, 4),
                   first_in=first_in, weight=float(weights[0]) if len(weights) else 1.0)

    def positions(self) -> np.ndarray:
        """(N, 4) production point (x, y, z, c t in mm) of every particle, 0 without a production vertex.

        A vertex without a position takes that of its first incoming particle's production vertex,
        as HepMC3's ``GenVertex.position`` does.
        """
        pos = self.vertex.copy()
        unset = ~(pos != 0).any(axis=1)
        parent = np.where(self.first_in >= 0, self.prod[np.maximum(self.first_in, 0)], -1)
        for _ in range(len(pos)):  # pointer jumping up the chains of unset vertices
            follow = unset & (parent >= 0)
            if not follow.any():
                break
            up = parent[follow]
            pos[follow], unset[follow], parent[follow] = pos[up], unset[up], parent[up]
        out = np.zeros((len(self.prod), 4))
        out[self.prod >= 0] = pos[self.prod[self.prod >= 0]]
        return out


def _index_of(ids: np.ndarray, n: int) -> np.ndarray:
    """Lookup id (1..n) -> position in the list."""
    at = np.full(n + 1, -1, dtype=np.int64)
    at[ids] = np.arange(n)
    return at


def hard_scatter(g: EventGraph) -> HardScatter:
    """The hard scatter of one event graph, by the rules of the module docstring."""
    n, n_vert = len(g.pid), len(g.vertex)
    # per-vertex counts get one extra slot, n_vert, standing for "no vertex"
    prod_v, end_v = np.where(g.prod >= 0, g.prod, n_vert), np.where(g.end >= 0, g.end, n_vert)

    def daughters_per_vertex(mask: np.ndarray) -> np.ndarray:  # (V + 1,) outgoing particles with mask
        counts = np.bincount(prod_v[mask], minlength=n_vert + 1)
        counts[n_vert] = 0
        return counts

    # decay products and their mother (Pythia's status 91-99)
    n_in = np.bincount(g.end[g.end >= 0], minlength=n_vert + 1)
    mother = np.full(n_vert + 1, -1)
    mother[g.end[g.end >= 0]] = np.flatnonzero(g.end >= 0)
    mother = np.where(n_in[prod_v] == 1, mother[prod_v], -1)
    resonances, res_link = _resonances(g, mother)
    decayed = (mother >= 0) & (g.status[np.maximum(mother, 0)] == _DECAYED)
    m = np.where(decayed, mother, 0)

    hf = _per_pid(g.pid, hadron_flavour)
    own = np.where(hf[m] == 5, FLAG_FROM_B, np.where(hf[m] == 4, FLAG_FROM_C, 0)) | np.where(
        np.abs(g.pid[m]) == 15, FLAG_FROM_TAU, 0)
    flags = _down_the_chains(lambda f: np.where(decayed, own | f[m], 0), np.zeros(n, np.int64))

    is_tau = np.abs(g.pid) == 15
    n_daughters, n_tau_daughters = daughters_per_vertex(np.ones(n, bool))[end_v], daughters_per_vertex(is_tau)[end_v]
    tau_entry = is_tau & (n_daughters > 0) & (n_tau_daughters == 0)
    entries = np.flatnonzero(tau_entry)
    entry_of = np.full(n, -1, dtype=np.int64)
    entry_of[entries] = np.arange(len(entries))
    tau_of = _down_the_chains(lambda t: np.where(tau_entry, entry_of, np.where(decayed, t[m], -1)), np.full(n, -1))

    any_hadron = _per_pid(g.pid, _is_hadron).astype(bool)
    same_flavour_daughter = np.zeros(n, dtype=bool)
    for f in (4, 5):
        same_flavour_daughter |= (hf == f) & (daughters_per_vertex(hf == f)[end_v] > 0)
    hadron = (g.status != _FINAL) & (hf > 0) & any_hadron & ~same_flavour_daughter
    parton = (g.status == HARD_PARTON_STATUS) & ((np.abs(g.pid) <= 5) | (g.pid == 21))

    final = g.status == _FINAL
    charge = _per_pid(g.pid, _charge)
    x = g.positions()[final]
    p = g.momentum
    particles = GenParticles(
        pid=g.pid[final], charge=charge[final], px=p[final, 0], py=p[final, 1], pz=p[final, 2], energy=p[final, 3],
        mass=g.mass[final], vx=x[:, 0] * _MM_TO_CM, vy=x[:, 1] * _MM_TO_CM, vz=x[:, 2] * _MM_TO_CM,
        t=x[:, 3] / _MM_PER_NS, interaction=np.zeros(int(final.sum())), flags=flags[final], tau_index=tau_of[final],
        resonance_index=res_link[final],
    )
    tau_rows = [tau_row(int(charge[i]), ((abs(int(g.pid[d])), *p[d], charge[d] != 0, any_hadron[d])
                                         for d in np.flatnonzero(g.prod == g.end[i]))) for i in entries]
    return HardScatter(
        particles,
        _record([g.pid[hadron], *p[hadron].T, hf[hadron]], HADRON_FIELDS),
        _record(list(zip(*tau_rows)) if tau_rows else [()] * len(TAU_FIELDS), TAU_FIELDS),
        _record([g.pid[parton], *p[parton].T], PARTON_FIELDS),
        g.weight,
        resonances,
    )


def _resonances(g: EventGraph, mother: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(resonance record, per-particle resonance link (N,)) by the rules of the module docstring.

    ``mother``: (N,) the single incoming particle of each particle's production vertex, -1 if none
    or several.
    """
    n = len(g.pid)
    candidates = np.flatnonzero(np.isin(np.abs(g.pid), RESONANCE_IDS))
    last = [i for i in candidates if g.end[i] < 0 or not np.any(g.pid[g.prod == g.end[i]] == g.pid[i])]
    entry = np.full(n, -1, dtype=np.int64)
    entry[np.asarray(last, dtype=np.int64)] = np.arange(len(last))
    m = np.maximum(mother, 0)
    has = mother >= 0
    link = _down_the_chains(
        lambda v: np.where(has & (entry[m] >= 0), entry[m], np.where(has & (g.pid[m] == g.pid), v[m], -1)),
        np.full(n, -1, dtype=np.int64))
    idx = np.asarray(last, dtype=np.int64)
    p = g.momentum
    record = _record([g.pid[idx], *p[idx].T, g.mass[idx], link[idx]], RESONANCE_FIELDS)
    return record, link


def _opener(path: Path) -> Callable:
    """``open`` for the file's compression (by suffix, as pyhepmc chooses)."""
    suffix = path.suffix.lower()
    if suffix in (".zst", ".zstd"):
        try:
            from compression import zstd  # Python >= 3.14
        except ImportError:
            from backports import zstd  # installed with pyhepmc
        return zstd.open
    return _OPENERS.get(suffix, open)


def _format(path: Path) -> str:
    """'hepmc3' or 'hepmc2' from the file's first bytes; FileFormatError for anything else."""
    opener = _opener(path)
    try:
        with opener(path, "rb") as f:
            head = f.read(512)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such HepMC file") from None
    except (OSError, EOFError, lzma.LZMAError) as err:
        raise FileFormatError(f"{path}: cannot read ({one_line(err)})") from None
    for marker, name in _FORMATS.items():
        if marker in head:
            return name
    if b"<LesHouchesEvents" in head:
        raise FileFormatError(f"{path}: a Les Houches (LHE) file holds parton-level events; shower and "
                              "hadronise them (e.g. with Pythia 8) and write HepMC")
    raise FileFormatError(f"{path}: not a HepMC3 or HepMC2 ASCII file (no HepMC::Asciiv3 or "
                          "HepMC::IO_GenEvent header)")


def read_hepmc(path: str | os.PathLike) -> Iterator[HepMCEvent]:
    """The events of a HepMC3 / HepMC2 ASCII file (``.gz``, ``.bz2``, ``.xz``, ``.zst`` allowed), in order.

    The HepMC3 reader's own messages are kept off the terminal; the first becomes the error.

    Raises:
        ImportError: pyhepmc is not installed.
        FileNotFoundError: no such file.
        FileFormatError: not a HepMC file, no events, an event that cannot be read, or (uncompressed
            files) no end-of-listing line: a truncated file.
    """
    try:
        import pyhepmc
    except ImportError:
        raise ImportError("reading HepMC files needs pyhepmc: pip install 'colliderflow[hepmc]'") from None
    path = Path(path)
    fmt = _format(path)
    n = 0
    try:
        with pyhepmc.open(path, format=fmt) as f:
            while True:
                with capture_output() as messages:
                    event = f.read()
                if event is None:
                    break
                graph = EventGraph.from_pyhepmc(event, pyhepmc)
                yield HepMCEvent(hard_scatter(graph), n, _sqrt_s(graph))
                n += 1
    except (ValueError, RuntimeError, OSError, EOFError, IndexError) as err:
        raise FileFormatError(f"{path}: event {n}: cannot read ({one_line(err)})") from None
    errors = [m for m in messages if "ERROR" in m]  # of the read that ended the loop
    if errors:
        raise FileFormatError(f"{path}: event {n} cannot be read (truncated file?): HepMC3 says "
                              f"{one_line(errors[0])!r}")
    if n == 0:
        raise FileFormatError(f"{path}: no events (empty or truncated HepMC file)")
    if _opener(path) is open and not _complete(path):
        raise FileFormatError(f"{path}: truncated after event {n - 1}: no END_EVENT_LISTING line at the end")


def _complete(path: Path) -> bool:
    """True if an uncompressed HepMC file ends with its end-of-listing line."""
    with open(path, "rb") as f:
        f.seek(max(path.stat().st_size - 256, 0))
        return b"END_EVENT_LISTING" in f.read()


def _sqrt_s(g: EventGraph) -> float:
    beams = g.momentum[g.status == _BEAM]
    if len(beams) != 2:
        return float("nan")
    s = beams.sum(axis=0)
    return float(np.sqrt(max(s[3] ** 2 - (s[:3] ** 2).sum(), 0.0))) / 1000.0


def _down_the_chains(step: Callable[[np.ndarray], np.ndarray], values: np.ndarray) -> np.ndarray:
    """Iterate ``values = step(values)`` (one decay generation per step) until nothing changes."""
    for _ in range(len(values) + 1):
        new = step(values)
        if np.array_equal(new, values):
            return new
        values = new
    raise FileFormatError("the event's decay graph has a cycle")


def _per_pid(pid: np.ndarray, fn: Callable[[int], int]) -> np.ndarray:
    """``fn`` of every PDG id, evaluated once per distinct id. (N,) int64."""
    uniq, inverse = np.unique(pid, return_inverse=True)
    return np.array([fn(int(u)) for u in uniq], dtype=np.int64)[inverse]


def _record(columns: list, fields: dict[str, type]) -> dict[str, np.ndarray]:
    return {name: np.asarray(col, dtype=dt) for (name, dt), col in zip(fields.items(), columns)}


@cache
def _charge(pid: int) -> int:
    from particle.pdgid import charge

    q = charge(pid)  # None for ids it cannot parse (generator-internal codes): neutral
    return round(float(q)) if q is not None else 0


@cache
def _is_hadron(pid: int) -> bool:
    from particle.pdgid import is_hadron

    return bool(is_hadron(pid))
