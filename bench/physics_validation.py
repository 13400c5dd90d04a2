"""Physics validation of the reconstructions on independent test samples.

Builds (or reuses, thanks to dataset resume) test datasets: ttbar without pileup, ttbar and QCD
with 55-75 pileup at 14 TeV, and the same at 13.6 TeV (out of distribution, as in Table 1 of
the MLPF paper); runs PF (and MLPF when a model is given); derives jet energy corrections on
the QCD sample of each energy; evaluates every sample; copies the key figures into
docs/figures/validation/ and writes bench/results/physics.json and the 'physics' section of
docs/benchmarks.md. Test seeds (101-106) are disjoint from the training seeds (201-202).

    python bench/physics_validation.py --work /path/to/workdir [--mlpf MODEL.pt] [--ttbar 200] [--qcd 400]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402

ROOT = Path(__file__).parent.parent
FIGURES = ROOT / "docs" / "figures" / "validation"


def _run(argv: list[str]) -> None:
    from colliderflow.cli import main

    if main(argv) != 0:
        raise SystemExit(f"failed: colliderflow {' '.join(argv)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="work directory (datasets are reused)")
    ap.add_argument("--mlpf", help="MLPF model (.pt); without it only PF is evaluated")
    ap.add_argument("--ttbar", type=int, default=200, help="ttbar events per sample")
    ap.add_argument("--qcd", type=int, default=400, help="QCD events per sample")
    ap.add_argument("--pool", type=int, default=1500, help="min-bias pool events")
    ap.add_argument("--sqrt-s", type=float, nargs="+", default=[14.0, 13.6])
    args = ap.parse_args()
    w = args.work
    w.mkdir(parents=True, exist_ok=True)
    pool = w / "pool.parquet"
    if not pool.exists():
        _run(["pileup-pool", "--events", str(args.pool), "--seed", "1", "--out", str(pool)])
    results = {}
    for sqrt_s in args.sqrt_s:
        tag = "" if sqrt_s == 14.0 else f"_{sqrt_s:g}TeV".replace(".", "p")
        pool_s = pool if sqrt_s == 14.0 else w / f"pool{tag}.parquet"
        if not pool_s.exists():
            _run(["pileup-pool", "--events", str(args.pool), "--seed", "1", "--sqrt-s", str(sqrt_s), "--out", str(pool_s)])
        seed = 101 if sqrt_s == 14.0 else 104
        samples = {f"ttbar_nopu{tag}": ("ttbar", args.ttbar, "0", seed),
                   f"ttbar_pu{tag}": ("ttbar", args.ttbar, "55-75", seed + 1),
                   f"qcd_pu{tag}": ("qcd", args.qcd, "55-75", seed + 2)}
        for name, (proc, n, pu, sd) in samples.items():
            argv = ["dataset", "--process", proc, "--events", str(n), "--seed", str(sd), "--pileup", pu,
                    "--sqrt-s", str(sqrt_s), "--out", str(w / name), "--quiet"]
            if pu != "0":
                argv += ["--pileup-pool", str(pool_s)]
            _run(argv)
            _run(["reconstruct", "--algo", "pf", "--input", str(w / name), "--output", str(w / f"pf_{name}"), "--quiet"])
            if args.mlpf:
                _run(["reconstruct", "--algo", "mlpf", "--model", args.mlpf, "--input", str(w / name),
                      "--output", str(w / f"mlpf_{name}"), "--quiet"])
        qcd = f"qcd_pu{tag}"
        recos = lambda s: [f"--reco=PF={w / f'pf_{s}'}"] + ([f"--reco=MLPF={w / f'mlpf_{s}'}"] if args.mlpf else [])  # noqa: E731
        _run(["derive-jec", "--dataset", str(w / qcd), *recos(qcd), "--out", str(w / f"jec{tag}.json")])
        for name in samples:
            out = w / f"eval_{name}"
            jec = ["--jec", "self" if "nopu" in name else str(w / f"jec{tag}.json")]
            _run(["evaluate", "--dataset", str(w / name), *recos(name), *jec, "--out", str(out)])
            m = json.loads((out / "metrics.json").read_text())
            results[name] = {"jets_30_100": m["jets_30_100"], "met": m["met"],
                             "jets_corrected": {k: v["corrected"] for k, v in m["jets"].items()},
                             "particles": m["particles"], "jec": m["jec_source"]}
            if sqrt_s == 14.0:
                FIGURES.mkdir(parents=True, exist_ok=True)
                for plot in ("jet_resolution.png", "met.png", "particle_efficiency_pt.png", "particle_fake_pt.png",
                             "event_display_0.png"):
                    shutil.copyfile(out / plot, FIGURES / f"{name}_{plot}")
    path = write_result("physics", {"mlpf_model": args.mlpf, "samples": results})

    lines = ["## Physics validation (independent test samples)", "",
             "Corrected jet resolution (Gaussian σ/μ) for gen jets of 30–100 GeV, |η| < 2.5, and the MET "
             "resolution (16–84% half-width of MET x, y minus the neutrino pT sum). Pileup samples use "
             "corrections derived on the QCD sample of the same energy; no-pileup samples are self-calibrated.", "",
             "| sample | collection | jets | jet resolution | MET resolution [GeV] |", "|---|---|---|---|---|"]
    for name, r in results.items():
        for coll, s in r["jets_30_100"].items():
            res = s.get("gauss_sigma_over_mean")
            err = s.get("gauss_sigma_over_mean_err")
            txt = f"{100 * res:.1f} ± {100 * err:.1f}%" if res == res and res is not None else "–"
            lines.append(f"| {name} | {coll} | {s['n']} | {txt} | {r['met'][coll]['resolution_xy_gev']:.1f} |")
    lines += ["", f"Source: `bench/physics_validation.py`, results in `{path.relative_to(ROOT)}`; figures in "
              "`docs/figures/validation/`."]
    update_doc_section("physics", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
