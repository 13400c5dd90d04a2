"""Event datasets: chunked Parquet files of elements, targets, truth and event information.

``build`` generates, simulates and writes a dataset (``build_dataset``), ``schema`` holds the
chunk format (fields, names, manifest), ``read`` reads and checks it (``load_dataset``), ``validation`` compares its targets with generator
truth (``validate_target``, Figure 1 of the MLPF paper).
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "build": ["DatasetConfig", "build_dataset"],
    "read": ["load_dataset", "inspect_dataset", "dataset_files", "dataset_card"],
    "validation": ["validate_target"],
})
