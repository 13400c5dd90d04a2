"""Atomic outputs: files, report folders and resumable run folders that never appear half-made.

* :func:`atomic_path` writes a temporary file beside the target and renames it into place: a
  crash or Ctrl-C leaves either the old file or no file, never half a file.
* :func:`atomic_dir` does the same for a whole folder (a report appears whole or not at all).
* :func:`output_dir` opens the folder of a resumable run (dataset, reconstruction, training):
  completed units are kept on failure, but a folder this run created and filled with nothing
  complete is removed again.

Temporary names carry the host and process id (``.NAME.HOST-PID.RANDOM.tmp``), so a later run can
tell orphans of a killed process (``kill -9``, a node failure) from the work of a live one, e.g. a
concurrent batch-array job writing into the same folder: :func:`remove_stale_temps` removes the
former only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "atomic_dir", "output_dir", "remove_stale_temps",
           "STALE_SECONDS"]

#: a temporary of another host (or of an older colliderflow) untouched this long is an orphan
STALE_SECONDS = 3600.0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _owner() -> str:
    host = socket.gethostname().split(".")[0].replace("-", "_") or "host"
    return f"{host}-{os.getpid()}"


def _tmp_prefix(name: str) -> str:
    return f".{name}.{_owner()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(path: Path, now: float) -> bool:
    """True if temporary ``path`` belongs to no live process: its process on this host is gone, or
    (another host, or a name without an owner) it was last modified over ``STALE_SECONDS`` ago."""
    parts = path.name[: -len(".tmp")].split(".")
    owner = parts[-2] if len(parts) >= 4 else ""
    host, _, pid = owner.rpartition("-")
    if pid.isdigit() and host == _owner().rpartition("-")[0]:
        return int(pid) != os.getpid() and not _pid_alive(int(pid))
    try:
        return now - path.lstat().st_mtime > STALE_SECONDS
    except FileNotFoundError:
        return False


def remove_stale_temps(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove orphaned temporaries (files or folders ``.*.tmp``) in ``folder``; returns them.

    Args:
        name: only those of this target name (all if None).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    removed = []
    pattern = f".{glob.escape(name)}.*.tmp" if name else ".*.tmp"
    for p in folder.glob(pattern):
        if _is_stale(p, now):
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` on success.

    The temporary file is removed if the block raises (including KeyboardInterrupt); orphans of
    earlier killed writes of the same target are removed first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target.parent, target.name)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(target.name), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on success it replaces ``target``.

    If the block raises, the temporary folder is removed and an existing ``target`` is untouched.
    An existing ``target`` is replaced as a whole (files of an earlier report do not linger).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target}: exists and is not a folder")
    remove_stale_temps(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target.name), suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target.name), suffix=".tmp", dir=target.parent))
            os.replace(target, old / "old")  # two renames: a crash in between leaves the new one in tmp
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, complete: Callable[[Path], bool]) -> Iterator[Path]:
    """The folder of a resumable run: created if needed, orphaned temporaries removed.

    If the block raises and this call created the folder, and ``complete(folder)`` says it holds
    no completed unit of work (a chunk, a checkpoint), the folder is removed again, so a failed
    first attempt leaves nothing behind. Completed units are always kept for a resumed run.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path}: exists and is not a folder")
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    try:
        yield path
    except BaseException:
        if created and not complete(path):
            shutil.rmtree(path, ignore_errors=True)
        raise
