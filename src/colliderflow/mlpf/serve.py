"""``colliderflow serve``: an MLPF model behind a Triton Inference Server, in the serving environment.

PyTriton (``nvidia-pytriton``, which ships the ``tritonserver`` binary and its Python backend)
needs numpy < 2, the main environment numpy 2 (pandas 3), so the server runs in a separate
virtual environment, ``.venv-serve`` (``make serve-env``: nvidia-pytriton, numpy < 2, onnxruntime;
nothing of colliderflow). ``colliderflow serve`` finds the model's ONNX export and that
environment's python, then replaces itself (``exec``) with the self-contained script
``colliderflow/mlpf/pytriton_server.py``, so that SIGTERM and SIGINT reach the server directly.

The python is, in order: ``--python``, ``$COLLIDERFLOW_SERVE_PYTHON``, ``.venv-serve/bin/python``
in the working directory, then beside the source tree of this package (an editable install).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SERVE_PYTHON_ENV", "SERVER_SCRIPT", "serving_python", "server_command"]

#: environment variable naming the serving environment's python
SERVE_PYTHON_ENV = "COLLIDERFLOW_SERVE_PYTHON"
#: the server script run by that python
SERVER_SCRIPT = Path(__file__).with_name("pytriton_server.py")
_VENV_PYTHON = Path(".venv-serve") / "bin" / "python"


def serving_python(python: str | os.PathLike | None = None) -> Path:
    """The serving environment's python (module docstring for the search order).

    Raises:
        FileNotFoundError: the named python does not exist, or no serving environment was found.
    """
    named = python or os.environ.get(SERVE_PYTHON_ENV)
    if named:
        if not Path(named).is_file():
            source = "--python" if python else f"${SERVE_PYTHON_ENV}"
            raise FileNotFoundError(f"{named}: no such python ({source}); create the serving environment "
                                    "with 'make serve-env'")
        return Path(named)
    candidates = list(dict.fromkeys([Path.cwd() / _VENV_PYTHON, Path(__file__).resolve().parents[3] / _VENV_PYTHON]))
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no serving environment ({' or '.join(str(c) for c in candidates)} missing): create "
                            f"it with 'make serve-env', or name its python with --python or ${SERVE_PYTHON_ENV}")


def server_command(onnx: str | os.PathLike, python: str | os.PathLike, host: str = "127.0.0.1",
                   http_port: int = 8000, grpc_port: int = 8001, metrics_port: int = 8002,
                   max_batch_size: int = 256, threads: int = 0) -> list[str]:
    """The command line that runs ``SERVER_SCRIPT`` on ``onnx`` with ``python``."""
    onnx = Path(onnx)
    if onnx.suffix != ".onnx" or not onnx.is_file():
        raise FileNotFoundError(f"{onnx}: no such ONNX file; export the model with 'colliderflow export-onnx'")
    if max_batch_size < 1:
        raise ValueError(f"serve: --max-batch-size must be >= 1, got {max_batch_size}")
    return [str(python), str(SERVER_SCRIPT), "--onnx", str(onnx.resolve()), "--host", host,
            "--http-port", str(http_port), "--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port),
            "--max-batch-size", str(max_batch_size), "--threads", str(threads)]
