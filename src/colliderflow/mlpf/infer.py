"""MLPF inference: element features -> particle candidates, with PyTorch or ONNX Runtime.

An element becomes a candidate when the primary-element probability exceeds
``binary_threshold``; its class is the most probable particle class, its four-momentum the
regression output, and ``pu_score`` the pileup probability (the MLPF pileup rejection keeps
candidates with ``pu_score < pileup_threshold``). Vertex association, CHS and PUPPI are not
this module's business: ``colliderflow.reconstruct`` applies PF's to MLPF candidates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from colliderflow.mlpf.data import make_batches
from colliderflow.schema import classes as C
from colliderflow.schema.candidates import empty_candidates
from colliderflow.schema.elements import ELEMENT_FEATURES, ELEMENT_TRACK
from colliderflow.utils.config import RangeChecked, fraction, non_negative, positive
from colliderflow.utils.parquet import FileFormatError
from colliderflow.utils.torchfile import as_file_error

if TYPE_CHECKING:
    from colliderflow.mlpf.client import TritonMLPF
    from colliderflow.mlpf.export import OnnxMLPF

__all__ = ["InferenceConfig", "Predictor", "candidates_from_prediction"]

_CHARGED = (C.CHARGED_HADRON, C.ELECTRON, C.MUON)
_OUTPUTS = ("p_binary", "pid_prob", "p_pileup", "pt", "eta", "phi", "energy")


@dataclass(frozen=True)
class InferenceConfig(RangeChecked):
    """Inference settings.

    Attributes:
        backend: 'torch' or 'onnx'.
        binary_threshold: primary-element probability above which an element makes a candidate.
        pileup_threshold: candidates with a pileup probability below this pass the pileup rejection
            (0.9: chosen for the shipped cms-like model on validation events, bench/mlpf_thresholds.py).
        batch_elements: padded elements per inference batch.
        max_memory_gb: bound on the estimated activation memory of one batch
            (``MLPFConfig.inference_bytes``); batches are split to stay below it, and an event that
            alone exceeds it is refused with a clear error instead of exhausting the machine.
        num_threads: CPU threads (0: library default).
        server: ``HOST:PORT`` (gRPC) of a Triton server running the model (``colliderflow serve``);
            empty: run it here. A server runs ONNX Runtime, so it needs backend 'onnx'.
        server_timeout: seconds to wait for the server to be ready, for one answer, and for it to
            come back after it went away (``colliderflow.mlpf.client``).
    """

    backend: str = "torch"
    binary_threshold: float = fraction(0.5)
    pileup_threshold: float = fraction(0.9)
    batch_elements: int = positive(20000)
    max_memory_gb: float = positive(2.0)
    num_threads: int = non_negative(0)
    server: str = ""
    server_timeout: float = positive(60.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be 'torch' or 'onnx', got {self.backend!r}")
        if self.server and self.backend != "onnx":
            raise ValueError(f"server {self.server!r} runs ONNX Runtime: backend must be 'onnx', got {self.backend!r}")


class Predictor:
    """Runs a model file (``.pt`` for PyTorch, ``.onnx`` for ONNX Runtime) on padded batches.

    With ``config.server``, the batches go to a Triton server instead, and ``model_path`` names the
    model it must run: ``sha256:<hex digest of the .onnx>``, a model file, or '' for any
    (``colliderflow.mlpf.client.TritonMLPF``).
    """

    def __init__(self, model_path: str | os.PathLike, config: InferenceConfig = InferenceConfig()) -> None:
        self.config = config
        path = str(model_path)
        self._onnx: OnnxMLPF | TritonMLPF
        if config.server:
            from colliderflow.mlpf.client import TritonMLPF

            self._onnx = TritonMLPF(config.server, config.server_timeout, model=path)
            self._model = None
            self.model_config = self._onnx.config
        elif config.backend == "onnx":
            from colliderflow.mlpf.export import OnnxMLPF, onnx_file

            onnx_path = onnx_file(path)
            if not onnx_path.is_file():
                raise FileFormatError(f"{onnx_path}: no such file")
            with as_file_error(onnx_path, "readable MLPF ONNX export"):  # ONNX Runtime's own exceptions
                self._onnx = OnnxMLPF(onnx_path, threads=config.num_threads or None)
            self._model = None
            self.model_config = self._onnx.config
        else:
            import torch

            from colliderflow.mlpf.files import load_model

            if config.num_threads:
                torch.set_num_threads(config.num_threads)
            self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            self._model = load_model(path, self._device)
            self.model_config = self._model.config

    def predict_batch(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Decoded outputs for a padded batch X (B, N, F)."""
        if self._model is None:
            return self._onnx(X)
        import torch

        with torch.no_grad():
            x = torch.from_numpy(X).to(self._device)
            out = self._model.decode(self._model(x), x)
        return {k: out[k].float().cpu().numpy() for k in _OUTPUTS}

    def batch_bytes(self, batch: int, n: int) -> float:
        """Estimated activation memory of a (batch, n) padded batch with this model and runtime, bytes."""
        return self.model_config.inference_bytes(batch, n, materialised_attention=self._model is None)

    def _within_memory(self, sizes: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
        """``idx`` split into batches whose estimated memory is within ``max_memory_gb``.

        Raises:
            ValueError: one event alone exceeds the bound.
        """
        limit = self.config.max_memory_gb * 1e9
        n_max = max(1, int(sizes[idx].max()))
        if self.batch_bytes(len(idx), n_max) <= limit:
            return [idx]
        if len(idx) == 1:
            raise ValueError(f"an event of {n_max} elements needs about {self.batch_bytes(1, n_max) / 1e9:.1f} GB "
                             f"for MLPF inference ({self.model_config.attention} attention), above the "
                             f"{self.config.max_memory_gb:g} GB bound (InferenceConfig.max_memory_gb, "
                             "reconstruct --max-memory-gb)")
        order = idx[np.argsort(sizes[idx], kind="stable")]
        half = len(order) // 2
        return self._within_memory(sizes, order[:half]) + self._within_memory(sizes, order[half:])

    def predict_events(self, events: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        """Decoded outputs per event (each (N_i,) or (N_i, C)), batched by size within the memory bound."""
        sizes = np.array([len(e["type"]) for e in events], dtype=np.int64)
        results: list[dict[str, np.ndarray] | None] = [None] * len(events)
        batches = make_batches(sizes, self.config.batch_elements, seed=0, epoch=0, shuffle=False)
        for idx in (part for b in batches for part in self._within_memory(sizes, np.asarray(b))):
            n_max = max(1, int(sizes[idx].max()))
            X = np.zeros((len(idx), n_max, len(ELEMENT_FEATURES)), np.float32)
            for k, i in enumerate(idx):
                X[k, : sizes[i]] = np.stack([events[i][f] for f in ELEMENT_FEATURES], axis=1)
            out = self.predict_batch(X)
            for k, i in enumerate(idx):
                results[i] = {name: v[k, : sizes[i]] for name, v in out.items()}
        return cast("list[dict[str, np.ndarray]]", results)  # the batches hold every event: no None left

    def candidates(self, events: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        return [candidates_from_prediction(x, p, self.config) for x, p in zip(events, self.predict_events(events))]


def candidates_from_prediction(x: dict[str, np.ndarray], pred: dict[str, np.ndarray],
                               config: InferenceConfig = InferenceConfig()) -> dict[str, np.ndarray]:
    """Candidates of one event from its element features and decoded model outputs."""
    sel = np.flatnonzero(pred["p_binary"] > config.binary_threshold)
    out = empty_candidates(len(sel))
    pid = pred["pid_prob"][sel]
    cls = 1 + np.argmax(pid[:, 1:], axis=1) if len(sel) else np.zeros(0, np.int64)
    on_track = x["type"][sel] == ELEMENT_TRACK
    charged = np.isin(cls, _CHARGED) & on_track
    out["cls"] = cls.astype(np.int8)
    out["charge"] = np.where(charged, np.sign(x["charge"][sel]), 0).astype(np.int8)
    for k in ("pt", "eta", "phi", "energy"):
        out[k] = pred[k][sel].astype(np.float32)
    out["element"] = sel.astype(np.int32)
    out["pu_score"] = pred["p_pileup"][sel].astype(np.float32)
    return out
