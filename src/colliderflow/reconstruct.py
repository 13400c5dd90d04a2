"""Run a reconstruction (PF or MLPF) over a dataset and write candidate chunks.

For every input chunk ``chunk_A_B.parquet`` the output directory gets a chunk of the same
name holding the candidates (``colliderflow.schema.candidates``), written atomically; existing output
chunks made from the same input with the same settings are reused, so an interrupted run
resumes.

Both algorithms end with the same pileup mitigation (``colliderflow.pf.pileup.mitigate_pileup``:
vertex association, CHS, PUPPI), as in section 6.2 of the CMS MLPF paper (MLPF+CHS, MLPF+PUPPI);
MLPF applies PF's vertex and PUPPI settings unless told otherwise, and its header stores them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from colliderflow.dataset.read import _read_chunk, dataset_files, has_chunks, missing_chunks, validate_chunk
from colliderflow.pf.pileup import PuppiConfig, VertexConfig, event_vertices, mitigate_pileup
from colliderflow.schema.candidates import (CANDIDATE_FIELDS, CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION,
                                            MLPF_PILEUP_KEY, VERTEX_FIELDS, result_settings)
from colliderflow.schema.elements import ELEMENT_FEATURES
from colliderflow.utils.atomic import output_dir
from colliderflow.utils.config import from_dict, to_dict
from colliderflow.utils.jagged import per_event, to_jagged
from colliderflow.utils.parquet import FileFormatError, read_header, write_parquet

__all__ = ["MLPFPileupConfig", "iter_events", "candidates_to_array", "vertex_columns", "reconstruct_dataset",
           "reconstruction_settings", "mlpf_pileup_threshold"]



@dataclass(frozen=True)
class MLPFPileupConfig:
    """Vertex finding, association and PUPPI settings applied to MLPF candidates (PF's defaults)."""

    vertex: VertexConfig = field(default_factory=VertexConfig)
    puppi: PuppiConfig = field(default_factory=PuppiConfig)


def iter_events(X: ak.Array) -> Iterator[dict[str, np.ndarray]]:
    """Yield each event's element features as name -> (E,) float32 numpy arrays."""
    yield from per_event(X, ELEMENT_FEATURES, np.float32)


def candidates_to_array(events: list[dict[str, np.ndarray]]) -> ak.Array:
    return to_jagged(events, CANDIDATE_FIELDS)


def _pf_factory(settings: dict[str, Any]) -> Callable[[list[dict[str, np.ndarray]]], list[dict[str, np.ndarray]]]:
    from colliderflow.pf.calibration import load_calibration
    from colliderflow.pf.reconstruct import PFRecoConfig, reconstruct_event

    calib = load_calibration(settings["calibration"])
    config = from_dict(PFRecoConfig, settings.get("config", {}), where="pf config")
    return lambda events: [reconstruct_event(x, calib, config) for x in events]


def _mlpf_pileup_config(settings: dict[str, Any]) -> MLPFPileupConfig:
    """The pileup-mitigation settings applied to MLPF candidates (PF's defaults where not given)."""
    return from_dict(MLPFPileupConfig, settings.get(MLPF_PILEUP_KEY, {}), where=f"mlpf {MLPF_PILEUP_KEY}")


def _mlpf_factory(settings: dict[str, Any]) -> Callable[[list[dict[str, np.ndarray]]], list[dict[str, np.ndarray]]]:
    from colliderflow.mlpf.infer import InferenceConfig, Predictor

    predictor = Predictor(settings["model"], from_dict(InferenceConfig, settings.get("config", {}),
                                                       where="mlpf config"))
    pileup = _mlpf_pileup_config(settings)

    def run(events: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        return [mitigate_pileup(x, c, pileup.vertex, pileup.puppi)
                for x, c in zip(events, predictor.candidates(events))]

    return run


#: algorithm name -> factory(settings) returning a function from a chunk's events to their candidates
_FACTORIES = {"pf": _pf_factory, "mlpf": _mlpf_factory}


def reconstruction_settings(algo: str, dataset: str | os.PathLike, calibration: str | None = None,
                            model: str | os.PathLike | None = None, backend: str = "torch",
                            binary_threshold: float = 0.5, pileup_threshold: float = 0.9, max_memory_gb: float = 2.0,
                            threads: int = 0, server: str | None = None, server_timeout: float = 60.0
                            ) -> dict[str, Any]:
    """The settings of ``reconstruct_dataset`` from command-line choices.

    PF uses ``calibration`` (a card name or ``.pfcalib.json``; default: the dataset's card), MLPF
    ``model`` (default: the shipped model of the dataset's card for ``backend``) and the inference
    options (``InferenceConfig``; ``max_memory_gb`` and ``threads`` only change how fast it runs).
    With ``server`` (``HOST:PORT`` of a Triton server, ``colliderflow.mlpf.client``) the model is
    the one the server runs, asked from it now and stored as ``sha256:<digest of its .onnx>``
    (``model``, if given, must be it); ``server`` and ``server_timeout`` only change how it runs.
    """
    from colliderflow.dataset.read import dataset_card

    card = dataset_card(dataset) or "cms-like"
    if algo == "pf":
        return {"calibration": calibration or card, "config": {}}
    if algo != "mlpf":
        raise ValueError(f"unknown reconstruction {algo!r}; choose one of {sorted(_FACTORIES)}")
    from colliderflow.mlpf.shipped import shipped_model

    config: dict[str, Any] = {"backend": backend, "binary_threshold": binary_threshold,
                              "pileup_threshold": pileup_threshold, "max_memory_gb": max_memory_gb}
    if server:
        from colliderflow.mlpf.client import TritonMLPF

        remote = TritonMLPF(server, server_timeout, model=model)
        remote.close()
        config.update(backend="onnx", server=server, server_timeout=server_timeout)
        return {"model": f"sha256:{remote.sha256}", "config": config}
    path = str(model) if model else str(shipped_model(card, backend))
    if threads:
        config["num_threads"] = threads
    return {"model": path, "config": config}


def _resolve_settings(algo: str, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` as stored in the output headers, with every default resolved, so that output
    made with other defaults (an older version) is never reused: PF gets its full
    ``PFRecoConfig``, MLPF its full pileup-mitigation settings."""
    if algo == "pf":
        from colliderflow.pf.reconstruct import PFRecoConfig

        config = from_dict(PFRecoConfig, settings.get("config", {}), where="pf config")
        return {**settings, "config": to_dict(config)}
    if algo != "mlpf":
        return settings
    pileup = _mlpf_pileup_config(settings)
    return {**settings, MLPF_PILEUP_KEY: to_dict(pileup)}


def _vertex_config(algo: str, settings: dict[str, Any]) -> VertexConfig:
    """The vertex settings the algorithm's pileup mitigation uses."""
    if algo == "pf":
        from colliderflow.pf.reconstruct import PFRecoConfig

        return from_dict(PFRecoConfig, settings.get("config", {}), where="pf config").vertex
    return _mlpf_pileup_config(settings).vertex


def vertex_columns(events: list[dict[str, np.ndarray]], config: VertexConfig) -> dict[str, np.ndarray]:
    """Per-event ``VERTEX_FIELDS`` of the candidates format: primary-vertex z (cm, 0 without a
    vertex) and the number of vertices, found from each event's tracks with ``config``."""
    found = [event_vertices(x, config) for x in events]
    return {"pv_z": np.array([v[0] if len(v) else 0.0 for v in found], dtype=VERTEX_FIELDS["pv_z"]),
            "npvs": np.array([len(v) for v in found], dtype=VERTEX_FIELDS["npvs"])}


def _process_chunk(algo: str, settings: dict[str, Any], src: str, dst: str) -> int:
    array = _read_chunk(Path(src))
    validate_chunk(Path(src), array)
    run = _FACTORIES[algo](settings)
    elements = list(iter_events(array.X))
    events = run(elements)
    header = {"kind": CANDIDATES_KIND, "schema_version": CANDIDATES_SCHEMA_VERSION, "algo": algo,
              "settings": settings, "input": Path(src).name, "input_header": read_header(src)}
    write_parquet(dst, ak.zip({"cands": candidates_to_array(events), "event_index": array.event["index"],
                               **vertex_columns(elements, _vertex_config(algo, settings))},
                              depth_limit=1), header)
    return len(events)


def _done(dst: Path, algo: str, settings: dict[str, Any], src: Path) -> bool:
    if not dst.exists():
        return False
    try:
        h = read_header(dst)
    except FileFormatError:
        return False
    return (h.get("schema_version") == CANDIDATES_SCHEMA_VERSION and h.get("algo") == algo
            and result_settings(h.get("settings")) == result_settings(settings)
            and h.get("input_header") == read_header(src))


def reconstruct_dataset(input_path: str | os.PathLike, output: str | os.PathLike, algo: str,
                        settings: dict[str, Any], jobs: int = 1, progress: bool = True,
                        allow_partial: bool = False) -> dict[str, Any]:
    """Reconstruct every chunk of a dataset with ``algo`` ('pf' or 'mlpf').

    Args:
        settings: JSON-serialisable algorithm settings, stored in every output header. PF:
            ``calibration`` (card name or path) and ``config`` (overrides of ``PFRecoConfig``);
            MLPF: ``model`` (a .pt or .onnx path), ``config`` (overrides of ``InferenceConfig``) and
            ``pileup`` (overrides of ``MLPFPileupConfig``; the header stores all its values).
        allow_partial: reconstruct the chunks present of a dataset whose manifest lists missing
            ones (refused otherwise); the summary's ``missing_chunks`` counts them.
    """
    if algo not in _FACTORIES:
        raise ValueError(f"unknown reconstruction {algo!r}; choose one of {sorted(_FACTORIES)}")
    settings = _resolve_settings(algo, settings)
    _FACTORIES[algo](settings)  # fail early on bad settings, before any work
    files = dataset_files(input_path, allow_partial)
    n = 0
    with output_dir(output, complete=has_chunks) as out:
        todo = [(f, out / f.name) for f in files if not _done(out / f.name, algo, settings, f)]
        with tqdm(total=len(todo), desc=f"{algo} chunks", unit="chunk", disable=not progress) as bar:
            if jobs <= 1:
                for src, dst in todo:
                    n += _process_chunk(algo, settings, str(src), str(dst))
                    bar.update(1)
            else:
                with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
                    futs = [pool.submit(_process_chunk, algo, settings, str(s), str(d)) for s, d in todo]
                    for f in futs:
                        n += f.result()
                        bar.update(1)
    return {"chunks_built": len(todo), "chunks_skipped": len(files) - len(todo), "events": n,
            "missing_chunks": len(missing_chunks(input_path)[0])}


def mlpf_pileup_threshold(header: dict[str, Any]) -> float:
    """The pileup-score threshold (``InferenceConfig.pileup_threshold``) of an MLPF candidates header."""
    from colliderflow.mlpf.infer import InferenceConfig

    return from_dict(InferenceConfig, header.get("settings", {}).get("config", {}),
                     where="candidates header settings.config").pileup_threshold
