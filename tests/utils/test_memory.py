"""release_free_memory gives freed heap pages back to the system (glibc) and is harmless elsewhere."""

from __future__ import annotations

import platform
import resource

import pytest

from colliderflow.utils.memory import release_free_memory


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def test_returns_a_bool():
    assert release_free_memory() in (True, False)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_heap_pages_go_back_to_the_system():
    release_free_memory()
    # 64 kB blocks stay below glibc's mmap threshold, so they come from the heap; keeping every
    # 64th one alive pins the heap's top, so only malloc_trim (not free) can give the rest back
    blocks = [bytearray(64 * 1024) for _ in range(3200)]  # 200 MB, touched (zero-filled)
    keep = blocks[::64]
    del blocks
    before = _rss_bytes()
    assert release_free_memory() is True
    after = _rss_bytes()
    assert before - after > 100e6, (before, after)
    assert len(keep) == 50
