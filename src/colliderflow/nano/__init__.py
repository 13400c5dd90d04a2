"""NanoAOD-like analysis objects: generator objects, PF+PUPPI reconstructed objects, ROOT/Parquet I/O.

``build`` runs the object building on a dataset and its PF candidates (``build_nano``, the
full-simulation reference of FlashSim), ``nanogen`` on the generator alone; ``gen`` and ``reco``
build the objects; ``schema`` lists the collections and fields; ``io`` reads and writes
NanoAOD-style ROOT TTrees (uproot ``mktree``) and Parquet.
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "build": ["build_nano"],
    "nanogen": ["generate_nano"],
    "io": ["read_nano", "write_nano", "iter_nano", "NanoWriter"],
})
