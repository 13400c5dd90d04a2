"""MLPF scoreboard: every figure of the issue "MLPF that beats rule-based PF", with its error.

Builds (or reuses: dataset and reconstruct resume) fixed held-out samples whose seeds are
disjoint from every training and validation seed in the repository (601-606, min-bias pools
seed 6): ttbar with 55-75 pileup (601), QCD with 55-75 pileup (602), ttbar without pileup
(603) and ttbar with 55-75 pileup at 13.6 TeV (604). Jet energy corrections for every
collection are derived with ``colliderflow derive-jec`` on separate QCD 55-75 pileup samples
(605 at 14 TeV, 606 at 13.6 TeV), never on the scoreboard samples, except for the sample
without pileup, which is self-calibrated (``--jec self``): corrections derived with pileup
subtract its pT-dependent offset, which on jets without pileup biases and broadens the
corrected response of the collections without pileup mitigation (PF, MLPF) that the
no-pileup comparison is about.

Runs PF and MLPF (``colliderflow reconstruct``), derive-jec and ``colliderflow evaluate``; reads
every figure evaluate measures, with its error, from metrics.json: the jet resolution (Gaussian
sigma/mu of the corrected response, 30-100 GeV gen jets, |eta| < 2.5, fit error), the MET x/y
resolution (event-bootstrap error) and the particle efficiencies and fake rates (binomial
errors). Computes only the per-element diagnostics of ``colliderflow.evaluate.elements``, which
evaluate does not, from the dataset and candidates, with event-bootstrap errors (evaluate's
seed and replicas). Prints one table and the issue's targets (met / not met); writes
bench/results/mlpf_scoreboard.json and the 'scoreboard' section of docs/benchmarks.md unless
``--no-write`` (always WORK/scoreboard.json).

    python bench/mlpf_scoreboard.py --work DIR --mlpf MODEL.pt [--scale 1.0] [--jobs 2] [--no-write]

``--scale`` multiplies every event count (a smoke run: ``--scale 0.02 --no-write``); the
min-bias pools keep at least 300 events so that 75 distinct pileup events can be overlaid.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402

ROOT = Path(__file__).parent.parent

POOL_SEED = 6
POOL_EVENTS = 3000
MIN_POOL_EVENTS = 300

#: table columns: the target (reference) and every collection of PF and MLPF
COLUMNS = ("target", "PF", "PF+CHS", "PF+PUPPI", "MLPF", "MLPF+CHS", "MLPF+PUPPI", "MLPF+PU")


@dataclass(frozen=True)
class Sample:
    """A sample to build; ``events`` at scale 1."""

    process: str
    seed: int
    events: int
    pileup: str
    sqrt_s: float
    label: str

    def n_events(self, scale: float) -> int:
        return max(1, round(self.events * scale))

    def directory(self, scale: float) -> str:
        """Directory name: process, pileup, energy, seed and size, so that samples and scales never mix."""
        pileup = "nopu" if self.pileup == "0" else "pu"
        energy = f"{self.sqrt_s:g}TeV".replace(".", "p")
        return f"{self.process}_{pileup}_{energy}_s{self.seed}_n{self.n_events(scale)}"


SAMPLES = {
    "ttbar_pu": Sample("ttbar", 601, 1000, "55-75", 14.0, "ttbar, 55–75 PU, 14 TeV"),
    "qcd_pu": Sample("qcd", 602, 2000, "55-75", 14.0, "QCD, 55–75 PU, 14 TeV"),
    "ttbar_nopu": Sample("ttbar", 603, 1000, "0", 14.0, "ttbar, no PU, 14 TeV"),
    "ttbar_pu_13p6": Sample("ttbar", 604, 1000, "55-75", 13.6, "ttbar, 55–75 PU, 13.6 TeV"),
}
#: QCD with pileup on which the jet energy corrections of each energy are derived
JEC_SAMPLES = {
    14.0: Sample("qcd", 605, 2000, "55-75", 14.0, "QCD, 55–75 PU, 14 TeV"),
    13.6: Sample("qcd", 606, 2000, "55-75", 13.6, "QCD, 55–75 PU, 13.6 TeV"),
}

@dataclass(frozen=True)
class FigureSpec:
    """How a figure is shown: row label, short name (targets), display scale, decimals, and which way is better."""

    label: str
    short: str
    scale: float
    decimals: int
    better: str  # "lower" or "higher"


FIGURES = {
    "jet_resolution": FigureSpec("jet σ/μ, 30–100 GeV [%]", "jet σ/μ [%]", 100.0, 1, "lower"),
    "met_xy_resolution": FigureSpec("MET x/y resolution [GeV]", "MET x/y [GeV]", 1.0, 1, "lower"),
    "nh_efficiency": FigureSpec("neutral hadron efficiency [%]", "efficiency [%]", 100.0, 1, "higher"),
    "nh_fake_rate": FigureSpec("neutral hadron fake rate [%]", "fake rate [%]", 100.0, 1, "lower"),
    "photon_efficiency": FigureSpec("photon efficiency [%]", "efficiency [%]", 100.0, 1, "higher"),
    "photon_fake_rate": FigureSpec("photon fake rate [%]", "fake rate [%]", 100.0, 1, "lower"),
    "ch_efficiency": FigureSpec("charged hadron efficiency [%]", "efficiency [%]", 100.0, 1, "higher"),
    "electron_id_efficiency": FigureSpec("electron ID efficiency [%]", "ID efficiency [%]", 100.0, 1, "higher"),
    "calo_pt_counted_twice": FigureSpec("calo pT counted twice [% of target pT]", "counted twice [%]", 100.0, 2,
                                        "lower"),
    "missed_nh_pt": FigureSpec("missed neutral hadron pT [% of target NH pT]", "missed [%]", 100.0, 1, "lower"),
}
#: particle figures from evaluate's metrics: key -> (type, metric); the error is the metric's ``_err``
_PARTICLE_FIGURES = {
    "nh_efficiency": ("neutral hadron", "efficiency"),
    "nh_fake_rate": ("neutral hadron", "fake_rate"),
    "photon_efficiency": ("photon", "efficiency"),
    "photon_fake_rate": ("photon", "fake_rate"),
    "ch_efficiency": ("charged hadron", "efficiency"),
    "electron_id_efficiency": ("electron", "id_efficiency"),
}

#: the issue's targets: (text, sample, [(figure, a, b)]): a must be better than or equal to b
_TARGET_SPECS = [
    ("jet resolution: MLPF+PUPPI ≤ PF+PUPPI", "ttbar_pu", [("jet_resolution", "MLPF+PUPPI", "PF+PUPPI")]),
    ("jet resolution: MLPF+PUPPI ≤ PF+PUPPI", "qcd_pu", [("jet_resolution", "MLPF+PUPPI", "PF+PUPPI")]),
    ("jet resolution without pileup: MLPF ≤ PF", "ttbar_nopu", [("jet_resolution", "MLPF", "PF")]),
    ("jet resolution: MLPF+PU better than MLPF", "ttbar_pu", [("jet_resolution", "MLPF+PU", "MLPF")]),
    ("jet resolution: MLPF+PU better than MLPF", "qcd_pu", [("jet_resolution", "MLPF+PU", "MLPF")]),
    *[(f"MET x/y resolution: MLPF{t} ≤ PF{t}", s, [("met_xy_resolution", f"MLPF{t}", f"PF{t}")])
      for s in ("ttbar_pu", "qcd_pu") for t in ("", "+CHS", "+PUPPI")],
    ("MET x/y resolution: MLPF ≤ PF", "ttbar_nopu", [("met_xy_resolution", "MLPF", "PF")]),
    ("neutral hadrons: efficiency ≥ PF at fake rate ≤ PF", "ttbar_nopu",
     [("nh_efficiency", "MLPF", "PF"), ("nh_fake_rate", "MLPF", "PF")]),
    ("electron ID efficiency ≥ PF", "ttbar_nopu", [("electron_id_efficiency", "MLPF", "PF")]),
]


# ---------------------------------------------------------------- pure: figures, targets, table

def figure(value, err) -> dict | None:
    """A measured number and its standard error, or None where it was not measured (NaN or missing)."""
    if value is None or not math.isfinite(value):
        return None
    return {"value": float(value), "err": float(err) if err is not None and math.isfinite(err) else None}


def ratio(a: dict | None, b: dict | None) -> dict | None:
    """a / b with the error propagated as for independent measurements.

    Both are measured on the same events, so they are positively correlated and the propagated
    error overestimates the true one.
    """
    if a is None or b is None or b["value"] == 0:
        return None
    r = a["value"] / b["value"]
    if a["err"] is None or b["err"] is None or a["value"] == 0:
        return {"value": r, "err": None}
    return {"value": r, "err": abs(r) * math.hypot(a["err"] / a["value"], b["err"] / b["value"])}


def ratio_pair(pileup: str) -> tuple[str, str]:
    """The collections compared in the ratio column: with pileup mitigation when there is pileup."""
    return ("MLPF+PUPPI", "PF+PUPPI") if pileup != "0" else ("MLPF", "PF")


def particle_figures(particles: dict) -> dict[str, dict]:
    """Figures of the ``particles`` section of evaluate's metrics.json: key -> collection -> figure."""
    out: dict[str, dict] = {key: {} for key in _PARTICLE_FIGURES}
    for coll, types in particles.items():
        for key, (tname, metric) in _PARTICLE_FIGURES.items():
            entry = types.get(tname, {})
            f = figure(entry.get(metric), entry.get(f"{metric}_err"))
            if f is not None:
                out[key][coll] = f
    return out


def _comparison(figures: dict, key: str, a: str, b: str) -> dict:
    fa, fb = figures.get(key, {}).get(a), figures.get(key, {}).get(b)
    out = {"figure": key, "a": a, "b": b, "a_value": fa, "b_value": fb, "met": None, "margin_sigma": None}
    if fa is None or fb is None:
        return out
    sign = 1.0 if FIGURES[key].better == "lower" else -1.0
    diff = sign * (fb["value"] - fa["value"])  # > 0: a is better
    out["met"] = bool(diff >= 0)
    if fa["err"] is not None and fb["err"] is not None and math.hypot(fa["err"], fb["err"]) > 0:
        out["margin_sigma"] = diff / math.hypot(fa["err"], fb["err"])
    return out


def scoreboard_targets(samples: dict[str, dict]) -> list[dict]:
    """The issue's targets against the measured figures: met when every comparison holds (central
    values); the margin is the smallest difference in units of the combined error (> 0: met)."""
    out = []
    for text, sample, comps in _TARGET_SPECS:
        figures = samples.get(sample, {}).get("figures", {})
        c = [_comparison(figures, *spec) for spec in comps]
        met = None if any(x["met"] is None for x in c) else all(x["met"] for x in c)
        margins = [x["margin_sigma"] for x in c]
        out.append({"target": text, "sample": sample, "comparisons": c, "met": met,
                    "margin_sigma": None if None in margins else min(margins)})
    return out


def _fmt(f: dict | None, scale: float, decimals: int) -> str:
    if f is None:
        return "–"
    v = f"{f['value'] * scale:.{decimals}f}"
    return v if f["err"] is None else f"{v} ± {f['err'] * scale:.{decimals}f}"


def format_table(results: dict) -> str:
    """The scoreboard as Markdown: one table of every figure per sample and collection, then the targets."""
    head = ["sample", "figure", *COLUMNS, "MLPF / PF ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in results["samples"].items():
        first = f"{s['label']} ({s['events']} ev; JEC: {s['jec']})"
        for key, spec in FIGURES.items():
            per_coll = s["figures"].get(key, {})
            r = s.get("ratios", {}).get(key)
            rtxt = f"{_fmt(r, 1.0, 3)} ({r['pair'][0]}/{r['pair'][1]})" if r else "–"
            cells = [_fmt(per_coll.get(c), spec.scale, spec.decimals) for c in COLUMNS]
            lines.append("| " + " | ".join([first, spec.label, *cells, rtxt]) + " |")
            first = ""
    lines += ["", "| target | sample | measured | margin [σ] | met? |", "|---|---|---|---|---|"]
    for t in results["targets"]:
        parts = []
        for c in t["comparisons"]:
            spec = FIGURES[c["figure"]]
            parts.append(f"{spec.short}: {c['a']} {_fmt(c['a_value'], spec.scale, spec.decimals)} vs {c['b']} "
                         f"{_fmt(c['b_value'], spec.scale, spec.decimals)}")
        label = results["samples"].get(t["sample"], {}).get("label", t["sample"])
        margin = "–" if t["margin_sigma"] is None else f"{t['margin_sigma']:+.1f}"
        met = "–" if t["met"] is None else ("met" if t["met"] else "**not met**")
        lines.append(f"| {t['target']} | {label} | {'; '.join(parts)} | {margin} | {met} |")
    return "\n".join(lines)


def corrections_applied(metrics: dict) -> bool:
    """Whether evaluate's jet corrections changed any jet: derive-jec and self-calibration fall back to
    factors of 1 where a bin has too few jets, so a small sample can end up uncorrected."""
    for jets in metrics["jets"].values():
        for raw, corrected in zip(jets["raw"], jets["corrected"]):
            a, b = raw.get("median"), corrected.get("median")
            if a is not None and b is not None and math.isfinite(a) and not math.isclose(a, b, rel_tol=1e-9):
                return True
    return False


def sample_figures(metrics: dict, elements: dict[str, dict]) -> dict[str, dict]:
    """Every figure of one sample: key -> collection -> figure.

    Args:
        metrics: evaluate's metrics.json.
        elements: figure key -> collection -> figure (per-element diagnostics).
    """
    jets = {c: figure(s.get("gauss_sigma_over_mean"), s.get("gauss_sigma_over_mean_err"))
            for c, s in metrics["jets_30_100"].items()}
    met_xy = {c: figure(e.get("resolution_xy_gev"), e.get("resolution_xy_gev_err")) for c, e in metrics["met"].items()}
    figures = {"jet_resolution": jets, "met_xy_resolution": met_xy, **particle_figures(metrics["particles"]),
               **elements}
    return {k: {c: f for c, f in v.items() if f is not None} for k, v in figures.items()}


def sample_ratios(figures: dict[str, dict], pileup: str) -> dict[str, dict]:
    """The ratio column (jets and MET): MLPF+PUPPI / PF+PUPPI with pileup, MLPF / PF without."""
    a, b = ratio_pair(pileup)
    out = {}
    for key in ("jet_resolution", "met_xy_resolution"):
        r = ratio(figures.get(key, {}).get(a), figures.get(key, {}).get(b))
        if r is not None:
            out[key] = {**r, "pair": [a, b]}
    return out


# ---------------------------------------------------------------- measurements (I/O)

def measure_elements(dataset: Path, recos: dict[str, Path]) -> dict[str, dict]:
    """The per-element diagnostics with event-bootstrap errors, reading the dataset and candidates chunk by chunk.

    Returns:
        figure key -> collection -> figure.
    """
    from colliderflow.dataset.read import dataset_files, load_dataset
    from colliderflow.evaluate import elements as E
    from colliderflow.evaluate.report import BOOTSTRAP  # the MET errors' bootstrap, so one setting serves all
    from colliderflow.schema.candidates import load_candidates
    from colliderflow.schema.classes import NEUTRAL_HADRON

    twice: dict[str, list] = {n: [] for n in recos}
    missed: dict[str, list] = {n: [] for n in recos}
    total_pt, nh_pt = [], []
    for f in dataset_files(dataset):
        data = load_dataset(f, columns=["X", "ytarget"])
        y = data.ytarget
        for name, d in recos.items():
            c = load_candidates(Path(d) / f.name)
            twice[name].append(E.untargeted_cluster_pt(data.X["type"], y.cls, c.element, c.pt))
            missed[name].append(E.missed_target_pt(y.cls, y.pt, c.element, NEUTRAL_HADRON))
        total_pt.append(E.target_pt_sum(y.cls, y.pt))
        nh_pt.append(E.target_pt_sum(y.cls, y.pt, NEUTRAL_HADRON))

    def fraction(num: list, den: np.ndarray) -> dict | None:
        rng = np.random.default_rng(BOOTSTRAP["seed"])
        return figure(*E.ratio_of_sums(np.concatenate(num), den, rng, BOOTSTRAP["replicas"]))

    total, nh = np.concatenate(total_pt), np.concatenate(nh_pt)
    return {"calo_pt_counted_twice": {n: fraction(v, total) for n, v in twice.items()},
            "missed_nh_pt": {n: fraction(v, nh) for n, v in missed.items()}}


def _run(argv: list[str]) -> None:
    from colliderflow.cli import main

    if main(argv) != 0:
        raise SystemExit(f"failed: colliderflow {' '.join(argv)}")


class Workspace:
    """The work directory: pools, datasets, candidates (pf/, mlpf/), corrections and reports (eval/)."""

    def __init__(self, root: Path, scale: float, jobs: int, mlpf_options: tuple[str, ...] = (),
                 detector: str | None = None, pf_options: tuple[str, ...] = ()) -> None:
        """``detector``: a detector card for every dataset (default: the dataset command's);
        ``pf_options``: extra options of every PF reconstruction (``--pf-config``, ``--calibration``)."""
        self.root, self.scale, self.jobs, self.mlpf_options = root, scale, jobs, list(mlpf_options)
        self.detector_args = ["--detector", detector] if detector else []
        self.pf_args = list(pf_options)
        root.mkdir(parents=True, exist_ok=True)

    def pool(self, sqrt_s: float) -> Path:
        n = max(round(POOL_EVENTS * self.scale), MIN_POOL_EVENTS)
        energy = f"{sqrt_s:g}TeV".replace(".", "p")
        path = self.root / f"pool_{energy}_s{POOL_SEED}_n{n}.parquet"
        if not path.exists():
            _run(["pileup-pool", "--events", str(n), "--seed", str(POOL_SEED), "--sqrt-s", str(sqrt_s),
                  "--jobs", str(self.jobs), "--out", str(path)])
        return path

    def dataset(self, s: Sample) -> Path:
        n = s.n_events(self.scale)
        out = self.root / s.directory(self.scale)
        argv = ["dataset", "--process", s.process, "--events", str(n), "--seed", str(s.seed), "--pileup", s.pileup,
                "--sqrt-s", str(s.sqrt_s), "--chunk-size", str(max(5, min(50, n // 4))), "--jobs", str(self.jobs),
                "--out", str(out), "--quiet", *self.detector_args]
        if s.pileup != "0":
            argv += ["--pileup-pool", str(self.pool(s.sqrt_s))]
        _run(argv)
        return out

    def reconstruct(self, dataset: Path, model: Path | None) -> dict[str, Path]:
        recos = {"PF": self.root / "pf" / dataset.name, "MLPF": self.root / "mlpf" / dataset.name}
        _run(["reconstruct", "--algo", "pf", "--input", str(dataset), "--output", str(recos["PF"]),
              "--jobs", str(self.jobs), "--quiet", *self.pf_args])
        if model is None:
            return recos
        _run(["reconstruct", "--algo", "mlpf", "--model", str(model), *self.mlpf_options, "--input", str(dataset),
              "--output", str(recos["MLPF"]), "--jobs", str(self.jobs), "--quiet"])
        return recos


def _reco_args(recos: dict[str, Path]) -> list[str]:
    return [f"--reco={name}={path}" for name, path in recos.items()]


def prepare(work: Path, scale: float, jobs: int) -> None:
    """Build every sample and its PF reconstruction, before a model is chosen (the slow, model-free part)."""
    ws = Workspace(work, scale, jobs)
    for s in (*JEC_SAMPLES.values(), *SAMPLES.values()):
        ws.reconstruct(ws.dataset(s), None)


def run_scoreboard(work: Path, model: Path, scale: float, jobs: int, thresholds: dict[str, float]) -> dict:
    """Build, reconstruct, calibrate and evaluate every sample; the results dictionary."""
    from colliderflow.evaluate.report import BOOTSTRAP

    options = tuple(f"--{k.replace('_', '-')}={v}" for k, v in sorted(thresholds.items()))
    ws = Workspace(work, scale, jobs, options)
    jec = {}
    for sqrt_s, s in JEC_SAMPLES.items():
        ds = ws.dataset(s)
        jec[sqrt_s] = (work / f"jec_{ds.name}.json", s)
        _run(["derive-jec", "--dataset", str(ds), *_reco_args(ws.reconstruct(ds, model)), "--out", str(jec[sqrt_s][0])])
    samples = {}
    for name, s in SAMPLES.items():
        ds = ws.dataset(s)
        recos = ws.reconstruct(ds, model)
        if s.pileup == "0":
            jec_arg, jec_text = "self", "self-calibrated"
        else:
            path, src = jec[s.sqrt_s]
            jec_arg, jec_text = str(path), f"QCD {src.pileup} PU, {src.sqrt_s:g} TeV, seed {src.seed}"
        out = work / "eval" / ds.name
        _run(["evaluate", "--dataset", str(ds), *_reco_args(recos), "--jec", jec_arg, "--out", str(out)])
        metrics = json.loads((out / "metrics.json").read_text())
        if not corrections_applied(metrics):
            jec_text += "; none applied: too few jets"
        figures = sample_figures(metrics, measure_elements(ds, recos))
        samples[name] = {"label": s.label, "process": s.process, "seed": s.seed, "pileup": s.pileup,
                         "sqrt_s": s.sqrt_s, "events": metrics["events"], "jec": jec_text, "dataset": str(ds),
                         "figures": figures, "ratios": sample_ratios(figures, s.pileup)}
    return {"mlpf_model": str(model), "scale": scale, "pool_seed": POOL_SEED,
            "jec_samples": {f"{k:g}": {"seed": s.seed, "events": s.n_events(scale)} for k, s in JEC_SAMPLES.items()},
            "bootstrap": BOOTSTRAP, "samples": samples, "targets": scoreboard_targets(samples)}


def markdown(results: dict) -> str:
    return "\n".join([
        "## MLPF scoreboard (bench/mlpf_scoreboard.py)", "",
        f"Model `{results['mlpf_model']}` (thresholds: primary element {results.get('thresholds', {}).get('binary_threshold', 0.5):g}, "
        f"pileup {results.get('thresholds', {}).get('pileup_threshold', 0.5):g}, chosen on validation events), "
        f"event counts × {results['scale']:g}. Held-out samples (seeds 601–604, "
        "min-bias pools seed 6), disjoint from every training and validation seed. Jet energy corrections for every "
        "collection from QCD with 55–75 pileup (seeds 605 at 14 TeV, 606 at 13.6 TeV); the sample without pileup is "
        "self-calibrated, since corrections derived with pileup subtract a pileup offset it does not have.", "",
        "Errors: jets, Gaussian-fit error of σ/μ of the corrected response (gen jets 30–100 GeV, |η| < 2.5); MET x/y "
        "(16–84% half-width of the residuals to the neutrino pT sum) and the per-element fractions, standard deviation "
        f"of {results['bootstrap']['replicas']} event-bootstrap replicas (seed {results['bootstrap']['seed']}); "
        "particles (pT > 1 GeV, unique ΔR < 0.15 matching), binomial (p kept within [1/n, 1 − 1/n]). Ratios "
        "propagate the two errors as independent (they share events, so this overestimates). 'calo pT counted "
        "twice': candidates made from an ECAL/HCAL cluster that is no target particle's primary element, over the "
        "target pT; 'missed neutral hadron pT': "
        "target neutral hadrons whose element makes no candidate (both include pileup particles). "
        "'–': not measured (collection absent or too few entries).", "",
        format_table(results), "",
        "A target is met when the central values satisfy it; the margin is the difference in units of the combined "
        "error (positive: met). Particle-level targets use the sample without pileup, where fake rates are not "
        "dominated by pileup candidates that no hard-scatter particle can match.",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="work directory (datasets and candidates are reused)")
    ap.add_argument("--mlpf", type=Path, help="MLPF model (.pt or .onnx); required unless --prepare")
    ap.add_argument("--binary-threshold", type=float, default=0.5,
                    help="MLPF primary-element threshold, chosen on validation events (bench/mlpf_thresholds.py)")
    ap.add_argument("--pileup-threshold", type=float, default=0.5,
                    help="MLPF pileup-score threshold of MLPF+PU, chosen on validation events")
    ap.add_argument("--prepare", action="store_true",
                    help="only build the samples and their PF reconstructions (no model needed), then stop")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every event count (default: 1)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for dataset and reconstruct (default: 2)")
    ap.add_argument("--no-write", action="store_true",
                    help="do not write bench/results/mlpf_scoreboard.json and docs/benchmarks.md (smoke runs)")
    args = ap.parse_args()
    if args.scale <= 0:
        ap.error(f"--scale must be > 0, got {args.scale}")
    if args.prepare:
        prepare(args.work.resolve(), args.scale, args.jobs)
        return
    if args.mlpf is None or not args.mlpf.is_file():
        ap.error(f"--mlpf {args.mlpf}: no such model file")
    work, model = args.work.resolve(), args.mlpf.resolve()
    thresholds = {"binary_threshold": args.binary_threshold, "pileup_threshold": args.pileup_threshold}
    results = run_scoreboard(work, model, args.scale, args.jobs, thresholds)
    results["thresholds"] = thresholds
    if model.is_relative_to(ROOT.resolve()):
        results["mlpf_model"] = str(model.relative_to(ROOT.resolve()))
    from colliderflow.utils.atomic import atomic_write_text

    atomic_write_text(work / "scoreboard.json", json.dumps(results, indent=1) + "\n")
    text = markdown(results)
    if not args.no_write:
        path = write_result("mlpf_scoreboard", results)
        update_doc_section("scoreboard", text + f"\n\nRaw numbers: `{path.relative_to(ROOT)}`.")
    print(text)


if __name__ == "__main__":
    main()
