"""Pythia 8 hard-scatter generation, one event per (seed, index).

Pythia is initialised once per process with a seed derived from the run seed; before each
event its random engine is re-seeded from (seed, index), so that an event does not depend on
which worker generated it or on what was generated before it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colliderflow.generate.event import HADRON_FIELDS, PARTON_FIELDS, RESONANCE_FIELDS, RESONANCE_IDS, TAU_FIELDS, HardScatter
from colliderflow.generate.particles import FLAG_FROM_B, FLAG_FROM_C, FLAG_FROM_TAU, GenParticles
from colliderflow.generate.processes import common_settings, process_settings
from colliderflow.utils.quiet import silence_stdout
from colliderflow.utils.rng import pythia_seed

__all__ = ["PythiaGenerator", "hadron_flavour", "tau_row", "HARD_PARTON_STATUS"]

_MM_TO_CM = 0.1
_MM_PER_NS = 299.792458
_MAX_TRIES = 20
#: status of the outgoing particles of the hard process (and of resonance decays) in Pythia 8
HARD_PARTON_STATUS = 23
#: |PDG id| of what the resonance links are followed for: resonances, leptons and photons (quarks
#: and gluons from a resonance end in hadrons, which come from strings, not from one mother)
_LINKABLE = frozenset((11, 12, 13, 14, 15, 16, 22, *RESONANCE_IDS))


def hadron_flavour(pid: int) -> int:
    """Heaviest quark flavour (5 for b, 4 for c) of a hadron PDG id, else 0."""
    a = abs(pid)
    if a < 100 or a >= 1_000_000:
        return 0
    digits = ((a // 1000) % 10, (a // 100) % 10, (a // 10) % 10)
    quarks: tuple[int, ...]
    if a >= 1000:
        quarks = digits
    else:
        quarks = digits[1:]
    heaviest = max(quarks)
    return heaviest if heaviest in (4, 5) else 0


class PythiaGenerator:
    """Generates events of one process with Pythia 8.

    Args:
        process: a name from ``colliderflow.generate.processes.PROCESSES``.
        sqrt_s: centre-of-mass energy in TeV (14 by default; 13.6 for out-of-distribution tests).
        seed: the run seed; event ``index`` is a function of (seed, index) only.
        extra_settings: further Pythia ``readString`` settings (applied last).
    """

    def __init__(self, process: str, sqrt_s: float = 14.0, seed: int = 0,
                 extra_settings: tuple[str, ...] = ()) -> None:
        import pythia8mc

        self.process = process
        self.sqrt_s = sqrt_s
        self.seed = seed
        settings = [*common_settings(sqrt_s), *process_settings(process), *extra_settings]
        settings += ["Random:setSeed = on", f"Random:seed = {pythia_seed(seed, 0, 'pythia-init')}"]
        with silence_stdout():
            self._pythia = pythia8mc.Pythia("", False)
            for s in settings:
                if not self._pythia.readString(s):
                    raise ValueError(f"Pythia rejected the setting {s!r}")
            ok = self._pythia.init()
        if not ok:
            raise RuntimeError(f"Pythia initialisation failed for process {process!r} at {sqrt_s} TeV")

    def generate(self, index: int) -> HardScatter:
        """Generate event ``index``; its vertices are relative to the interaction point."""
        py = self._pythia
        with silence_stdout():
            for attempt in range(_MAX_TRIES):
                py.rndm.init(pythia_seed(self.seed, index, f"pythia-{attempt}"))
                if py.next():
                    break
            else:
                raise RuntimeError(f"Pythia failed {_MAX_TRIES} times to generate event {index}")
        return _convert(py.event, float(py.infoPython().weight()))


def _convert(event, weight: float) -> HardScatter:
    """Extract final-state particles, ancestry flags, b/c hadrons, hadronic taus, hard partons and resonances.

    Resonance links follow single mothers (mother2 0 or equal to mother1, as a HepMC vertex with
    one incoming particle): a particle whose mother is a resonance's last copy points to it, a
    copy of the same particle inherits its mother's link (radiation and recoil keep a lepton the
    same lepton), anything else has none.
    """
    n = event.size()
    flags = np.zeros(n, dtype=np.uint8)
    tau_of = np.full(n, -1, dtype=np.int16)
    # plain lists, and links followed only for what can be a resonance or come straight from one
    # (_LINKABLE): this loop runs over every entry of the record and is a visible part of the
    # generation time. Mothers precede their daughters, so ids[m1] is filled when read (0 for
    # the rest: no lepton, photon or resonance is a copy of a quark, gluon or hadron)
    ids = [0] * n
    res_link = [-1] * n  # resonance a particle comes from
    res_entry = [-1] * n  # index of a resonance's last copy in the list
    resonance_rows: list[tuple] = []
    final_rows = []
    hadron_rows = []
    tau_entries: list[int] = []
    parton_rows = []
    for i in range(1, n):
        p = event[i]
        status = p.status()
        pid = p.id()
        m1 = p.mother1()
        apid = abs(pid)
        if apid in _LINKABLE:
            ids[i] = pid
            if resonance_rows and m1 > 0:
                link = res_entry[m1] if res_entry[m1] >= 0 else (res_link[m1] if ids[m1] == pid else -1)
                if link >= 0 and p.mother2() in (0, m1):
                    res_link[i] = link
            if apid in RESONANCE_IDS and not any(event[d].id() == pid for d in p.daughterList()):
                res_entry[i] = len(resonance_rows)
                resonance_rows.append((pid, p.px(), p.py(), p.pz(), p.e(), p.m(), res_link[i]))
        if 91 <= abs(status) <= 99 and m1 > 0:
            mother = event[m1]
            mflag = flags[m1]
            hf = hadron_flavour(mother.id())
            if hf == 5:
                mflag |= FLAG_FROM_B
            elif hf == 4:
                mflag |= FLAG_FROM_C
            if mother.idAbs() == 15:
                mflag |= FLAG_FROM_TAU
            flags[i] = mflag
            tau_of[i] = tau_of[m1]
        if abs(pid) == 15 and p.daughter1() > 0 and event[p.daughter1()].idAbs() != 15:
            tau_of[i] = len(tau_entries)
            tau_entries.append(i)
        if abs(status) == HARD_PARTON_STATUS and (abs(pid) <= 5 or pid == 21):
            parton_rows.append((pid, p.px(), p.py(), p.pz(), p.e()))
        if p.isFinal():
            final_rows.append((pid, round(p.charge()), p.px(), p.py(), p.pz(), p.e(), p.m(),
                               p.xProd(), p.yProd(), p.zProd(), p.tProd(), flags[i], tau_of[i], res_link[i]))
        elif p.isHadron():
            hf = hadron_flavour(pid)
            if hf and not any(hadron_flavour(event[d].id()) == hf for d in p.daughterList()):
                hadron_rows.append((pid, p.px(), p.py(), p.pz(), p.e(), hf))

    # one tuple of values per field, which GenParticles converts to arrays
    cols: list[Any] = list(zip(*final_rows)) if final_rows else [()] * 14
    particles = GenParticles(
        pid=cols[0], charge=cols[1], px=cols[2], py=cols[3], pz=cols[4], energy=cols[5], mass=cols[6],
        vx=np.asarray(cols[7], dtype=float) * _MM_TO_CM, vy=np.asarray(cols[8], dtype=float) * _MM_TO_CM,
        vz=np.asarray(cols[9], dtype=float) * _MM_TO_CM, t=np.asarray(cols[10], dtype=float) / _MM_PER_NS,
        interaction=np.zeros(len(final_rows)), flags=cols[11], tau_index=cols[12], resonance_index=cols[13],
    )
    return HardScatter(
        particles,
        _record(hadron_rows, HADRON_FIELDS),
        _taus(event, tau_entries),
        _record(parton_rows, PARTON_FIELDS),
        weight,
        _record(resonance_rows, RESONANCE_FIELDS),
    )


def _record(rows: list[tuple], fields: dict[str, type]) -> dict[str, np.ndarray]:
    cols = list(zip(*rows)) if rows else [()] * len(fields)
    return {name: np.asarray(col, dtype=dt) for (name, dt), col in zip(fields.items(), cols)}


def tau_row(charge: int, daughters) -> tuple:
    """One ``TAU_FIELDS`` row from a tau's charge and its direct daughters, each
    ``(abs pid, px, py, pz, e, is_charged, is_hadron)`` in record order: visible four-momentum
    (neutrinos removed) and decay mode (-1 for leptonic decays)."""
    vis = np.zeros(4)
    n_charged = n_pi0 = 0
    leptonic = False
    for a, px, py, pz, e, charged, hadron in daughters:
        if a in (12, 14, 16):
            continue
        if a in (11, 13):
            leptonic = True
        vis += (px, py, pz, e)
        if a == 111:
            n_pi0 += 1
        elif charged:
            n_charged += 1
        elif hadron and a != 22:
            # neutral kaons and other neutral hadrons count with the pi0s
            n_pi0 += 1
    mode = -1 if leptonic else 5 * max(n_charged - 1, 0) + min(n_pi0, 4)
    return (*vis, charge, mode)


def _taus(event, entries: list[int]) -> dict[str, np.ndarray]:
    """Visible four-momentum and decay mode of each tau (leptonic taus get decay_mode -1)."""
    rows = []
    for i in entries:
        daughters = ((dp.idAbs(), dp.px(), dp.py(), dp.pz(), dp.e(), dp.isCharged(), dp.isHadron())
                     for dp in (event[d] for d in event[i].daughterList()))
        rows.append(tau_row(round(event[i].charge()), daughters))
    return _record(rows, TAU_FIELDS)
