"""A tiny dataset with PF candidates and helpers that damage copies of its files."""

from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from colliderflow.cli import main
from colliderflow.utils.parquet import read_header, read_parquet, write_parquet

CHUNKS = ("chunk_0000000_0000002.parquet", "chunk_0000002_0000004.parquet")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """4 ttbar events without pileup in 2 chunks (``ds``) and their PF candidates (``pf``)."""
    root = tmp_path_factory.mktemp("tiny")
    assert main(["dataset", "--process", "ttbar", "--events", "4", "--chunk-size", "2", "--seed", "5",
                 "--out", str(root / "ds"), "--quiet"]) == 0
    assert main(["reconstruct", "--input", str(root / "ds"), "--output", str(root / "pf"), "--quiet"]) == 0
    return root


@pytest.fixture
def work(tiny, tmp_path) -> Path:
    """A private copy of the tiny sample, free to damage."""
    shutil.copytree(tiny / "ds", tmp_path / "ds")
    shutil.copytree(tiny / "pf", tmp_path / "pf")
    return tmp_path


def rewrite(path: Path, change) -> None:
    """Replace the Parquet file ``path`` by ``change(array)``, keeping its colliderflow header."""
    header = read_header(path)
    array, _ = read_parquet(path, header["kind"], header["schema_version"])
    write_parquet(path, change(array), header)


def set_value(array: ak.Array, top: str, field: str, value: float, flat_index: int = 3) -> ak.Array:
    """``array`` with entry ``flat_index`` of jagged ``array[top][field]`` set to ``value``."""
    col = array[top][field]
    flat = np.array(ak.to_numpy(ak.flatten(col)), dtype=np.float64)
    flat[flat_index] = value
    new = ak.unflatten(flat.astype(ak.to_numpy(ak.flatten(col)).dtype), ak.num(col))
    return ak.with_field(array, ak.with_field(array[top], new, field), top)


def drop_field(array: ak.Array, top: str, field: str) -> ak.Array:
    sub = array[top]
    kept = ak.zip({f: sub[f] for f in sub.fields if f != field})
    return ak.zip({f: (kept if f == top else array[f]) for f in array.fields}, depth_limit=1)


def run(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of ``colliderflow ARGV``."""
    capsys.readouterr()
    rc = main(argv)
    return rc, capsys.readouterr().err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"error spans {len(lines)} lines: {err!r}"
    assert ": error: " in lines[0], lines[0]
    return lines[0]
