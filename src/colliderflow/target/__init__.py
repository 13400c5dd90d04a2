"""MLPF targets (reconstructable particles on their primary elements) and generator truth.

``build`` builds the target of one event (``build_target``). Checking targets on a dataset
against generator truth reads datasets, so it lives a floor above, in
``colliderflow.dataset.validation``. The class codes are ``colliderflow.schema.classes``.
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "build": ["Target", "build_target", "truth_mask"],
})
