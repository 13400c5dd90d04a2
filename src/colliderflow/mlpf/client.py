"""MLPF on a Triton Inference Server: ``TritonMLPF(server)(X)`` answers as ``OnnxMLPF(path)(X)`` does.

``colliderflow reconstruct --algo mlpf --server HOST:PORT`` runs the same ``Predictor`` as local
inference (``colliderflow.mlpf.infer``: the same padded batches within the same memory bound, the
same decoding into candidates); only the call on a padded batch goes to the server, which runs the
model with ONNX Runtime (``colliderflow serve``, or ``tritonserver`` with the repository of
``colliderflow export-triton``). A server of ``colliderflow serve`` runs each request as sent, so
the candidates are those of local ONNX Runtime inference with the same .onnx file and runtime
version, bit for bit (tests/mlpf/test_serve.py).

Protocol: gRPC (``tritonclient.grpc``), not HTTP: tensors travel as raw bytes in protobuf
messages over one persistent HTTP/2 connection, where Triton's HTTP API sends JSON with an optional
binary extension and a connection per client object; a padded pileup batch is a few MB each way.

Which model. The client reads the server's :func:`colliderflow.mlpf.triton.model_metadata` (the
config.pbtxt parameter ``colliderflow_metadata``, or the ``mlpf_metadata`` model of ``colliderflow
serve``): the model configuration (for the memory bound of batches), the input and output names,
and the SHA-256 of the .onnx file, which must equal the expected one. It reads it again after every
answer, so a server restarted with another model is an error, never a silent mix of two models.

Failures. Connection refused or lost, and a model not (yet) loaded, are retried with a fresh
connection until the server is ready again, for at most ``timeout`` seconds from the first failure;
then, as for a request without an answer within ``timeout`` seconds or an error answer, a
:class:`ServerError` (a ``ConnectionError``) says what happened in one line. Nothing is returned
that does not have every output at the shape of the request.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

from colliderflow.mlpf.export import onnx_file, read_metadata
from colliderflow.mlpf.triton import METADATA_MODEL, METADATA_PARAMETER, MODEL_NAME
from colliderflow.utils.errors import one_line

__all__ = ["ServerError", "TritonMLPF", "parse_server"]

#: gRPC status codes after which the server may come back: down, restarting, connection lost
_RETRY_STATUS = ("StatusCode.UNAVAILABLE",)
#: Triton's answers for a model that is not loaded (yet), e.g. while a restarted server loads it
_RETRY_MESSAGES = ("unknown model", "is not ready", "is not found")
#: seconds between readiness checks while waiting for a server
_POLL_S = 0.5


class ServerError(ConnectionError):
    """A Triton server that is down, does not answer in time, or answers with an error."""


def parse_server(text: str) -> str:
    """``HOST:PORT`` of a server's gRPC endpoint, checked (IPv6 hosts in brackets: ``[::1]:8001``)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--server: expected HOST:PORT of a Triton server's gRPC endpoint (e.g. 127.0.0.1:8001), "
                         f"got {text!r}")
    return text


def _expected_sha256(model: str | os.PathLike | None) -> str | None:
    """The SHA-256 a server's model must have: from ``sha256:<hex>``, a model file's .onnx, or None (any)."""
    if not model:
        return None
    text = str(model)
    if text.startswith("sha256:"):
        return text.removeprefix("sha256:")
    from colliderflow.mlpf.triton import model_metadata

    path = onnx_file(text)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the ONNX export of --model, which the server must run)")
    return str(model_metadata(path)["sha256"])


class TritonMLPF:
    """An MLPF export served by Triton, called like :class:`colliderflow.mlpf.export.OnnxMLPF`.

    Waits up to ``timeout`` seconds for the server and its model to be ready.

    Args:
        server: ``HOST:PORT`` of the server's gRPC endpoint.
        timeout: seconds, see the module docstring.
        model: the model the server must run (``sha256:<hex>``, a .onnx or .pt file whose .onnx
            is hashed, or None: any MLPF export).

    Attributes:
        config, feature_names, output_names: as ``OnnxMLPF``'s, from the server's metadata.
        sha256: the digest of the .onnx file the server runs; max_batch_size: events per request.

    Raises:
        ServerError: the server is not ready within ``timeout`` seconds.
        ValueError: it runs another model than ``model``, or no MLPF export.
    """

    def __init__(self, server: str, timeout: float = 60.0, model: str | os.PathLike | None = None) -> None:
        self.server = parse_server(server)
        self.timeout = float(timeout)
        self.sha256 = _expected_sha256(model)
        self.max_batch_size = 0
        self._client: Any = None
        self._connect()
        metadata = self._wait_ready(time.monotonic() + self.timeout)
        self.config, self.feature_names, self.output_names = read_metadata(
            metadata, f"Triton server {self.server}, model '{MODEL_NAME}'")

    # -- connection and identity -------------------------------------------------------------

    def _connect(self) -> None:
        """A fresh gRPC channel (after a failure: no waiting out gRPC's reconnection back-off)."""
        import tritonclient.grpc as grpcclient

        self.close()
        self._client = grpcclient.InferenceServerClient(self.server)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _metadata(self) -> dict[str, str]:
        """Check the server's model against ``sha256`` (set on first use); return its ONNX metadata."""
        import tritonclient.grpc as grpcclient

        config = self._client.get_model_config(MODEL_NAME, as_json=True, client_timeout=self.timeout)["config"]
        self.max_batch_size = int(config.get("max_batch_size", 0))
        parameter = config.get("parameters", {}).get(METADATA_PARAMETER)
        if parameter is not None:
            info = json.loads(parameter["string_value"])
        else:
            request = grpcclient.InferInput("request", [1], "INT32")
            request.set_data_from_numpy(np.zeros(1, np.int32))
            answer = self._client.infer(METADATA_MODEL, [request], client_timeout=self.timeout).as_numpy("json")
            info = json.loads(answer[0])
        if self.sha256 is None:
            self.sha256 = info["sha256"]
        elif info["sha256"] != self.sha256:
            raise ValueError(f"Triton server {self.server} runs the MLPF model with sha256 {info['sha256'][:16]}…, "
                             f"expected {self.sha256[:16]}… (another --model, or the server was restarted with "
                             "another model)")
        return info["metadata"]

    def _wait_ready(self, deadline: float) -> dict[str, str]:
        """Poll until the model is ready (or raise ServerError at ``deadline``); its metadata."""
        from tritonclient.utils import InferenceServerException

        last = "no answer"
        while True:
            try:
                if self._client.is_model_ready(MODEL_NAME, client_timeout=max(0.1, min(5.0, deadline - time.monotonic()))):
                    return self._metadata()
                last = f"model '{MODEL_NAME}' not ready"
            except InferenceServerException as err:
                last = one_line(err.message() or str(err), limit=200)
            if time.monotonic() + _POLL_S >= deadline:
                raise ServerError(f"Triton server {self.server}: not ready after {self.timeout:g} s ({last}); start "
                                  "it with 'colliderflow serve' or raise --server-timeout")
            time.sleep(_POLL_S)
            self._connect()

    # -- inference ---------------------------------------------------------------------------

    def __call__(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """X (B, N, F) features (padding rows zero) -> decoded outputs, each (B, N) or (B, N, C).

        B above the server's ``max_batch_size`` is sent in several requests.
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 3 or X.shape[-1] != len(self.feature_names) or not len(X):
            raise ValueError(f"TritonMLPF: expected X of shape (B > 0, N, {len(self.feature_names)}), got {X.shape}")
        step = self.max_batch_size or len(X)
        parts = [self._infer(X[i: i + step]) for i in range(0, len(X), step)]
        return {k: np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k] for k in self.output_names}

    def _infer(self, X: np.ndarray) -> dict[str, np.ndarray]:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        deadline = None
        while True:
            try:
                request = grpcclient.InferInput("X", list(X.shape), "FP32")
                request.set_data_from_numpy(X)
                result = self._client.infer(MODEL_NAME, [request], client_timeout=self.timeout,
                                            outputs=[grpcclient.InferRequestedOutput(k) for k in self.output_names])
                out = {k: result.as_numpy(k) for k in self.output_names}
                self._metadata()  # the answer came from the expected model (module docstring)
                break
            except InferenceServerException as err:
                message = err.message() or str(err)
                retry = str(err.status()) in _RETRY_STATUS or any(m in message for m in _RETRY_MESSAGES)
                if not retry:
                    timed_out = str(err.status()) == "StatusCode.DEADLINE_EXCEEDED"
                    raise ServerError(f"Triton server {self.server}: " + (
                        f"no answer within {self.timeout:g} s for a batch of {X.shape[0]} events x {X.shape[1]} "
                        "elements (--server-timeout)" if timed_out else one_line(message, limit=300))) from None
                if deadline is None:
                    deadline = time.monotonic() + self.timeout
                self._connect()
                self._wait_ready(deadline)  # raises ServerError once the server stays away too long
        for k, v in out.items():
            if v is None or v.dtype != np.float32 or v.shape[:2] != X.shape[:2]:
                raise ServerError(f"Triton server {self.server}: output {k!r} has "
                                  f"{'no data' if v is None else f'{v.dtype} {v.shape}'}, expected float32 "
                                  f"{X.shape[:2]} (not an MLPF export, or a broken server)")
        return out
