"""Tune PUPPI on dedicated tuning samples (issue "A baseline CMS would recognise").

The tuning samples (seeds 701-704, min-bias pool seed 7) are disjoint from every evaluation
sample (the scoreboard's 601-606) and from the MLPF training seeds. Build them once with

    python bench/puppi_tune.py --work data/puppi --prepare [--jobs 2]

(ttbar with 55-75 pileup 701 and 711, Z->tautau with 55-75 pileup 702 and 712, ttbar without
pileup 703, 400 events each; PF candidates of each). Then

    python bench/puppi_tune.py --work data/puppi [--set regions.1.ptcut=2.0 ...]

recomputes the PUPPI weights of the stored PF candidates (vertex association done once) for the
default ``PuppiConfig`` and each ``--set`` variant, and prints, per sample, the figures the
issue's targets are about, without jet corrections so that no calibration sample enters the
tuning: the gen-jet matching efficiency (gen pT > 30 GeV) and the raw-response resolution
IQR/(1.349 median) at gen pT 30-100 GeV in |eta| bins, and the raw MET x/y resolution and median
response, for PF, PF+CHS and PF+PUPPI. Errors: binomial for efficiencies, bootstrap otherwise.

``--hf`` pools the pileup samples for the forward jets, where one sample holds only about 70 jets
of 30-100 GeV, and prints per variant: the HF (3 < |eta| < 5) jet efficiency, the HF resolution
after jet corrections derived on the pooled tuning jets themselves (Gaussian sigma/mu, the
figure the evaluation quotes; corrections from the tuning samples, so that no evaluation or
calibration sample enters), and the raw MET x/y resolution of every pileup sample.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import awkward as ak
import numpy as np

from colliderflow.dataset.read import load_dataset
from colliderflow.evaluate.collections import truth_collection
from colliderflow.evaluate.jets import ETA_BINS, collection_jets, jet_performance_eta, matched_jets
from colliderflow.pf.pileup import PuppiConfig, associate_candidates, puppi_weights
from colliderflow.physics.met import met, met_response_median, met_xy_resolution
from colliderflow.physics.resolution import JetCorrections, derive_jec
from colliderflow.reconstruct import iter_events
from colliderflow.schema.candidates import load_reconstruction

ROOT = Path(__file__).parent.parent
#: a correction factor of 1 everywhere: the tune looks at raw jets, so that no calibration sample enters it
_NO_CORRECTION = JetCorrections(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.ones((2, 2)))

#: name -> (process, seed, events, pileup)
SAMPLES = {
    "ttbar_pu": ("ttbar", 701, 400, "55-75"),
    "ztautau_pu": ("ztautau", 702, 400, "55-75"),
    "ttbar_nopu": ("ttbar", 703, 400, "0"),
    "ttbar_pu_b": ("ttbar", 711, 400, "55-75"),
    "ztautau_pu_b": ("ztautau", 712, 400, "55-75"),
}
POOL_SEED, POOL_EVENTS = 7, 1500


def _run(argv: list[str]) -> None:
    from colliderflow.cli import main

    if main(argv) != 0:
        raise SystemExit(f"failed: colliderflow {' '.join(argv)}")


def prepare(work: Path, jobs: int) -> None:
    """Build the tuning samples and their PF candidates (resumable)."""
    pool = work / "pool7.parquet"
    if not pool.exists():
        _run(["pileup-pool", "--events", str(POOL_EVENTS), "--seed", str(POOL_SEED), "--out", str(pool),
              "--jobs", str(jobs)])
    for name, (process, seed, events, pileup) in SAMPLES.items():
        extra = ["--pileup", pileup, "--pileup-pool", str(pool)] if pileup != "0" else []
        _run(["dataset", "--process", process, "--events", str(events), "--seed", str(seed), *extra,
              "--out", str(work / name), "--jobs", str(jobs), "--quiet"])
        _run(["reconstruct", "--algo", "pf", "--input", str(work / name), "--output", str(work / f"pf_{name}"),
              "--jobs", str(jobs), "--quiet"])


@dataclasses.dataclass
class Sample:
    """A tuning sample in memory: candidates with their vertex association, and generator jets/MET."""

    name: str
    cands: list[dict[str, np.ndarray]]
    puppi_vertex: list[np.ndarray]
    n_vertices: list[int]
    gen_jets: ak.Array
    gen_met_xy: tuple[np.ndarray, np.ndarray]


def load_sample(work: Path, name: str, events: int | None) -> Sample:
    data = load_dataset(work / name, columns=["X", "truth", "event"], stop=events)
    cands_arr, _ = load_reconstruction(work / f"pf_{name}")
    cands_arr = cands_arr[: len(data)]
    fields = cands_arr.fields
    cands, pv, nv = [], [], []
    for x, c in zip(iter_events(data.X), cands_arr):
        c = {f: ak.to_numpy(c[f]) for f in fields}
        out, puppi_vertex, n = associate_candidates(x, c)
        cands.append(out)
        pv.append(puppi_vertex)
        nv.append(n)
    gen_jets = collection_jets(truth_collection(data), 0.4, min_pt=10.0)
    gx, gy = ak.to_numpy(data.event.genmet_x), ak.to_numpy(data.event.genmet_y)
    return Sample(name, cands, pv, nv, gen_jets, (gx, gy))


def _collection(sample: Sample, weights: list[np.ndarray]) -> ak.Array:
    cat = {k: np.concatenate([c[k] for c in sample.cands]) for k in ("pt", "eta", "phi", "energy")}
    counts = [len(c["pt"]) for c in sample.cands]
    cat["weight"] = np.concatenate(weights).astype(np.float32)
    return ak.unflatten(ak.zip({k: v for k, v in cat.items()}), counts)


def figures(sample: Sample, weights: list[np.ndarray]) -> dict:
    """Jet efficiency/resolution per |eta| bin and MET figures of one weighting of the candidates."""
    coll = _collection(sample, weights)
    m = matched_jets(collection_jets(coll, 0.4), sample.gen_jets)
    out = {"jets": {}}
    for b in jet_performance_eta(m, _NO_CORRECTION):
        out["jets"][f"{b['lo']}-{b['hi']}"] = {"n": b["n_gen"], "eff": b["efficiency"], "eff_err": b["efficiency_err"],
                                               "res": b["iqr_resolution"], "res_err": b["iqr_resolution_err"],
                                               "response": b["median"]}
    v, phi = met(coll.pt, coll.phi, coll.weight)
    out["met_res"] = _met_xy_res(sample, v, phi)
    out["met_response"] = met_response_median(v, np.hypot(*sample.gen_met_xy), np.random.default_rng(0), n_boot=100)
    return out


def _met_xy_res(sample: Sample, v: np.ndarray, phi: np.ndarray) -> tuple[float, float]:
    """MET x/y resolution against the generator MET, GeV, and its bootstrap error."""
    gx, gy = sample.gen_met_xy
    return met_xy_resolution(v * np.cos(phi) - gx, v * np.sin(phi) - gy, np.random.default_rng(0), 100)


def weightings(sample: Sample, config: PuppiConfig) -> dict[str, list[np.ndarray]]:
    return {
        "PF": [np.ones(len(c["pt"])) for c in sample.cands],
        "PF+CHS": [c["chs"].astype(float) for c in sample.cands],
        "PF+PUPPI": [puppi_weights({**c, "vertex": v}, n, config)
                     for c, v, n in zip(sample.cands, sample.puppi_vertex, sample.n_vertices)],
    }


def _set(config: PuppiConfig, assignment: str) -> PuppiConfig:
    """``key=value`` or ``regions.I.key=value`` applied to ``config``."""
    key, value = assignment.split("=", 1)
    parts = key.split(".")
    if parts[0] == "regions":
        i = int(parts[1])
        regions = list(config.regions)
        field = type(getattr(regions[i], parts[2]))
        regions[i] = dataclasses.replace(regions[i], **{parts[2]: value.lower() == "true" if field is bool else field(value)})
        return dataclasses.replace(config, regions=tuple(regions))
    field = type(getattr(config, key))
    return dataclasses.replace(config, **{key: field(value)})


def _fmt(x, e, pct=True):
    if not np.isfinite(x):
        return "–"
    return f"{100 * x:.1f}±{100 * e:.1f}" if pct else f"{x:.2f}±{e:.2f}"


def print_table(label: str, figs: dict[str, dict]) -> None:
    head = "  ".join(f"{b:>22}" for b in (f"{lo}-{hi}" for lo, hi in ETA_BINS))
    print(f"\n{label}   jets pT>30: efficiency % / IQR res % (30-100)          MET xy res GeV, median response")
    print(f"{'':>12}{head}")
    for coll, f in figs.items():
        cells = "  ".join(f"{_fmt(j['eff'], j['eff_err']):>10} {_fmt(j['res'], j['res_err']):>11}"
                          for j in f["jets"].values())
        print(f"{coll:>12}{cells}   {f['met_res'][0]:.1f}±{f['met_res'][1]:.1f}  "
              f"{_fmt(*f['met_response'], pct=False)}")


def hf_figures(samples: list[Sample], weights: list[list[np.ndarray]]) -> dict:
    """Pooled HF jet efficiency and self-calibrated resolution, and each sample's raw MET x/y resolution."""
    colls = [_collection(s, w) for s, w in zip(samples, weights)]
    ms = [matched_jets(collection_jets(c, 0.4), s.gen_jets) for s, c in zip(samples, colls)]
    m = {k: np.concatenate([x[k] for x in ms]) for k in ms[0]}
    ok = np.isfinite(m["reco_pt"]) & (m["reco_pt"] > 0)
    hf = jet_performance_eta(m, derive_jec(m["gen_pt"][ok], m["gen_eta"][ok], m["reco_pt"][ok]))[-1]
    met_res = [_met_xy_res(s, *met(c.pt, c.phi, c.weight)) for s, c in zip(samples, colls)]
    return {"eff": hf["efficiency"], "eff_err": hf["efficiency_err"], "n": hf["n_gen"],
            "res": hf["gauss_sigma_over_mean"], "res_err": hf["gauss_sigma_over_mean_err"], "met": met_res}


def print_hf(label: str, f: dict, names: list[str]) -> None:
    mets = "  ".join(f"{n} {r:.1f}±{e:.1f}" for n, (r, e) in zip(names, f["met"]))
    print(f"{label:>12}  HF jets: efficiency {_fmt(f['eff'], f['eff_err'])} % ({f['n']}), corrected resolution "
          f"{_fmt(f['res'], f['res_err'])} %   MET x/y GeV: {mets}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "data" / "puppi")
    ap.add_argument("--prepare", action="store_true", help="build the tuning samples and their PF candidates")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--events", type=int, default=None, help="first N events of each sample")
    ap.add_argument("--samples", nargs="+", default=list(SAMPLES), choices=list(SAMPLES))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="a PuppiConfig variant to compare with the default (repeatable)")
    ap.add_argument("--hf", action="store_true",
                    help="pool the pileup samples and print the HF jet and MET figures of each variant")
    args = ap.parse_args(argv)
    if args.prepare:
        prepare(args.work, args.jobs)
        return 0
    variants = {"default": PuppiConfig()}
    for spec in args.set:
        config = PuppiConfig()
        for a in spec.split(","):
            config = _set(config, a)
        variants[spec] = config
    if args.hf:
        names = [n for n in args.samples if SAMPLES[n][3] != "0"]
        samples = [load_sample(args.work, n, args.events) for n in names]
        print(f"# HF figures, pooled over {', '.join(names)}")
        print_hf("PF", hf_figures(samples, [weightings(s, PuppiConfig())["PF"] for s in samples]), names)
        for vname, config in variants.items():
            print(f"# {vname}")
            print_hf("PF+PUPPI", hf_figures(samples, [weightings(s, config)["PF+PUPPI"] for s in samples]), names)
        return 0
    for name in args.samples:
        t0 = time.time()
        sample = load_sample(args.work, name, args.events)
        print(f"# {name}: {len(sample.cands)} events, loaded in {time.time() - t0:.0f} s, "
              f"vertices {np.mean(sample.n_vertices):.1f} on average")
        for vname, config in variants.items():
            ws = weightings(sample, config)
            if vname != "default":
                ws = {"PF+PUPPI": ws["PF+PUPPI"]}
            print_table(f"[{name}] {vname}", {k: figures(sample, w) for k, w in ws.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
