"""Helpers shared by the benchmarks: machine description, JSON results, the docs table."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

from colliderflow.utils.atomic import atomic_write_text

RESULTS = Path(__file__).parent / "results"
DOC = Path(__file__).parent.parent / "docs" / "benchmarks.md"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def write_result(name: str, payload: dict) -> Path:
    path = RESULTS / f"{name}.json"
    atomic_write_text(path, json.dumps({"machine": machine(), **payload}, indent=1) + "\n")
    return path


def update_doc_section(section: str, markdown: str) -> None:
    """Replace (or append) the block between <!-- section:start --> and <!-- section:end -->."""
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(DOC, text)
