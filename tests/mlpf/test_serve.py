"""MLPF as a service: ``colliderflow serve`` (a real Triton server through PyTriton, on 127.0.0.1 and
free ports) and ``reconstruct --server``, whose candidates must equal local ONNX Runtime inference
bit for bit; a down, restarted or swapped server is a one-line error or a bounded wait, never a
wrong output.

The server runs in the serving environment (``make serve-env``). Without it these tests skip
locally and fail in CI (CI=true), where ``make test`` creates it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tritonclient.grpc")

from colliderflow.cli import main  # noqa: E402
from colliderflow.mlpf.client import ServerError, TritonMLPF  # noqa: E402
from colliderflow.mlpf.serve import SERVE_PYTHON_ENV, SERVER_SCRIPT, serving_python  # noqa: E402
from colliderflow.mlpf.shipped import shipped_model  # noqa: E402
from colliderflow.mlpf.triton import METADATA_PARAMETER, model_metadata, triton_config  # noqa: E402
from colliderflow.schema.candidates import read_candidate_chunk  # noqa: E402

SHIPPED = shipped_model("cms-like", "onnx")
#: seconds a server may take to start (about 8 s on 2 busy cores)
START_S = 180


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class _Server:
    """``colliderflow serve`` in its own process group, on free loopback ports."""

    def __init__(self, python, onnx, log_dir):
        self.python, self.onnx, self.log_dir = python, onnx, log_dir
        self.http, self.grpc, self.metrics = _free_ports(3)
        self.address = f"127.0.0.1:{self.grpc}"
        self.proc = None
        self.starts = 0

    def launch(self):
        """Start it and return at once."""
        self.starts += 1
        log = open(self.log_dir / f"serve{self.starts}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "colliderflow.cli", "serve", "--model", str(self.onnx), "--python", str(self.python),
             "--grpc-port", str(self.grpc), "--http-port", str(self.http), "--metrics-port", str(self.metrics)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start(self):
        """Start it and wait until it serves."""
        self.launch()
        deadline = time.monotonic() + START_S
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"colliderflow serve exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                TritonMLPF(self.address, timeout=2.0).close()
                return
            except ServerError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"the server was not ready after {START_S} s: {self.log_tail()}")

    def log_tail(self):
        return (self.log_dir / f"serve{self.starts}.log").read_text()[-3000:]

    def stop(self):
        """SIGTERM; it must exit 0 within a minute and leave no process behind (tritonserver, stub)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            rc = None
        left = True
        for _ in range(50):  # the group outlives its leader by a moment while Triton's children exit
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                left = False
                break
            time.sleep(0.2)
        if left:
            os.killpg(proc.pid, signal.SIGKILL)  # only this test's own process group
        assert rc == 0 and not left, f"stop: exit code {rc}, processes left: {left}; {self.log_tail()}"


@pytest.fixture(scope="module")
def serve_python():
    try:
        return serving_python()
    except FileNotFoundError as err:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: the serving environment is missing ('make test' creates it): {err}")
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def server(serve_python, tmp_path_factory):
    s = _Server(serve_python, SHIPPED, tmp_path_factory.mktemp("serve"))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pu_events(ttbar_pileup_dataset):
    """6 ttbar events with 20 pileup interactions, in two chunks."""
    return ttbar_pileup_dataset("serve-data", seed=43, events=6, chunk_size=3)


@pytest.fixture(scope="module")
def other_onnx(tmp_path_factory):
    """The shipped export with another doc string: the same answers, another SHA-256."""
    import onnx

    model = onnx.load(str(SHIPPED))
    model.doc_string = "another model"
    path = tmp_path_factory.mktemp("other") / "other.onnx"
    onnx.save(model, str(path))
    return path


def _batch(seed=0, events=3, elements=50):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(events, elements, 57)).astype(np.float32)
    X[..., 0] = rng.integers(1, 4, size=(events, elements))
    return X


def _same_candidates(a_dir, b_dir):
    names = sorted(p.name for p in a_dir.glob("chunk_*.parquet"))
    assert names and names == sorted(p.name for p in b_dir.glob("chunk_*.parquet"))
    for name in names:
        a, _ = read_candidate_chunk(a_dir / name)
        b, _ = read_candidate_chunk(b_dir / name)
        assert a.fields == b.fields
        for field in a.fields:
            assert ak.to_list(ak.num(a[field])) == ak.to_list(ak.num(b[field]))
            x, y = ak.flatten(a[field]).to_numpy(), ak.flatten(b[field]).to_numpy()
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (name, field)  # bit for bit


# -- without a server ------------------------------------------------------------------------------

def test_the_server_and_config_pbtxt_describe_the_model_alike(other_onnx):
    """The metadata of export-triton's config.pbtxt and of the server script are one object."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    spec = importlib.util.spec_from_file_location("pytriton_server", SERVER_SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)  # imports no PyTriton at module level
    for onnx in (SHIPPED, other_onnx):
        config = text_format.Parse(triton_config(onnx), model_config_pb2.ModelConfig())
        from_pbtxt = json.loads(config.parameters[METADATA_PARAMETER].string_value)
        assert from_pbtxt == model_metadata(onnx) == script.model_metadata(str(onnx))
    assert model_metadata(SHIPPED)["sha256"] != model_metadata(other_onnx)["sha256"]


def test_a_missing_serving_environment_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SERVE_PYTHON_ENV, str(tmp_path / "no-python"))
    assert main(["serve", "--grpc-port", "1"]) == 1
    monkeypatch.delenv(SERVE_PYTHON_ENV)
    assert main(["serve", "--python", str(tmp_path / "nope"), "--model", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such python ($COLLIDERFLOW_SERVE_PYTHON)" in err[0] and "make serve-env" in err[0]
    assert "no such python (--python)" in err[1]


def test_a_down_server_is_one_line_and_writes_nothing(pu_events, tmp_path, capsys):
    (port,) = _free_ports(1)
    t0 = time.monotonic()
    assert main(["reconstruct", "--algo", "mlpf", "--dataset", str(pu_events), "--out", str(tmp_path / "out"),
                 "--server", f"127.0.0.1:{port}", "--server-timeout", "2", "--quiet"]) == 1
    assert time.monotonic() - t0 < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"Triton server 127.0.0.1:{port}: not ready after 2 s" in err[0], err
    assert not list(tmp_path.glob("out/chunk_*"))
    assert main(["reconstruct", "--algo", "mlpf", "--dataset", str(pu_events), "--out", str(tmp_path / "out"),
                 "--server", "localhost", "--quiet"]) == 1
    assert "expected HOST:PORT" in capsys.readouterr().err


# -- with a server ---------------------------------------------------------------------------------

def test_reconstruct_with_a_server_equals_local_onnx_inference(server, pu_events, tmp_path, capsys):
    import onnxruntime

    served = subprocess.run([str(server.python), "-c", "import onnxruntime; print(onnxruntime.__version__)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert served == onnxruntime.__version__, "the serving environment's ONNX Runtime differs: make serve-env again"
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert main(["reconstruct", "--algo", "mlpf", "--dataset", str(pu_events), "--out", str(local),
                 "--backend", "onnx", "--model", str(SHIPPED), "--quiet"]) == 0
    assert main(["reconstruct", "--algo", "mlpf", "--dataset", str(pu_events), "--out", str(remote),
                 "--server", server.address, "--quiet"]) == 0
    _same_candidates(local, remote)
    _, header = read_candidate_chunk(next(remote.glob("chunk_*.parquet")))
    assert header["settings"]["model"] == "sha256:" + model_metadata(SHIPPED)["sha256"]
    assert header["settings"]["config"]["server"] == server.address
    capsys.readouterr()
    # resumable: the same model through another address (or --model) reuses every chunk
    assert main(["reconstruct", "--algo", "mlpf", "--dataset", str(pu_events), "--out", str(remote),
                 "--server", server.address.replace("127.0.0.1", "localhost"), "--model", str(SHIPPED),
                 "--server-timeout", "30", "--quiet"]) == 0
    assert "0 chunk(s) built, 2 reused" in capsys.readouterr().out


def test_another_model_than_the_served_one_is_refused(server, pu_events, other_onnx, tmp_path, capsys):
    assert main(["reconstruct", "--algo", "mlpf", "--dataset", str(pu_events), "--out", str(tmp_path / "out"),
                 "--server", server.address, "--model", str(other_onnx), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"Triton server {server.address} runs the MLPF model with sha256" in err[0], err
    assert not (tmp_path / "out").exists()


def test_answers_have_every_output_at_the_request_shape(server):
    from colliderflow.mlpf.export import OnnxMLPF

    remote = TritonMLPF(server.address, timeout=60, model=SHIPPED)
    X = _batch(seed=1, events=4, elements=37)
    out, ref = remote(X), OnnxMLPF(SHIPPED)(X)
    assert list(out) == list(ref) == list(remote.output_names)
    for k in ref:
        assert out[k].shape == ref[k].shape and out[k].tobytes() == ref[k].tobytes()
    with pytest.raises(ValueError, match="expected X of shape"):
        remote(X[..., :10])
    remote.close()


def test_a_restarted_server_is_waited_for_and_a_swapped_model_refused(serve_python, other_onnx, tmp_path):
    s = _Server(serve_python, SHIPPED, tmp_path)
    s.start()
    try:
        remote = TritonMLPF(s.address, timeout=90, model=SHIPPED)
        X = _batch(seed=2)
        first = remote(X)
        s.stop()
        s.launch()  # back in a few seconds: the next call waits for it (bounded by the timeout)
        again = remote(X)
        assert all(first[k].tobytes() == again[k].tobytes() for k in first)
        s.stop()
        s.onnx = other_onnx  # the same ports, another model: never a silent mix of two models
        s.start()
        with pytest.raises(ValueError, match="runs the MLPF model with sha256 .* expected"):
            remote(X)
        remote.close()
    finally:
        s.stop()
