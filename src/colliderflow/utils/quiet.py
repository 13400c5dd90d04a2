"""Keep C++ libraries (Pythia warnings, the FastJet banner, HepMC3 reader errors) from writing to the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["silence_stdout", "capture_output"]


@contextlib.contextmanager
def silence_stdout():
    """Redirect file descriptor 1 to /dev/null inside the block (C++ output included)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def capture_output() -> Iterator[list[str]]:
    """Redirect file descriptors 1 and 2 into a temporary file inside the block (C++ output
    included); the list yielded holds, after the block, the lines written there."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    lines: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield lines
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, old in zip((1, 2), saved):
                os.dup2(old, fd)
                os.close(old)
            tmp.seek(0)
            lines.extend(line for line in tmp.read().decode(errors="replace").splitlines() if line.strip())
