"""Parametric CMS-like detector simulation: tracking, material, calorimeters, clustering, muons.

``detector`` is the entry point (``simulate_event``), ``card`` the detector card; then
``geometry``, ``helix``, ``material``, ``tracking`` and ``muons`` (tracks), ``impacts``,
``calo_config``, ``cells``, ``showers``, ``readout``, ``clustering`` and ``calorimeter``
(clusters), ``simevent`` the result. The element vocabulary is ``colliderflow.schema.elements``.
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "detector": ["simulate_event"],
    "simevent": ["SimEvent"],
    "card": ["DetectorCard", "load_card", "shipped_cards"],
})
