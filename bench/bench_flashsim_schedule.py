"""Does a cheaper ODE schedule change FlashSim's output distributions? Validation metrics per schedule and seed.

For every ODE schedule (solver:steps) and FlashSim seed, sample the generator events of each
comparison with K replicas and run ``colliderflow flashsim validate`` against a target sample:

* ``full``: the full-simulation nano of the same generator events (what the shipped model is
  validated against);
* ``flash``: FlashSim itself at the reference schedule (default midpoint:10) with K = 1 and a seed
  no sampled file uses. Nothing separates the two but the schedule and the seed, so this is the
  sensitive test: with the reference schedule the two-sample AUC is 0.5 up to statistics, and a
  schedule that changes the distributions moves it.

The spread of each metric over the seeds at the reference schedule is its statistical spread; a
schedule passes when its mean is within that spread (bench/results/flashsim_schedule.json holds
every number; the 'flashsim_schedule' section of docs/benchmarks.md shows them).

    python bench/bench_flashsim_schedule.py --full ttbar=full_ttbar.parquet \\
        --flash ttbar=gen_ttbar.root zmumu=gen_zmumu.root --schedules midpoint:10 midpoint:5 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402

#: metrics reported per comparison: two-sample AUCs and Wasserstein distances (in units of the
#: target's inter-quartile range) of the variables the validation report leads with
_AUC = ("Jet", "Muon", "Electron", "Photon", "event")
_WASSERSTEIN = {"Jet": ("pt", "eta", "mass", "btag", "nConstituents", "jetId"),
                "Muon": ("pt", "pfRelIso04_all", "tightId"), "Photon": ("pt",),
                "event": ("PuppiMET_pt", "nJet", "HT", "rho")}


def _summary(m: dict) -> dict:
    out: dict[str, float | None] = {}
    colls = m["collections"]
    for c in _AUC:
        out[f"auc_{c}"] = colls.get(c, {}).get("c2st", {}).get("auc")
    for c, names in _WASSERSTEIN.items():
        w = colls.get(c, {}).get("wasserstein", {})
        for n in names:
            out[f"w_{c}_{n}"] = w[n]["w"] if n in w else None
    for t, r in m["toys"].items():
        out[f"toy_{t}"] = r["flash"]["yield"]
    return out


def _sample(model: str, gen: str, out: Path, solver: str, steps: int, seed: int, k: int) -> float:
    from colliderflow.flashsim.sample import SampleConfig, sample_file

    t0 = time.process_time()
    sample_file(model, gen, out, SampleConfig(oversample=k, solver=solver, steps=steps, seed=seed, device="cpu",
                                              threads=1), progress=False)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="cms-like")
    ap.add_argument("--full", nargs="*", default=[], metavar="NAME=NANO",
                    help="full-simulation nano files (their generator collections are sampled)")
    ap.add_argument("--flash", nargs="*", default=[], metavar="NAME=GEN",
                    help="generator files compared with FlashSim at the reference schedule")
    ap.add_argument("--schedules", nargs="+", default=["midpoint:10", "midpoint:5"], metavar="SOLVER:STEPS",
                    help="the first is the reference")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--oversample", type=int, default=10)
    ap.add_argument("--target-seed", type=int, default=1000, help="seed of the FlashSim target sample")
    ap.add_argument("--out", default="flashsim_schedule", help="result name under bench/results/")
    args = ap.parse_args()

    import torch

    from colliderflow.flashsim.validate import ValidateConfig, validate

    torch.set_num_threads(1)
    schedules = [(s.split(":")[0], int(s.split(":")[1])) for s in args.schedules]
    ref_solver, ref_steps = schedules[0]
    comparisons = [("full", *c.split("=", 1)) for c in args.full] + [("flash", *c.split("=", 1)) for c in args.flash]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for kind, name, path in comparisons:
            target = path
            if kind == "flash":
                target = str(tmp / f"target_{name}.root")
                _sample(args.model, path, Path(target), ref_solver, ref_steps, args.target_seed, 1)
            for solver, steps in schedules:
                for seed in args.seeds:
                    flash = tmp / f"{name}_{solver}{steps}_{seed}.root"
                    cpu = _sample(args.model, path, flash, solver, steps, seed, args.oversample)
                    m = validate([str(flash)], [target], None, tmp / f"rep_{kind}_{name}_{solver}{steps}_{seed}",
                                 ValidateConfig(seed=seed), progress=False)
                    rows.append({"target": kind, "sample": name, "solver": solver, "steps": steps, "seed": seed,
                                 "sample_cpu_seconds": cpu, **_summary(m)})
                    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    # mean and spread per (target, sample, schedule); spread: standard deviation over seeds
    table = {}
    for r in rows:
        key = f"{r['target']}:{r['sample']}:{r['solver']}:{r['steps']}"
        table.setdefault(key, []).append(r)
    summary = {}
    for key, rs in table.items():
        summary[key] = {}
        for metric in rs[0]:
            vals = [r[metric] for r in rs if isinstance(r[metric], (int, float)) and metric not in ("seed", "steps")]
            if len(vals) == len(rs) and vals:
                summary[key][metric] = {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1))
                                        if len(vals) > 1 else None}
    result = {"model": args.model, "schedules": args.schedules, "seeds": args.seeds, "oversample": args.oversample,
              "comparisons": comparisons, "runs": rows, "summary": summary}
    path = write_result(args.out, result)
    text = doc_section(result, path.name)
    update_doc_section("flashsim_schedule", text)
    print(text)


_NAMES = {"auc_Jet": "AUC Jet", "auc_Muon": "AUC Muon", "auc_Electron": "AUC Electron", "auc_Photon": "AUC Photon",
          "auc_event": "AUC event", "toy_zmumu": "Z -> mu mu toy yield", "toy_ttbar": "ttbar toy yield"}


def doc_section(result: dict, name: str) -> str:
    """Mean ± standard deviation over the seeds of every metric, per comparison and schedule."""
    summary = result["summary"]
    groups: dict[tuple[str, str], list[str]] = {}
    for key in summary:
        target, sample, solver, steps = key.split(":")
        groups.setdefault((target, sample), []).append(key)
    lines = ["## FlashSim accuracy per ODE schedule (bench/bench_flashsim_schedule.py)", "",
             f"Does the ODE schedule change FlashSim's distributions? `colliderflow flashsim validate` per schedule and "
             f"FlashSim seed ({', '.join(map(str, result['seeds']))}), K = {result['oversample']}; mean ± standard "
             f"deviation over the seeds (bench/bench_flashsim_schedule.py, {name}). 'vs Full': against the "
             "full-simulation nano of the same generator events; 'vs FlashSim': against FlashSim itself at the first "
             "schedule (K = 1, another seed), which only the schedule and the noise separate, so any shift is the "
             "schedule's. Wasserstein distances in units of the target's inter-quartile range.", ""]
    for (target, sample), keys in groups.items():
        heads = [":".join(k.split(":")[2:]) for k in keys]
        lines += [f"**{sample}, vs {'Full' if target == 'full' else 'FlashSim'}**", "",
                  "| metric | " + " | ".join(heads) + " |", "|---|" + "---|" * len(keys)]
        metrics = [m for m in summary[keys[0]] if m.startswith(("auc", "w_", "toy"))]
        for m in metrics:
            cells = []
            for k in keys:
                v = summary[k].get(m)
                cells.append("–" if v is None else f"{v['mean']:.4f} ± {v['std']:.4f}" if v["std"] is not None
                             else f"{v['mean']:.4f}")
            label = _NAMES.get(m, m.replace("w_", "W ").replace("_", " ", 1))
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
