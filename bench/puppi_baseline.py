"""PF+PUPPI baseline: every figure of the issue "A baseline CMS would recognise", with its error.

Evaluation samples are the MLPF scoreboard's held-out samples (never used to tune PUPPI, whose
tuning samples are seeds 701-703 of bench/puppi_tune.py): ttbar with 55-75 pileup (seed 601)
and without pileup (603), 14 TeV; jet corrections for every collection from ``colliderflow
derive-jec`` on QCD with 55-75 pileup (605), and self-calibrated for the sample without pileup,
as in bench/mlpf_scoreboard.py. Runs ``colliderflow reconstruct --algo pf``, ``derive-jec`` and
``evaluate`` (which resume), reads metrics.json, prints the targets (met / not met), and writes
bench/results/puppi_baseline.json and the 'puppi' section of docs/benchmarks.md unless
``--no-write``.

    python bench/puppi_baseline.py --work data/scoreboard [--scale 1.0] [--jobs 2] [--no-write]

A study on other settings uses its own work directory (datasets and candidates resume by name):
``--detector CARD`` for every sample, ``--pf-config YAML`` and ``--calibration NAME`` for every PF
reconstruction, ``--no-write --json FILE`` to keep its results beside the shipped ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402
from colliderflow.utils.atomic import atomic_write_text  # noqa: E402
from mlpf_scoreboard import JEC_SAMPLES, SAMPLES, Workspace, _reco_args, _run  # noqa: E402

ROOT = Path(__file__).parent.parent
COLLECTIONS = ("PF", "PF+CHS", "PF+PUPPI")
#: the central PF+PUPPI jet resolution before this work (scoreboard, seed 601, 30-100 GeV, |eta| < 2.5)
BEFORE_CENTRAL = {"value": 0.144, "err": 0.003}


def evaluate_sample(ws: Workspace, name: str, jec_arg: str) -> dict:
    s = SAMPLES[name]
    ds = ws.dataset(s)
    recos = ws.reconstruct(ds, None)
    out = ws.root / "eval_puppi" / ds.name
    _run(["evaluate", "--dataset", str(ds), *_reco_args({"PF": recos["PF"]}), "--jec", jec_arg, "--out", str(out)])
    return json.loads((out / "metrics.json").read_text())


def _f(value, err) -> dict:
    return {"value": value, "err": err}


def figures(m: dict) -> dict:
    """The issue's figures of one evaluate metrics.json, per collection."""
    out = {}
    for c in COLLECTIONS:
        met, t1 = m["met"][c], m["met"][c]["type1"]
        jets = m["jets_30_100"][c]
        out[c] = {
            "met_res": _f(met["resolution_xy_gev"], met["resolution_xy_gev_err"]),
            "met_response": _f(met.get("response_median"), met.get("response_median_err")),
            "type1_met_res": _f(t1["resolution_xy_gev"], t1["resolution_xy_gev_err"]),
            "type1_met_response": _f(t1.get("response_median"), t1.get("response_median_err")),
            "met_scale": _f(met.get("response_projected"), met.get("response_projected_err")),
            "type1_met_scale": _f(t1.get("response_projected"), t1.get("response_projected_err")),
            "jet_res": _f(jets["gauss_sigma_over_mean"], jets["gauss_sigma_over_mean_err"]),
            "eta": [{"bin": f"{b['lo']:g}-{b['hi']:g}", "n_gen": b["n_gen"],
                     "eff": _f(b["efficiency"], b["efficiency_err"]),
                     "res": _f(b.get("gauss_sigma_over_mean"), b.get("gauss_sigma_over_mean_err"))}
                    for b in m["jets_eta"][c]],
        }
    return out


def _lt(a: dict, b: dict) -> bool:
    return a["value"] is not None and b["value"] is not None and a["value"] < b["value"]


def targets(pu: dict, nopu: dict) -> list[dict]:
    """(target, measured text, met) for every target of the issue."""
    p, pf, n, npf = pu["PF+PUPPI"], pu["PF"], nopu["PF+PUPPI"], nopu["PF"]
    rows = [
        ("PU: PUPPI MET x/y resolution < PF (raw)", f"{p['met_res']['value']:.1f} vs {pf['met_res']['value']:.1f} GeV",
         _lt(p["met_res"], pf["met_res"])),
        ("PU: PUPPI type-1 MET x/y resolution < PF type-1",
         f"{p['type1_met_res']['value']:.1f} vs {pf['type1_met_res']['value']:.1f} GeV",
         _lt(p["type1_met_res"], pf["type1_met_res"])),
        ("PU: PUPPI type-1 MET median response within 10% of 1 (projected on the generator MET)",
         f"{p['type1_met_scale']['value']:.3f} (magnitude ratio {p['type1_met_response']['value']:.3f})",
         p["type1_met_scale"]["value"] is not None and abs(p["type1_met_scale"]["value"] - 1) <= 0.10),
        ("no PU: PUPPI jet resolution within 5% of PF", f"{100 * n['jet_res']['value']:.1f}% vs "
         f"{100 * npf['jet_res']['value']:.1f}%", n["jet_res"]["value"] <= 1.05 * npf["jet_res"]["value"]),
        ("no PU: PUPPI MET resolution within 5% of PF", f"{n['met_res']['value']:.1f} vs {npf['met_res']['value']:.1f} GeV",
         n["met_res"]["value"] <= 1.05 * npf["met_res"]["value"]),
    ]
    for i in (2, 3):
        b, ref = p["eta"][i], npf["eta"][i]
        rows.append((f"PU: PUPPI jet efficiency >= 85% at |eta| {b['bin']}", f"{100 * b['eff']['value']:.1f}%",
                     b["eff"]["value"] >= 0.85))
        ok = b["res"]["value"] is not None and ref["res"]["value"] is not None
        rows.append((f"PU: PUPPI jet resolution at |eta| {b['bin']} <= 1.5 x PF without PU",
                     f"{100 * b['res']['value']:.1f}% vs 1.5 x {100 * ref['res']['value']:.1f}%" if ok else "–",
                     ok and b["res"]["value"] <= 1.5 * ref["res"]["value"]))
    c = p["jet_res"]
    rows.append(("PU: central PUPPI jet resolution as good as before", f"{100 * c['value']:.1f}% vs "
                 f"{100 * BEFORE_CENTRAL['value']:.1f}% before", c["value"] <= BEFORE_CENTRAL["value"] + BEFORE_CENTRAL["err"]))
    return [{"target": t, "measured": v, "met": bool(ok)} for t, v, ok in rows]


def _pm(f: dict, pct: bool = False, decimals: int = 1) -> str:
    if f["value"] is None:
        return "–"
    k = 100 if pct else 1
    return f"{k * f['value']:.{decimals}f} ± {k * f['err']:.{decimals}f}"


def markdown(results: dict) -> str:
    lines = ["### PF, PF+CHS and PF+PUPPI (bench/puppi_baseline.py)", "",
             f"Held-out samples (scoreboard seeds), {results['events']}; jet corrections: {results['jec']}. "
             "Jets anti-kt R = 0.4; resolution = corrected Gaussian σ/μ at gen pT 30–100 GeV; efficiency = gen jets "
             "above 30 GeV matched within ΔR < 0.2. MET: x/y resolution (GeV); over events with gen MET > 20 GeV, the "
             "scale (median of the MET projected on the generator MET direction over the generator MET, the "
             "response CMS quotes) and the magnitude ratio (median |MET|/|gen MET|, which resolution pushes above "
             "1: about 1.2 for a perfectly calibrated MET with 36 GeV x/y resolution on ttbar).", ""]
    for sample in ("ttbar_pu", "ttbar_nopu"):
        figs = results["samples"][sample]
        bins = [b["bin"] for b in figs["PF"]["eta"]]
        lines += [f"**{results['labels'][sample]}**", "",
                  "| collection | MET res | MET scale / magnitude ratio | type-1 MET res | "
                  "type-1 scale / magnitude ratio | jets \\|η\\|<2.5 res % | "
                  + " | ".join(f"{b}: eff % / res %" for b in bins) + " |",
                  "|---|---|---|---|---|---|" + "---|" * len(bins)]
        for c, f in figs.items():
            eta = " | ".join(f"{_pm(b['eff'], True)} / {_pm(b['res'], True)}" for b in f["eta"])
            lines.append(f"| {c} | {_pm(f['met_res'])} | {_pm(f['met_scale'], decimals=3)} / "
                         f"{_pm(f['met_response'], decimals=3)} | {_pm(f['type1_met_res'])} | "
                         f"{_pm(f['type1_met_scale'], decimals=3)} / {_pm(f['type1_met_response'], decimals=3)} | "
                         f"{_pm(f['jet_res'], True)} | {eta} |")
        lines.append("")
    lines += ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in results["targets"]]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "data" / "scoreboard")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every event count")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results or docs/benchmarks.md")
    ap.add_argument("--detector", default=None, help="detector card of every sample (a study: use its own --work)")
    ap.add_argument("--pf-config", default=None, metavar="YAML", help="PF settings (reconstruct --pf-config)")
    ap.add_argument("--calibration", default=None, help="PF hadron calibration (reconstruct --calibration)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = ap.parse_args()
    pf_options = [*(["--pf-config", args.pf_config] if args.pf_config else []),
                  *(["--calibration", args.calibration] if args.calibration else [])]
    ws = Workspace(args.work, args.scale, args.jobs, detector=args.detector, pf_options=tuple(pf_options))
    src = JEC_SAMPLES[14.0]
    qcd = ws.dataset(src)
    jec = args.work / f"jec_puppi_{qcd.name}.json"
    _run(["derive-jec", "--dataset", str(qcd), *_reco_args({"PF": ws.reconstruct(qcd, None)["PF"]}), "--out", str(jec)])
    metrics = {"ttbar_pu": evaluate_sample(ws, "ttbar_pu", str(jec)), "ttbar_nopu": evaluate_sample(ws, "ttbar_nopu", "self")}
    samples = {k: figures(m) for k, m in metrics.items()}
    results = {"scale": args.scale, "samples": samples,
               "labels": {k: SAMPLES[k].label for k in samples},
               "events": ", ".join(f"{SAMPLES[k].label}: {m['events']} events" for k, m in metrics.items()),
               "jec": f"QCD {src.pileup} PU seed {src.seed} ({ws.dataset(src).name}) for the pileup sample, "
                      "self-calibrated without pileup",
               "targets": targets(samples["ttbar_pu"], samples["ttbar_nopu"])}
    text = markdown(results)
    print(text)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(results, indent=1) + "\n")
    if not args.no_write:
        write_result("puppi_baseline", results)
        update_doc_section("puppi", text)


if __name__ == "__main__":
    main()
