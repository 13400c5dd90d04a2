"""Keep C++ libraries (Pythia warnings, the FastJet banner) from writing to the terminal."""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["silence_stdout"]


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
