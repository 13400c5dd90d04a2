"""A Triton Inference Server running an MLPF ONNX export with ONNX Runtime, through PyTriton.

A self-contained script for the serving environment (``make serve-env``: ``nvidia-pytriton``,
numpy < 2, ``onnxruntime``), which cannot share the main environment: PyTriton 0.7 needs numpy < 2,
and under numpy 2 its Python-backend stub answers with tensors of the right shapes and no data.
It imports nothing of colliderflow; ``colliderflow serve`` runs it with the serving environment's
python. It can also be run directly::

    .venv-serve/bin/python src/colliderflow/mlpf/pytriton_server.py --onnx model.onnx --grpc-port 8001

Models served (Triton's KServe v2 API, HTTP and gRPC):

* ``mlpf``: input ``X`` (B, N, F) FP32, the export's decoded outputs (B, N) or (B, N, C); at most
  ``--max-batch-size`` events per request. Each request is run as the client sent it: requests
  that Triton's dynamic batcher hands over together are not concatenated, because ONNX Runtime's
  float32 results change in the last bits with the batch composition, and a reconstruction must
  not depend on what other clients send at the same time.
* ``mlpf_metadata``: no batching; any ``request`` (1,) INT32 returns ``json`` (1,) BYTES, the JSON
  ``{"sha256": <hex digest of the .onnx file>, "metadata": <the ONNX metadata_props>}``, which
  clients use to check which model answers and to read its configuration (the same object as the
  ``colliderflow_metadata`` parameter that ``colliderflow export-triton`` writes into config.pbtxt).

SIGTERM and SIGINT stop the server (Triton finishes the requests in flight, then the workspace is
removed); the script exits 1 if Triton or its Python backend dies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import sysconfig
import threading

MODEL_NAME = "mlpf"
METADATA_MODEL = "mlpf_metadata"
#: ONNX Runtime's tensor type names -> numpy type names
_ORT_TYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(bool)": "bool"}


def model_metadata(onnx_path: str) -> dict:
    """``{"sha256": hex digest of the file, "metadata": its ONNX metadata_props}`` (ONNX Runtime only)."""
    import onnxruntime as ort

    with open(onnx_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    return {"sha256": digest, "metadata": dict(session.get_modelmeta().custom_metadata_map)}


def _library_path() -> None:
    """Let Triton's Python-backend stub find this interpreter's libpython.

    The stub links ``libpython3.X.so``; an interpreter built outside the system (pyenv, conda)
    keeps it in its own LIBDIR, which the dynamic loader does not search.
    """
    libdir = sysconfig.get_config_var("LIBDIR")
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    if libdir and libdir not in paths:
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join([libdir, *paths])


def _dims(shape: list) -> tuple[int, ...]:
    """An ONNX Runtime tensor shape without its batch axis, named (dynamic) axes as -1."""
    return tuple(d if isinstance(d, int) else -1 for d in shape[1:])


def _session(onnx_path: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return ort.InferenceSession(onnx_path, options, providers=providers)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Serve an MLPF ONNX export with Triton (PyTriton) and ONNX Runtime.")
    p.add_argument("--onnx", required=True, help="the .onnx file (colliderflow export-onnx)")
    p.add_argument("--host", default="127.0.0.1", help="address the HTTP, gRPC and metrics endpoints bind to")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002)
    p.add_argument("--max-batch-size", type=int, default=256, help="most events per request")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not os.path.isfile(args.onnx):
        print(f"pytriton_server: {args.onnx}: no such file", file=sys.stderr)
        return 2
    _library_path()

    import numpy as np

    if int(np.__version__.split(".")[0]) >= 2:  # module docstring: answers without data, silently
        print(f"pytriton_server: numpy {np.__version__} here; PyTriton 0.7 needs numpy < 2 (run it with the "
              "python of 'make serve-env')", file=sys.stderr)
        return 2
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    session = _session(args.onnx, args.threads)
    names = [o.name for o in session.get_outputs()]
    (x,) = session.get_inputs()
    metadata = json.dumps(model_metadata(args.onnx), sort_keys=True).encode()

    def infer(requests):
        # one ONNX Runtime call per request, never merged (module docstring)
        return [dict(zip(names, session.run(names, {x.name: r[x.name]}))) for r in requests]

    def describe(requests):
        return [{"json": np.array([metadata], dtype=np.object_)} for _ in requests]

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    config = TritonConfig(http_address=args.host, http_port=args.http_port, grpc_address=args.host,
                          grpc_port=args.grpc_port, metrics_address=args.host, metrics_port=args.metrics_port,
                          exit_timeout_secs=30)
    triton = Triton(config=config)  # workspace: a fresh folder under ~/.cache/pytriton
    try:
        triton.bind(model_name=MODEL_NAME, infer_func=infer,
                    inputs=[Tensor(name=x.name, dtype=np.dtype(_ORT_TYPES[x.type]), shape=_dims(x.shape))],
                    outputs=[Tensor(name=o.name, dtype=np.dtype(_ORT_TYPES[o.type]),
                                    shape=_dims(o.shape))
                             for o in session.get_outputs()],
                    config=ModelConfig(max_batch_size=args.max_batch_size, batcher=DynamicBatcher()))
        triton.bind(model_name=METADATA_MODEL, infer_func=describe,
                    inputs=[Tensor(name="request", dtype=np.int32, shape=(1,))],
                    outputs=[Tensor(name="json", dtype=np.object_, shape=(1,))],
                    config=ModelConfig(batching=False))
        triton.run()
        print(f"pytriton_server: serving {args.onnx} (sha256 {json.loads(metadata)['sha256'][:12]}) as "
              f"'{MODEL_NAME}' on {args.host}: gRPC {args.grpc_port}, HTTP {args.http_port}, metrics "
              f"{args.metrics_port}; providers {session.get_providers()}", flush=True)
        while not stop.wait(1.0):
            if not triton.is_alive():
                print("pytriton_server: Triton or its Python backend died; see the log above", file=sys.stderr)
                return 1
        print("pytriton_server: stopping", flush=True)
        return 0
    finally:
        triton.stop()  # also removes the workspace


if __name__ == "__main__":
    sys.exit(main())
