"""Run a reconstruction (PF, later MLPF) over a dataset and write candidate chunks.

For every input chunk ``chunk_A_B.parquet`` the output directory gets a chunk of the same
name holding the candidates (``colliderflow.candidates``), written atomically; existing output
chunks made from the same input with the same settings are reused, so an interrupted run
resumes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from colliderflow.candidates import CANDIDATE_FIELDS, CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION
from colliderflow.dataset.read import _read_chunk, dataset_files, validate_chunk
from colliderflow.simulate.elements import ELEMENT_FEATURES
from colliderflow.utils.jagged import per_event, to_jagged
from colliderflow.utils.parquet import FileFormatError, read_header, read_parquet, write_parquet

__all__ = ["iter_events", "candidates_to_array", "reconstruct_dataset", "load_candidates"]


def iter_events(X: ak.Array) -> Iterator[dict[str, np.ndarray]]:
    """Yield each event's element features as name -> (E,) float32 numpy arrays."""
    yield from per_event(X, ELEMENT_FEATURES, np.float32)


def candidates_to_array(events: list[dict[str, np.ndarray]]) -> ak.Array:
    return to_jagged(events, CANDIDATE_FIELDS)


def _pf_factory(settings: dict[str, Any]) -> Callable[[list[dict[str, np.ndarray]]], list[dict[str, np.ndarray]]]:
    from colliderflow.pf.calibration import load_calibration
    from colliderflow.pf.reconstruct import PFRecoConfig, reconstruct_event
    from colliderflow.utils.config import from_dict

    calib = load_calibration(settings["calibration"])
    config = from_dict(PFRecoConfig, settings.get("config", {}), where="pf config")
    return lambda events: [reconstruct_event(x, calib, config) for x in events]


def _mlpf_factory(settings: dict[str, Any]) -> Callable[[list[dict[str, np.ndarray]]], list[dict[str, np.ndarray]]]:
    from colliderflow.mlpf.infer import InferenceConfig, Predictor
    from colliderflow.utils.config import from_dict

    predictor = Predictor(settings["model"], from_dict(InferenceConfig, settings.get("config", {}),
                                                       where="mlpf config"))
    return predictor.candidates


#: algorithm name -> factory(settings) returning a function from a chunk's events to their candidates
_FACTORIES = {"pf": _pf_factory, "mlpf": _mlpf_factory}


def _process_chunk(algo: str, settings: dict[str, Any], src: str, dst: str) -> int:
    array = _read_chunk(Path(src))
    validate_chunk(Path(src), array)
    run = _FACTORIES[algo](settings)
    events = run(list(iter_events(array.X)))
    header = {"kind": CANDIDATES_KIND, "schema_version": CANDIDATES_SCHEMA_VERSION, "algo": algo,
              "settings": settings, "input": Path(src).name, "input_header": read_header(src)}
    write_parquet(dst, ak.zip({"cands": candidates_to_array(events), "event_index": array.event["index"]},
                              depth_limit=1), header)
    return len(events)


def _done(dst: Path, algo: str, settings: dict[str, Any], src: Path) -> bool:
    if not dst.exists():
        return False
    try:
        h = read_header(dst)
    except FileFormatError:
        return False
    return h.get("algo") == algo and h.get("settings") == settings and h.get("input_header") == read_header(src)


def reconstruct_dataset(input_path: str | os.PathLike, output: str | os.PathLike, algo: str,
                        settings: dict[str, Any], jobs: int = 1, progress: bool = True) -> dict[str, Any]:
    """Reconstruct every chunk of a dataset with ``algo`` ('pf' or 'mlpf').

    Args:
        settings: JSON-serialisable algorithm settings, stored in every output header. PF:
            ``calibration`` (card name or path) and ``config`` (overrides of ``PFRecoConfig``);
            MLPF: ``model`` (a .pt or .onnx path) and ``config`` (overrides of ``InferenceConfig``).
    """
    if algo not in _FACTORIES:
        raise ValueError(f"unknown reconstruction {algo!r}; choose one of {sorted(_FACTORIES)}")
    _FACTORIES[algo](settings)  # fail early on bad settings, before any work
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    files = dataset_files(input_path)
    todo = [(f, out / f.name) for f in files if not _done(out / f.name, algo, settings, f)]
    n = 0
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
    return {"chunks_built": len(todo), "chunks_skipped": len(files) - len(todo), "events": n}


def load_candidates(path: str | os.PathLike, with_algo: bool = False):
    """Candidates of every chunk in a reconstruction output directory, (events, candidates).

    With ``with_algo``, returns ``(candidates, algorithm name)``.
    """
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.name.startswith("chunk_")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no candidate chunks found")
    read = [read_parquet(f, CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION) for f in files]
    arrays = [r[0].cands for r in read]
    cands = ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    return (cands, read[0][1].get("algo", "pf")) if with_algo else cands
