"""Class 4 of the reliability issue: temporaries of killed writes are removed by the next run,
and temporaries of live writers (another batch job in the same folder) are left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from colliderflow.utils.atomic import STALE_SECONDS, _owner, atomic_path, remove_stale_temps

_WRITER = """
import sys, time
from colliderflow.utils.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a chunk")
    print("writing", flush=True)
    time.sleep(60)
"""


def _killed_write(target) -> None:
    """Start a write of ``target`` in another process and kill -9 it mid-write."""
    with subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_kill_9_orphan_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "chunk_0000000_0000002.parquet"
    _killed_write(target)
    orphans = list(tmp_path.glob(".chunk_*.tmp"))
    assert len(orphans) == 1 and not target.exists()
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole chunk")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_resumed_dataset_removes_orphans_of_every_chunk(tmp_path, capsys):
    from colliderflow.cli import main

    out = tmp_path / "ds"
    argv = ["dataset", "--process", "ttbar", "--events", "2", "--chunk-size", "1", "--seed", "3", "--out", str(out),
            "--quiet"]
    assert main(argv) == 0
    _killed_write(out / "chunk_0000000_0000001.parquet")  # a chunk that is already complete
    legacy = out / ".chunk_0000001_0000002.parquet.k3j9x_1.tmp"  # an older colliderflow's name, 2 h old
    legacy.write_bytes(b"x")
    old = time.time() - 2 * STALE_SECONDS
    os.utime(legacy, (old, old))
    live = out / f".chunk_0000001_0000002.parquet.{_owner().rpartition('-')[0]}-{os.getppid()}.abc.tmp"
    live.write_bytes(b"a live writer's")
    foreign = out / ".chunk_0000001_0000002.parquet.othernode-12.abc.tmp"  # another host, recent: maybe alive
    foreign.write_bytes(b"y")
    assert main(argv) == 0
    hidden = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert hidden == sorted([live.name, foreign.name])


def test_remove_stale_temps_of_one_name_only(tmp_path):
    for name in ("a.parquet", "b.parquet"):
        (tmp_path / f".{name}.nohost-1.x.tmp").write_bytes(b"")
        old = time.time() - 2 * STALE_SECONDS
        os.utime(tmp_path / f".{name}.nohost-1.x.tmp", (old, old))
    removed = remove_stale_temps(tmp_path, "a.parquet")
    assert [p.name for p in removed] == [".a.parquet.nohost-1.x.tmp"]
    assert (tmp_path / ".b.parquet.nohost-1.x.tmp").exists()
