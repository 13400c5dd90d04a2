"""Triton model repository: config.pbtxt parses with Triton's own model-config protobuf and matches
the ONNX graph it ships with."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")

from google.protobuf import text_format  # noqa: E402

from colliderflow.cli import main  # noqa: E402
from colliderflow.mlpf.files import save_model  # noqa: E402
from colliderflow.mlpf.triton import MODEL_NAME, write_model_repository  # noqa: E402
from tests.mlpf.test_model import SMALL, make_model, single_thread  # noqa: E402,F401

#: ONNX TensorProto element type -> Triton DataType enum name, independently of the module under test
_TRITON = {onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.INT64: "TYPE_INT64"}


def _parse(folder):
    return text_format.Parse((folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def _graph_tensors(values):
    """(name, Triton type, dims without the batch axis) of ONNX graph inputs or outputs."""
    return [(v.name, _TRITON[v.type.tensor_type.elem_type],
             [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim][1:])
            for v in values]


def _config_tensors(entries):
    return [(t.name, model_config_pb2.DataType.Name(t.data_type), list(t.dims)) for t in entries]


@pytest.mark.parametrize("attention", ["mha", "portable"])
def test_repository_config_matches_the_onnx_graph(tmp_path, attention):
    model_file = tmp_path / "model.pt"
    save_model(make_model(SMALL, seed=5), model_file)
    folder = write_model_repository(model_file, tmp_path / "repo", max_batch_size=32, attention=attention)
    assert folder == tmp_path / "repo" / MODEL_NAME
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == ["1", "1/model.onnx",
                                                                                   "config.pbtxt"]
    config = _parse(folder)
    graph = onnx.load(folder / "1" / "model.onnx").graph
    assert config.name == MODEL_NAME and config.backend == "onnxruntime"
    assert config.max_batch_size == 32 and config.HasField("dynamic_batching")
    assert _config_tensors(config.input) == _graph_tensors(graph.input) == [("X", "TYPE_FP32", [-1, 57])]
    assert _config_tensors(config.output) == _graph_tensors(graph.output)
    # the class axis is static where the exporter's shape inference kept it
    assert dict((n, d) for n, _, d in _config_tensors(config.output))["pid_prob"] in ([-1, SMALL.n_classes],
                                                                                       [-1, -1])


def test_onnx_model_is_copied_and_other_models_are_left_alone(tmp_path, capsys):
    onnx_file = tmp_path / "in.onnx"
    repo = tmp_path / "repo"
    (repo / "other" / "1").mkdir(parents=True)
    (repo / "other" / "config.pbtxt").write_text('name: "other"')
    assert main(["export-triton", "--out", str(repo)]) == 0  # the shipped model
    assert "tritonserver --model-repository" in capsys.readouterr().out
    shipped = (repo / MODEL_NAME / "1" / "model.onnx").read_bytes()
    onnx_file.write_bytes(shipped)
    assert main(["export-triton", "--model", str(onnx_file), "--out", str(repo), "--max-batch-size", "8"]) == 0
    assert (repo / MODEL_NAME / "1" / "model.onnx").read_bytes() == shipped
    assert _parse(repo / MODEL_NAME).max_batch_size == 8
    assert (repo / "other" / "config.pbtxt").read_text() == 'name: "other"'
    assert sorted(p.name for p in repo.iterdir()) == ["mlpf", "other"]  # no temporary left behind


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["export-triton", "--model", str(tmp_path / "none.pt"), "--out", str(tmp_path / "r")]) == 1
    assert main(["export-triton", "--out", str(tmp_path / "r"), "--max-batch-size", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such model file" in err[0] and "max_batch_size" in err[1]
    assert not (tmp_path / "r" / MODEL_NAME).exists()
