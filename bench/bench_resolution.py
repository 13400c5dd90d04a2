"""Single-particle performance of the detector simulation, next to the CMS figures.

Fires particle guns from the beam spot through a detector card and measures, per point:

* tracks (pions, muons, electrons at pT = 1, 10, 100 GeV; barrel |eta| < 0.9 and endcap
  1.6 < eta < 2.4): efficiency, sigma(pT)/pT, sigma(d0), sigma(dz), muon-chamber hits;
* photons (E = 5-100 GeV, |eta| < 0.3): response and resolution of the ECAL ``e_corr``,
  summed over the clusters linked to the photon, and the fraction of conversion-like photons;
* electrons (E = 10, 50 GeV, |eta| < 0.3): E/p of the linked ECAL clusters;
* K0L and charged pions (E = 5-300 GeV, |eta| < 0.3): raw ECAL+HCAL cone response and
  resolution, and after the PF hadron calibration when the card has one;
* muons (10 GeV, |eta| < 0.3): MIP deposits in the ECAL and HCAL clusters.

The photon and hadron resolutions are fitted to S/sqrt(E) (+) N/E (+) C. "Gaussian core" is
the iterated Gaussian fit within +-2 sigma of :func:`colliderflow.physics.resolution.summarise_response`;
"robust" widths are IQR / 1.349. Writes bench/results/resolution_<card>.json, four PNGs
docs/figures/resolution_<card>_*.png and the 'resolution' section of docs/benchmarks.md
(a table per card with results).

    python bench/bench_resolution.py [--detector cms-like] [--events 1000] [--quick] [--plots-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, update_doc_section, write_result  # noqa: E402

ROOT = Path(__file__).parent.parent
FIGURES = ROOT / "docs" / "figures"

TRACK_PT = (1.0, 10.0, 100.0)
TRACK_REGIONS = {"barrel": (-0.9, 0.9), "endcap": (1.6, 2.4)}
#: particles per tracking event: tracks do not interact with each other, so several share an event
TRACK_PER_EVENT = 10
CALO_ETA = (-0.3, 0.3)
PHOTON_E = (5.0, 10.0, 20.0, 50.0, 100.0)
ELECTRON_E = (10.0, 50.0)
HADRON_E = (5.0, 10.0, 20.0, 50.0, 100.0, 300.0)
MUON_E = 10.0

#: CMS figures quoted for comparison
CMS = {
    "track_pt_res": {"barrel": {1.0: "≈ 1 %", 10.0: "≈ 1 %", 100.0: "1.5–2 %"},
                     "endcap": {1.0: "> barrel", 10.0: "> barrel", 100.0: "> barrel"}},
    "track_eff": {"mu": "≈ 99 %", "pi": "90–95 %", "e": "≈ 90 %"},
    "ecal": {"S": 0.03, "N": 0.12, "C": 0.003, "source": "CMS ECAL test beam, JINST 3 (2008) S08004"},
    "hadron": {"S": 1.0, "N": 0.0, "C": 0.05, "source": "CMS PF, JINST 12 (2017) P10003 (ECAL+HCAL, calibrated)"},
}


def _seed(label: str) -> int:
    return zlib.crc32(label.encode()) % 1_000_000


def _source(particle: str, pt: float, eta: tuple[float, float], per_event: int, seed: int):
    from colliderflow.generate.guns import GunConfig
    from colliderflow.generate.source import EventSource, GenerationConfig

    return EventSource(GenerationConfig(process="gun", seed=seed, gun=GunConfig(particle, pt, pt, *eta, per_event)))


def _robust_width(x: np.ndarray) -> float:
    from colliderflow.physics.resolution import IQR_TO_SIGMA

    if len(x) < 10:
        return float("nan")
    q25, q75 = np.percentile(x, [25, 75])
    return float((q75 - q25) / IQR_TO_SIGMA)


def _core(r: np.ndarray) -> dict:
    """Response summary: median, Gaussian-core mean and sigma/mean (with error), robust sigma/median."""
    from colliderflow.physics.resolution import summarise_response

    s = summarise_response(r[np.isfinite(r) & (r > 0)])
    return {"n": s.n, "median": s.median, "mean_core": s.gauss_mean, "res_core": s.gauss_sigma_over_mean,
            "res_core_err": s.gauss_sigma_over_mean_err, "res_robust": s.iqr_resolution,
            "res_robust_err": s.iqr_resolution_err}


# ---------------------------------------------------------------------------------------------
# Measurements


def track_point(card, particle: str, pt: float, region: str, events: int) -> dict:
    """Efficiency and resolutions of the tracks of one gun point (tracker simulation only).

    ``propagate_and_track`` is the first stage of ``simulate_event`` and draws first from the
    event stream, so the tracks are the ones the full simulation would give.
    """
    from colliderflow.simulate.helix import Helix, closest_approach
    from colliderflow.simulate.tracking import propagate_and_track
    from colliderflow.utils.rng import event_rng

    seed = _seed(f"track-{particle}-{pt}-{region}")
    src = _source(particle, pt, TRACK_REGIONS[region], TRACK_PER_EVENT, seed)
    found, r_pt, d_d0, d_dz, dt, csc = [], [], [], [], [], []
    for i in range(events):
        p = src.generate(i).particles
        trk = propagate_and_track(p, card.geometry, card.tracker, card.material, card.muon,
                                  event_rng(seed, i, "simulate"))
        true = closest_approach(Helix.from_momentum(p.vx, p.vy, p.vz, p.px, p.py, p.pz, p.charge,
                                                    card.geometry.b_field))
        link = trk.track_particle
        for k in range(len(p)):
            j = np.flatnonzero(link == k)
            found.append(j.size > 0)
            if j.size:
                t = {name: trk.tracks[name][j[0]] for name in ("pt", "d0", "dz", "muon_dt_hits", "muon_csc_hits")}
                r_pt.append(t["pt"] / np.hypot(p.px[k], p.py[k]))
                d_d0.append(t["d0"] - true.d0[k])
                d_dz.append(t["dz"] - true.z0[k])
                dt.append(t["muon_dt_hits"])
                csc.append(t["muon_csc_hits"])
    n, eff = len(found), float(np.mean(found))
    out = {"particle": particle, "pt": pt, "region": region, "n": n, "efficiency": eff,
           "efficiency_err": float(np.sqrt(eff * (1 - eff) / n)), "pt_res": _core(np.asarray(r_pt)),
           "d0_res_um": 1e4 * _robust_width(np.asarray(d_d0)), "dz_res_um": 1e4 * _robust_width(np.asarray(d_dz))}
    if particle == "mu":
        dt, csc = np.asarray(dt), np.asarray(csc)
        out["muon_hits"] = {"dt_mean": float(dt.mean()), "csc_mean": float(csc.mean()),
                            "any_hit_fraction": float(np.mean(dt + csc > 0))}
    return out


def _simulated(card, particle: str, energy: float, events: int, label: str):
    """Full simulation of single-particle events in the calorimeter band: (particles, SimEvent) pairs."""
    from colliderflow.simulate.detector import simulate_event
    from colliderflow.utils.rng import event_rng

    seed = _seed(label)
    src = _source(particle, energy, CALO_ETA, 1, seed)
    for i in range(events):
        p = src.generate(i).particles
        yield p, simulate_event(p, card, event_rng(seed, i, "simulate"))


def _linked(sim, element_type: int) -> np.ndarray:
    """Indices of the elements of ``element_type`` linked to generator particle 0."""
    idx = np.unique(sim.link_element[sim.link_particle == 0])
    return idx[sim.elements["type"][idx] == element_type]


def photon_point(card, energy: float, events: int) -> dict:
    from colliderflow.schema.elements import ELEMENT_ECAL
    from colliderflow.simulate.material import conversion_probability, radiation_length_budget

    r_sum, r_lead, converted, e_true, eta = [], [], [], [], []
    for p, sim in _simulated(card, "gamma", energy, events, f"photon-{energy}"):
        ecal = _linked(sim, ELEMENT_ECAL)
        e = sim.elements["e_corr"][ecal]
        r_sum.append(e.sum() / p.energy[0])
        r_lead.append(e.max(initial=0.0) / p.energy[0])
        converted.append(ecal.size > 1 or bool(np.any(sim.track_particle == 0)))
        e_true.append(p.energy[0])
        eta.append(p.eta[0])
    r_sum, r_lead, converted = np.asarray(r_sum), np.asarray(r_lead), np.asarray(converted)
    expected = conversion_probability(radiation_length_budget(np.asarray(eta), card.material))
    return {"energy": energy, "e_true_mean": float(np.mean(e_true)), "n": len(r_sum),
            "sum": _core(r_sum), "leading": _core(r_lead), "unconverted_sum": _core(r_sum[~converted]),
            "conversion_like_fraction": float(converted.mean()),
            "conversion_expected_fraction": float(expected.mean()),
            "no_cluster_fraction": float(np.mean(r_sum <= 0))}


def electron_point(card, energy: float, events: int) -> dict:
    from colliderflow.schema.elements import ELEMENT_ECAL

    ep_sum, ep_lead, tracked = [], [], []
    for _, sim in _simulated(card, "e", energy, events, f"electron-{energy}"):
        trk = np.flatnonzero(sim.track_particle == 0)
        tracked.append(trk.size > 0)
        if not trk.size:
            continue
        x = sim.elements
        p_track = x["pt"][trk[0]] * np.cosh(x["eta"][trk[0]])
        e = x["e_corr"][_linked(sim, ELEMENT_ECAL)]
        ep_sum.append(e.sum() / p_track)
        ep_lead.append(e.max(initial=0.0) / p_track)
    return {"energy": energy, "n": len(tracked), "track_efficiency": float(np.mean(tracked)),
            "ep_sum": _core(np.asarray(ep_sum)), "ep_leading": _core(np.asarray(ep_lead)),
            "ep_sum_values": np.round(ep_sum, 4).tolist()}


def hadron_point(detector: str, particle: str, energy: float, events: int, calib) -> dict:
    """Raw and PF-calibrated ECAL+HCAL cone energies (the cones of the calibration derivation)."""
    from colliderflow.pf.derive import gun_calorimeter_response

    d = gun_calorimeter_response(detector, particle, events, _seed(f"hadron-{particle}-{energy}"),
                                 pt_range=(energy, energy), eta_max=CALO_ETA[1], progress=False)
    raw = d["e_ecal"] + d["e_hcal"]
    out = {"particle": particle, "energy": energy, "e_true_mean": float(d["e_true"].mean()), "n": events,
           "raw": _core(raw / d["e_true"]), "no_energy_fraction": float(np.mean(raw <= 0)),
           "ecal_fraction_median": float(np.median(d["e_ecal"][raw > 0] / raw[raw > 0]))}
    if calib is not None:
        out["calibrated"] = _core(calib.energy(d["e_ecal"], d["e_hcal"], d["eta"]) / d["e_true"])
    return out


def muon_point(card, events: int) -> dict:
    from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_HCAL

    ecal, hcal = [], []
    for _, sim in _simulated(card, "mu", MUON_E, events, "muon-mip"):
        ecal.append(sim.elements["energy"][_linked(sim, ELEMENT_ECAL)].sum())
        hcal.append(sim.elements["energy"][_linked(sim, ELEMENT_HCAL)].sum())
    ecal, hcal = np.asarray(ecal), np.asarray(hcal)
    return {"energy": MUON_E, "n": events,
            "ecal_cluster_fraction": float(np.mean(ecal > 0)), "hcal_cluster_fraction": float(np.mean(hcal > 0)),
            "ecal_median": float(np.median(ecal[ecal > 0])) if np.any(ecal > 0) else float("nan"),
            "hcal_median": float(np.median(hcal[hcal > 0])) if np.any(hcal > 0) else float("nan"),
            "ecal_mpv_card": card.ecal.mip_mpv, "hcal_mpv_card": card.hcal.mip_mpv,
            "ecal_values": np.round(ecal, 4).tolist(), "hcal_values": np.round(hcal, 4).tolist()}


def fit_resolution(energy: np.ndarray, res: np.ndarray, err: np.ndarray) -> dict:
    """S, N, C of (sigma/E)^2 = S^2/E + N^2/E^2 + C^2 by non-negative least squares, weighted by
    the uncertainty of (sigma/E)^2."""
    from scipy.optimize import nnls

    ok = np.isfinite(res) & np.isfinite(err) & (err > 0)
    e, r, w = energy[ok], res[ok], 1.0 / (2.0 * res[ok] * err[ok])
    if ok.sum() < 3:
        return {"S": float("nan"), "N": float("nan"), "C": float("nan")}
    coef, _ = nnls(np.column_stack([1.0 / e, 1.0 / e**2, np.ones_like(e)]) * w[:, None], r**2 * w)
    s, n, c = np.sqrt(coef)
    return {"S": float(s), "N": float(n), "C": float(c)}


def resolution_curve(e: np.ndarray, terms: dict) -> np.ndarray:
    return np.sqrt(terms["S"] ** 2 / e + terms["N"] ** 2 / e**2 + terms["C"] ** 2)


# ---------------------------------------------------------------------------------------------
# Plots


def _axes(nrows: int, ncols: int, size: tuple[float, float]):
    import matplotlib.pyplot as plt
    import mplhep as hep

    from colliderflow.plotting import LABEL

    plt.style.use(hep.style.CMS)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    for ax in axes.flat:
        hep.label.exp_text("", LABEL, ax=ax, loc=0, fontsize=13)
        ax.tick_params(labelsize=14)
    return fig, axes


_STYLE = {("pi", "barrel"): ("C0", "o"), ("pi", "endcap"): ("C0", "s"), ("mu", "barrel"): ("C1", "o"),
          ("mu", "endcap"): ("C1", "s"), ("e", "barrel"): ("C2", "o"), ("e", "endcap"): ("C2", "s")}
_NAMES = {"pi": "π±", "mu": "μ±", "e": "e±", "k0l": "K0L", "gamma": "γ"}
#: the same in matplotlib mathtext (the plot font lacks some of the glyphs above)
_TEX = {"pi": r"$\pi^\pm$", "mu": r"$\mu^\pm$", "e": r"$e^\pm$", "k0l": r"$K^0_L$", "gamma": r"$\gamma$"}
_OPLUS = r" $\oplus$ "


def _plain_ticks(ax) -> None:
    """Plain numbers instead of powers of ten on a log axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_tracks(tracks: list[dict], path: Path, card: str) -> Path:
    from colliderflow.plotting import save

    fig, axes = _axes(2, 2, (16, 13))
    panels = [("pt_res", r"$\sigma(p_\mathrm{T})/p_\mathrm{T}$ (Gaussian core) [%]"), ("efficiency", "tracking efficiency"),
              ("d0_res_um", r"$\sigma(d_0)$ (IQR/1.349) [$\mu$m]"), ("dz_res_um", r"$\sigma(d_z)$ (IQR/1.349) [$\mu$m]")]
    for ax, (key, ylabel) in zip(axes.flat, panels):
        for (particle, region), (colour, marker) in _STYLE.items():
            pts = [t for t in tracks if t["particle"] == particle and t["region"] == region]
            if key == "pt_res" and particle == "e":
                continue  # the GSF-like tail makes electron pT resolution a different quantity
            x = [t["pt"] for t in pts]
            if key == "pt_res":
                y = [100 * t["pt_res"]["res_core"] for t in pts]
                yerr = [100 * t["pt_res"]["res_core_err"] for t in pts]
            elif key == "efficiency":
                y, yerr = [t["efficiency"] for t in pts], [t["efficiency_err"] for t in pts]
            else:
                y, yerr = [t[key] for t in pts], None
            ax.errorbar(x, y, yerr=yerr, color=colour, marker=marker, ls="-" if region == "barrel" else "--",
                        label=f"{_TEX[particle]} {region}", markersize=8)
        ax.set_xscale("log")
        ax.set_xlabel(r"$p_\mathrm{T}$ [GeV]", fontsize=16)
        ax.set_ylabel(ylabel, fontsize=16)
    ax = axes[0, 0]
    ax.fill_between([0.8, 12], 0.8, 1.2, color="grey", alpha=0.3, label="CMS barrel ≈ 1 %")
    ax.fill_between([80, 125], 1.5, 2.0, color="grey", alpha=0.6, label="CMS barrel 1.5–2 %")
    ax.set_ylim(0, None)
    ax = axes[0, 1]
    ax.axhspan(0.90, 0.95, color="C0", alpha=0.15, label=r"CMS $\pi^\pm$ 90–95 %")
    ax.axhline(0.99, color="C1", ls=":", label=r"CMS $\mu^\pm$ ≈ 99 %")
    ax.set_ylim(0.6, 1.02)
    for ax in axes[1]:
        ax.set_yscale("log")
        _plain_ticks(ax)
    for ax in axes.flat:
        ax.legend(fontsize=11, ncol=2)
    fig.suptitle(f"Tracks, detector card {card}", fontsize=18)
    return save(fig, path)


def plot_calo(points: list[dict], series: list[tuple[str, str, str]], fits: dict, reference: dict,
              ref_label: str, path: Path, title: str) -> Path:
    """Response (top) and resolution (bottom) vs energy; ``series`` = (point key, particle, label)."""
    from colliderflow.plotting import save

    fig, axes = _axes(2, 1, (10, 13))
    top, bottom = axes[:, 0]
    e_line = np.geomspace(3, 400, 200)
    for k, (key, particle, label) in enumerate(series):
        pts = [p for p in points if p.get("particle", "gamma") == particle and key in p]
        if not pts:
            continue
        e = np.array([p["e_true_mean"] for p in pts])
        summary = [p[key] for p in pts]
        colour = f"C{k}"
        top.errorbar(e, [s["mean_core"] for s in summary], color=colour, marker="o", label=label, markersize=8)
        bottom.errorbar(e, [100 * s["res_core"] for s in summary], yerr=[100 * s["res_core_err"] for s in summary],
                        color=colour, marker="o", ls="none", markersize=8, label=label)
        fit = fits.get(f"{particle}:{key}")
        if fit:
            bottom.plot(e_line, 100 * resolution_curve(e_line, fit), color=colour, ls="-",
                        label=f"{label} fit: {100 * fit['S']:.1f}%/√E" + _OPLUS
                        + f"{fit['N']:.2f}/E{_OPLUS}{100 * fit['C']:.2f}%")
    bottom.plot(e_line, 100 * resolution_curve(e_line, reference), color="k", ls="--", label=ref_label)
    top.axhline(1.0, color="grey", ls=":")
    top.set_ylabel(r"response (Gaussian-core mean of $E/E_\mathrm{true}$)", fontsize=15)
    bottom.set_ylabel(r"$\sigma(E)/E$ (Gaussian core) [%]", fontsize=15)
    for ax in (top, bottom):
        ax.set_xscale("log")
        ax.set_xlabel(r"$E_\mathrm{true}$ [GeV]", fontsize=16)
        ax.legend(fontsize=11)
    bottom.set_yscale("log")
    _plain_ticks(bottom)
    top.set_title(title, fontsize=16, loc="right")
    return save(fig, path)


def plot_leptons(electrons: list[dict], muon: dict, path: Path, card: str) -> Path:
    from colliderflow.plotting import save

    fig, axes = _axes(1, 3, (24, 8))
    ax = axes[0, 0]
    for k, el in enumerate(electrons):
        ax.hist(el["ep_sum_values"], bins=np.linspace(0.6, 1.6, 61), histtype="step", lw=2, color=f"C{k}",
                density=True, label=f"{_TEX['e']}, E = {el['energy']:g} GeV")
    ax.set_xlabel(r"$E$(linked ECAL clusters, e_corr) / $p$(track)", fontsize=16)
    ax.set_ylabel("density", fontsize=16)
    for ax, (name, top, mpv) in zip(axes[0, 1:], (("ecal", 1.0, muon["ecal_mpv_card"]),
                                                  ("hcal", 6.0, muon["hcal_mpv_card"]))):
        v = np.asarray(muon[f"{name}_values"])
        ax.hist(v[v > 0], bins=np.linspace(0, top, 61), histtype="step", lw=2, color="C1",
                label=f"{_TEX['mu']}, {MUON_E:g} GeV: {100 * muon[f'{name}_cluster_fraction']:.0f} % with a "
                      f"cluster, median {muon[f'{name}_median']:.2f} GeV")
        ax.axvline(mpv, color="k", ls="--", label=f"card MIP MPV {mpv:g} GeV")
        ax.set_xlabel(f"raw {name.upper()} cluster energy linked to the muon [GeV]", fontsize=16)
        ax.set_ylabel("muons", fontsize=16)
    for ax in axes.flat:
        ax.set_ylim(0, 1.3 * ax.get_ylim()[1])  # room for the legend
        ax.legend(fontsize=12)
    fig.suptitle(f"Electron E/p and muon MIP deposits, |η| < {CALO_ETA[1]}, card {card}", fontsize=18)
    return save(fig, path)


# ---------------------------------------------------------------------------------------------
# Tables


def _pct(s: dict, key: str = "res_core") -> str:
    v = s.get(key, float("nan"))
    return "–" if not np.isfinite(v) else f"{100 * v:.2f}"


def markdown(r: dict) -> str:
    """Markdown tables of one result payload."""
    name, cal = r["card"], r["calibration"]
    lines = [f"### Detector card `{name}` ({r['events']} events per point{', quick' if r['quick'] else ''})", "",
             "Tracks (Gaussian-core σ(pT)/pT, robust = IQR/1.349; d0 and dz residuals to the true helix, robust):", "",
             "| particle | region | pT [GeV] | efficiency | σ(pT)/pT core [%] | robust [%] | σ(d0) [µm] | σ(dz) [µm] | CMS σ(pT)/pT | CMS efficiency |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for t in r["tracks"]:
        cms_res = CMS["track_pt_res"][t["region"]][t["pt"]] if t["particle"] != "e" else "–"
        lines.append(f"| {_NAMES[t['particle']]} | {t['region']} | {t['pt']:g} | {100 * t['efficiency']:.1f} % | "
                     f"{_pct(t['pt_res'])} | {_pct(t['pt_res'], 'res_robust')} | {t['d0_res_um']:.0f} | "
                     f"{t['dz_res_um']:.0f} | {cms_res} | {CMS['track_eff'][t['particle']]} |")
    lines += ["", f"Photons, |η| < {CALO_ETA[1]}: `e_corr` summed over the ECAL clusters linked to the photon "
              "(leading: the largest one); conversion-like = more than one linked ECAL cluster or a linked track.", "",
              "| E [GeV] | response | σ/E core [%] | robust [%] | unconverted-like [%] | leading cluster [%] | "
              "conversion-like | P(conversion) from material | CMS [%] |", "|---|---|---|---|---|---|---|---|---|"]
    for p in r["photons"]:
        cms = 100 * resolution_curve(np.array(p["e_true_mean"]), CMS["ecal"])
        lines.append(f"| {p['energy']:g} | {p['sum']['mean_core']:.3f} | {_pct(p['sum'])} | "
                     f"{_pct(p['sum'], 'res_robust')} | {_pct(p['unconverted_sum'])} | {_pct(p['leading'])} | "
                     f"{100 * p['conversion_like_fraction']:.0f} % | {100 * p['conversion_expected_fraction']:.0f} % | "
                     f"{cms:.2f} |")
    lines += ["", "Electrons, |η| < 0.3: E/p with E the summed `e_corr` of the linked ECAL clusters:", "",
              "| E [GeV] | track efficiency | median E/p | core mean | σ core [%] | median E/p, leading cluster |",
              "|---|---|---|---|---|---|"]
    for e in r["electrons"]:
        lines.append(f"| {e['energy']:g} | {100 * e['track_efficiency']:.1f} % | {e['ep_sum']['median']:.3f} | "
                     f"{e['ep_sum']['mean_core']:.3f} | {_pct(e['ep_sum'])} | {e['ep_leading']['median']:.3f} |")
    cal_note = "PF calibration applied" if cal else "no PF calibration for this card yet: raw only"
    lines += ["", f"Hadrons, |η| < 0.3: raw ECAL (ΔR < 0.3) + HCAL (ΔR < 0.4) cluster energy; {cal_note}:", "",
              "| particle | E [GeV] | raw response | raw σ/E core [%] | raw robust [%] | calibrated response | "
              "calibrated σ/E core [%] | no energy | CMS calibrated [%] |", "|---|---|---|---|---|---|---|---|---|"]
    for h in r["hadrons"]:
        c = h.get("calibrated")
        cms = 100 * resolution_curve(np.array(h["e_true_mean"]), CMS["hadron"])
        calibrated = f"{c['mean_core']:.3f} | {_pct(c)}" if c else "– | –"
        lines.append(f"| {_NAMES[h['particle']]} | {h['energy']:g} | {h['raw']['mean_core']:.3f} | {_pct(h['raw'])} | "
                     f"{_pct(h['raw'], 'res_robust')} | {calibrated} | {100 * h['no_energy_fraction']:.1f} % | "
                     f"{cms:.1f} |")
    lines += ["", "Fits of the Gaussian-core resolution to S/√E ⊕ N/E ⊕ C (E in GeV):", "",
              "| sample | S [%·√GeV] | N [GeV] | C [%] | CMS S | CMS N | CMS C |", "|---|---|---|---|---|---|---|"]
    for key, fit in r["fits"].items():
        ref = CMS["ecal"] if key.startswith("gamma") else CMS["hadron"]
        lines.append(f"| {key} | {100 * fit['S']:.1f} | {fit['N']:.2f} | {100 * fit['C']:.2f} | "
                     f"{100 * ref['S']:.0f} | {ref['N']:.2f} | {100 * ref['C']:.1f} |")
    m = r["muons"]
    hits = [t for t in r["tracks"] if t["particle"] == "mu"]
    lines += ["", f"Muons ({m['energy']:g} GeV, |η| < 0.3): a linked ECAL cluster in {100 * m['ecal_cluster_fraction']:.0f} % "
              f"(median raw energy {m['ecal_median']:.2f} GeV, card MIP MPV {m['ecal_mpv_card']:g} GeV), a linked HCAL "
              f"cluster in {100 * m['hcal_cluster_fraction']:.0f} % (median {m['hcal_median']:.2f} GeV, card MPV "
              f"{m['hcal_mpv_card']:g} GeV). Muon-chamber hits per track (mean DT / CSC): "
              + ", ".join(f"{t['region']} {t['pt']:g} GeV {t['muon_hits']['dt_mean']:.1f} / {t['muon_hits']['csc_mean']:.1f}"
                          for t in hits) + ".", "",
              f"Figures: `docs/figures/resolution_{name}_{{tracks,photons,hadrons,leptons}}.png`; "
              f"CPU time {r['cpu_seconds']:.0f} s."]
    return "\n".join(lines)


def update_docs() -> None:
    """Rebuild the 'resolution' section of docs/benchmarks.md from every resolution_*.json."""
    parts = ["## Single-particle resolution (bench/bench_resolution.py)", "",
             "Guns from the beam spot through each detector card; see docs/detector.md for the comparison "
             "with CMS. Regenerate with `python bench/bench_resolution.py --detector NAME`."]
    for path in sorted(RESULTS.glob("resolution_*.json")):
        parts += ["", markdown(json.loads(path.read_text()))]
    update_doc_section("resolution", "\n".join(parts))


# ---------------------------------------------------------------------------------------------


def run(detector: str, events: int, quick: bool) -> dict:
    from colliderflow.pf.calibration import load_calibration
    from colliderflow.simulate.card import card_hash, load_card

    card = load_card(detector)
    try:
        calib = load_calibration(card.name)
    except FileNotFoundError:
        calib = None
    t0 = time.process_time()

    def log(msg: str) -> None:
        print(f"[{time.process_time() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    tracks = []
    for particle in ("pi", "mu", "e"):
        for region in TRACK_REGIONS:
            for pt in TRACK_PT:
                tracks.append(track_point(card, particle, pt, region, events))
        log(f"tracks {particle}")
    photons = [photon_point(card, e, events) for e in PHOTON_E]
    log("photons")
    electrons = [electron_point(card, e, events) for e in ELECTRON_E]
    log("electrons")
    hadrons = [hadron_point(detector, particle, e, events, calib) for particle in ("k0l", "pi") for e in HADRON_E]
    log("hadrons")
    muons = muon_point(card, events)
    log("muons")

    fits = {}
    for key, pts in [("gamma:sum", [(p["e_true_mean"], p["sum"]) for p in photons]),
                     ("gamma:unconverted_sum", [(p["e_true_mean"], p["unconverted_sum"]) for p in photons])] + [
            (f"{particle}:{kind}", [(h["e_true_mean"], h[kind]) for h in hadrons if h["particle"] == particle])
            for particle in ("k0l", "pi") for kind in ("raw", "calibrated") if calib is not None or kind == "raw"]:
        e = np.array([x for x, _ in pts])
        fits[key] = fit_resolution(e, np.array([s["res_core"] for _, s in pts]),
                                   np.array([s["res_core_err"] for _, s in pts]))
    return {"card": card.name, "card_hash": card_hash(card), "events": events, "quick": quick,
            "calibration": calib is not None, "track_per_event": TRACK_PER_EVENT, "calo_eta": CALO_ETA,
            "tracks": tracks, "photons": photons, "electrons": electrons, "hadrons": hadrons, "muons": muons,
            "fits": fits, "cms": {k: v for k, v in CMS.items() if k in ("ecal", "hadron")},
            "cpu_seconds": time.process_time() - t0}


def write_outputs(r: dict) -> None:
    """Figures of one result payload, and the docs section of every card."""
    name, cal = r["card"], r["calibration"]
    FIGURES.mkdir(parents=True, exist_ok=True)
    plot_tracks(r["tracks"], FIGURES / f"resolution_{name}_tracks.png", name)
    plot_calo(r["photons"], [("sum", "gamma", r"$\gamma$ all"), ("unconverted_sum", "gamma", r"$\gamma$ unconverted-like")],
              r["fits"], CMS["ecal"], "CMS ECAL: 3%/√E" + _OPLUS + "0.12/E" + _OPLUS + "0.3%",
              FIGURES / f"resolution_{name}_photons.png",
              f"photons (Σ linked ECAL clusters), |η| < {CALO_ETA[1]}, card {name}")
    series = [("raw", "k0l", f"{_TEX['k0l']} raw"), ("raw", "pi", f"{_TEX['pi']} raw")]
    if cal:
        series += [("calibrated", "k0l", f"{_TEX['k0l']} calibrated"), ("calibrated", "pi", f"{_TEX['pi']} calibrated")]
    plot_calo(r["hadrons"], series, r["fits"], CMS["hadron"], "CMS PF hadrons: 100%/√E" + _OPLUS + "5%",
              FIGURES / f"resolution_{name}_hadrons.png", f"hadrons, ECAL+HCAL cones, |η| < {CALO_ETA[1]}, card {name}")
    plot_leptons(r["electrons"], r["muons"], FIGURES / f"resolution_{name}_leptons.png", name)
    update_docs()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", default="cms-like", help="shipped card name or card YAML (default: cms-like)")
    ap.add_argument("--events", type=int, help="events per point (default: 1000, 200 with --quick); "
                                               f"tracking points fire {TRACK_PER_EVENT} particles per event")
    ap.add_argument("--quick", action="store_true", help="a fast run: 200 events per point")
    ap.add_argument("--plots-only", action="store_true",
                    help="redraw the figures and the docs section from the existing JSON result (no simulation)")
    args = ap.parse_args()
    if args.plots_only:
        from colliderflow.simulate.card import load_card

        r = json.loads((RESULTS / f"resolution_{load_card(args.detector).name}.json").read_text())
    else:
        r = run(args.detector, args.events or (200 if args.quick else 1000), args.quick)
        write_result(f"resolution_{r['card']}", r)
    write_outputs(r)
    print(markdown(r))


if __name__ == "__main__":
    main()
