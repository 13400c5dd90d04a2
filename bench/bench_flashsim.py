"""FlashSim speed on one CPU core versus the full chain, and versus the ODE solver and steps.

1. Full chain on generator events of the validation sample (same process, seed and event
   indices): generation, detector simulation + target, PF (+ vertexing, CHS, PUPPI) and nano
   object building, one core, timed per stage.
2. FlashSim on the generator objects of the same events (one torch thread, default settings),
   including loading the model and writing the ROOT output, for K = 1 and K = 10 replicas.
3. Solver scan: events per CPU-second of ``FlashSim.simulate`` for Euler, midpoint and RK4 at
   several step counts, and the integration error: the same Gaussian noise integrated by each
   solver and by the adaptive reference (DOP853, rtol 1e-7) through the jet, muon and MET flows,
   as the median |pT - pT_ref| / pT_ref of jets and |MET - MET_ref| / MET_ref, the fraction of
   jets whose jetId differs, and the shift of the fraction of generator muons with isolation
   pfRelIso04_all < 0.25 (20 noise draws per muon): integration errors bias discrete and spiky
   targets, which a median of continuous ones does not show.

FlashSim rates are events per CPU-second of this process (the machine may be shared); the full
chain's are per wall second of its stages, as before. bench/bench_flashsim_speed.py measures all
of them in CPU time, with repeats.

Writes bench/results/flashsim.json and the 'flashsim' section of docs/benchmarks.md.

    python bench/bench_flashsim.py --model runs/flashsim-cms-like --gen data/fs/nano_val_ttbar.parquet \\
        --pool data/pool.parquet --process ttbar --seed 512 [--full-events 40]
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

TARGET_HZ = 5000.0


def full_chain(process: str, seed: int, events: int, pool: str) -> dict:
    from colliderflow.dataset.build import DatasetConfig, build_dataset
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import GenerationConfig
    from colliderflow.nano.build import build_nano
    from colliderflow.reconstruct import PFSettings, reconstruct_dataset

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gen = GenerationConfig(process, seed=seed, pileup=PileupRange(55, 75), pileup_pool=pool)
        s = build_dataset(DatasetConfig(gen, events=events, chunk_size=events), tmp / "ds", jobs=1, progress=False)
        t0 = time.perf_counter()
        reconstruct_dataset(tmp / "ds", tmp / "pf", "pf", PFSettings("cms-like"), progress=False)
        t_pf = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_nano(tmp / "ds", tmp / "pf", tmp / "nano.root", progress=False)
        t_nano = time.perf_counter() - t0
    st = s["stage_seconds"]
    per = {k: v / events for k, v in st.items()}
    per["pf"] = t_pf / events
    per["nano"] = t_nano / events
    sim_chain = per.get("simulate", 0) + per.get("target", 0) + per["pf"] + per["nano"]
    return {"events": events, "seconds_per_event": per, "sim_reco_seconds_per_event": sim_chain,
            "sim_reco_hz": 1.0 / sim_chain, "with_generation_hz": 1.0 / (sim_chain + per.get("generate", 0))}


def flash_throughput(model: str, gen: str, oversample: int, n_events: int) -> dict:
    from colliderflow.flashsim.sample import SampleConfig, sample_file
    from colliderflow.nano.io import read_nano, write_nano

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "gen.parquet"
        write_nano(src, read_nano(gen)[:n_events])
        cfg = SampleConfig(oversample=oversample, threads=1, device="cpu")
        sample_file(model, src, Path(tmp) / "warm.root", SampleConfig(threads=1, device="cpu", batch_size=200),
                    progress=False)
        r = sample_file(model, src, Path(tmp) / "flash.root", cfg, progress=False)
        size = (Path(tmp) / "flash.root").stat().st_size
    return {"oversample": oversample, "generator_events": r["generator_events"], "events": r["events"],
            "seconds": r["seconds"], "cpu_seconds": r["cpu_seconds"], "hz": r["events_per_cpu_second"],
            "bytes_per_event": size / r["events"], "solver": cfg.solver, "steps": cfg.steps}


def solver_scan(model: str, gen: str, n_events: int) -> list[dict]:
    import torch

    from colliderflow.flashsim.event import met_condition, met_from_targets, pileup_columns, rho_of
    from colliderflow.flashsim.ode import evaluations, integrate
    from colliderflow.flashsim.sample import FlashSim, SampleConfig
    from colliderflow.flashsim.sources import MODELS, event_features, source_table
    from colliderflow.flashsim.bundle import object_condition
    from colliderflow.nano.io import read_nano

    torch.set_num_threads(1)
    events = read_nano(gen)[:n_events]
    sim = FlashSim(model, device="cpu")
    # jet flow on every gen jet (rank 0 of one object), MET flow on the full-sim objects
    spec = MODELS["jet_genjet"]
    t = source_table(events, spec)
    def pileup(m):  # the full-simulation rho and vertices stand in for the sampled ones
        return pileup_columns({"rho": rho_of(events), "npvs": np.asarray(events.PV.npvs)}, sim.models[m].pileup)

    cond = np.column_stack([t.cond, pileup("jet_genjet")[t.event]])
    jm = sim.models["jet_genjet"]
    jc = torch.as_tensor(object_condition(cond, np.zeros(len(cond)), np.ones(len(cond)), spec.max_multiplicity))
    # muon flow on every generator muon, 20 noise draws each
    mspec = MODELS["muon_genmuon"]
    tm = source_table(events, mspec)
    mu_rows = np.repeat(np.arange(len(tm.cond)), 20)
    mu_cond = np.column_stack([tm.cond, pileup("muon_genmuon")[tm.event]])[mu_rows]
    um = sim.models["muon_genmuon"]
    uc = torch.as_tensor(object_condition(mu_cond, np.zeros(len(mu_rows)), np.ones(len(mu_rows)),
                                          mspec.max_multiplicity))
    mu_ref = {k: v[mu_rows] for k, v in tm.ref.items()}
    mm = sim.models["met"]
    reco = {k: events[k] for k in ("Jet", "Muon", "Electron", "Photon")}
    mc = torch.as_tensor(np.column_stack([met_condition(events, reco, event_features(events), mm.condition), pileup("met")]))
    g = torch.Generator().manual_seed(0)
    jx0, mx0 = torch.randn(len(jc), jm.flow.dim, generator=g), torch.randn(len(mc), mm.flow.dim, generator=g)
    ux0 = torch.randn(len(uc), um.flow.dim, generator=g)
    phi0 = np.asarray(events.GenMET.phi, dtype=np.float64)

    def jets(method, steps):
        z = integrate(lambda x, s: jm.flow(x, s.expand(x.shape[0]), jc), jx0.clone(), method, steps)
        return jm.transform.inverse(z.double().numpy(), t.ref)

    def muon_iso_pass(method, steps):
        z = integrate(lambda x, s: um.flow(x, s.expand(x.shape[0]), uc), ux0.clone(), method, steps)
        return float(np.mean(um.transform.inverse(z.double().numpy(), mu_ref)["pfRelIso04_all"] < 0.25))

    def met_pt(method, steps):
        z = integrate(lambda x, s: mm.flow(x, s.expand(x.shape[0]), mc), mx0.clone(), method, steps)
        return met_from_targets(mm.transform.inverse(z.double().numpy(), {}), phi0)["pt"]

    ref_j, ref_m, ref_u = jets("adaptive", 0), met_pt("adaptive", 0), muon_iso_pass("adaptive", 0)
    rows = []
    for method in ("euler", "midpoint", "rk4"):
        for steps in (1, 2, 4, 5, 8, 10, 16, 32):
            if evaluations(method, steps) > 64:
                continue
            cfg = SampleConfig(oversample=1, solver=method, steps=steps, device="cpu")
            sim.simulate(events[:50], cfg)
            t0 = time.process_time()
            sim.simulate(events, cfg)
            dt = time.process_time() - t0
            j = jets(method, steps)
            ej = np.abs(j["pt"] / ref_j["pt"] - 1)
            em = np.abs(met_pt(method, steps) / np.maximum(ref_m, 1e-3) - 1)
            rows.append({"solver": method, "steps": steps, "evaluations": evaluations(method, steps),
                         "hz": len(events) / dt, "jet_pt_err_median": float(np.median(ej)),
                         "jet_pt_err_p99": float(np.quantile(ej, 0.99)), "met_err_median": float(np.median(em)),
                         "jet_id_changed": float(np.mean(j["jetId"] != ref_j["jetId"])),
                         "muon_iso_pass_shift": muon_iso_pass(method, steps) - ref_u, "muons": len(uc),
                         "muon_iso_pass_reference": ref_u})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="FlashSim bundle or training directory")
    ap.add_argument("--gen", required=True, help="nano file whose generator collections are simulated")
    ap.add_argument("--pool", required=True, help="min-bias pool for the full chain (55-75 pileup)")
    ap.add_argument("--process", default="ttbar", help="process of --gen (for the full-chain run)")
    ap.add_argument("--seed", type=int, default=512, help="dataset seed of --gen (same generator events)")
    ap.add_argument("--full-events", type=int, default=40)
    ap.add_argument("--flash-events", type=int, default=1500)
    ap.add_argument("--scan-events", type=int, default=1000)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    full = full_chain(args.process, args.seed, args.full_events, args.pool)
    print("full chain", full, flush=True)
    flash = [flash_throughput(args.model, args.gen, k, args.flash_events) for k in (1, 10)]
    print("flash", flash, flush=True)
    scan = solver_scan(args.model, args.gen, args.scan_events)
    result = {"model": args.model, "gen": args.gen, "process": args.process, "full_chain": full, "flashsim": flash,
              "solver_scan": scan, "target_hz": TARGET_HZ}
    path = write_result("flashsim", result)
    update_doc_section("flashsim", doc_section(result, path.name))


def doc_section(result: dict, name: str) -> str:
    """The 'flashsim' section of docs/benchmarks.md from a result (also: regenerate it from flashsim.json)."""
    full, flash, scan = result["full_chain"], result["flashsim"], result["solver_scan"]
    per = full["seconds_per_event"]
    lines = ["## FlashSim versus the full chain, and the ODE solvers (bench/bench_flashsim.py)", "",
             f"FlashSim versus the full chain, one CPU core ({result['process']}, 55-75 pileup; bench/bench_flashsim.py, "
             f"{name}). FlashSim runs from the generator objects with one torch thread and the default settings "
             f"({flash[0]['solver']}, {flash[0]['steps']} steps), and includes loading the model and writing the ROOT "
             "file; its rates are per CPU-second, the full chain's per wall second of each stage (which a loaded "
             "machine slows down), so the two are not divided here: the 'flashsim_speed' section below compares "
             "everything in CPU time, with repeats.", "",
             "| step | events/s/core |", "|---|---|",
             f"| generation (Pythia 8 + pileup overlay), wall | {1 / max(per.get('generate', 1e-9), 1e-9):.1f} |",
             f"| detector simulation + target, wall | {1 / max(per.get('simulate', 0) + per.get('target', 0), 1e-9):.1f} |",
             f"| PF + vertexing + PUPPI, wall | {1 / per['pf']:.1f} |",
             f"| nano object building, wall | {1 / per['nano']:.1f} |",
             f"| **full chain after generation**, wall | **{full['sim_reco_hz']:.1f}** |"]
    for f in flash:
        lines.append(f"| **FlashSim, K = {f['oversample']}**, CPU | **{f['hz']:.0f}** "
                     f"({f['bytes_per_event']:.0f} bytes/event in ROOT) |")
    lines += ["", f"Goal >= {result['target_hz']:.0f} events per CPU-second per core at K = 1 (issue 10).", "",
              "ODE solver scan (`FlashSim.simulate` at K = 1, one torch thread, events per CPU-second; error against "
              "the adaptive DOP853 solution for the same noise):", "",
              "| solver | steps | network evaluations | events/s/core | jet pT error (median) | jet pT error (99%) | "
              "MET error (median) | jetId changed | muon iso < 0.25: shift of the fraction |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in scan:
        lines.append(f"| {r['solver']} | {r['steps']} | {r['evaluations']} | {r['hz']:.0f} | {r['jet_pt_err_median']:.2e} | "
                     f"{r['jet_pt_err_p99']:.2e} | {r['met_err_median']:.2e} | {100 * r['jet_id_changed']:.2f}% | "
                     f"{100 * r['muon_iso_pass_shift']:+.2f}% |")
    lines += ["", f"Muons: {scan[0]['muons']} draws on the generator muons (20 per muon), "
              f"{100 * scan[0]['muon_iso_pass_reference']:.1f}% isolated with the adaptive solution (mostly "
              "heavy-flavour muons in ttbar)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
