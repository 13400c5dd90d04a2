"""Events per CPU-second on one core: generation, FlashSim, generation -> FlashSim, and the full chain.

Per process (Z -> mu mu, ttbar; 14 TeV, pileup 55-75), each figure measured ``--repeats`` times
(mean and standard deviation of the rates), ROOT writing included everywhere:

1. ``generate``: Pythia 8 and the generator collections, one file of ``--gen-events`` events per
   repeat (seeds s, s + 1, ...; after a warm-up event: Pythia's initialisation, listed apart, is
   paid once per job).
2. ``flashsim sample`` alone, default settings, at K = 1 and K = 10, on the events of all repeats
   together; at K = 1 the input is those events ``--k1-copies`` times over (event numbers
   shifted), so that the per-file costs (loading the model, opening the files: listed apart)
   weigh as in a production file; also with the cheaper ODE schedule ``--steps 5`` (midpoint, 10
   network evaluations instead of 20), which is faster but not as accurate (docs/flashsim.md,
   section 7).
3. ``generate`` -> ``flashsim sample`` end to end: repeat i's generation plus FlashSim on its
   file, per generator event (K = 1) and per output event (K = 10).
4. The full chain on the same generator events (the first ``--full-events`` of repeat i's seed):
   ``dataset`` (generation, pileup overlay, detector simulation, targets) -> ``reconstruct --algo
   pf`` -> ``nano``, per stage, after a two-event warm-up run (first calls compile kernels).

Speed is events per CPU-second of this process (``time.process_time``: all its threads; torch
limited to one thread), not wall time: the machine this runs on is shared with other jobs, which
inflate wall time but hardly the CPU time a job needs. Writes bench/results/flashsim_speed.json
and the 'flashsim_speed' section of docs/benchmarks.md.

    python bench/bench_flashsim_speed.py [--pool pool.parquet] [--gen-events 700] [--full-events 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402

PROCESSES = {"zmumu": 811, "ttbar": 821}  # process -> first seed
LABEL = {"zmumu": "Z -> mu mu", "ttbar": "ttbar"}
#: a cheaper ODE schedule than the default, for comparison (not as accurate: docs/flashsim.md, section 7)
FAST = ("midpoint", 5)


def _cpu(fn):
    """(result, CPU seconds of this process) of fn()."""
    c0 = time.process_time()
    out = fn()
    return out, time.process_time() - c0


def _rate(events: int, seconds: list[float]) -> dict:
    r = np.array([events / s for s in seconds])
    return {"events": events, "cpu_seconds": seconds, "rate": float(r.mean()),
            "rate_std": float(r.std(ddof=1)) if len(r) > 1 else 0.0}


def _pileup():
    from colliderflow.generate.pileup import PileupRange

    return PileupRange(55, 75)


def generate(process: str, seed: int, events: int, out: Path) -> float:
    from colliderflow.generate.source import GenerationConfig
    from colliderflow.nano.nanogen import NanoGenConfig, generate_nano

    gen = GenerationConfig(process, seed=seed, pileup=_pileup())
    generate_nano(NanoGenConfig(gen, events=1), out.with_suffix(".warm.root"), progress=False)  # Pythia init
    _, cpu = _cpu(lambda: generate_nano(NanoGenConfig(gen, events=events), out, progress=False))
    return cpu


def pythia_init(process: str, seed: int) -> float:
    from colliderflow.generate.source import EventSource, GenerationConfig

    def init():
        EventSource(GenerationConfig(process, seed=seed, pileup=_pileup()), overlay=False).generate(0)

    return _cpu(init)[1]


def flash(model: str, src: Path, out: Path, oversample: int, schedule: tuple[str, int] | None = None) -> dict:
    from colliderflow.flashsim.sample import SampleConfig, sample_file

    extra = {"solver": schedule[0], "steps": schedule[1]} if schedule else {}
    return sample_file(model, src, out, SampleConfig(oversample=oversample, device="cpu", threads=1, **extra),
                       progress=False)


def full_chain(process: str, seed: int, events: int, pool: str, tmp: Path) -> dict[str, float]:
    """CPU seconds per stage of dataset -> reconstruct pf -> nano on the first ``events`` events of ``seed``."""
    from colliderflow.dataset.build import DatasetConfig, build_dataset
    from colliderflow.generate.source import GenerationConfig
    from colliderflow.nano.build import build_nano
    from colliderflow.reconstruct import reconstruct_dataset

    gen = GenerationConfig(process, seed=seed, pileup=_pileup(), pileup_pool=pool)
    ds, pf, nano = tmp / f"ds_{seed}", tmp / f"pf_{seed}", tmp / f"nano_{seed}.root"
    cfg = DatasetConfig(gen, events=events, chunk_size=events)
    _, t_ds = _cpu(lambda: build_dataset(cfg, ds, jobs=1, progress=False))
    _, t_pf = _cpu(lambda: reconstruct_dataset(ds, pf, "pf", {"calibration": "cms-like", "config": {}},
                                               progress=False))
    _, t_nano = _cpu(lambda: build_nano(ds, pf, nano, progress=False))
    return {"dataset": t_ds, "reconstruct_pf": t_pf, "nano": t_nano, "total": t_ds + t_pf + t_nano}


def _concatenate(files: list[Path], out: Path, copies: int = 1) -> int:
    """Write the events of ``files`` ``copies`` times over to ``out`` (event numbers shifted per copy)."""
    import awkward as ak

    from colliderflow.nano.io import read_nano, read_nano_header, write_nano

    events = ak.concatenate([read_nano(f) for f in files])
    shift = int(ak.max(events.event)) + 1
    parts = [ak.with_field(events, ak.to_numpy(events.event) + i * shift, "event") for i in range(copies)]
    write_nano(out, ak.concatenate(parts) if copies > 1 else events, read_nano_header(files[0]))
    return len(events) * copies


def run_process(process: str, seed0: int, args, pool: str, tmp: Path) -> dict:
    seeds = [seed0 + i for i in range(args.repeats)]
    gen_files = [tmp / f"gen_{process}_{s}.root" for s in seeds]
    t_gen = [generate(process, s, args.gen_events, f) for s, f in zip(seeds, gen_files)]
    out = {"process": process, "seeds": seeds, "pythia_init_cpu_seconds": pythia_init(process, seeds[0]),
           "generate": _rate(args.gen_events, t_gen)}
    print(process, "generate", out["generate"], flush=True)

    # FlashSim alone, on every generated event (K = 1: several copies)
    k1_src, k10_src = tmp / f"k1_{process}.root", tmp / f"k10_{process}.root"
    n_k1 = _concatenate(gen_files, k1_src, args.k1_copies)
    n_k10 = _concatenate(gen_files, k10_src)
    flash(args.model, gen_files[0], tmp / "warm.root", 1)  # imports and first-call costs, once per process
    for label, schedule in (("flashsim", None), ("flashsim_fast", FAST)):
        for k, src, n in ((1, k1_src, n_k1), (10, k10_src, n_k10)):
            runs = [flash(args.model, src, tmp / f"flash_{process}.root", k, schedule) for _ in range(args.repeats)]
            out[f"{label}_k{k}"] = {**_rate(n * k, [r["cpu_seconds"] for r in runs]), "generator_events": n,
                                    "batch_size": runs[0]["batch_size"],
                                    "bytes_per_event": (tmp / f"flash_{process}.root").stat().st_size / (n * k)}
            print(process, label, k, out[f"{label}_k{k}"]["rate"], flush=True)
    from colliderflow.flashsim.sample import FlashSim

    out["flashsim_model_load_cpu_seconds"] = _cpu(lambda: FlashSim(args.model, device="cpu"))[1]

    # generate -> FlashSim on the same events, repeat by repeat
    for k in (1, 10):
        t_flash = [flash(args.model, f, tmp / "e2e.root", k)["cpu_seconds"] for f in gen_files]
        out[f"end_to_end_k{k}"] = {**_rate(args.gen_events * k, [a + b for a, b in zip(t_gen, t_flash)]),
                                   "flashsim_cpu_seconds": t_flash}

    # the full chain on the first events of the same seeds, after a warm-up (first calls compile kernels)
    full_chain(process, seeds[0] + 1000, 2, pool, tmp)
    stages = [full_chain(process, s, args.full_events, pool, tmp) for s in seeds]
    out["full_chain"] = {**_rate(args.full_events, [s["total"] for s in stages]),
                         "stages": {k: _rate(args.full_events, [s[k] for s in stages]) for k in stages[0]}}
    print(process, "full chain", out["full_chain"]["rate"], flush=True)
    return out


def _fmt(r: dict) -> str:
    v, e = r["rate"], r["rate_std"]
    digits = 0 if v >= 100 else (1 if v >= 10 else 2)
    return f"{v:.{digits}f} ± {e:.{digits}f}"


def _doc(results: dict, path: Path, args) -> str:
    from colliderflow.flashsim.sample import SampleConfig

    rs = results["processes"]
    heads = " | ".join(LABEL[r["process"]] for r in rs)
    cfg = SampleConfig()
    rows = [
        ("`generate` (Pythia 8 + generator collections)", "generate", "generator events"),
        (f"`flashsim sample`, K = 1 (default: {cfg.solver}, {cfg.steps} steps)", "flashsim_k1", "output events"),
        (f"`flashsim sample`, K = 10 (default: {cfg.solver}, {cfg.steps} steps)", "flashsim_k10", "output events"),
        (f"`flashsim sample --steps {FAST[1]}`, K = 1 (less accurate)", "flashsim_fast_k1", "output events"),
        (f"`flashsim sample --steps {FAST[1]}`, K = 10 (less accurate)", "flashsim_fast_k10", "output events"),
        ("`generate` -> `flashsim sample`, K = 1", "end_to_end_k1", "generator events"),
        ("`generate` -> `flashsim sample`, K = 10", "end_to_end_k10", "output events"),
        ("full chain: `dataset` -> `reconstruct --algo pf` -> `nano`", "full_chain", "generator events"),
    ]
    lines = ["## FlashSim speed per CPU-second, against generation and the full chain (bench/bench_flashsim_speed.py)",
             "",
             f"Events per CPU-second of the process, one torch thread, ROOT output written; mean ± standard "
             f"deviation of {args.repeats} repeats (`bench/bench_flashsim_speed.py`, results in "
             f"`{path.relative_to(Path(__file__).parent.parent)}`). CPU time, not wall time: the 2-core machine was "
             f"shared with other jobs (load average {results['load_before']:.1f} at the start, "
             f"{results['load_after']:.1f} at the end). 14 TeV, pileup 55-75.", "",
             f"| step | counted | {heads} |", "|---|---|" + "---|" * len(rs)]
    for label, key, counted in rows:
        lines.append(f"| {label} | {counted} | " + " | ".join(_fmt(r[key]) for r in rs) + " |")
    for stage, name in (("dataset", "generation + pileup overlay + detector simulation + targets"),
                        ("reconstruct_pf", "PF + vertexing + CHS + PUPPI"), ("nano", "nano object building")):
        lines.append(f"| &nbsp;&nbsp; full chain stage: {name} | generator events | "
                     + " | ".join(_fmt(r["full_chain"]["stages"][stage]) for r in rs) + " |")
    lines += ["", "| | " + heads + " |", "|---|" + "---|" * len(rs),
              "| FlashSim K = 1 / full chain after generation | " + " | ".join(
                  f"{r['flashsim_k1']['rate'] * (1 / r['full_chain']['rate'] - 1 / r['generate']['rate']):.0f}x"
                  for r in rs) + " |",
              "| generate -> FlashSim (K = 1) / full chain | " + " | ".join(
                  f"{r['end_to_end_k1']['rate'] / r['full_chain']['rate']:.0f}x" for r in rs) + " |",
              "| ROOT bytes per FlashSim event, K = 1 / K = 10 | " + " | ".join(
                  f"{r['flashsim_k1']['bytes_per_event']:.0f} / {r['flashsim_k10']['bytes_per_event']:.0f}"
                  for r in rs) + " |",
              "| per job, not per event: Pythia initialisation / loading the FlashSim model [CPU s] | " + " | ".join(
                  f"{r['pythia_init_cpu_seconds']:.2f} / {r['flashsim_model_load_cpu_seconds']:.2f}" for r in rs) + " |",
              "",
              f"Samples: {args.repeats} x {args.gen_events} generator events per process (seeds "
              + ", ".join(f"{LABEL[r['process']]} {r['seeds'][0]}-{r['seeds'][-1]}" for r in rs)
              + f"); FlashSim K = 1 reads them {args.k1_copies} times over "
              f"({rs[0]['flashsim_k1']['generator_events']} events per file), K = 10 once "
              f"(automatic batches: {rs[0]['flashsim_k1']['batch_size']} and {rs[0]['flashsim_k10']['batch_size']} "
              f"generator events); the full chain runs on the first {args.full_events} events of each seed "
              f"(min-bias pool: {results['pool']}). 'full chain after generation' removes `generate`'s time per "
              "event from the full chain's, the closest measure of what FlashSim replaces."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="cms-like")
    ap.add_argument("--pool", help="min-bias pool for the full chain (default: build 300 events, seed 1)")
    ap.add_argument("--gen-events", type=int, default=700, help="generator events per repeat (default: 700)")
    ap.add_argument("--k1-copies", type=int, default=5, help="copies of the events in the K = 1 input (default: 5)")
    ap.add_argument("--full-events", type=int, default=50, help="full-chain events per repeat (default: 50)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--processes", nargs="+", default=list(PROCESSES), choices=list(PROCESSES))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pool = args.pool
        if pool is None:
            from colliderflow.generate.source import generate_pool

            pool = str(generate_pool(tmp / "pool.parquet", 300, seed=1, progress=False))
        rows = [run_process(p, PROCESSES[p], args, pool, tmp) for p in args.processes]
    results = {"model": args.model, "settings": vars(args), "pool": args.pool or "300 events, seed 1",
               "processes": rows, "load_before": load_before, "load_after": os.getloadavg()[0],
               "wall_seconds": time.perf_counter() - t0, "torch_threads": 1}
    path = write_result("flashsim_speed", results)
    text = _doc(results, path, args)
    update_doc_section("flashsim_speed", text)
    print(text)


if __name__ == "__main__":
    main()
