"""Loss curves per term (training and validation) from the training CSV."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

__all__ = ["plot_losses"]

#: steps in the running median drawn over the per-step training losses
_SMOOTH = 100

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
        for split, style in (("train", dict(alpha=0.25, lw=0.8)), ("val", dict(marker="o", lw=2))):
            pts = [(int(r["step"]), float(r[term])) for r in rows if r["split"] == split and r.get(term)]
            if pts:
                s, v = np.array(pts).T
                ax.plot(s, v, label=f"{split} (per step)" if split == "train" else split, **style)
                if split == "train" and len(v) >= 2 * _SMOOTH:
                    # batches with and without pileup alternate, so single steps scatter widely
                    med = np.array([np.median(v[i:i + _SMOOTH]) for i in range(len(v) - _SMOOTH + 1)])
                    ax.plot(s[_SMOOTH // 2:_SMOOTH // 2 + len(med)], med, color="C0", lw=2,
                            label=f"train (running median, {_SMOOTH} steps)")
        ax.set_title(term, fontsize=12)
        ax.set_yscale("log")
        ax.tick_params(labelsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=11)
    for ax in axes[:, 0]:
        ax.set_ylabel("loss", fontsize=11)
    axes[0, 0].legend(fontsize=10)
    fig.suptitle("MLPF loss terms (training: per step and running median; validation: per epoch)", fontsize=13)
    return save(fig, png_path)
