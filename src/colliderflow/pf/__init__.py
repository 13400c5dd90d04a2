"""Rule-based particle flow (section 3 of the MLPF paper) with CHS and PUPPI pileup mitigation.

``reconstruct`` is the entry point (``reconstruct_event``), ``links`` links elements,
``algorithm`` builds the particles, ``calibration`` and ``derive`` hold and derive the hadron
calibration, ``pileup`` finds vertices and applies CHS and PUPPI.
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "reconstruct": ["PFRecoConfig", "reconstruct_event"],
    "algorithm": ["PFConfig"],
    "pileup": ["VertexConfig", "PuppiConfig", "mitigate_pileup"],
    "calibration": ["load_calibration"],
    "derive": ["derive_calibration"],
})
