import awkward as ak
import pytest

from colliderflow.utils.atomic import atomic_path
from colliderflow.utils.parquet import FileFormatError, read_parquet, write_parquet


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_file_on_interrupt(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            raise KeyboardInterrupt
    assert target.read_text() == "old"


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "a.parquet"
    write_parquet(path, ak.Array([{"x": [1.0, 2.0]}, {"x": []}]), {"kind": "test", "schema_version": 2})
    return path


def test_roundtrip(good_file):
    arr, header = read_parquet(good_file, "test", 2)
    assert ak.to_list(arr.x) == [[1.0, 2.0], []]
    assert header["kind"] == "test"


def test_wrong_schema_version(good_file):
    with pytest.raises(FileFormatError, match=r"a\.parquet: schema version 2"):
        read_parquet(good_file, "test", 1)


def test_wrong_kind(good_file):
    with pytest.raises(FileFormatError, match="holds 'test'"):
        read_parquet(good_file, "other", 2)


def test_truncated_file(good_file):
    data = good_file.read_bytes()
    good_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match=r"a\.parquet: not a readable Parquet file"):
        read_parquet(good_file, "test", 2)


def test_garbage_file(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"not parquet at all" * 10)
    with pytest.raises(FileFormatError, match="junk.parquet"):
        read_parquet(path, "test", 1)


def test_foreign_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with pytest.raises(FileFormatError, match="without a colliderflow header"):
        read_parquet(path, "test", 1)


def test_atomic_files_are_readable_by_others(tmp_path):
    import os
    import stat

    from colliderflow.utils.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644
