"""Small shared helpers under every stage.

``parquet`` (typed headers, atomic Parquet, ``FileFormatError``), ``atomic`` (atomic files and
folders), ``torchfile`` (safe torch files; torch is imported only when used), ``config`` (typed
configs with ranges), ``columns`` (the struct-of-arrays base), ``jagged`` (per-event arrays),
``rng`` (seeded random streams), ``errors`` (one-line messages), ``quiet`` (silenced output) and
``lazy`` (the lazy front doors of the packages).
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "parquet": ["FileFormatError", "read_parquet", "write_parquet", "read_header"],
    "atomic": ["atomic_path", "atomic_write_text", "atomic_dir", "output_dir"],
    "torchfile": ["save_torch_file", "load_torch_file"],
    "config": ["ConfigError", "RangeChecked", "load_config"],
    "columns": ["Columns"],
    "rng": ["event_rng"],
    "errors": ["one_line"],
})
