"""``colliderflow evaluate``: compare reconstructions on a dataset; Markdown report, PNGs, metrics.json."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np

from colliderflow.dataset.read import dataset_card, dataset_files, load_dataset, missing_chunks
from colliderflow.evaluate.collections import has_offset_step, reco_collections, target_collection, truth_collection
from colliderflow.evaluate.displays import event_display
from colliderflow.evaluate.jets import (collection_jets, derive_corrections, jet_performance, jet_performance_eta,
                                        matched_jets)
from colliderflow.evaluate.particles import TYPES, efficiency_fake, match_particles
from colliderflow.physics.jec import load_jec_file, save_jec_file, shipped_jec
from colliderflow.physics.met import (
    met,
    met_projected_response_median,
    met_response_median,
    met_xy_resolution,
    type1_met,
)
from colliderflow.physics.offset import jet_offset, ring_rho
from colliderflow.physics.resolution import JetCorrections, summarise_response
from colliderflow.plotting import LABEL, hist_ratio, log_pt_axis, save, series_style, use_cms_style
from colliderflow.reconstruct import iter_events, mlpf_pileup_threshold
from colliderflow.schema.candidates import load_reconstruction
from colliderflow.dataset.validation import pileup_label
from colliderflow.utils.atomic import atomic_dir, atomic_write_text

__all__ = ["evaluate", "evaluated_collections", "derive_jec_file"]

#: event bootstrap of the MET errors: replicas and seed (a fresh generator per collection and figure)
BOOTSTRAP = {"replicas": 200, "seed": 0}


def evaluated_collections(data: ak.Array, recos: Mapping[str, str | os.PathLike],
                          dataset_chunks: list[Path] | None = None) -> dict[str, ak.Array]:
    """The collections ``evaluate`` compares, name -> (events, particles) awkward array.

    ``target`` (from ``data.ytarget``) and, per reconstruction NAME (candidate directory or file
    of ``recos``), NAME, NAME+CHS, NAME+PUPPI (and NAME+PU for MLPF, at the pileup-score threshold
    stored with the candidates).

    Args:
        dataset_chunks: the dataset chunks ``data`` was read from; each reconstruction must hold
            candidates made from each of them (checked through the candidates' headers).

    Raises:
        ValueError: if a reconstruction holds another number of events than ``data``.
    """
    colls = {"target": target_collection(data)}
    for name, path in recos.items():
        cands, header = load_reconstruction(path, dataset_chunks)
        if len(cands) != len(data):
            raise ValueError(f"{path}: {len(cands)} events of candidates for a dataset of {len(data)} events; "
                             "reconstruct the same dataset")
        algo = header.get("algo", "pf")
        threshold = mlpf_pileup_threshold(header) if algo == "mlpf" else None
        colls.update(reco_collections(name, cands, algo, pileup_threshold=threshold))
    return colls


def derive_jec_file(dataset: str | os.PathLike, recos: Mapping[str, str | os.PathLike], out: str | os.PathLike,
                    radius: float = 0.4, allow_partial: bool = False) -> dict[str, JetCorrections]:
    """Derive jet energy corrections for every collection of ``recos`` on ``dataset`` (QCD) and save them.

    The collections are those ``evaluate`` compares: target and, per reconstruction NAME, NAME,
    NAME+CHS, NAME+PUPPI (and NAME+PU for MLPF). ``allow_partial`` accepts a dataset with missing
    chunks (the file records how many).
    """
    chunks = dataset_files(dataset, allow_partial)
    data = load_dataset(dataset, columns=["ytarget", "truth", "event"], allow_partial=allow_partial)
    gen_jets = collection_jets(truth_collection(data), radius, min_pt=10.0)
    out_corr = {}
    for name, coll in evaluated_collections(data, recos, chunks).items():
        out_corr[name] = derive_corrections(matched_jets(collection_jets(coll, radius), gen_jets))
    save_jec_file(out, out_corr, radius=radius, dataset=str(dataset), missing_chunks=len(missing_chunks(dataset)[0]))
    return out_corr


def _plot_resolution(perf: dict[str, dict], key: str, path: Path, title: str) -> Path:
    use_cms_style()
    fig, axes = plt.subplots(2, 1, figsize=(9, 10), sharex=True)
    for i, (name, p) in enumerate(perf.items()):
        style = series_style(i, name)
        bins = p[key]
        x = np.array([np.sqrt(b["lo"] * b["hi"]) for b in bins])
        for ax, field, err in ((axes[0], "gauss_sigma_over_mean", "gauss_sigma_over_mean_err"),
                               (axes[1], "iqr_resolution", "iqr_resolution_err")):
            y = np.array([b.get(field, np.nan) for b in bins], dtype=float)
            e = np.array([b.get(err, np.nan) for b in bins], dtype=float)
            ok = np.isfinite(y)
            ax.errorbar(x[ok], y[ok], yerr=np.where(np.isfinite(e[ok]), e[ok], 0), ms=4, label=name, capsize=2,
                        **style)
    axes[0].set_ylabel(r"Gaussian $\sigma/\mu$")
    axes[1].set_ylabel(r"IQR/(1.349 median)")
    axes[1].set_xlabel("gen jet $p_T$ [GeV]")
    for ax in axes:
        log_pt_axis(ax)
        ax.set_ylim(0, None)
        ax.legend(fontsize=12)
    hep.label.exp_text("", LABEL, ax=axes[0], loc=0, fontsize=14)
    axes[0].set_title(title, fontsize=13, loc="right")
    return save(fig, path)


def _plot_efficiency(effs: dict[str, dict], kind: str, axis: str, path: Path, title: str) -> Path:
    use_cms_style()
    names = [n for n in TYPES.values() if any(kind_key(kind, axis) in e.get(n, {}) for e in effs.values())]
    if not names:
        names = list(TYPES.values())[:1]
    ncol = min(4, len(names))
    nrow = (len(names) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 4.6 * nrow), squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax, tname in zip(axes.ravel(), names):
        for coll, e in effs.items():
            d = e.get(tname, {}).get(kind_key(kind, axis))
            if not d:
                continue
            edges = np.asarray(d["edges"])
            x = np.sqrt(edges[1:] * edges[:-1]) if axis == "pt" else 0.5 * (edges[1:] + edges[:-1])
            y, err = np.asarray(d["value"], float), np.asarray(d["error"], float)
            ok = np.isfinite(y)
            ax.errorbar(x[ok], y[ok], yerr=err[ok], marker="o", ms=3, label=coll, capsize=2)
        ax.set_title(tname, fontsize=13)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(r"$p_T$ [GeV]" if axis == "pt" else r"$\eta$", fontsize=14)
        if axis == "pt":
            log_pt_axis(ax)
        ax.tick_params(labelsize=11)
    for row in axes:
        row[0].set_ylabel("efficiency" if kind == "efficiency" else "fake rate", fontsize=14)
    axes[0][0].legend(fontsize=10)
    fig.suptitle(f"{LABEL}: {title}", fontsize=13)
    return save(fig, path)


def kind_key(kind: str, axis: str) -> str:
    return f"efficiency_vs_{axis}" if kind == "efficiency" else f"fake_vs_{axis}"


def evaluate(dataset: str | os.PathLike, recos: Mapping[str, str | os.PathLike], out: str | os.PathLike,
             jec: str | os.PathLike | None = None, radius: float = 0.4, display_events: int = 1,
             allow_partial: bool = False) -> dict[str, Any]:
    """Evaluate reconstructions ``recos`` (name -> candidate directory) on ``dataset``.

    Jet corrections come from ``jec`` (a file from ``colliderflow derive-jec``, normally derived on
    QCD), or ``"self"`` to calibrate every collection on the evaluated sample; without it, the
    corrections shipped for the dataset's detector card are used (R = 0.4). A collection missing
    from the corrections file is calibrated on the evaluated sample itself; the report names the
    source of each collection's corrections.

    Every figure carries its statistical error: jets the Gaussian-fit and bootstrap errors of
    :func:`~colliderflow.physics.resolution.summarise_response`, MET an event bootstrap
    (:data:`BOOTSTRAP`), particles binomial errors.

    The report folder appears whole or not at all (built aside, then renamed into place). A dataset
    whose manifest lists missing chunks is refused unless ``allow_partial``; the report then
    states how many chunks were missing.
    """
    with atomic_dir(out) as tmp:
        return _evaluate(dataset, recos, tmp, jec, radius, display_events, allow_partial)


def _evaluate(dataset, recos, out: Path, jec, radius: float, display_events: int, allow_partial: bool
              ) -> dict[str, Any]:
    chunks = dataset_files(dataset, allow_partial)
    missing, listed = missing_chunks(dataset)
    data = load_dataset(dataset, columns=["ytarget", "truth", "event"], allow_partial=allow_partial)
    colls = evaluated_collections(data, recos, chunks)
    truth = truth_collection(data)
    process = ", ".join(sorted(set(ak.to_list(data.event.process))))
    npu = ak.to_numpy(data.event.n_pu)
    title = f"{process}, {pileup_label(npu)}, {len(data)} ev"
    metrics: dict[str, Any] = {"dataset": str(dataset), "events": int(len(data)), "process": process,
                               "pileup": [int(npu.min()), int(npu.max())], "collections": list(colls),
                               "jet_radius": radius, "bootstrap": dict(BOOTSTRAP),
                               "missing_chunks": len(missing), "listed_chunks": listed}
    plots = []

    # jets
    gen_jets = collection_jets(truth, radius, min_pt=10.0)
    if jec is None and radius == 0.4:
        card = dataset_card(dataset)
        jec = shipped_jec(card) if card else None
    self_calibrate = jec is not None and str(jec) == "self"
    corrections = load_jec_file(jec) if jec and not self_calibrate else {}
    sources = {}
    perf, perf_eta, reco_jets = {}, {}, {}
    for name, coll in colls.items():
        jets = collection_jets(coll, radius)
        m = matched_jets(jets, gen_jets)
        if name in corrections:
            corr, sources[name] = corrections[name], str(jec)
        else:
            corr, sources[name] = derive_corrections(m), "self-calibrated"
        perf[name] = jet_performance(m, corr)
        perf_eta[name] = jet_performance_eta(m, corr)
        reco_jets[name] = (jets, _corrected_pt(jets, corr))
    metrics["jec_sources"] = sources
    metrics["jec_source"] = _jec_summary(sources)
    metrics["jets"] = {n: {k: v for k, v in p.items() if not k.endswith("_values")} for n, p in perf.items()}
    metrics["jets_30_100"] = {}
    for name, p in perf.items():
        sel = (p["gen_pt_values"] >= 30) & (p["gen_pt_values"] < 100)
        s = summarise_response(p["corrected_response_values"][sel])
        metrics["jets_30_100"][name] = s.to_dict()
    metrics["jets_eta"] = perf_eta
    plots.append(_plot_resolution(perf, "corrected", out / "jet_resolution.png", title + ", corrected, |η|<2.5"))
    plots.append(_plot_eta(perf_eta, out / "jet_eta.png", title))
    plots.append(_plot_resolution(perf, "raw", out / "jet_resolution_raw.png", title + ", raw, |η|<2.5"))
    plots.append(hist_ratio({n: p["raw_response_values"] for n, p in perf.items()}, np.linspace(0, 2, 41),
                            "raw jet response $p_T^{reco}/p_T^{gen}$", out / "jet_response_raw.png", logy=False,
                            density=True, title=title))
    jpt = {"gen": ak.to_numpy(ak.flatten(gen_jets.pt))}
    for n, (j, _) in reco_jets.items():
        jpt[n] = ak.to_numpy(ak.flatten(j.pt[j.pt >= 10.0]))
    plots.append(hist_ratio(jpt, np.geomspace(10, 2000, 30), "raw jet $p_T$ [GeV]", out / "jet_pt.png", logx=True,
                            title=title))

    # MET
    gx, gy = ak.to_numpy(data.event.genmet_x), ak.to_numpy(data.event.genmet_y)
    gmet = np.hypot(gx, gy)
    truth_met, _ = met(truth.pt, truth.phi)
    mets = {"gen (neutrinos)": gmet}
    metrics["met"] = {}
    npu_edges = _pileup_edges(npu)
    for name, c in colls.items():
        v, phi = met(c.pt, c.phi, c.weight)
        mx, my = v * np.cos(phi), v * np.sin(phi)
        jets, corrected = reco_jets[name]
        rho = ring_rho(c.pt, c.eta, c.phi, c.weight)
        offset = jet_offset(rho, jets.eta, radius) if has_offset_step(name) else None
        tx, ty = type1_met(mx, my, jets.pt, jets.phi, corrected, jet_offset=offset)
        mets[name] = v
        entry: dict[str, Any] = {"mean": float(v.mean()), **_met_figures(mx, my, gx, gy)}
        entry["type1"] = {"mean": float(np.hypot(tx, ty).mean()), "offset_subtracted": offset is not None,
                          **_met_figures(tx, ty, gx, gy)}
        entry["rho_central_gev"] = float(rho[:, 0].mean()) if len(rho) else float("nan")
        entry["vs_pileup"] = []
        for lo, hi in zip(npu_edges[:-1], npu_edges[1:]):
            sel = (npu >= lo) & (npu < hi)
            raw = _xy_resolution(mx[sel] - gx[sel], my[sel] - gy[sel])
            t1 = _xy_resolution(tx[sel] - gx[sel], ty[sel] - gy[sel])
            entry["vs_pileup"].append({"lo": int(lo), "hi": int(hi), "events": int(sel.sum()),
                                       "resolution_xy_gev": raw[0], "resolution_xy_gev_err": raw[1],
                                       "type1_resolution_xy_gev": t1[0], "type1_resolution_xy_gev_err": t1[1]})
        metrics["met"][name] = entry
    top = max(float(np.percentile(np.concatenate(list(mets.values())), 99)), 30.0)
    plots.append(hist_ratio(mets, np.linspace(0, top, 30), r"$p_T^{miss}$ [GeV]", out / "met.png",
                            reference="gen (neutrinos)", title=title))
    metrics["met_truth_visible_mean"] = float(truth_met.mean())
    if len(npu_edges) > 2:
        plots.append(_plot_met_pileup(metrics["met"], out / "met_vs_pileup.png", title))

    # particles
    effs = {}
    for name, c in colls.items():
        if "+" in name:
            continue
        effs[name] = efficiency_fake(match_particles(truth, c), np.geomspace(1, 500, 16), np.linspace(-5, 5, 21))
    metrics["particles"] = effs
    plots.append(_plot_efficiency(effs, "efficiency", "pt", out / "particle_efficiency_pt.png", title))
    plots.append(_plot_efficiency(effs, "fake", "pt", out / "particle_fake_pt.png", title))
    plots.append(_plot_efficiency(effs, "efficiency", "eta", out / "particle_efficiency_eta.png", title))

    # event display: read only the chunks holding the displayed events (X of a sample with pileup is GBs)
    if display_events > 0:
        X = load_dataset(dataset, columns=["X"], stop=display_events, allow_partial=allow_partial).X
        for i, x in enumerate(iter_events(X)):
            panels = {name: {k: ak.to_numpy(colls[name][i][k]) for k in ("cls", "eta", "phi", "energy")}
                      for name in ("target", *recos)}
            plots.append(event_display(x, panels, out / f"event_display_{i}.png", title=f"{process}, event {i}"))

    metrics["plots"] = [p.name for p in plots]
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1, default=float) + "\n")
    atomic_write_text(out / "report.md", _markdown(metrics))
    return metrics


def _corrected_pt(jets: ak.Array, corr: JetCorrections) -> ak.Array:
    """Corrected pT of jagged jets, (events, jets) GeV."""
    flat_pt, flat_eta = ak.to_numpy(ak.flatten(jets.pt)), ak.to_numpy(ak.flatten(jets.eta))
    factor = corr(flat_pt, flat_eta) if len(flat_pt) else np.zeros(0)
    return ak.unflatten(flat_pt * factor, ak.num(jets))


def _xy_resolution(dx: np.ndarray, dy: np.ndarray) -> tuple[float, float]:
    """MET x/y resolution and its event-bootstrap error (:data:`BOOTSTRAP`), GeV."""
    return met_xy_resolution(dx, dy, _bootstrap_rng(), BOOTSTRAP["replicas"])


def _met_figures(mx: np.ndarray, my: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> dict[str, float]:
    """MET x/y resolution, magnitude ratio and projected scale against the generator MET, with bootstrap errors."""
    entry = {}
    entry["resolution_xy_gev"], entry["resolution_xy_gev_err"] = _xy_resolution(mx - gx, my - gy)
    n_boot = BOOTSTRAP["replicas"]
    magnitude = met_response_median(np.hypot(mx, my), np.hypot(gx, gy), _bootstrap_rng(), n_boot=n_boot)
    projected = met_projected_response_median(mx, my, gx, gy, _bootstrap_rng(), n_boot=n_boot)
    for key, (value, err) in (("response_median", magnitude), ("response_projected", projected)):
        if np.isfinite(value):
            entry[key], entry[f"{key}_err"] = value, err
    return entry


def _pileup_edges(npu: np.ndarray, n_bins: int = 4, min_events: int = 20) -> np.ndarray:
    """Edges of up to ``n_bins`` equal-width pileup bins, fewer when events are few (one without spread)."""
    lo, hi = int(npu.min()), int(npu.max()) + 1
    n = int(max(1, min(n_bins, len(npu) // min_events, hi - lo)))
    return np.unique(np.round(np.linspace(lo, hi, n + 1)).astype(int))


def _plot_eta(perf_eta: dict[str, list[dict]], path: Path, title: str) -> Path:
    """Jet efficiency and corrected resolution per |eta| region, one series per collection."""
    use_cms_style()
    fig, axes = plt.subplots(2, 1, figsize=(9, 10), sharex=True)
    labels = [f"{b['lo']:g}–{b['hi']:g}" for b in next(iter(perf_eta.values()))]
    n = len(perf_eta)
    for i, (name, bins) in enumerate(perf_eta.items()):
        style = series_style(i, name)
        x = np.arange(len(bins)) + (i - (n - 1) / 2) * 0.6 / max(n, 1)
        for ax, field in ((axes[0], "efficiency"), (axes[1], "gauss_sigma_over_mean")):
            y = np.array([b.get(field, np.nan) for b in bins], dtype=float)
            e = np.array([b.get(f"{field}_err", np.nan) for b in bins], dtype=float)
            ok = np.isfinite(y)
            ax.errorbar(x[ok], y[ok], yerr=np.where(np.isfinite(e[ok]), e[ok], 0), ms=5, label=name, capsize=2,
                        linestyle="none", **{k: v for k, v in style.items() if k != "linestyle"})
    axes[0].set_ylabel("jet efficiency", fontsize=16)
    axes[0].text(0.02, 0.04, "gen jets $p_T$ > 30 GeV, matched within ΔR < 0.2", transform=axes[0].transAxes,
                 fontsize=12)
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylabel(r"jet resolution $\sigma/\mu$", fontsize=16)
    axes[1].text(0.02, 0.92, "corrected, gen $p_T$ 30–100 GeV", transform=axes[1].transAxes, fontsize=12)
    axes[1].set_ylim(0, None)
    axes[1].set_xticks(np.arange(len(labels)), labels)
    axes[1].set_xlabel("gen jet |η|")
    axes[0].legend(fontsize=11, ncol=2, loc="lower right")
    hep.label.exp_text("", LABEL, ax=axes[0], loc=0, fontsize=14)
    axes[0].set_title(title, fontsize=13, loc="right")
    return save(fig, path)


def _plot_met_pileup(met_metrics: dict[str, dict], path: Path, title: str) -> Path:
    """MET x/y resolution versus the number of pileup interactions, raw and type-1."""
    use_cms_style()
    fig, axes = plt.subplots(1, 2, figsize=(14, 6), sharey=True)
    for i, (name, e) in enumerate(met_metrics.items()):
        style = series_style(i, name)
        bins = e["vs_pileup"]
        x = np.array([0.5 * (b["lo"] + b["hi"] - 1) for b in bins])
        for ax, key in ((axes[0], "resolution_xy_gev"), (axes[1], "type1_resolution_xy_gev")):
            y = np.array([b[key] for b in bins], dtype=float)
            err = np.array([b[f"{key}_err"] for b in bins], dtype=float)
            ax.errorbar(x, y, yerr=np.nan_to_num(err), ms=5, label=name, capsize=2, **style)
    for ax, kind in zip(axes, ("raw", "type-1")):
        ax.set_xlabel("pileup interactions")
        ax.set_title(f"{kind} MET", fontsize=13)
    axes[0].set_ylabel(r"$p_T^{miss}$ x/y resolution [GeV]")
    axes[0].set_ylim(0, None)
    axes[1].legend(fontsize=11, ncol=2)
    fig.suptitle(f"{LABEL}: {title}", fontsize=13)
    return save(fig, path)


def _bootstrap_rng() -> np.random.Generator:
    return np.random.default_rng(BOOTSTRAP["seed"])


def _jec_summary(sources: dict[str, str]) -> str:
    """One sentence naming where each collection's jet corrections came from."""
    self_cal = [k for k, v in sources.items() if v == "self-calibrated"]
    files = sorted({v for v in sources.values() if v != "self-calibrated"})
    if not files:
        return "derived on the evaluated sample (self-calibrated)"
    if len(files) == 1 and not self_cal:
        return files[0]
    parts = [f"{f} ({', '.join(k for k, v in sources.items() if v == f)})" for f in files]
    if self_cal:
        parts.append(f"self-calibrated on the evaluated sample ({', '.join(self_cal)}: not in the corrections file)")
    return "; ".join(parts)


def _fmt(x, pct=False, decimals=3):
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{100 * x:.1f}%" if pct else f"{x:.{decimals}f}"


def _pm(x, err, pct=False, decimals=3):
    """'value ± error' ('value' alone when the error is missing, '–' when the value is)."""
    value = _fmt(x, pct, decimals)
    if value == "–" or _fmt(err) == "–":
        return value
    return f"{value} ± {_fmt(err, pct, decimals)}"


def _markdown(m: dict[str, Any]) -> str:
    lines = [f"# Evaluation: {m['process']}", "",
             f"Dataset `{m['dataset']}`: {m['events']} events, pileup {m['pileup'][0]}–{m['pileup'][1]}. "
             f"Jets anti-kt R = {m['jet_radius']}, |η| < 2.5; jet energy corrections: {m['jec_source']}.", ""]
    if m.get("missing_chunks"):
        lines += [f"**Partial dataset: {m['missing_chunks']} of its {m['listed_chunks']} chunks were missing "
                  "(--allow-partial); the figures cover the chunks present only.**", ""]
    lines += ["## Jets (corrected, gen pT 30–100 GeV)", "",
             "| collection | jets | median response | resolution (Gauss σ/μ) | resolution (IQR) | corrections |",
             "|---|---|---|---|---|---|"]
    for name, s in m["jets_30_100"].items():
        source = m["jec_sources"].get(name, "–")
        source = source if source in ("self-calibrated", "–") else Path(source).name
        lines.append(f"| {name} | {s['n']} | {_fmt(s['median'])} | "
                     f"{_pm(s['gauss_sigma_over_mean'], s['gauss_sigma_over_mean_err'], True)} | "
                     f"{_pm(s['iqr_resolution'], s['iqr_resolution_err'], True)} | {source} |")
    lines += ["", "![jet resolution](jet_resolution.png)", "", "![raw jet resolution](jet_resolution_raw.png)", "",
              "![raw response](jet_response_raw.png)", "", "![jet pT](jet_pt.png)", ""]
    bins = next(iter(m["jets_eta"].values()))
    lines += ["## Jets in |η| regions", "",
              "Efficiency: gen jets with pT > 30 GeV matched within ΔR < 0.2 (binomial error); resolution: "
              "corrected Gaussian σ/μ at gen pT 30–100 GeV (fit error).", "",
              "| collection | " + " | ".join(f"{b['lo']:g}–{b['hi']:g}: efficiency | resolution" for b in bins) + " |",
              "|---|" + "---|---|" * len(bins)]
    for name, entries in m["jets_eta"].items():
        cells = [f"{_pm(b['efficiency'], b['efficiency_err'], True)} | "
                 f"{_pm(b.get('gauss_sigma_over_mean'), b.get('gauss_sigma_over_mean_err'), True)}" for b in entries]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "![jets in eta regions](jet_eta.png)", "",
              "## Missing transverse momentum", "",
              "Raw MET, and type-1 MET: the corrections of the collection's jets with corrected pT > 15 GeV "
              "propagated to the MET, less each jet's pileup offset (ρ of its |η| ring × πR², CMS L123 − L1) "
              "for the collections without a per-particle pileup rejection (not PUPPI, not MLPF+PU). Resolution: half the 16–84% width of the x and y residuals against the "
              "generator MET. Over events with gen MET > 20 GeV: scale = median of the MET projected on the "
              "generator MET direction over the generator MET (the response CMS quotes; resolution averages out); "
              "magnitude ratio = median |MET| / |gen MET|, which resolution pushes above 1.", "",
              "| collection | mean MET [GeV] | x,y resolution [GeV] | scale | magnitude ratio | type-1 mean [GeV] | "
              "type-1 x,y resolution [GeV] | type-1 scale | type-1 magnitude ratio |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, e in m["met"].items():
        t1 = e["type1"]
        lines.append(f"| {name} | {e['mean']:.1f} | {_pm(e['resolution_xy_gev'], e['resolution_xy_gev_err'], decimals=1)} | "
                     f"{_pm(e.get('response_projected'), e.get('response_projected_err'))} | "
                     f"{_pm(e.get('response_median'), e.get('response_median_err'))} | {t1['mean']:.1f} | "
                     f"{_pm(t1['resolution_xy_gev'], t1['resolution_xy_gev_err'], decimals=1)} | "
                     f"{_pm(t1.get('response_projected'), t1.get('response_projected_err'))} | "
                     f"{_pm(t1.get('response_median'), t1.get('response_median_err'))} |")
    boot = m["bootstrap"]
    lines += ["", f"Errors: standard deviation of {boot['replicas']} event-bootstrap replicas (seed {boot['seed']}).",
              "", "![MET](met.png)", ""]
    first = next(iter(m["met"].values()))["vs_pileup"]
    if len(first) > 1:
        lines += ["### MET x,y resolution versus pileup (raw / type-1, GeV)", "",
                  "| collection | " + " | ".join(f"{b['lo']}–{b['hi'] - 1} PU ({b['events']} ev)" for b in first) + " |",
                  "|---|" + "---|" * len(first)]
        for name, e in m["met"].items():
            cells = [f"{_pm(b['resolution_xy_gev'], b['resolution_xy_gev_err'], decimals=1)} / "
                     f"{_pm(b['type1_resolution_xy_gev'], b['type1_resolution_xy_gev_err'], decimals=1)}"
                     for b in e["vs_pileup"]]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "![MET vs pileup](met_vs_pileup.png)", ""]
    lines += ["## Particles (pT > 1 GeV, unique ΔR < 0.15 matching)", "",
              "Errors: binomial, sqrt(p(1 − p)/n) with p kept within [1/n, 1 − 1/n].", "",
              "| collection | type | gen | efficiency | ID efficiency | reco | fake rate |",
              "|---|---|---|---|---|---|---|"]
    for coll, effs in m["particles"].items():
        for tname, e in effs.items():
            if e["n_gen"] or e["n_reco"]:
                eff, id_eff, fake = (_pm(e.get(k), e.get(f"{k}_err"), True)
                                     for k in ("efficiency", "id_efficiency", "fake_rate"))
                lines.append(f"| {coll} | {tname} | {e['n_gen']} | {eff} | {id_eff} | {e['n_reco']} | {fake} |")
    lines += ["", "![efficiency vs pT](particle_efficiency_pt.png)", "", "![fake rate vs pT](particle_fake_pt.png)", "",
              "![efficiency vs eta](particle_efficiency_eta.png)", "", "## Event display", ""]
    lines += [f"![display]({p})" for p in m["plots"] if p.startswith("event_display")]
    return "\n".join(lines) + "\n"
