"""Torch files (``.pt``) that hold plain data only: MLPF models and checkpoints, FlashSim bundles.

A torch file is a zip archive around a pickle, and unpickling an arbitrary pickle runs whatever
code it names, before any check of what it holds. Models are shared, so every colliderflow torch
file holds only tensors, ``None``, ``bool``, ``int``, ``float``, ``str`` and lists, tuples and
dicts of these (no numpy arrays or scalars, no dataclasses), and is read with
``torch.load(weights_only=True)``, whose restricted unpickler refuses everything else.

* :func:`save_torch_file` checks that a payload is plain data, then writes it atomically.
* :func:`load_torch_file` reads one safely and checks its top-level fields.
* :func:`as_file_error` turns a failure to build objects from a loaded payload (wrong keys,
  shapes, settings) into the same one-line error.

Every failure is a :class:`~colliderflow.utils.parquet.FileFormatError` (a ``ValueError``) whose
one-line message names the file and what was expected, e.g. ``model.pt: not a readable colliderflow
MLPF model (unsafe or unreadable pickle: Trying to load unsupported GLOBAL posix.system ...)``.
torch (the optional ``ml`` extra) is imported only to read or write a file.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colliderflow.utils.atomic import atomic_path
from colliderflow.utils.parquet import FileFormatError

if TYPE_CHECKING:
    import torch

__all__ = ["save_torch_file", "load_torch_file", "as_file_error"]

#: leaf types besides tensors that ``torch.load(weights_only=True)`` reads back; exact types: a
#: numpy float64 is a ``float`` subclass but pickles as a numpy global that the safe loader refuses
_SCALARS = (type(None), bool, int, float, str)
_CONTAINERS = (dict, OrderedDict, list, tuple)
#: longest reason kept from a library's error message
_MAX_REASON = 240
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ENFORCE = re.compile(r"^\[enforce fail at [^\]]*\]\s*\.?\s*")


def _check_plain(obj: Any, where: str, leaves: tuple[type, ...]) -> None:
    if type(obj) in leaves:
        return
    if type(obj) not in _CONTAINERS:
        raise TypeError(f"{where}: {type(obj).__module__}.{type(obj).__qualname__} in a torch file payload; "
                        "store tensors, python scalars, strings, lists and dicts only")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_plain(key, f"{where} key {key!r}", leaves)
            _check_plain(value, f"{where}[{key!r}]", leaves)
    else:
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}[{i}]", leaves)


def save_torch_file(payload: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``payload`` to ``path`` atomically with ``torch.save``.

    Raises:
        TypeError: ``payload`` holds something other than plain data (e.g. a numpy array), which
            :func:`load_torch_file` would refuse; the message names the field.
    """
    import torch

    _check_plain(payload, "payload", (*_SCALARS, torch.Tensor, torch.nn.Parameter))
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _one_line(err: BaseException, path: Path) -> str:
    """The gist of ``err`` on one line: torch's multi-line weights-only advice cut to the refusal."""
    text = _ANSI.sub("", str(err))
    for prefix in (f"{path}: ", f"{path.name}: "):  # our own errors already name the file
        text = text.removeprefix(prefix)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    elif text.startswith("Weights only load failed"):
        text = text.split("\n", 1)[-1]
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.strip().startswith("Check the documentation of torch.load")]
    line = _ENFORCE.sub("", lines[0]) if lines else ""
    if line.endswith(":") and len(lines) > 1:  # a heading, e.g. "Error(s) in loading state_dict for MLPF:"
        line = f"{line} {lines[1]}"
    line = re.split(r"\.\s+(?=[A-Z(])", line, maxsplit=1)[0].rstrip(".")  # the first sentence
    if len(line) > _MAX_REASON:
        line = line[: _MAX_REASON - 3] + "..."
    if isinstance(err, (RuntimeError, ValueError, pickle.UnpicklingError)) and line:
        return line
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def _refusal(path: str | os.PathLike, what: str, reason: str) -> FileFormatError:
    return FileFormatError(f"{path}: not a {what} ({reason})")


@contextlib.contextmanager
def as_file_error(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Turn any exception of the block into ``FileFormatError("PATH: not a WHAT (REASON)")``.

    For the code that builds objects from a loaded payload: a missing key, a state dict of other
    shapes or an unknown setting then reads as a bad file, on one line. A ``FileFormatError``
    passes unchanged.
    """
    try:
        yield
    except FileFormatError:
        raise
    except Exception as err:
        raise _refusal(path, what, _one_line(err, Path(path))) from None


def _type_name(types: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))


def _preview(payload: dict, n: int = 8) -> str:
    keys = sorted(map(str, payload))
    return ", ".join(map(repr, keys[:n])) + (f" and {len(keys) - n} more" if len(keys) > n else "") or "no fields"


def load_torch_file(path: str | os.PathLike, what: str,
                    fields: Mapping[str, type | tuple[type, ...]] | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a torch file written by :func:`save_torch_file` without running code from it.

    Args:
        what: what the file should be, for messages (e.g. ``"colliderflow MLPF model"``).
        fields: top-level key -> expected type(s); every one must be present.
        map_location: device of the loaded tensors.

    Returns:
        The payload, a dict.

    Raises:
        FileFormatError: the file is missing, empty, truncated or not a torch zip file, holds
            anything but plain data (refused before any of it is built), or lacks a field; the
            one-line message names the file.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if path.stat().st_size == 0:
        raise _refusal(path, what, "empty file")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; this also skips torch's legacy reader
        raise _refusal(path, what, "not a zip archive: truncated, or another format")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:  # the safe unpickler's refusal, or a corrupt pickle
        raise _refusal(path, what, f"unsafe or unreadable pickle: {_one_line(err, path)}") from None
    except Exception as err:
        raise _refusal(path, what, f"not a torch archive: {_one_line(err, path)}") from None
    if not isinstance(payload, dict):
        raise _refusal(path, what, f"holds a {type(payload).__name__}, expected a dict")
    for key, types in (fields or {}).items():
        if key not in payload:
            raise _refusal(path, what, f"no {key!r} field; it has {_preview(payload)}")
        if not isinstance(payload[key], types):
            raise _refusal(path, what,
                           f"field {key!r} is a {type(payload[key]).__name__}, expected {_type_name(types)}")
    return payload
