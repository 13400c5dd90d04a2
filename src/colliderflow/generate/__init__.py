"""Event generation: Pythia 8 hard processes, particle guns, HepMC3 input and pileup overlay.

``source`` is the entry point (``EventSource``: hard scatter plus pileup, event by event;
``generate_pool``), ``pythia``, ``guns`` and ``hepmc`` the generators, ``processes`` the Pythia
process settings, ``pileup`` the min-bias pool and beam spot, ``event`` and ``particles`` the
generator record.
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "source": ["EventSource", "GenerationConfig", "generate_pool"],
    "guns": ["GunConfig"],
    "pileup": ["PileupRange", "PileupPool"],
    "processes": ["PROCESSES"],
    "hepmc": ["read_hepmc"],
    "event": ["GenEvent"],
    "particles": ["GenParticles"],
})
