"""Loss curves per term (training and validation) from the training CSV."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

__all__ = ["plot_losses"]

TERMS = ("total", "binary", "pid", "pt", "eta", "sin_phi", "cos_phi", "energy", "pileup")


def plot_losses(csv_path: str | os.PathLike, png_path: str | os.PathLike) -> Path:
    import matplotlib.pyplot as plt

    from colliderflow.plotting import save

    rows = []
    if Path(csv_path).exists():
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    fig, axes = plt.subplots(3, 3, figsize=(14, 11), sharex=True)
    for ax, term in zip(axes.ravel(), TERMS):
        for split, style in (("train", dict(alpha=0.6, lw=1)), ("val", dict(marker="o", lw=2))):
            pts = [(int(r["step"]), float(r[term])) for r in rows if r["split"] == split and r.get(term)]
            if pts:
                s, v = np.array(pts).T
                ax.plot(s, v, label=split, **style)
        ax.set_title(term, fontsize=12)
        ax.set_yscale("log")
        ax.tick_params(labelsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=11)
    axes[0, 0].legend(fontsize=10)
    fig.suptitle("MLPF loss terms (training: per step; validation: per epoch)", fontsize=13)
    return save(fig, png_path)
