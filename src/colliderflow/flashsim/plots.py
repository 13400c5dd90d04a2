"""Training plots of FlashSim: loss curves of every model and reliability curves of the classifiers."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from colliderflow.plotting import LABEL, save, use_cms_style

__all__ = ["plot_training"]


def _grid(n: int):
    import matplotlib.pyplot as plt

    use_cms_style()
    cols = min(4, max(n, 1))
    rows = math.ceil(max(n, 1) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.2 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat)


def plot_training(report: dict[str, Any], out: str | os.PathLike) -> list[Path]:
    """``losses.png`` (flow and classifier losses per model) and ``reliability.png``."""
    out = Path(out)
    models = report["models"]
    names = list(models)
    paths = []
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names):
        m = models[name]
        for key, style in (("flow", "-"), ("classifier", "--")):
            if key in m:
                h = m[key]["loss"]
                ax.plot(h["step"], h["train"], style, color="C0", label=f"{key} train")
                if h["val"]:
                    ax.plot(h["step"], h["val"], style, color="C1", label=f"{key} val")
                if "best_step" in h:
                    ax.axvline(h["best_step"], color="grey", lw=0.8, ls=style)
        # a validation loss that runs away (a few dozen objects) would squash every other curve:
        # the axis stops at 3 times the largest training loss, the runaway leaves the frame
        train_max = max((max(m[k]["loss"]["train"], default=0.0) for k in ("flow", "classifier") if k in m), default=0.0)
        if train_max > 0:
            ax.set_ylim(0, 3 * train_max)
        ax.set_title(name, fontsize=13)
        ax.set_xlabel("step", fontsize=11)
        ax.set_ylabel("loss (per object)", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=9)
    fig.suptitle(f"{LABEL}: FlashSim training losses", fontsize=16)
    paths.append(save(fig, out / "losses.png"))

    curves = [(n, k, r) for n in names for k, r in models[n].get("classifier", {}).get("reliability", {}).items()]
    fig, axes = _grid(len(curves))
    for ax, (name, head, r) in zip(axes, curves):
        n = np.asarray(r["n"])
        ok = n > 0
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.errorbar(np.asarray(r["mean_p"])[ok], np.asarray(r["freq"])[ok], yerr=np.asarray(r["err"])[ok], fmt="o", ms=4)
        label = "efficiency" if head == "head0" else f"P(n > {head[4:]} | n >= {head[4:]})"
        ax.set_title(f"{name}: {label}\nECE {r['ece']:.3f}", fontsize=11)
        ax.set_xlabel("predicted probability", fontsize=10)
        ax.set_ylabel("observed frequency (validation)", fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=9)
    fig.suptitle(f"{LABEL}: FlashSim classifier reliability", fontsize=16)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))  # 0.6 inch above the panels for the title
    paths.append(save(fig, out / "reliability.png"))
    return paths
