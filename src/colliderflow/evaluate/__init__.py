"""Physics validation: compare reconstructions (truth, target, PF, PF+PUPPI, MLPF) on a dataset.

``report`` is the entry point (``evaluate``, ``derive_jec_file``); ``collections`` builds the
compared collections, ``particles``, ``elements`` and ``jets`` measure them, ``displays`` draws
events.
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "report": ["evaluate", "derive_jec_file"],
})
