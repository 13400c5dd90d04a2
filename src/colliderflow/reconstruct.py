"""Run a reconstruction (PF or MLPF) over a dataset and write candidate chunks.

For every input chunk ``chunk_A_B.parquet`` the output directory gets a chunk of the same
name holding the candidates (``colliderflow.schema.candidates``), written atomically; existing output
chunks made from the same input with the same settings are reused, so an interrupted run
resumes.

What a reconstruction computes is a typed settings object, :class:`PFSettings` or
:class:`MLPFSettings`; ``to_header()`` gives the JSON stored in every output header, and
``from_header()`` reads it back (or a user's mapping of the same shape).

Both algorithms end with the same pileup mitigation (``colliderflow.pf.pileup.mitigate_pileup``:
vertex association, CHS, PUPPI), as in section 6.2 of the CMS MLPF paper (MLPF+CHS, MLPF+PUPPI);
MLPF applies PF's vertex and PUPPI settings unless told otherwise, and its header stores them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from colliderflow.dataset.read import _read_chunk, dataset_files, has_chunks, missing_chunks, validate_chunk
from colliderflow.mlpf.infer import InferenceConfig
from colliderflow.pf.pileup import PuppiConfig, VertexConfig, event_vertices, mitigate_pileup
from colliderflow.pf.reconstruct import PFRecoConfig
from colliderflow.schema.candidates import (CANDIDATE_FIELDS, CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION,
                                            MLPF_PILEUP_KEY, VERTEX_FIELDS, result_settings)
from colliderflow.schema.elements import ELEMENT_FEATURES
from colliderflow.utils.atomic import output_dir
from colliderflow.utils.config import ConfigError, from_dict, load_config, to_dict
from colliderflow.utils.jagged import per_event, to_jagged
from colliderflow.utils.parquet import FileFormatError, read_header, write_parquet
from colliderflow.utils.workers import process_pool

__all__ = ["MLPFPileupConfig", "PFSettings", "MLPFSettings", "ReconstructionSettings", "settings_from_header",
           "iter_events", "candidates_to_array", "vertex_columns", "reconstruct_dataset", "reconstruction_settings",
           "mlpf_backend", "mlpf_pileup_threshold"]


@dataclass(frozen=True)
class MLPFPileupConfig:
    """Vertex finding, association and PUPPI settings applied to MLPF candidates (PF's defaults)."""

    vertex: VertexConfig = field(default_factory=VertexConfig)
    puppi: PuppiConfig = field(default_factory=PuppiConfig)


_S = TypeVar("_S", "PFSettings", "MLPFSettings")


def _parse(cls: type[_S], data: Mapping[str, Any], where: str) -> _S:
    """``cls`` from a settings mapping (a header's or a user's): unknown keys, wrong types and
    values out of range are one-line ``ConfigError``s naming ``where.key``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    return from_dict(cls, dict(data), where)


@dataclass(frozen=True)
class PFSettings:
    """What a PF reconstruction computes.

    Attributes:
        calibration: the hadron calibration: a detector card name (its shipped calibration) or
            the path of a ``.pfcalib.json`` file, stored as given.
        config: every setting of the PF chain; the header stores all of them, so that output made
            with other defaults (an older version) is never reused.
    """

    algo: ClassVar[str] = "pf"

    calibration: str
    config: PFRecoConfig = field(default_factory=PFRecoConfig)

    @property
    def vertex(self) -> VertexConfig:
        """The vertex settings of the pileup mitigation."""
        return self.config.vertex

    def to_header(self) -> dict[str, Any]:
        """The JSON-serialisable settings stored in every output header."""
        return {"calibration": self.calibration, "config": to_dict(self.config)}

    @classmethod
    def from_header(cls, data: Mapping[str, Any], where: str = "pf settings") -> PFSettings:
        """Settings from a header's ``settings`` or a user's mapping of the same shape (``config``:
        overrides of ``PFRecoConfig``, the defaults where not given)."""
        return _parse(cls, data, where)


@dataclass(frozen=True)
class MLPFSettings:
    """What an MLPF reconstruction computes, and how it runs (``InferenceConfig``'s runtime fields).

    Attributes:
        model: the model file (``.pt`` or ``.onnx``), or ``sha256:<hex digest of the .onnx>`` of
            the model a server runs (``config.server``).
        config: inference settings.
        pileup: vertex, CHS and PUPPI settings applied to the candidates; the header stores all.
        config_keys: the fields of ``config`` that the header lists (None: all). Headers list only
            the fields that were given, as they always have (so that output written before is still
            reused); a field left out must hold its default.
    """

    algo: ClassVar[str] = "mlpf"

    model: str
    config: InferenceConfig = field(default_factory=InferenceConfig)
    pileup: MLPFPileupConfig = field(default_factory=MLPFPileupConfig)
    config_keys: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.config_keys is None:
            return
        object.__setattr__(self, "config_keys", frozenset(self.config_keys))
        default = InferenceConfig()
        names = {f.name for f in dataclasses.fields(InferenceConfig)}
        unknown = sorted(set(self.config_keys) - names)
        if unknown:
            raise ValueError(f"MLPFSettings.config_keys: unknown InferenceConfig field(s) {unknown}")
        unlisted = sorted(n for n in names - set(self.config_keys) if getattr(self.config, n) != getattr(default, n))
        if unlisted:
            raise ValueError(f"MLPFSettings.config_keys: {unlisted} differ from their defaults and must be listed")

    @property
    def vertex(self) -> VertexConfig:
        """The vertex settings of the pileup mitigation."""
        return self.pileup.vertex

    def to_header(self) -> dict[str, Any]:
        """The JSON-serialisable settings stored in every output header."""
        config = {k: v for k, v in to_dict(self.config).items() if self.config_keys is None or k in self.config_keys}
        return {"model": self.model, "config": config, MLPF_PILEUP_KEY: to_dict(self.pileup)}

    @classmethod
    def from_header(cls, data: Mapping[str, Any], where: str = "mlpf settings") -> MLPFSettings:
        """Settings from a header's ``settings`` or a user's mapping of the same shape (``config``:
        overrides of ``InferenceConfig``, ``pileup`` of ``MLPFPileupConfig``; the defaults where
        not given). The header lists the ``config`` keys given."""
        if isinstance(data, Mapping) and "config_keys" in data:  # not a key of the header: its config's keys
            raise ConfigError(f"{where}: unknown key(s) ['config_keys']; allowed: ['config', 'model', 'pileup']")
        settings = _parse(cls, data, where)
        config = data.get("config", {})
        return dataclasses.replace(settings, config_keys=frozenset(config) if isinstance(config, Mapping) else None)


#: what a reconstruction computes: PF's or MLPF's settings
ReconstructionSettings = Union[PFSettings, MLPFSettings]

#: algorithm name -> its settings class
_SETTINGS: dict[str, type[PFSettings] | type[MLPFSettings]] = {"pf": PFSettings, "mlpf": MLPFSettings}


def settings_from_header(algo: str, data: Mapping[str, Any], where: str | None = None) -> ReconstructionSettings:
    """The typed settings of ``algo`` from a header's ``settings`` (or a user's mapping)."""
    if algo not in _SETTINGS:
        raise ValueError(f"unknown reconstruction {algo!r}; choose one of {sorted(_SETTINGS)}")
    return _SETTINGS[algo].from_header(data, where or f"{algo} settings")


def iter_events(X: ak.Array) -> Iterator[dict[str, np.ndarray]]:
    """Yield each event's element features as name -> (E,) float32 numpy arrays."""
    yield from per_event(X, ELEMENT_FEATURES, np.float32)


def candidates_to_array(events: list[dict[str, np.ndarray]]) -> ak.Array:
    return to_jagged(events, CANDIDATE_FIELDS)


#: a chunk's events (element features) -> their candidates
Reconstructor = Callable[[list[dict[str, np.ndarray]]], list[dict[str, np.ndarray]]]


def _pf_factory(settings: PFSettings) -> Reconstructor:
    from colliderflow.pf.calibration import load_calibration
    from colliderflow.pf.reconstruct import reconstruct_event

    calib = load_calibration(settings.calibration)
    return lambda events: [reconstruct_event(x, calib, settings.config) for x in events]


def _mlpf_factory(settings: MLPFSettings) -> Reconstructor:
    from colliderflow.mlpf.infer import Predictor

    predictor = Predictor(settings.model, settings.config)
    pileup = settings.pileup

    def run(events: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        return [mitigate_pileup(x, c, pileup.vertex, pileup.puppi)
                for x, c in zip(events, predictor.candidates(events))]

    return run


def _reconstructor(settings: ReconstructionSettings) -> Reconstructor:
    """The function from a chunk's events to their candidates that ``settings`` describe."""
    if isinstance(settings, PFSettings):
        return _pf_factory(settings)
    return _mlpf_factory(settings)


def mlpf_backend(backend: str | None, model: str | os.PathLike | None) -> str:
    """The MLPF runtime: the one asked for, else ONNX Runtime for a .onnx model and PyTorch otherwise."""
    if backend is not None:
        return backend
    return "onnx" if model is not None and str(model).lower().endswith(".onnx") else "torch"


def reconstruction_settings(algo: str, dataset: str | os.PathLike, calibration: str | None = None,
                            model: str | os.PathLike | None = None, backend: str | None = None,
                            binary_threshold: float = 0.5, pileup_threshold: float = 0.9, max_memory_gb: float = 2.0,
                            threads: int = 0, server: str | None = None, server_timeout: float = 60.0,
                            pf_config: str | os.PathLike | None = None) -> ReconstructionSettings:
    """The settings of ``reconstruct_dataset`` (``PFSettings`` or ``MLPFSettings``) from command-line choices.

    PF uses ``calibration`` (a card name or ``.pfcalib.json``; default: the dataset's card), MLPF
    ``model`` (default: the shipped model of the dataset's card for ``backend``; ``backend``
    default: :func:`mlpf_backend`, ONNX Runtime for a ``.onnx`` model, else PyTorch) and the inference
    options (``InferenceConfig``; ``max_memory_gb`` and ``threads`` only change how fast it runs).
    With ``server`` (``HOST:PORT`` of a Triton server, ``colliderflow.mlpf.client``) the model is
    the one the server runs, asked from it now and stored as ``sha256:<digest of its .onnx>``
    (``model``, if given, must be it); ``server`` and ``server_timeout`` only change how it runs.
    The MLPF header lists the inference options set here, as it always has. ``pf_config``: a YAML
    file of PF settings that differ from the defaults, in the layout of ``PFRecoConfig`` (e.g.
    ``puppi: {regions: [...]}``; the candidates' header stores them all).
    """
    from colliderflow.dataset.read import dataset_card

    card = dataset_card(dataset) or "cms-like"
    if algo == "pf":
        if pf_config is None:
            return PFSettings(calibration or card)
        return PFSettings(calibration or card, load_config(PFRecoConfig, pf_config, what="PF settings"))
    if pf_config is not None:
        raise ValueError("--pf-config sets PF's settings; MLPF candidates take PF's default pileup mitigation")
    if algo != "mlpf":
        raise ValueError(f"unknown reconstruction {algo!r}; choose one of {sorted(_SETTINGS)}")
    from colliderflow.mlpf.shipped import shipped_model

    backend = mlpf_backend(backend, model)
    config: dict[str, Any] = {"backend": backend, "binary_threshold": binary_threshold,
                              "pileup_threshold": pileup_threshold, "max_memory_gb": max_memory_gb}
    if server:
        from colliderflow.mlpf.client import TritonMLPF

        remote = TritonMLPF(server, server_timeout, model=model)
        remote.close()
        config.update(backend="onnx", server=server, server_timeout=server_timeout)
        path = f"sha256:{remote.sha256}"
    else:
        path = str(model) if model else str(shipped_model(card, backend))
        if threads:
            config["num_threads"] = threads
    return MLPFSettings(path, from_dict(InferenceConfig, config, where="mlpf config"), config_keys=frozenset(config))


def vertex_columns(events: list[dict[str, np.ndarray]], config: VertexConfig) -> dict[str, np.ndarray]:
    """Per-event ``VERTEX_FIELDS`` of the candidates format: primary-vertex z (cm, 0 without a
    vertex) and the number of vertices, found from each event's tracks with ``config``."""
    found = [event_vertices(x, config) for x in events]
    return {"pv_z": np.array([v[0] if len(v) else 0.0 for v in found], dtype=VERTEX_FIELDS["pv_z"]),
            "npvs": np.array([len(v) for v in found], dtype=VERTEX_FIELDS["npvs"])}


def _process_chunk(settings: ReconstructionSettings, src: str, dst: str) -> int:
    array = _read_chunk(Path(src))
    validate_chunk(Path(src), array)
    run = _reconstructor(settings)
    elements = list(iter_events(array.X))
    events = run(elements)
    header = {"kind": CANDIDATES_KIND, "schema_version": CANDIDATES_SCHEMA_VERSION, "algo": settings.algo,
              "settings": settings.to_header(), "input": Path(src).name, "input_header": read_header(src)}
    write_parquet(dst, ak.zip({"cands": candidates_to_array(events), "event_index": array.event["index"],
                               **vertex_columns(elements, settings.vertex)},
                              depth_limit=1), header)
    return len(events)


def _done(dst: Path, settings: ReconstructionSettings, src: Path) -> bool:
    if not dst.exists():
        return False
    try:
        h = read_header(dst)
    except FileFormatError:
        return False
    return (h.get("schema_version") == CANDIDATES_SCHEMA_VERSION and h.get("algo") == settings.algo
            and result_settings(h.get("settings")) == result_settings(settings.to_header())
            and h.get("input_header") == read_header(src))


def reconstruct_dataset(input_path: str | os.PathLike, output: str | os.PathLike, algo: str,
                        settings: ReconstructionSettings | Mapping[str, Any], jobs: int = 1,
                        progress: bool = True, allow_partial: bool = False) -> dict[str, Any]:
    """Reconstruct every chunk of a dataset with ``algo`` ('pf' or 'mlpf').

    Args:
        settings: ``PFSettings`` or ``MLPFSettings`` (``reconstruction_settings``), stored in every
            output header (``to_header``); or a mapping of the header's shape (``from_header``). PF:
            ``calibration`` (card name or path) and ``config`` (overrides of ``PFRecoConfig``);
            MLPF: ``model`` (a .pt or .onnx path), ``config`` (overrides of ``InferenceConfig``) and
            ``pileup`` (overrides of ``MLPFPileupConfig``; the header stores all its values).
        allow_partial: reconstruct the chunks present of a dataset whose manifest lists missing
            ones (refused otherwise); the summary's ``missing_chunks`` counts them.
    """
    if isinstance(settings, Mapping):
        settings = settings_from_header(algo, settings)
    elif settings.algo != algo:
        raise ValueError(f"{type(settings).__name__} are settings of {settings.algo!r}, not of {algo!r}")
    _reconstructor(settings)  # fail early on bad settings, before any work
    files = dataset_files(input_path, allow_partial)
    n = 0
    with output_dir(output, complete=has_chunks) as out:
        todo = [(f, out / f.name) for f in files if not _done(out / f.name, settings, f)]
        with tqdm(total=len(todo), desc=f"{algo} chunks", unit="chunk", disable=not progress) as bar:
            if jobs <= 1:
                for src, dst in todo:
                    n += _process_chunk(settings, str(src), str(dst))
                    bar.update(1)
            else:
                with process_pool(jobs) as pool:
                    futs = [pool.submit(_process_chunk, settings, str(s), str(d)) for s, d in todo]
                    for f in futs:
                        n += f.result()
                        bar.update(1)
    return {"chunks_built": len(todo), "chunks_skipped": len(files) - len(todo), "events": n,
            "missing_chunks": len(missing_chunks(input_path)[0])}


def mlpf_pileup_threshold(header: dict[str, Any]) -> float:
    """The pileup-score threshold (``InferenceConfig.pileup_threshold``) of an MLPF candidates header."""
    settings = MLPFSettings.from_header(header.get("settings", {}), where="candidates header settings")
    return settings.config.pileup_threshold
