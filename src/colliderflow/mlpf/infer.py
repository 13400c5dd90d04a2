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

import numpy as np

from colliderflow.candidates import empty_candidates
from colliderflow.mlpf.data import make_batches
from colliderflow.simulate.elements import ELEMENT_FEATURES, ELEMENT_TRACK
from colliderflow.target import classes as C

__all__ = ["InferenceConfig", "Predictor", "candidates_from_prediction"]

_CHARGED = (C.CHARGED_HADRON, C.ELECTRON, C.MUON)
_OUTPUTS = ("p_binary", "pid_prob", "p_pileup", "pt", "eta", "phi", "energy")


@dataclass(frozen=True)
class InferenceConfig:
    """Inference settings.

    Attributes:
        backend: 'torch' or 'onnx'.
        binary_threshold: primary-element probability above which an element makes a candidate.
        pileup_threshold: candidates with a pileup probability below this pass the pileup rejection
            (0.9: chosen for the shipped cms-like model on validation events, bench/mlpf_thresholds.py).
        batch_elements: padded elements per inference batch.
        num_threads: CPU threads (0: library default).
    """

    backend: str = "torch"
    binary_threshold: float = 0.5
    pileup_threshold: float = 0.9
    batch_elements: int = 20000
    num_threads: int = 0

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be 'torch' or 'onnx', got {self.backend!r}")


class Predictor:
    """Runs a model file (``.pt`` for PyTorch, ``.onnx`` for ONNX Runtime) on padded batches."""

    def __init__(self, model_path: str | os.PathLike, config: InferenceConfig = InferenceConfig()) -> None:
        self.config = config
        path = str(model_path)
        if config.backend == "onnx":
            from colliderflow.mlpf.export import OnnxMLPF

            self._onnx = OnnxMLPF(path if path.endswith(".onnx") else path.rsplit(".", 1)[0] + ".onnx",
                                  threads=config.num_threads or None)
            self._model = None
        else:
            import torch

            from colliderflow.mlpf.train import load_model

            if config.num_threads:
                torch.set_num_threads(config.num_threads)
            self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            self._model = load_model(path, self._device)

    def predict_batch(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Decoded outputs for a padded batch X (B, N, F)."""
        if self._model is None:
            return self._onnx(X)
        import torch

        with torch.no_grad():
            x = torch.from_numpy(X).to(self._device)
            out = self._model.decode(self._model(x), x)
        return {k: out[k].float().cpu().numpy() for k in _OUTPUTS}

    def predict_events(self, events: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        """Decoded outputs per event (each (N_i,) or (N_i, C)), batched by size."""
        sizes = np.array([len(e["type"]) for e in events], dtype=np.int64)
        results: list[dict[str, np.ndarray] | None] = [None] * len(events)
        for idx in make_batches(sizes, self.config.batch_elements, seed=0, epoch=0, shuffle=False):
            n_max = max(1, int(sizes[idx].max()))
            X = np.zeros((len(idx), n_max, len(ELEMENT_FEATURES)), np.float32)
            for k, i in enumerate(idx):
                X[k, : sizes[i]] = np.stack([events[i][f] for f in ELEMENT_FEATURES], axis=1)
            out = self.predict_batch(X)
            for k, i in enumerate(idx):
                results[i] = {name: v[k, : sizes[i]] for name, v in out.items()}
        return results

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
