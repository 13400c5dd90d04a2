"""ONNX export: ONNX Runtime CPU (and, for standard operators, ONNX's reference evaluator) reproduces
PyTorch's decoded outputs on other batch shapes, empty events included."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from colliderflow.mlpf.export import (META_CONFIG, OUTPUT_NAMES, OnnxMLPF, agreement_with_torch,  # noqa: E402
                                      export_onnx)
from colliderflow.mlpf.model import MLPFConfig  # noqa: E402
from colliderflow.schema.elements import ELEMENT_FEATURES  # noqa: E402
from tests.mlpf.test_model import SMALL, WINDOW, make_model, random_events, single_thread  # noqa: E402,F401


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The small model exported with both attention lowerings (traced at B = 1, N = 16)."""
    model = make_model(SMALL, seed=3)
    folder = tmp_path_factory.mktemp("onnx")
    paths = {mode: export_onnx(model, folder / f"mlpf_{mode}.onnx", attention=mode, example_elements=16)
             for mode in ("mha", "portable")}
    return model, paths


@pytest.fixture(scope="module")
def exported_window(tmp_path_factory):
    """The small window-attention model (window 4, so that test events span several windows)."""
    model = make_model(WINDOW, seed=4)
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "window.onnx", example_elements=16)


def _check_against_pytorch(model, path, X, runner=None):
    with torch.no_grad():
        ref = model.decode(model(X), X)
    got = (runner or OnnxMLPF(path, providers=["CPUExecutionProvider"], threads=1))(X.numpy())
    assert set(got) == set(OUTPUT_NAMES)
    for name in OUTPUT_NAMES:
        assert got[name].shape == tuple(ref[name].shape), name
        if name == "phi":  # compare angles modulo 2 pi
            diff = np.angle(np.exp(1j * (got[name] - ref[name].numpy())))
            np.testing.assert_allclose(diff, 0.0, atol=1e-5)
        else:
            np.testing.assert_allclose(got[name], ref[name].numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    return got


def test_window_model_exports_with_standard_operators_only(exported_window):
    model, path = exported_window
    proto = onnx.load(path)
    assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"}
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["colliderflow.mlpf.attention"] == "window"
    for sizes in ([37, 12, 0], [5], [0]):  # padding, several windows, empty events
        X = random_events(torch.Generator().manual_seed(sum(sizes)), sizes, n_elements=max(sizes))
        got = _check_against_pytorch(model, path, X)
        assert all((got[k][np.asarray(sizes) == 0] == 0).all() for k in ("pt", "p_binary"))


def test_window_model_runs_in_the_onnx_reference_evaluator(exported_window):
    from onnx.reference import ReferenceEvaluator

    model, path = exported_window
    evaluator = ReferenceEvaluator(onnx.load(path))
    X = random_events(torch.Generator().manual_seed(24), [9, 6])

    def run(x):
        return dict(zip(OUTPUT_NAMES, evaluator.run(list(OUTPUT_NAMES), {"X": x})))

    _check_against_pytorch(model, path, X, runner=run)


@pytest.mark.parametrize("mode", ["mha", "portable"])
def test_onnxruntime_matches_pytorch_on_other_shapes(exported, mode):
    model, paths = exported
    X = random_events(torch.Generator().manual_seed(21), [37, 12, 0], n_elements=37)  # B = 3, padding, empty event
    got = _check_against_pytorch(model, paths[mode], X)
    assert (got["pt"][2] == 0).all() and (got["p_binary"][1, 12:] == 0).all()


def _domains(path) -> set[str]:
    return {n.domain for n in onnx.load(path).graph.node}


def test_portable_export_has_standard_operators_only(exported):
    _, paths = exported
    assert _domains(paths["portable"]) <= {"", "ai.onnx"}
    assert "com.microsoft" in _domains(paths["mha"])
    meta = {p.key: p.value for p in onnx.load(paths["portable"]).metadata_props}
    assert meta["colliderflow.mlpf.attention"] == "portable"


def test_portable_export_runs_in_the_onnx_reference_evaluator(exported):
    from onnx.reference import ReferenceEvaluator

    model, paths = exported
    evaluator = ReferenceEvaluator(onnx.load(paths["portable"]))

    def run(x):
        return dict(zip(OUTPUT_NAMES, evaluator.run(list(OUTPUT_NAMES), {"X": x})))

    _check_against_pytorch(model, paths["portable"], random_events(torch.Generator().manual_seed(25), [9, 4]),
                           runner=run)
    empty = run(np.zeros((1, 0, len(ELEMENT_FEATURES)), np.float32))
    assert empty["pid_prob"].shape == (1, 0, model.config.n_classes) and empty["pt"].shape == (1, 0)


@pytest.mark.parametrize("mode", ["mha", "portable", "window"])
def test_event_without_elements_gives_empty_outputs(exported, exported_window, mode):
    """B = 1, N = 0: PyTorch and every export return empty outputs (the fused export used to fail in Reshape)."""
    model, path = exported_window if mode == "window" else (exported[0], exported[1][mode])
    X = torch.zeros(1, 0, len(ELEMENT_FEATURES))
    with torch.no_grad():
        ref = model.decode(model(X), X)
    got = OnnxMLPF(path, providers=["CPUExecutionProvider"], threads=1)(X.numpy())
    for name in OUTPUT_NAMES:
        assert tuple(ref[name].shape) == got[name].shape == ((1, 0, model.config.n_classes) if name == "pid_prob"
                                                              else (1, 0)), name


@pytest.mark.parametrize("mode", ["mha", "portable"])
def test_agreement_check_of_export_onnx(exported, mode):
    model, paths = exported
    assert agreement_with_torch(model, paths[mode], elements=40) <= 1.0


def test_fused_attention_in_graph(exported):
    _, paths = exported
    ops = {mode: [n.op_type for n in onnx.load(p).graph.node] for mode, p in paths.items()}
    assert ops["mha"].count("MultiHeadAttention") == 2 * SMALL.num_layers
    assert "MultiHeadAttention" not in ops["portable"]


def test_export_is_reproducible_and_atomic(exported, tmp_path):
    model, paths = exported
    again = export_onnx(model, tmp_path / "again.onnx", attention="mha")
    assert again.read_bytes() == paths["mha"].read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["again.onnx"]  # no temporary left behind
    X = random_events(torch.Generator().manual_seed(22), [20, 5]).numpy()
    runner = OnnxMLPF(paths["mha"], threads=1)
    first, second = runner(X), runner(X)
    assert all(first[k].tobytes() == second[k].tobytes() for k in OUTPUT_NAMES)


def test_metadata_holds_config_and_features(exported):
    model, paths = exported
    meta = {p.key: p.value for p in onnx.load(paths["mha"]).metadata_props}
    assert MLPFConfig.from_dict(json.loads(meta[META_CONFIG])) == model.config
    runner = OnnxMLPF(paths["mha"], providers=["NoSuchExecutionProvider", "CPUExecutionProvider"])
    assert runner.config == model.config and runner.feature_names == ELEMENT_FEATURES
    assert runner.providers == ["CPUExecutionProvider"]


def test_export_keeps_training_mode_and_rejects_bad_input(exported, tmp_path):
    model, paths = exported
    model.train()
    export_onnx(model, tmp_path / "m.onnx", attention="portable")
    assert model.training
    model.eval()
    with pytest.raises(ValueError, match="attention"):
        export_onnx(model, tmp_path / "x.onnx", attention="flash")
    with pytest.raises(ValueError, match="shape"):
        OnnxMLPF(paths["mha"])(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(RuntimeError, match="execution providers"):
        OnnxMLPF(paths["mha"], providers=["NoSuchExecutionProvider"])


def test_nonfinite_input_stays_finite_in_onnx(exported):
    _, paths = exported
    X = random_events(torch.Generator().manual_seed(23), [6]).numpy()
    X[0, 1, 8] = math.nan
    X[0, 2, 9] = math.inf
    out = OnnxMLPF(paths["mha"], threads=1)(X)
    assert all(np.isfinite(v).all() for v in out.values())
