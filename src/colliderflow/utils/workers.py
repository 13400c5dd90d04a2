"""Worker processes for ``--jobs N``: a spawn-context process pool whose workers die with their parent.

A ``ProcessPoolExecutor`` worker keeps taking queued tasks after its parent process was killed
(SIGTERM or SIGKILL never run the executor's shutdown), so a killed ``reconstruct`` or ``dataset``
could go on writing chunks into a directory that a restarted run, perhaps with another model, is
filling. On Linux each worker asks the kernel for SIGTERM when its parent dies
(``prctl(PR_SET_PDEATHSIG)``); elsewhere the pool behaves as a plain one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

__all__ = ["process_pool"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Worker initializer: SIGTERM when the parent exits; exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: a plain worker
            return
    if os.getppid() != parent:
        os._exit(1)


def process_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` spawned worker processes that end when this process ends, however it ends."""
    return ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_die_with_parent,
                               initargs=(os.getpid(),))
