"""Torch files are read without running code: every loader refuses a table of bad files on one line.

Class 7 of the reliability issue ("a model file can run code"): a crafted ``model.pt`` whose
unpickling touches a marker file must be refused before the marker exists, by every loader
(MLPF model, training checkpoint, FlashSim bundle) and through ``colliderflow reconstruct``.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from colliderflow.flashsim.sample import FlashSim
from colliderflow.mlpf import files as F
from colliderflow.mlpf import train as T
from colliderflow.mlpf.model import MLPF, MLPFConfig
from colliderflow.mlpf.shipped import shipped_model
from colliderflow.utils.parquet import FileFormatError
from colliderflow.utils.torchfile import load_torch_file, save_torch_file

_TINY = MLPFConfig(width=16, num_heads=2, num_layers=1, ffn_dim=32)
_MARKER = "MARKER"


class _Touch:
    """Unpickles to ``Path(marker).touch()``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


class _Shell:
    """Unpickles to ``os.system("touch marker")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def _tiny_model() -> MLPF:
    torch.manual_seed(0)
    return MLPF(_TINY)


def _good_model_file(folder: Path) -> Path:
    path = folder / "good.pt"
    if not path.exists():
        F.save_model(_tiny_model(), path)
    return path


def _crafted(cls):
    def make(folder: Path) -> Path:
        path = folder / "model.pt"
        torch.save({"model_config": cls(folder / _MARKER), "state_dict": {}, "version": 1, "models": {},
                    "optimizer": {}, "scheduler": {}, "torch_rng": torch.zeros(1), "state": {}, "train_config": {}},
                   path)
        return path
    return make


def _write(name: str, data: bytes):
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return make


def _truncated(folder: Path) -> Path:
    data = _good_model_file(folder).read_bytes()
    return _write("model.pt", data[: len(data) // 2])(folder)


def _other_zip(folder: Path) -> Path:
    with zipfile.ZipFile(folder / "model.pt", "w") as z:
        z.writestr("archive/readme.txt", "a zip, but no pickle in it")
    return folder / "model.pt"


def _saved(payload):
    def make(folder: Path) -> Path:
        torch.save(payload, folder / "model.pt")
        return folder / "model.pt"
    return make


#: name -> maker(folder) of a file that no loader may accept
BAD_FILES = {
    "crafted pickle (Path.touch)": _crafted(_Touch),
    "crafted pickle (os.system)": _crafted(_Shell),
    "numpy array in the payload": _saved({"model_config": np.zeros(3), "state_dict": {}, "version": 1,
                                          "models": {}}),
    "truncated": _truncated,
    "text": _write("model.pt", b"not a model\nsecond line\n"),
    "empty": _write("model.pt", b""),
    "zip, not a torch file": _other_zip,
    "not a dict": _saved([1, 2, 3]),
    "wrong keys": _saved({"weights": torch.zeros(3)}),
}


def _load_checkpoint(path: Path):
    model = _tiny_model()
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return T._load_checkpoint(path, T.TrainConfig(model=_TINY), model, optimizer, scheduler, torch.device("cpu"))


#: name -> (what the message says the file is not, loader)
LOADERS = {
    "mlpf model": ("readable colliderflow MLPF model", F.load_model),
    "mlpf checkpoint": ("readable colliderflow MLPF training checkpoint", _load_checkpoint),
    "flashsim bundle": ("readable FlashSim bundle", lambda p: FlashSim(p, device="cpu")),
}


def _assert_one_line_error(err: pytest.ExceptionInfo, path: Path, what: str) -> None:
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert msg.startswith(f"{path}: not a {what} ("), msg
    assert "\n" not in msg and len(msg) < 400 + len(str(path)), msg


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("bad", BAD_FILES)
def test_every_loader_refuses_bad_files_on_one_line(tmp_path, bad, loader):
    path = BAD_FILES[bad](tmp_path)
    what, load = LOADERS[loader]
    with pytest.raises(FileFormatError) as err:
        load(path)
    _assert_one_line_error(err, path, what)
    assert not (tmp_path / _MARKER).exists(), "unpickling the file ran its code"


@pytest.mark.parametrize("bad", ["crafted pickle (Path.touch)", "crafted pickle (os.system)"])
def test_crafted_files_are_real_exploits(tmp_path, bad):
    """The unsafe loader the project used before runs the crafted files' code: the table tests something."""
    path = BAD_FILES[bad](tmp_path)
    torch.load(path, weights_only=False)
    assert (tmp_path / _MARKER).exists()


def test_refusal_of_a_crafted_file_names_the_global(tmp_path):
    path = BAD_FILES["crafted pickle (os.system)"](tmp_path)
    with pytest.raises(FileFormatError, match=r"unsafe or unreadable pickle: .*GLOBAL (posix|os)\.system"):
        F.load_model(path)


def test_model_of_another_architecture_is_refused_on_one_line(tmp_path):
    payload = load_torch_file(_good_model_file(tmp_path), "model")
    payload["state_dict"].popitem()
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(FileFormatError) as err:
        F.load_model(tmp_path / "model.pt")
    _assert_one_line_error(err, tmp_path / "model.pt", "readable colliderflow MLPF model")
    assert "Missing key(s) in state_dict" in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        F.load_model(tmp_path / "absent.pt")
    with pytest.raises(FileFormatError, match="not a file"):
        F.load_model(tmp_path)


def test_flashsim_bundle_of_another_version(tmp_path):
    torch.save({"version": 99, "models": {}}, tmp_path / "flashsim.pt")
    with pytest.raises(FileFormatError, match=r"flashsim.pt: FlashSim bundle version 99, this colliderflow reads"):
        FlashSim(tmp_path, device="cpu")


def test_writers_refuse_payloads_the_safe_loader_could_not_read(tmp_path):
    with pytest.raises(TypeError, match=r"payload\['val'\]: numpy.float64"):
        F.save_model(_tiny_model(), tmp_path / "m.pt", {"val": np.float64(1.0)})
    with pytest.raises(TypeError, match=r"payload\['a'\]\[1\]: numpy.ndarray"):
        save_torch_file({"a": [1, np.zeros(2)]}, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_model_round_trip(tmp_path):
    model = _tiny_model()
    F.save_model(model, tmp_path / "m.pt", {"history": [{"total": 1.5}], "step": 3})
    back = F.load_model(tmp_path / "m.pt")
    assert back.config == _TINY
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
    assert F.read_model_file(tmp_path / "m.pt")["step"] == 3


def test_checkpoint_round_trip(tmp_path):
    model = _tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5)
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()
    scheduler.step()
    state = {"epoch": 1, "batch": 2, "step": 3, "best_val": float("inf"), "history": [], "events": 7,
             "cpu_seconds": 0.5}
    cfg = T.TrainConfig(model=_TINY)
    T._save_checkpoint(tmp_path / "checkpoint.pt", cfg, model, optimizer, scheduler, state)
    rng = torch.get_rng_state()
    torch.rand(5)
    m2 = _tiny_model()
    o2 = torch.optim.AdamW(m2.parameters(), lr=1e-3)
    s2 = torch.optim.lr_scheduler.LambdaLR(o2, lambda step: 0.5)
    assert T._load_checkpoint(tmp_path / "checkpoint.pt", cfg, m2, o2, s2, torch.device("cpu")) == state
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), m2.state_dict().values()))
    assert s2.last_epoch == 1 and o2.state_dict()["state"][0]["step"] == 1


def test_shipped_files_load_safely():
    model = F.load_model(shipped_model("cms-like"))
    assert model.config.attention == "window"
    sim = FlashSim("cms-like", device="cpu")
    assert {"jet_genjet", "met", "pv"} <= set(sim.models)


def test_reconstruct_cli_reports_a_bad_model_on_one_line(tmp_path, capsys):
    from colliderflow.cli import main

    (tmp_path / "ds").mkdir()
    for bad, backend in (("crafted pickle (os.system)", "torch"), ("text", "torch"), ("text", "onnx")):
        path = BAD_FILES[bad](tmp_path)
        if backend == "onnx":
            path = path.rename(path.with_suffix(".onnx"))
        argv = ["reconstruct", "--algo", "mlpf", "--backend", backend, "--model", str(path),
                "--input", str(tmp_path / "ds"), "--output", str(tmp_path / "out"), "--quiet"]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"colliderflow reconstruct: error: {path}: not a readable ")
        assert err.count("\n") == 1, err
        assert not (tmp_path / _MARKER).exists()
