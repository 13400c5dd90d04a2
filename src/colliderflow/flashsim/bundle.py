"""FlashSim bundles (``flashsim.pt``): the one home of their format, and what each model in one is.

A bundle holds ``version``, the training ``config``, one entry per trained model (``models``:
multiplicity classifier and flow weights, target-transform state), the models ``skipped`` and the
object ``selections`` of the training files (read from their nano headers), which sampling applies.
It holds plain data only and is read without unpickling anything else
(:mod:`colliderflow.utils.torchfile`). Training writes it, sampling reads it; sampling needs
nothing of the trainer.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from colliderflow.flashsim.event import MET_TARGETS, PV_TARGETS
from colliderflow.flashsim.sources import MODELS
from colliderflow.flashsim.transforms import TargetSpec
from colliderflow.nano.reco import RecoConfig, object_selections
from colliderflow.utils.parquet import FileFormatError
from colliderflow.utils.torchfile import load_torch_file, save_torch_file

__all__ = ["BUNDLE_VERSION", "BUNDLE_FILE", "save_bundle", "read_bundle", "bundle_selections", "resolve_model",
           "model_targets", "object_condition"]

BUNDLE_VERSION = 1
#: what the file is, in messages
BUNDLE_FILE = "readable FlashSim bundle"


def model_targets(name: str) -> list[TargetSpec]:
    """The properties model ``name`` predicts (``met``, ``pv`` or a per-object model of ``MODELS``)."""
    if name == "met":
        return MET_TARGETS
    if name == "pv":
        return PV_TARGETS
    return MODELS[name].targets


def object_condition(cond: np.ndarray, rank: np.ndarray, count: np.ndarray, max_mult: int) -> np.ndarray:
    """Per-object conditioning (N, C + 2): the source's C conditions, plus rank / M and multiplicity / M."""
    return np.column_stack([cond, rank / max_mult, count / max_mult]).astype(np.float32)


def resolve_model(spec: str | os.PathLike) -> Path:
    """A bundle path, a training directory, or the name of a shipped model (e.g. 'cms-like')."""
    path = Path(spec)
    if path.exists():
        return path
    shipped = Path(str(resources.files("colliderflow.flashsim"))) / "models" / str(spec) / "flashsim.pt"
    return shipped if shipped.exists() else path


def save_bundle(path: str | os.PathLike, config: dict[str, Any], models: dict[str, Any],
                skipped: dict[str, str], selections: dict[str, list[float]]) -> None:
    """Write a bundle atomically; ``models`` and ``config`` must be plain data; ``selections``:
    collection -> [minimum pT, maximum |eta|] of the training files' objects."""
    save_torch_file({"version": BUNDLE_VERSION, "config": config, "models": models, "skipped": skipped,
                     "selections": selections}, path)


def bundle_selections(bundle: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """The object selections a bundle was trained with (the nano defaults for bundles that predate them)."""
    if "selections" in bundle:
        return {k: (float(v[0]), float(v[1])) for k, v in bundle["selections"].items()}
    return object_selections(RecoConfig())


def read_bundle(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The bundle at ``path`` (a file, a training directory or a shipped name): (file, contents).

    Raises:
        FileNotFoundError: no bundle there.
        FileFormatError: not a bundle, or one of another version; one line naming the file.
    """
    path = resolve_model(path)
    if path.is_dir():
        path = path / "flashsim.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no FlashSim bundle (train one with 'colliderflow flashsim train')")
    bundle = load_torch_file(path, BUNDLE_FILE, {"version": int, "models": dict})
    if bundle["version"] != BUNDLE_VERSION:
        raise FileFormatError(f"{path}: FlashSim bundle version {bundle['version']}, "
                              f"this colliderflow reads version {BUNDLE_VERSION}")
    return path, bundle
