"""Error messages that fit one line."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(err: BaseException | str, limit: int = 300) -> str:
    """``err`` as one line: its first non-empty line, whitespace collapsed, at most ``limit`` characters.

    Library errors (Arrow, uproot, torch) often append schema dumps or tracebacks; those stay out.
    """
    text = str(err)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "") or type(err).__name__
    first = " ".join(first.split())
    return first if len(first) <= limit else first[: limit - 1] + "…"
