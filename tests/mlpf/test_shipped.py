"""The shipped cms-like MLPF model: loads, runs through both runtimes, and is not a stub."""

import json

import awkward as ak
import numpy as np
import pytest

from colliderflow.cli import main
from colliderflow.mlpf.shipped import shipped_model
from colliderflow.schema.candidates import load_candidates


def test_shipped_files_exist_and_describe_themselves():
    pt = shipped_model("cms-like", "torch")
    onnx = shipped_model("cms-like", "onnx")
    assert pt.stat().st_size > 1_000_000 and onnx.stat().st_size > 1_000_000
    summary = json.loads((pt.parent / "summary.json").read_text())
    assert summary["train_events"] > 1000 and summary["history"]
    # validation loss far below that of an untrained model (about 5.5, see mlpf/loss.py)
    hist = summary["history"]
    assert hist[-1]["total"] < 3.0
    with pytest.raises(FileNotFoundError, match="no shipped MLPF model"):
        shipped_model("no-such-card")


def test_shipped_model_reconstructs(tmp_path):
    ds = tmp_path / "ds"
    assert main(["dataset", "--process", "ttbar", "--events", "3", "--seed", "77", "--out", str(ds), "--quiet"]) == 0
    cands = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        assert main(["reconstruct", "--algo", "mlpf", "--backend", backend, "--input", str(ds), "--output", str(out),
                     "--quiet"]) == 0
        cands[backend] = load_candidates(out)
    t, o = cands["torch"], cands["onnx"]
    assert ak.all(ak.num(t) > 20)
    assert ak.all(t.element == o.element) and ak.all(t.cls == o.cls)
    assert np.allclose(ak.to_numpy(ak.flatten(t.pt)), ak.to_numpy(ak.flatten(o.pt)), rtol=1e-4)
    # a trained model finds charged hadrons on tracks with their track momentum
    from colliderflow.dataset.read import load_dataset

    x = load_dataset(ds, columns=["X"]).X
    ch = t[t.cls == 1]
    track_pt = x.pt[ch.element]
    assert np.median(ak.to_numpy(ak.flatten(ch.pt / track_pt))) == pytest.approx(1.0, abs=0.05)
