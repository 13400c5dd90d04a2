"""Class 5 of the reliability issue: MLPF inference stays within a stated memory bound."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from colliderflow.mlpf.infer import InferenceConfig, Predictor
from colliderflow.mlpf.shipped import shipped_model
from colliderflow.schema.elements import ELEMENT_FEATURES
from tests.reliability.conftest import one_line_error, run


def _events(sizes, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        ev = {f: rng.normal(size=n).astype(np.float32) for f in ELEMENT_FEATURES}
        ev["type"] = rng.integers(1, 6, size=n).astype(np.float32)
        ev["eta"] = rng.uniform(-5, 5, n).astype(np.float32)
        ev["phi"] = rng.uniform(-3.1, 3.1, n).astype(np.float32)
        ev["pt"] = (rng.exponential(2.0, n) + 0.1).astype(np.float32)
        ev["energy"] = ev["pt"] * np.cosh(ev["eta"])
        out.append(ev)
    return out


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_batches_are_split_to_fit_the_bound(backend, monkeypatch):
    limit_gb = 0.12
    p = Predictor(shipped_model("cms-like", backend), InferenceConfig(backend=backend, max_memory_gb=limit_gb))
    shapes = []
    real = p.predict_batch

    def recording(X):
        shapes.append(X.shape[:2])
        return real(X)

    monkeypatch.setattr(p, "predict_batch", recording)
    sizes = [3000, 2500, 2000, 100, 40]
    out = p.predict_events(_events(sizes))
    assert [len(o["pt"]) for o in out] == sizes
    assert len(shapes) > 1
    assert all(p.batch_bytes(b, n) <= limit_gb * 1e9 for b, n in shapes)
    whole = Predictor(shipped_model("cms-like", backend), InferenceConfig(backend=backend)).predict_events(
        _events(sizes))
    for a, b in zip(out, whole):  # splitting changes no result
        np.testing.assert_allclose(a["pt"], b["pt"], rtol=1e-5, atol=1e-5)


def test_an_event_above_the_bound_is_a_clear_error(tiny, tmp_path, capsys):
    rc, err = run(["reconstruct", "--algo", "mlpf", "--input", str(tiny / "ds"), "--output", str(tmp_path / "o"),
                   "--max-memory-gb", "0.001", "--quiet"], capsys)
    line = one_line_error(err)
    assert rc == 1 and "elements needs about" in line and "0.001 GB bound" in line
    assert not (tmp_path / "o").exists()


# peak RSS from /proc (VmHWM restarts at exec; getrusage's ru_maxrss inherits the parent's)
_MEASURE = """
import sys
from colliderflow.mlpf.infer import InferenceConfig, Predictor
from colliderflow.mlpf.shipped import shipped_model
from tests.reliability.test_memory import _events

def hwm():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

backend, n = sys.argv[1], int(sys.argv[2])
p = Predictor(shipped_model("cms-like", backend), InferenceConfig(backend=backend, num_threads=1))
events = _events([n])
loaded = hwm()
p.predict_events(events)
print(hwm(), hwm() - loaded, p.batch_bytes(1, n))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_peak_memory_at_20000_elements(backend):
    """The MLPF issue's bound: at most 2 GB for a 20,000-element event (whole process)."""
    res = subprocess.run([sys.executable, "-c", _MEASURE, backend, "20000"], capture_output=True, text=True,
                         check=True)
    peak, activations, estimate = map(float, res.stdout.split())
    assert peak < 2e9, f"{backend}: peak RSS {peak / 1e9:.2f} GB"
    assert 0.6 * estimate < activations < 1.6 * estimate, (activations, estimate)
