"""Worker processes end with their parent (utils/workers.py)."""

import os
import signal
import subprocess
import sys
import time

import pytest

PARENT = """
import time
from colliderflow.utils.workers import process_pool
pool = process_pool(1)
fut = pool.submit(time.sleep, 120)
while not pool._processes:
    time.sleep(0.05)
time.sleep(1.0)  # the worker has started its task
print(*pool._processes, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running: it exists and is not a zombie waiting for whoever adopted it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux-only")
def test_workers_die_when_the_parent_is_killed():
    with subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True) as parent:
        worker = int(parent.stdout.readline().split()[0])
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)  # no shutdown code runs in the parent
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
    alive = _alive(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)
    assert not alive, "a worker outlived its killed parent"


def test_pool_runs_tasks():
    from colliderflow.utils.workers import process_pool

    with process_pool(2) as pool:
        assert list(pool.map(abs, [-1, -2, 3])) == [1, 2, 3]
