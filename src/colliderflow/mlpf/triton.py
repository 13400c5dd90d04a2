"""Triton model repositories for MLPF: the ONNX export laid out for Triton's onnxruntime backend.

``write_model_repository(model, REPO)`` writes the standard layout that ``tritonserver
--model-repository REPO`` loads (https://github.com/triton-inference-server/server, docs
"model_repository.md" and "model_configuration.md")::

    REPO/mlpf/config.pbtxt      backend "onnxruntime", inputs and outputs, dynamic batching
    REPO/mlpf/1/model.onnx      the export of colliderflow.mlpf.export (version 1)

The inputs and outputs of ``config.pbtxt`` are read from the ONNX graph, so their names, types and
shapes match it by construction: ``X`` (B, N, F) FP32 and the decoded outputs (B, N) or (B, N, C).

Batching. ``max_batch_size`` > 0 tells Triton that the first axis of every tensor is the batch
axis (one event per row), which the dynamic batcher needs; the dims below then leave it out, and
the element axis N is ``-1``. Triton's dynamic batcher only merges requests whose other dims are
equal, so requests of events padded to the same N are merged, others run one by one; padding
does not change an event's outputs (docs/mlpf.md), so a merged batch gives the same results. The
default bound, 256 events, keeps a merged batch of pileup events (N ~ 3,000) at a few GB of
activations; clients split larger requests (``colliderflow.mlpf.client``).

Which model answers. ``config.pbtxt`` carries the parameter ``colliderflow_metadata``, the JSON of
:func:`model_metadata` (the .onnx file's SHA-256 and the export's metadata: model configuration,
feature and output names). ``colliderflow reconstruct --server`` reads it to check that the server
runs the expected model and to batch events as local inference does. ``colliderflow serve``
(``colliderflow.mlpf.pytriton_server``) cannot set model-config parameters through PyTriton's API;
it serves the same JSON as a second model, ``mlpf_metadata``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from colliderflow.utils.atomic import atomic_dir

__all__ = ["MODEL_NAME", "METADATA_MODEL", "METADATA_PARAMETER", "DEFAULT_MAX_BATCH_SIZE", "ONNX_TO_TRITON",
           "model_metadata", "triton_config", "write_model_repository"]

#: the model's name in the repository and in requests
MODEL_NAME = "mlpf"
#: the companion model of ``colliderflow serve`` answering with :func:`model_metadata` (module docstring)
METADATA_MODEL = "mlpf_metadata"
#: the config.pbtxt parameter holding :func:`model_metadata` as JSON
METADATA_PARAMETER = "colliderflow_metadata"
DEFAULT_MAX_BATCH_SIZE = 256
#: ONNX TensorProto element types -> Triton's model-config data types
ONNX_TO_TRITON = {1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 5: "TYPE_INT16", 6: "TYPE_INT32",
                  7: "TYPE_INT64", 9: "TYPE_BOOL", 10: "TYPE_FP16", 11: "TYPE_FP64"}


def _tensor_entries(values, path: Path) -> list[str]:
    """config.pbtxt entries of ONNX graph inputs or outputs, without their batch axis."""
    entries = []
    for v in values:
        t = v.type.tensor_type
        if t.elem_type not in ONNX_TO_TRITON:
            raise ValueError(f"{path}: tensor {v.name!r} has ONNX element type {t.elem_type}, which has no "
                             f"Triton data type here (expected one of {sorted(ONNX_TO_TRITON)})")
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        if len(dims) < 2:
            raise ValueError(f"{path}: tensor {v.name!r} has shape {dims}, expected (batch, ...)")
        entries.append(f'  {{\n    name: "{v.name}"\n    data_type: {ONNX_TO_TRITON[t.elem_type]}\n'
                       f'    dims: [ {", ".join(str(d) for d in dims[1:])} ]\n  }}')
    return entries


def model_metadata(onnx_path: str | os.PathLike) -> dict:
    """``{"sha256": hex digest of the .onnx file, "metadata": its metadata_props}``: what a Triton
    server says about the MLPF model it runs (the module docstring; the same object as
    ``model_metadata`` of ``colliderflow/mlpf/pytriton_server.py``, which reads it with ONNX Runtime)."""
    import onnx

    data = Path(onnx_path).read_bytes()
    props = onnx.load_from_string(data).metadata_props
    return {"sha256": hashlib.sha256(data).hexdigest(), "metadata": {p.key: p.value for p in props}}


def _pbtxt_string(text: str) -> str:
    """``text`` (ASCII) as a protobuf text-format string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def triton_config(onnx_path: str | os.PathLike, name: str = MODEL_NAME,
                  max_batch_size: int = DEFAULT_MAX_BATCH_SIZE) -> str:
    """The ``config.pbtxt`` text of an MLPF ONNX export for Triton's onnxruntime backend.

    Args:
        onnx_path: the ``.onnx`` file (its graph gives the tensors).
        name: the model name (must equal its folder's name in the repository).
        max_batch_size: the most events per (merged) batch; see the module docstring.
    """
    import onnx

    if max_batch_size < 1:
        raise ValueError(f"triton_config: max_batch_size must be >= 1 (dynamic batching), got {max_batch_size}")
    path = Path(onnx_path)
    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    inputs = [v for v in graph.input if v.name not in initializers]
    return "\n".join([
        f'name: "{name}"',
        'backend: "onnxruntime"',
        f"max_batch_size: {max_batch_size}",
        "input [", ",\n".join(_tensor_entries(inputs, path)), "]",
        "output [", ",\n".join(_tensor_entries(graph.output, path)), "]",
        "dynamic_batching { }",  # no instance_group: Triton puts one instance on each GPU, or one on the CPU
        f'parameters {{\n  key: "{METADATA_PARAMETER}"',
        f"  value {{ string_value: {_pbtxt_string(json.dumps(model_metadata(path), sort_keys=True))} }}\n}}",
        "",
    ])


def write_model_repository(model_path: str | os.PathLike, repo: str | os.PathLike, name: str = MODEL_NAME,
                           max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, attention: str = "mha") -> Path:
    """Write ``repo/name/{config.pbtxt, 1/model.onnx}`` for ``model_path`` (.pt: exported; .onnx: copied).

    The model folder appears whole or not at all (an existing one is replaced); other models in
    ``repo`` are left alone.

    Args:
        attention: the export's lowering of dense attention for a ``.pt`` model
            (``colliderflow.mlpf.export.ATTENTION_MODES``; Triton's onnxruntime backend runs both).

    Returns:
        the model folder ``repo/name``.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no such model file")
    target = Path(repo) / name
    with atomic_dir(target) as tmp:
        onnx_path = tmp / "1" / "model.onnx"
        onnx_path.parent.mkdir()
        if model_path.suffix == ".onnx":
            shutil.copyfile(model_path, onnx_path)
        else:
            from colliderflow.mlpf.export import export_onnx
            from colliderflow.mlpf.files import load_model

            export_onnx(load_model(model_path), onnx_path, attention=attention)
        (tmp / "config.pbtxt").write_text(triton_config(onnx_path, name, max_batch_size))
    return target
