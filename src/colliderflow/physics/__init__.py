"""Physics objects and metrics shared by every reconstruction: jets, MET, matching, resolution.

``jets`` (anti-kT with fastjet), ``met`` (``met.met``, ``met.type1_met``: the package attribute
``met`` stays the module), ``matching`` and ``neighbours`` (ΔR), ``resolution`` (response
summaries, jet corrections), ``jec`` (the jet-corrections file), ``uncertainty`` (bootstrap,
binomial errors).
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "jets": ["cluster_jets", "match_jets"],
    "resolution": ["JetCorrections", "derive_jec", "summarise_response"],
    "jec": ["load_jec_file", "save_jec_file", "shipped_jec"],
})
