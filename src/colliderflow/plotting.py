"""HEP-style plots (mplhep) shared by every report: histograms with a ratio panel, 2-D maps."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep as hep  # noqa: E402
import numpy as np  # noqa: E402

from colliderflow.utils.atomic import atomic_path  # noqa: E402

__all__ = ["hist_ratio", "hist2d", "save", "log_pt_axis", "use_cms_style", "series_style", "LABEL"]

LABEL = "colliderflow simulation"


def use_cms_style() -> None:
    """Switch matplotlib to the CMS style of mplhep (every report plot uses it)."""
    plt.style.use(hep.style.CMS)


#: twelve distinguishable colours (Okabe-Ito and Tableau), so that up to twelve series never share one
_COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B",
            "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD")


def series_style(index: int, name: str) -> dict:
    """Colour, line style and marker of the ``index``-th series named ``name`` in a plot.

    Every series gets its own colour; MLPF collections are dashed with square markers, so that
    PF and MLPF variants (+CHS, +PUPPI) read apart even in grey.
    """
    mlpf = name.upper().startswith("MLPF")
    return {"color": _COLOURS[index % len(_COLOURS)], "linestyle": "--" if mlpf else "-",
            "marker": "s" if mlpf else "o"}


def log_pt_axis(ax, ticks=(1, 2, 5, 10, 20, 30, 50, 100, 200, 500, 1000, 2000)) -> None:
    """A logarithmic pT axis labelled with plain numbers (20, 50, 100, ...) instead of 2x10^1."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator([t for t in ticks if lo <= t <= hi]))
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    ax.xaxis.set_major_formatter(fmt)
    ax.xaxis.set_minor_formatter(NullFormatter())


def save(fig, path: str | os.PathLike) -> Path:
    """Save a figure as PNG atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def hist_ratio(samples: dict[str, np.ndarray], bins: np.ndarray, xlabel: str, path: str | os.PathLike,
               reference: str | None = None, logx: bool = False, logy: bool = True, density: bool = False,
               title: str = "", weights: dict[str, np.ndarray] | None = None) -> Path:
    """Overlaid step histograms with a ratio panel to ``reference`` (the first sample by default).

    Statistical uncertainties (sqrt of the sum of squared weights) are drawn as error bars on the ratio.
    """
    use_cms_style()
    reference = reference or next(iter(samples))
    if len(samples) > 1:
        fig, (ax, rax) = plt.subplots(2, 1, figsize=(9, 9), gridspec_kw={"height_ratios": (3, 1)}, sharex=True)
    else:  # nothing to compare: no ratio panel
        fig, ax = plt.subplots(figsize=(9, 7))
        rax = None
    counts = {}
    styles = {name: series_style(i, name) for i, name in enumerate(samples)}
    for name, values in samples.items():
        w = None if weights is None else weights.get(name)
        h, _ = np.histogram(values, bins=bins, weights=w)
        h2, _ = np.histogram(values, bins=bins, weights=None if w is None else w**2)
        if density:
            norm = h.sum() * np.diff(bins)
            h, h2 = h / np.where(norm > 0, norm, 1), h2 / np.where(norm > 0, norm, 1) ** 2
        counts[name] = (h, np.sqrt(h2))
        hep.histplot(h, bins, ax=ax, label=name, yerr=np.sqrt(h2), color=styles[name]["color"],
                     linestyle=styles[name]["linestyle"])
    ref, ref_err = counts[reference]
    for name, (h, err) in counts.items():
        if name == reference:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(ref > 0, h / ref, np.nan)
            rerr = np.where(ref > 0, err / ref, np.nan)
        hep.histplot(r, bins, ax=rax, yerr=rerr, label=name, histtype="errorbar", markersize=4,
                     color=styles[name]["color"], marker=styles[name]["marker"])
    if rax is not None:
        rax.axhline(1.0, color="gray", ls="--")
        rax.set_ylim(0.5, 1.5)
        rax.set_ylabel(f"ratio to {reference}", fontsize=14)
        rax.set_xlabel(xlabel)
    else:
        ax.set_xlabel(xlabel)
    ax.set_ylabel("density" if density else "entries")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=14)
    hep.label.exp_text("", LABEL, ax=ax, loc=0, fontsize=14)
    if title:
        ax.set_title(title, fontsize=14, loc="right")
    return save(fig, path)


def hist2d(x: np.ndarray, y: np.ndarray, bins, xlabel: str, ylabel: str, path: str | os.PathLike,
           title: str = "", diagonal: bool = True) -> Path:
    """A 2-D histogram with a log colour scale and, optionally, the y = x line."""
    use_cms_style()
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(9, 8))
    h = ax.hist2d(x, y, bins=bins, norm=LogNorm(), cmap="viridis")
    fig.colorbar(h[3], ax=ax, label="events")
    if diagonal:
        lo, hi = bins[0][0], bins[0][-1]
        ax.plot([lo, hi], [lo, hi], color="red", ls="--", lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    hep.label.exp_text("", LABEL, ax=ax, loc=0, fontsize=14)
    if title:
        ax.set_title(title, fontsize=14, loc="right")
    return save(fig, path)
