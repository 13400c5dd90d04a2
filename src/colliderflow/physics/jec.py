"""Jet-energy-correction files (JSON): the one home of their format, and the shipped corrections.

A file holds ``corrections`` (collection name -> ``JetCorrections.to_json()``: median response
in bins of gen pT and |eta|), the jet ``radius`` and where they were derived (``dataset``,
``missing_chunks``). ``colliderflow derive-jec`` writes them; ``evaluate`` and ``nano`` read them.
Corrections shipped for a detector card live in ``physics/corrections/<card>.json`` (derived on
QCD with 55-75 pileup).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from colliderflow.physics.resolution import JetCorrections
from colliderflow.utils.atomic import atomic_write_text
from colliderflow.utils.errors import one_line
from colliderflow.utils.parquet import FileFormatError

__all__ = ["save_jec_file", "load_jec_file", "shipped_jec"]


def save_jec_file(path: str | os.PathLike, corrections: dict[str, JetCorrections], **meta: Any) -> None:
    """Write ``corrections`` (collection -> corrections) and JSON metadata ``meta`` atomically."""
    atomic_write_text(path, json.dumps({**meta, "corrections": {k: v.to_json() for k, v in corrections.items()}})
                      + "\n")


def load_jec_file(path: str | os.PathLike) -> dict[str, JetCorrections]:
    """The corrections of a file written by :func:`save_jec_file`, collection -> corrections.

    Raises:
        FileFormatError: not such a file (missing, not JSON, no ``corrections``); one line naming it.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return {k: JetCorrections.from_json(v) for k, v in data["corrections"].items()}
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such jet-correction file") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise FileFormatError(f"{path}: not a jet-correction file from 'colliderflow derive-jec' "
                              f"({type(err).__name__}: {one_line(err)})") from None


def shipped_jec(card: str) -> Path | None:
    """Corrections shipped for a detector card (derived on QCD with 55-75 pileup), if any."""
    path = Path(str(resources.files("colliderflow.physics"))) / "corrections" / f"{card}.json"
    return path if path.exists() else None
