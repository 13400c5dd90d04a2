"""Event displays in the eta-phi plane: elements, target and reconstructed candidates."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from colliderflow.plotting import save
from colliderflow.schema.classes import CLASS_NAMES
from colliderflow.schema.elements import ELEMENT_NAMES

__all__ = ["event_display"]

_ELEMENT_STYLE = {1: ("k", "."), 2: ("tab:green", "s"), 3: ("tab:red", "s"), 4: ("tab:olive", "D"), 5: ("tab:purple", "D")}
_CLASS_COLORS = {1: "tab:blue", 2: "tab:red", 3: "tab:green", 4: "tab:orange", 5: "tab:purple", 6: "tab:olive",
                 7: "tab:brown"}


def _size(e):
    return 4 + 40 * np.log1p(np.asarray(e, dtype=float)) / np.log1p(100.0)


def event_display(elements: dict[str, np.ndarray], panels: dict[str, dict[str, np.ndarray]],
                  path: str | os.PathLike, title: str = "") -> Path:
    """Elements (left) and one panel per particle set (``cls``, ``eta``, ``phi``, ``energy``)."""
    n = 1 + len(panels)
    fig, axes = plt.subplots(1, n, figsize=(6 * n, 5.5), sharey=True)
    ax = axes[0]
    for code, (color, marker) in _ELEMENT_STYLE.items():
        sel = elements["type"] == code
        if sel.any():
            ax.scatter(elements["eta"][sel], elements["phi"][sel], s=_size(elements["energy"][sel]), c=color,
                       marker=marker, alpha=0.5, label=f"{ELEMENT_NAMES[code]} ({sel.sum()})", linewidths=0)
    ax.set_title("elements", fontsize=12)
    for ax, (name, p) in zip(axes[1:], panels.items()):
        for code, color in _CLASS_COLORS.items():
            sel = p["cls"] == code
            if sel.any():
                ax.scatter(p["eta"][sel], p["phi"][sel], s=_size(p["energy"][sel]), c=color, alpha=0.6,
                           label=f"{CLASS_NAMES[code]} ({sel.sum()})", linewidths=0)
        ax.set_title(name, fontsize=12)
    for ax in axes:
        ax.set_xlim(-5.2, 5.2)
        ax.set_ylim(-np.pi, np.pi)
        ax.set_xlabel(r"$\eta$")
        ax.legend(fontsize=7, loc="upper right", markerscale=0.7)
    axes[0].set_ylabel(r"$\phi$")
    if title:
        fig.suptitle(title, fontsize=12)
    return save(fig, path)
