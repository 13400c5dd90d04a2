"""The MLPF models shipped with the package, one per detector card."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["shipped_model", "MODELS_DIR"]

MODELS_DIR = "models"


def shipped_model(card: str, backend: str = "torch") -> Path:
    """Path of the shipped model for ``card`` (model.pt or model.onnx)."""
    folder = Path(str(resources.files("colliderflow.mlpf"))) / MODELS_DIR / card
    path = folder / ("model.onnx" if backend == "onnx" else "model.pt")
    if not path.exists():
        raise FileNotFoundError(f"no shipped MLPF model for detector card {card!r} ({path}); train one with "
                                "'colliderflow train' and pass --model")
    return path
