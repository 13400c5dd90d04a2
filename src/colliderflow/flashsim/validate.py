"""Flash versus Full on generator events never used in training: ``colliderflow flashsim validate``.

Inputs are three sets of NanoAOD-like files: FlashSim output (K replicas per generator event),
the full simulation of the *same* generator events, and an independent full-simulation sample
of the same size (the *reference*: how far apart two Full samples are from statistics alone).

The report (``report.md``, ``metrics.json``, PNGs) holds

* per-variable histograms of every collection, Flash (fold-aware uncertainties, weight 1/K),
  Full and the reference, with Flash/Full and Reference/Full ratio panels;
* Wasserstein distances Flash-Full next to the floor Reference-Full, each in units of the Full
  inter-quartile range;
* correlation matrices of every collection's variables (Full, Flash, difference);
* a classifier two-sample test per collection (objects) and for event-level quantities: a small
  network trained to separate Flash from Full; held-out ROC AUC 0.5 = indistinguishable;
* two toy analyses: Z -> mu mu (two opposite-charge isolated medium muons, 70 < m < 110 GeV) and
  a ttbar lepton+jets selection (one tight isolated muon, >= 4 jets, >= 1 b tag): yields with
  statistical uncertainties and shapes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import awkward as ak
import numpy as np

from colliderflow.flashsim.metrics import (classifier_two_sample_test, correlation_matrix, plot_correlations,
                                           wasserstein_table)
from colliderflow.flashsim.stats import fold_histogram
from colliderflow.nano.io import nano_oversample, read_nano, read_nano_header
from colliderflow.nano.schema import GEN_INPUTS, RECO_CONTENT
from colliderflow.physics.resolution import IQR_TO_SIGMA
from colliderflow.physics.uncertainty import binomial_error, event_bootstrap
from colliderflow.plotting import LABEL, log_pt_axis, save, use_cms_style
from colliderflow.utils.atomic import atomic_dir, atomic_write_text
from colliderflow.utils.config import RangeChecked, bounded, non_negative, positive

__all__ = ["ValidateConfig", "validate", "VARIABLES", "toy_zmumu", "toy_ttbar"]

#: variables compared per collection: name -> (binning kind, lo, hi)
VARIABLES: dict[str, dict[str, tuple[str, float, float]]] = {
    "Jet": {"pt": ("log", 15, 500), "eta": ("lin", -4.7, 4.7), "phi": ("lin", -np.pi, np.pi), "mass": ("lin", 0, 60),
            "btag": ("lin", 0, 1), "nConstituents": ("int", 0, 60), "chHEF": ("lin", 0, 1), "neHEF": ("lin", 0, 1),
            "chEmEF": ("lin", 0, 1), "neEmEF": ("lin", 0, 1), "muEF": ("lin", 0, 1), "jetId": ("int", 0, 7)},
    "Muon": {"pt": ("log", 3, 300), "eta": ("lin", -2.5, 2.5), "phi": ("lin", -np.pi, np.pi), "charge": ("int", -1, 2),
             "pfRelIso04_all": ("log", 1e-3, 10), "dxy": ("lin", -0.05, 0.05), "dz": ("lin", -0.2, 0.2),
             "mediumId": ("int", 0, 2), "tightId": ("int", 0, 2)},
    "Electron": {"pt": ("log", 5, 300), "eta": ("lin", -2.5, 2.5), "phi": ("lin", -np.pi, np.pi),
                 "charge": ("int", -1, 2), "pfRelIso03_all": ("log", 1e-3, 10), "dxy": ("lin", -0.05, 0.05),
                 "dz": ("lin", -0.2, 0.2), "cutBased": ("int", 0, 5)},
    "Photon": {"pt": ("log", 10, 300), "eta": ("lin", -2.5, 2.5), "phi": ("lin", -np.pi, np.pi),
               "pfRelIso03_all": ("log", 1e-3, 20), "cutBased": ("int", 0, 4)},
}
EVENT_VARIABLES = {"PuppiMET_pt": ("log", 1, 500), "PuppiMET_phi": ("lin", -np.pi, np.pi),
                   "PuppiMET_sumEt": ("log", 100, 5000),
                   "PV_npvs": ("int", 0, 80), "nJet": ("int", 0, 20), "nMuon": ("int", 0, 6), "nElectron": ("int", 0, 5),
                   "nPhoton": ("int", 0, 15), "HT": ("log", 15, 3000), "rho": ("lin", 0, 150)}


@dataclass
class ValidateConfig(RangeChecked):
    """Validation settings.

    Attributes:
        max_objects: objects per sample used by each classifier two-sample test.
        seed: seed of the two-sample tests and of the Wasserstein floor splits.
        c2st_epochs: training epochs of each two-sample classifier.
        auc_target: a two-sample test passes when its AUC is at most this (0.5: indistinguishable).
    """

    max_objects: int = positive(100_000)
    seed: int = non_negative(0)
    c2st_epochs: int = positive(30)
    auc_target: float = bounded(0.55, ge=0.5, le=1)
    toys: list[str] = field(default_factory=lambda: ["zmumu", "ttbar"])


@dataclass
class _Sample:
    events: ak.Array
    weight: np.ndarray  # per event: genWeight / K
    fold: np.ndarray  # per event: generator-event id
    oversample: int


def _load(paths: Sequence[str | os.PathLike]) -> _Sample:
    arrays, weights, folds, ks = [], [], [], set()
    for p in paths:
        h = read_nano_header(p)
        ev = read_nano(p, require=(*GEN_INPUTS, *RECO_CONTENT))
        k = nano_oversample(h, ev)
        ks.add(k)
        arrays.append(ev)
        w = ak.to_numpy(ev.genWeight).astype(np.float64) if "genWeight" in ev.fields else np.ones(len(ev))
        weights.append(w / k)
        folds.append(ak.to_numpy(ev.run).astype(np.int64) * 2**32 + ak.to_numpy(ev.event).astype(np.int64))
    if len(ks) > 1:
        raise ValueError(f"inputs mix oversampling factors {sorted(ks)}")
    common = set.intersection(*(set(a.fields) for a in arrays))
    arrays = [a[[f for f in arrays[0].fields if f in common]] for a in arrays]
    events = ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    return _Sample(events, np.concatenate(weights), np.concatenate(folds), ks.pop())


def _objects(s: _Sample, coll: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    c = s.events[coll]
    n = ak.to_numpy(ak.num(c))
    cols = {v: ak.to_numpy(ak.flatten(c[v])).astype(np.float64) for v in VARIABLES[coll] if v in c.fields}
    return cols, np.repeat(s.weight, n), np.repeat(s.fold, n)


def _event_columns(s: _Sample) -> dict[str, np.ndarray]:
    ev = s.events
    out = {"PuppiMET_pt": ev.PuppiMET.pt, "PuppiMET_phi": ev.PuppiMET.phi, "PuppiMET_sumEt": ev.PuppiMET.sumEt,
           "PV_npvs": ev.PV.npvs,
           "HT": ak.sum(ev.Jet.pt, axis=1)}
    for c in ("Jet", "Muon", "Electron", "Photon"):
        out[f"n{c}"] = ak.num(ev[c])
    if "Rho" in ev.fields:
        out["rho"] = ev.Rho.fixedGridRhoFastjetAll
    return {k: ak.to_numpy(v).astype(np.float64) for k, v in out.items()}


def _edges(kind: str, lo: float, hi: float, n: int = 30) -> np.ndarray:
    if kind == "log":
        return np.geomspace(lo, hi, n + 1)
    if kind == "int":
        return np.arange(lo, hi + 1) - 0.5
    return np.linspace(lo, hi, n + 1)


def _hist(values, weights, folds, edges, oversample):
    v = np.clip(values, edges[0], edges[-1] - 1e-9 * (edges[-1] - edges[0]))
    ok = np.isfinite(v)
    h = fold_histogram(v[ok], folds[ok], edges, weights=weights[ok] * oversample, oversample=oversample)
    return h.values, np.sqrt(h.variances)


_UNITS = (("pt", "GeV"), ("mass", "GeV"), ("sumEt", "GeV"), ("HT", "GeV"), ("rho", "GeV"), ("phi", "rad"),
          ("dxy", "cm"), ("dz", "cm"))


def axis_label(name: str) -> str:
    """A variable's axis label with its unit (pT, masses, HT, sumEt and rho in GeV; phi in rad; dxy, dz in cm)."""
    unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), None)
    return f"{name} [{unit}]" if unit else name


def _ratio(num: np.ndarray, num_err: np.ndarray, den: np.ndarray, den_err: np.ndarray):
    """num / den per bin (Flash or an independent Full over Full) and its error, the two relative
    errors in quadrature: sqrt(num_err^2 + (num den_err / den)^2) / den, which stays finite where
    num is 0; not finite where den is 0 (such points are not drawn)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den, np.sqrt(num_err**2 + (num * den_err / den) ** 2) / np.abs(den)


def _grid_plot(title: str, columns: dict[str, dict[str, Any]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    use_cms_style()
    names = list(columns)
    ncol = min(4, len(names))
    nrow = int(np.ceil(len(names) / ncol))
    fig = plt.figure(figsize=(5.2 * ncol, 5.4 * nrow))
    outer = fig.add_gridspec(nrow, ncol, hspace=0.45, wspace=0.3)
    for k, name in enumerate(names):
        c = columns[name]
        inner = outer[k // ncol, k % ncol].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
        ax, rax = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
        e = c["edges"]
        for label, key, color in (("Full", "full", "black"), ("Flash", "flash", "C1"), ("Full (indep.)", "ref", "C0")):
            if key not in c:
                continue
            val, err = c[key]
            if key == "full":
                ax.errorbar(0.5 * (e[1:] + e[:-1]), val, yerr=err, fmt="o", ms=3, color=color, label=label)
            else:
                ax.stairs(val, e, color=color, label=label, linestyle="-" if key == "flash" else "--")
        full, ferr = c["full"]
        for key, color in (("flash", "C1"), ("ref", "C0")):
            if key in c:
                val, err = c[key]
                r, rerr = _ratio(val, err, full, ferr)
                rax.errorbar(0.5 * (e[1:] + e[:-1]), r, yerr=rerr, fmt="o" if key == "flash" else "x", ms=3,
                             color=color)
        rax.axhline(1, color="grey", lw=0.8)
        rax.set_ylim(0.5, 1.5)
        ax.set_xlim(e[0], e[-1])
        rax.set_xlim(e[0], e[-1])
        if c["kind"] == "log":
            ax.set_xscale("log")
            log_pt_axis(rax, ticks=(0.001, 0.01, 0.1, 1, 3, 10, 30, 100, 300, 1000, 3000))
        if np.nanmax(full) > 0 and c["kind"] != "int":
            ax.set_yscale("log")
        ax.tick_params(which="both", labelsize=9, labelbottom=False)
        rax.tick_params(which="both", labelsize=9)
        rax.set_xlabel(axis_label(name), fontsize=11)
        rax.set_ylabel("/ Full", fontsize=9)
        ax.set_title(c.get("subtitle", ""), fontsize=9)
        if k == 0:
            ax.legend(fontsize=9)
    fig.suptitle(f"{LABEL}: {title}", fontsize=16)
    return save(fig, path)


def _compare_columns(flash_cols, flash_w, flash_f, full_cols, full_w, full_f, ref_cols, ref_w, ref_f, spec, K,
                     wtable) -> dict[str, dict[str, Any]]:
    out = {}
    for name, (kind, lo, hi) in spec.items():
        if name not in flash_cols or name not in full_cols:
            continue
        e = _edges(kind, lo, hi)
        entry = {"edges": e, "kind": kind, "flash": _hist(flash_cols[name], flash_w, flash_f, e, K),
                 "full": _hist(full_cols[name], full_w, full_f, e, 1)}
        if ref_cols is not None and name in ref_cols:
            entry["ref"] = _hist(ref_cols[name], ref_w, ref_f, e, 1)
        if name in wtable:
            w = wtable[name]
            entry["subtitle"] = (f"W/floor = {w['ratio']:.2f}" if np.isfinite(w["ratio"]) else
                                 "W = 0: identical" if w["w"] == 0 else f"W = {w['w']:.3g}, floor 0")
        out[name] = entry
    return out


def _c2st(flash_cols, full_cols, names, cfg: ValidateConfig, label: str) -> dict[str, Any]:
    a = np.column_stack([flash_cols[n] for n in names])
    b = np.column_stack([full_cols[n] for n in names])
    if len(a) < 50 or len(b) < 50:
        return {"auc": None, "note": f"too few objects ({len(a)} Flash, {len(b)} Full)"}
    r = classifier_two_sample_test(a, b, seed=cfg.seed, epochs=cfg.c2st_epochs, max_events=cfg.max_objects,
                                   features=list(names))
    d = r.to_dict()
    d["pass"] = bool(r.auc <= cfg.auc_target)
    d["label"] = label
    return d


# -- efficiency and response against the generator objects ------------------------------------------

#: (reconstructed collection, generator collection, |pdgId| of GenPart or None, index field, pT bins)
_RESPONSE = {"Jet": ("GenJet", None, "genJetIdx", np.geomspace(10, 500, 13)),
             "Muon": ("GenPart", 13, "genPartIdx", np.geomspace(3, 300, 11))}


def _gen_match(s: _Sample, coll: str):
    """Per generator object: pT, eta, matched flag and the pT of its leading matched reco object."""
    gen_name, pdg, idx_field, _ = _RESPONSE[coll]
    gen = s.events[gen_name]
    n_gen = ak.to_numpy(ak.num(gen))
    off = np.concatenate([[0], np.cumsum(n_gen)])
    rec = s.events[coll]
    n_rec = ak.to_numpy(ak.num(rec))
    ev = np.repeat(np.arange(len(n_rec)), n_rec)
    idx = ak.to_numpy(ak.flatten(rec[idx_field])).astype(np.int64)
    rpt = ak.to_numpy(ak.flatten(rec.pt)).astype(np.float64)
    best = np.zeros(off[-1])
    ok = idx >= 0
    np.maximum.at(best, off[ev[ok]] + idx[ok], rpt[ok])
    gpt = ak.to_numpy(ak.flatten(gen.pt)).astype(np.float64)
    geta = ak.to_numpy(ak.flatten(gen.eta)).astype(np.float64)
    keep = np.ones(len(gpt), bool) if pdg is None else np.abs(ak.to_numpy(ak.flatten(gen.pdgId))) == pdg
    gev = np.repeat(np.arange(len(n_gen)), n_gen)
    keep &= np.abs(geta) < (4.7 if coll == "Jet" else 2.4)
    return gpt[keep], best[keep] > 0, best[keep], s.weight[gev[keep]], s.fold[gev[keep]]


def _iqr_sigma(x: np.ndarray) -> float:
    return float(np.subtract(*np.quantile(x, [0.75, 0.25])) / IQR_TO_SIGMA)


def _response_figures(r: np.ndarray, fold: np.ndarray, rng: np.random.Generator, n_boot: int = 100,
                      min_entries: int = 10) -> tuple[float, ...]:
    """(median, its error, IQR / 1.349, its error, IQR / 1.349 / median, its error) of responses
    ``r`` (N,), with errors from resampling generator events (``fold``, (N,)): the K replicas of
    one event move together, as in the fold-aware histograms. NaNs below ``min_entries``."""
    if len(r) < min_entries:
        return (np.nan,) * 6
    out: list[float] = []
    for stat in (np.median, _iqr_sigma, lambda x: _iqr_sigma(x) / np.median(x)):
        out.extend(event_bootstrap(stat, [r], rng, n_boot, groups=fold))
    return tuple(out)


def _efficiency(passed: np.ndarray, total: np.ndarray, total_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Efficiency per bin and its binomial error on the effective number of generator objects
    (total^2 / variance: the entries themselves for Full, the generator events for K replicas),
    which stays non-zero at efficiencies of 0 and 1 (:func:`binomial_error`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = passed / total
        n_eff = np.where(total_var > 0, total**2 / total_var, 0.0)
    return eff, binomial_error(eff * n_eff, n_eff)




def _efficiency_response(samples: dict[str, _Sample], coll: str, out: Path) -> dict[str, Any]:
    """Efficiency, median response and resolution of ``coll`` against its generator objects, in
    generator pT bins, for each sample; the figure has a Flash / Full ratio panel under each."""
    import matplotlib.pyplot as plt

    edges = _RESPONSE[coll][3]
    centres = np.sqrt(edges[1:] * edges[:-1])
    res: dict[str, Any] = {"edges": edges.tolist()}
    use_cms_style()
    fig, axes = plt.subplots(2, 3, figsize=(18, 7.5), sharex="col", gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
    points: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for (label, s), color in zip(samples.items(), ("C1", "black", "C0")):
        pt, matched, rpt, w, fold = _gen_match(s, coll)
        k = s.oversample
        all_h = fold_histogram(pt, fold, edges, weights=w * k, oversample=k)
        pass_h = fold_histogram(pt[matched], fold[matched], edges, weights=w[matched] * k, oversample=k)
        eff, err = _efficiency(pass_h.values, all_h.values, all_h.variances)
        r = rpt[matched] / pt[matched]
        b = np.digitize(pt[matched], edges) - 1
        rng = np.random.default_rng(0)  # the bootstrap's own seed: the same errors on every run
        rfold = fold[matched]
        fig_of = [_response_figures(r[b == i], rfold[b == i], rng) for i in range(len(centres))]
        med, med_err, iqr, iqr_err, reso, reso_err = (np.array(v) for v in zip(*fig_of))
        res[label] = {"efficiency": np.nan_to_num(eff, nan=-1).tolist(), "median_response": np.nan_to_num(med, nan=-1).tolist(),
                      "median_response_err": np.nan_to_num(med_err, nan=-1).tolist(),
                      "resolution_iqr": np.nan_to_num(iqr, nan=-1).tolist(),
                      "resolution_iqr_err": np.nan_to_num(iqr_err, nan=-1).tolist()}
        style = dict(fmt="o" if label == "full" else "s", ms=4, color=color, label=label.capitalize())
        points[label] = [(eff, err), (med, med_err), (reso, reso_err)]
        for ax, (y, yerr) in zip(axes[0], points[label]):
            ax.errorbar(centres, y, yerr=yerr, **style)
    for j, (ax, yl) in enumerate(zip(axes[0], ("efficiency", "median pT(reco) / pT(gen)",
                                                "resolution (IQR/1.349) / median"))):
        ax.set_ylabel(yl, fontsize=13)
        ax.tick_params(which="both", labelsize=11)
        ax.legend(fontsize=11)
        if j == 0:  # an efficiency: error bars of sparse bins may reach past 1
            ax.set_ylim(top=1.05)
        rax = axes[1, j]
        if "flash" in points and "full" in points:
            ratio, rerr = _ratio(*points["flash"][j], *points["full"][j])
            rax.errorbar(centres, ratio, yerr=rerr, fmt="s", ms=4, color="C1")
        rax.axhline(1.0, color="grey", lw=1, ls="--")
        rax.set_ylim(0.8, 1.2)
        rax.set_xscale("log")
        rax.set_xlabel(f"generator {coll.lower()} pT [GeV]", fontsize=13)
        rax.set_ylabel("Flash / Full", fontsize=12)
        rax.tick_params(which="both", labelsize=11)
    fig.suptitle(f"{LABEL}: {coll} efficiency and response, Flash vs Full", fontsize=15)
    save(fig, out / f"{coll.lower()}_efficiency_response.png")
    return res


# -- toy analyses --------------------------------------------------------------------------------

def _pair_mass(a, b):
    pt1, eta1, phi1 = a.pt, a.eta, a.phi
    pt2, eta2, phi2 = b.pt, b.eta, b.phi
    return np.sqrt(np.maximum(2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2)), 0.0))


def toy_zmumu(events: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """(selected mask (E,), m_mumu (E,)): two opposite-charge medium isolated muons, pT > 20, |eta| < 2.4."""
    mu = events.Muon
    good = mu[(mu.pt > 20) & (abs(mu.eta) < 2.4) & (mu.pfRelIso04_all < 0.25) & mu.mediumId]
    two = ak.num(good) >= 2
    padded = ak.pad_none(good, 2)
    m = ak.to_numpy(ak.fill_none(_pair_mass(padded[:, 0], padded[:, 1]), 0.0)).astype(np.float64)
    q = ak.to_numpy(ak.fill_none(padded[:, 0].charge * padded[:, 1].charge, 0))
    sel = ak.to_numpy(two) & (q < 0) & (m > 70) & (m < 110)
    return sel, m


def toy_ttbar(events: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """(selected mask, HT of the selected jets): one tight isolated muon pT > 25, >= 4 jets pT > 30,
    |eta| < 2.4, jetId >= 2, >= 1 with btag > 0.5; no second loose muon."""
    mu = events.Muon
    tight = mu[(mu.pt > 25) & (abs(mu.eta) < 2.4) & (mu.pfRelIso04_all < 0.15) & mu.tightId]
    loose = mu[(mu.pt > 10) & (mu.pfRelIso04_all < 0.25)]
    j = events.Jet
    jets = j[(j.pt > 30) & (abs(j.eta) < 2.4) & (j.jetId >= 2)]
    nb = ak.sum(jets.btag > 0.5, axis=1)
    sel = (ak.num(tight) == 1) & (ak.num(loose) == 1) & (ak.num(jets) >= 4) & (nb >= 1)
    return ak.to_numpy(sel), ak.to_numpy(ak.sum(jets.pt, axis=1)).astype(np.float64)


_TOYS = {"zmumu": (toy_zmumu, "m(mu mu) [GeV]", np.linspace(70, 110, 21)),
         "ttbar": (toy_ttbar, "HT of selected jets [GeV]", np.linspace(120, 1000, 12))}


def _toy(name, flash: _Sample, full: _Sample, ref: _Sample | None, out: Path) -> dict[str, Any]:
    fn, xlabel, edges = _TOYS[name]
    res: dict[str, Any] = {}
    cols = {}
    for label, s in (("flash", flash), ("full", full), ("ref", ref)):
        if s is None:
            continue
        sel, x = fn(s.events)
        h = fold_histogram(np.zeros(int(sel.sum())), s.fold[sel], np.array([-1.0, 1.0]),
                           weights=s.weight[sel] * s.oversample, oversample=s.oversample)
        res[label] = {"yield": float(h.values[0]), "error": float(np.sqrt(h.variances[0])),
                      "naive_error": float(np.sqrt(h.naive_variances[0]))}
        cols[label] = _hist(x[sel], s.weight[sel], s.fold[sel], edges, s.oversample)
    d = res["flash"]["yield"] - res["full"]["yield"]
    sig = np.hypot(res["flash"]["error"], res["full"]["error"])
    res["difference"] = d
    res["pull"] = float(d / sig) if sig > 0 else None
    res["agree_within_stat"] = bool(abs(d) <= sig)
    fv, fe = cols["flash"]
    uv, ue = cols["full"]
    ok = (fe > 0) | (ue > 0)
    chi2 = float(np.sum(((fv - uv)[ok]) ** 2 / (fe[ok] ** 2 + ue[ok] ** 2)))
    res["shape_chi2"], res["shape_ndf"] = chi2, int(ok.sum())
    spec = {"edges": edges, "kind": "lin", "flash": cols["flash"], "full": cols["full"],
            "subtitle": f"yield Flash {res['flash']['yield']:.1f} ± {res['flash']['error']:.1f}, "
                        f"Full {res['full']['yield']:.1f} ± {res['full']['error']:.1f}"}
    if "ref" in cols:
        spec["ref"] = cols["ref"]
    _grid_plot(f"toy analysis {name}", {xlabel: spec}, out / f"toy_{name}.png")
    return res


def validate(flash: list[str], full: list[str], reference: list[str] | None, out: str | os.PathLike,
             config: ValidateConfig = ValidateConfig(), progress: bool = True) -> dict[str, Any]:
    """Compare FlashSim with the full simulation; writes report.md, metrics.json and PNGs under ``out``.

    ``out`` appears whole or not at all (built aside, renamed into place on success).
    """
    with atomic_dir(out) as tmp:
        return _validate(flash, full, reference, tmp, config, progress)


def _validate(flash: list[str], full: list[str], reference: list[str] | None, out: Path, config: ValidateConfig,
              progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    fl, fu = _load(flash), _load(full)
    ref = _load(reference) if reference else None
    if fu.oversample != 1:
        raise ValueError("the Full inputs carry an oversampling factor; pass full-simulation nano files as --full")
    n_gen_flash = len(np.unique(fl.fold))
    metrics: dict[str, Any] = {"n_events": {"flash": len(fl.events), "full": len(fu.events),
                                            "reference": len(ref.events) if ref else 0},
                               "oversample": fl.oversample, "generator_events_flash": n_gen_flash,
                               "collections": {}, "toys": {}, "auc_target": config.auc_target}
    shared = set(map(int, np.unique(fl.fold))) & set(map(int, np.unique(fu.fold)))
    metrics["shared_generator_events"] = len(shared)
    steps = [*VARIABLES, "event"]
    for coll in tqdm(steps, desc="validate", unit="collection", disable=not progress):
        if coll == "event":
            fc, uc = _event_columns(fl), _event_columns(fu)
            rc = _event_columns(ref) if ref else None
            fw, ff, uw, uf = fl.weight, fl.fold, fu.weight, fu.fold
            rw, rf = (ref.weight, ref.fold) if ref else (None, None)
            spec = EVENT_VARIABLES
        else:
            fc, fw, ff = _objects(fl, coll)
            uc, uw, uf = _objects(fu, coll)
            rc, rw, rf = _objects(ref, coll) if ref else (None, None, None)
            spec = VARIABLES[coll]
        names = [n for n in spec if n in fc and n in uc]
        entry: dict[str, Any] = {"n_flash": float(np.sum(fw)), "n_full": float(np.sum(uw)),
                                 "n_flash_entries": int(len(next(iter(fc.values()))) if fc else 0)}
        if len(uw) < 10 or len(fw) < 10:
            entry["note"] = "too few objects to compare"
            metrics["collections"][coll] = entry
            continue
        # Wasserstein (flash subsampled to the full size, so the floor from an equal-size reference applies)
        wt = wasserstein_table({n: fc[n] for n in names}, {n: uc[n] for n in names},
                               {n: rc[n] for n in names}
                               if rc is not None and len(cast(np.ndarray, rw)) >= 10 else None,  # rw is set with rc
                               seed=config.seed)
        entry["wasserstein"] = wt
        cols = _compare_columns(fc, fw, ff, uc, uw, uf, rc, rw, rf, spec, fl.oversample, wt)
        _grid_plot(f"{coll}: Flash vs Full", cols, out / f"{coll.lower()}_variables.png")
        cn, full_corr = correlation_matrix({n: uc[n] for n in names})
        _, flash_corr = correlation_matrix({n: fc[n] for n in names})
        plot_correlations(cn, flash_corr, full_corr, out / f"{coll.lower()}_correlations.png", title=coll)
        diff = np.abs(np.nan_to_num(flash_corr - full_corr))
        entry["correlation"] = {"names": cn, "full": np.nan_to_num(full_corr).tolist(),
                                "flash": np.nan_to_num(flash_corr).tolist(), "max_abs_diff": float(diff.max())}
        entry["c2st"] = _c2st(fc, uc, names, config, coll)
        metrics["collections"][coll] = entry
    for coll in _RESPONSE:
        metrics.setdefault("efficiency_response", {})[coll] = _efficiency_response({"flash": fl, "full": fu}, coll, out)
    for name in config.toys:
        metrics["toys"][name] = _toy(name, fl, fu, ref, out)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1, default=float))
    atomic_write_text(out / "report.md", _report(metrics))
    return metrics


def _fmt(x, f=".3f"):
    return "–" if x is None else format(x, f)


def _report(m: dict[str, Any]) -> str:
    lines = ["# FlashSim validation: Flash vs Full", "",
             f"Flash: {m['n_events']['flash']} events ({m['generator_events_flash']} generator events x "
             f"K = {m['oversample']}); Full: {m['n_events']['full']} events; independent Full reference: "
             f"{m['n_events']['reference']} events. Generator events shared by Flash and Full: "
             f"{m['shared_generator_events']}.", "",
             "## Classifier two-sample tests (held-out ROC AUC; 0.5 = indistinguishable; target <= "
             f"{m['auc_target']})", "", "| objects | features | AUC | ± | pass |", "|---|---|---|---|---|"]
    for coll, e in m["collections"].items():
        c = e.get("c2st", {})
        if c.get("auc") is None:
            lines.append(f"| {coll} | – | – | – | {e.get('note', c.get('note', ''))} |")
            continue
        lines.append(f"| {coll} | {len(c['features'])} | {c['auc']:.3f} | {c['auc_err']:.3f} | "
                     f"{'yes' if c['pass'] else 'no'} |")
    lines += ["", "## Wasserstein distance / statistical floor (Full vs independent Full)", "",
              "| objects | variable | W(Flash, Full) | floor | ratio |", "|---|---|---|---|---|"]
    for coll, e in m["collections"].items():
        for v, w in e.get("wasserstein", {}).items():
            lines.append(f"| {coll} | {v} | {_fmt(w['w'], '.4f')} | {_fmt(w['floor'], '.4f')} | {_fmt(w['ratio'], '.2f')} |")
    lines += ["", "Distances are in units of the Full inter-quartile range. A ratio near 1 means Flash is as "
              "close to Full as an independent Full sample; Flash and Full here share generator events, so the "
              "floor (independent generator events) is conservative.", "",
              "## Correlations", "", "| objects | max abs(Flash - Full) |", "|---|---|"]
    for coll, e in m["collections"].items():
        if "correlation" in e:
            lines.append(f"| {coll} | {e['correlation']['max_abs_diff']:.3f} |")
    lines += ["", "## Toy analyses", "", "| analysis | Flash yield | Full yield | reference yield | pull | within stat. | "
              "shape chi2/ndf |", "|---|---|---|---|---|---|---|"]
    for name, t in m["toys"].items():
        r = t.get("ref")
        ref_txt = f"{r['yield']:.1f} ± {r['error']:.1f}" if r else "–"
        lines.append(f"| {name} | {t['flash']['yield']:.1f} ± {t['flash']['error']:.1f} (naive ± "
                     f"{t['flash']['naive_error']:.1f}) | {t['full']['yield']:.1f} ± {t['full']['error']:.1f} | "
                     f"{ref_txt} | {_fmt(t['pull'], '.2f')} | "
                     f"{'yes' if t['agree_within_stat'] else 'no'} | {t['shape_chi2']:.1f}/{t['shape_ndf']} |")
    lines += ["", "Flash uncertainties treat the K replicas of one generator event as a fold "
              "(sigma^2 = sum_e (w_e n_e / K)^2); 'naive' is the per-entry sum of squared weights.", "",
              "## Plots", ""]
    for coll in m["collections"]:
        lines.append(f"- {coll}: `{coll.lower()}_variables.png`, `{coll.lower()}_correlations.png`")
    for name in m["toys"]:
        lines.append(f"- toy {name}: `toy_{name}.png`")
    for coll in m.get("efficiency_response", {}):
        lines.append(f"- {coll} efficiency, response and resolution against the generator objects: "
                     f"`{coll.lower()}_efficiency_response.png`")
    return "\n".join(lines) + "\n"
