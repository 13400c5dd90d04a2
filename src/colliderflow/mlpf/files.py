"""MLPF model and training-checkpoint files (``.pt``): the one home of their format.

A model file holds ``model_config`` (``MLPFConfig.to_dict()``), ``state_dict`` (weights and
scaler buffers) and free metadata; a checkpoint adds ``optimizer``, ``scheduler``,
``torch_rng``, the loop ``state`` and the ``train_config``. Both hold plain data only and are read
without unpickling anything else (:mod:`colliderflow.utils.torchfile`). Training, inference,
export and the benchmarks import from here; nothing here imports the trainer.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from colliderflow.mlpf.model import MLPF, MLPFConfig
from colliderflow.utils.torchfile import as_file_error, load_torch_file, save_torch_file

__all__ = ["MODEL_FILE", "CHECKPOINT_FILE", "save_model", "read_model_file", "load_model", "save_checkpoint",
           "read_checkpoint"]

#: what the files are, in messages
MODEL_FILE = "readable colliderflow MLPF model"
CHECKPOINT_FILE = "readable colliderflow MLPF training checkpoint"
_MODEL_FIELDS = {"model_config": dict, "state_dict": dict}
_CHECKPOINT_FIELDS = {**_MODEL_FIELDS, "optimizer": dict, "scheduler": dict, "torch_rng": torch.Tensor,
                      "state": dict, "train_config": dict}


def save_model(model: MLPF, path: str | os.PathLike, extra: dict | None = None) -> None:
    """A self-describing model file: config, weights (scaler buffers included) and metadata.

    ``extra`` must be plain data (python scalars, strings, lists, dicts, tensors): model files are
    shared, and are read without unpickling anything else.
    """
    save_torch_file({"model_config": model.config.to_dict(), "state_dict": model.state_dict(), **(extra or {})}, path)


def read_model_file(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The contents of a model file (``model_config``, ``state_dict`` and the metadata given to
    :func:`save_model`), read without running code from it; ``FileFormatError`` if it is not one."""
    return load_torch_file(path, MODEL_FILE, _MODEL_FIELDS, map_location=device)


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> MLPF:
    """The model of a model file (or of a checkpoint), in eval mode on ``device``.

    Raises:
        FileFormatError: (a ``ValueError``) ``path`` is not a model file; one line naming it.
    """
    payload = read_model_file(path, device)
    with as_file_error(path, MODEL_FILE):
        model = MLPF(MLPFConfig.from_dict(payload["model_config"]))
        model.load_state_dict(payload["state_dict"])
    return model.to(device).eval()


def save_checkpoint(path: str | os.PathLike, model: MLPF, optimizer: torch.optim.Optimizer, scheduler: Any,
                    state: dict[str, Any], train_config: dict[str, Any]) -> None:
    """The complete state of a training run: model, optimiser, scheduler, random numbers, loop position."""
    save_torch_file({"model_config": model.config.to_dict(), "state_dict": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "torch_rng": torch.get_rng_state(), "state": state, "train_config": train_config}, path)


def read_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The contents of a checkpoint written by :func:`save_checkpoint`; ``FileFormatError`` if it is not one."""
    return load_torch_file(path, CHECKPOINT_FILE, _CHECKPOINT_FIELDS, map_location=device)
