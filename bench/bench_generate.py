"""Generator-only nano (``colliderflow generate``) speed on one core, against the full chain.

For Z -> mu mu and ttbar (55-75 pileup, drawn as a count only): events/s of Pythia generation
alone, and of the whole ``generate`` path (generation, generator record, GenJet/GenPart/GenMET
building, ROOT writing), wall time and CPU time of this process, after a warm-up event
(Pythia initialisation is listed separately). With ``--hepmc FILE`` also the HepMC path
(reading and converting the file, then the same objects and writing). The full chain's numbers
come from bench/results/flashsim.json (bench/bench_flashsim.py, ttbar at 55-75 pileup).

Writes bench/results/generate.json and the 'generate' section of docs/benchmarks.md.

    python bench/bench_generate.py [--events 200] [--hepmc events.hepmc3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, update_doc_section, write_result  # noqa: E402

PROCESSES = {"zmumu": 71, "ttbar": 72}  # process -> seed


def _timed(fn) -> tuple[object, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def run_process(process: str, seed: int, events: int) -> dict:
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import EventSource, GenerationConfig
    from colliderflow.nano.nanogen import NanoGenConfig, generate_nano

    gen = GenerationConfig(process, seed=seed, pileup=PileupRange(55, 75))
    source, init_wall, _ = _timed(lambda: EventSource(gen, overlay=False))
    _, first, _ = _timed(lambda: source.generate(10_000))  # Pythia initialises on the first event
    _, g_wall, g_cpu = _timed(lambda: [source.generate(i) for i in range(events)])
    with tempfile.TemporaryDirectory() as tmp:
        config = NanoGenConfig(gen, events=events)
        generate_nano(NanoGenConfig(gen, events=1), Path(tmp) / "warm.root", progress=False)  # caches its source
        _, wall, cpu = _timed(lambda: generate_nano(config, Path(tmp) / "gen.root", progress=False))
        size = (Path(tmp) / "gen.root").stat().st_size
    return {"process": process, "seed": seed, "events": events, "pythia_init_seconds": init_wall + first,
            "generation_hz": events / g_wall, "generation_hz_cpu": events / g_cpu,
            "generate_hz": events / wall, "generate_hz_cpu": events / cpu, "bytes_per_event": size / events}


def run_hepmc(path: str) -> dict:
    from colliderflow.nano.nanogen import hepmc_nano

    with tempfile.TemporaryDirectory() as tmp:
        r, wall, cpu = _timed(lambda: hepmc_nano(path, Path(tmp) / "gen.root", progress=False))
    return {"input": path, "events": r["events"], "generate_hz": r["events"] / wall, "generate_hz_cpu": r["events"] / cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200, help="events per process (default: 200)")
    ap.add_argument("--hepmc", help="also time reading this HepMC file")
    args = ap.parse_args()

    rows = [run_process(p, s, args.events) for p, s in PROCESSES.items()]
    hepmc = run_hepmc(args.hepmc) if args.hepmc else None
    full = json.loads((RESULTS / "flashsim.json").read_text())["full_chain"]
    full_hz = full["with_generation_hz"]
    path = write_result("generate", {"runs": rows, "hepmc": hepmc, "full_chain_with_generation_hz": full_hz,
                                     "full_chain_after_generation_hz": full["sim_reco_hz"]})

    lines = ["## Generator-only nano (`colliderflow generate`), one core", "",
             "Pythia 8, 14 TeV, pileup 55-75 drawn as a count (nothing overlaid); events/s in wall time after a "
             "warm-up event, and in CPU time of the process in brackets (wall time suffers from other load on the "
             "machine, CPU time much less); `generate` includes the generator record, GenJet/GenPart/GenMET and "
             "writing ROOT. 'vs full chain': wall-time ratio to the full chain below.", "",
             "| sample | events | Pythia alone [ev/s] | `generate` [ev/s] | vs full chain | ROOT bytes/event | "
             "Pythia init [s] |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['process']} | {r['events']} | {r['generation_hz']:.1f} ({r['generation_hz_cpu']:.1f}) | "
                     f"**{r['generate_hz']:.1f}** ({r['generate_hz_cpu']:.1f}) | {r['generate_hz'] / full_hz:.0f}x | "
                     f"{r['bytes_per_event']:.0f} | {r['pythia_init_seconds']:.1f} |")
    if hepmc:
        lines.append(f"| HepMC3 file ({Path(hepmc['input']).name}) | {hepmc['events']} | – | "
                     f"**{hepmc['generate_hz']:.1f}** ({hepmc['generate_hz_cpu']:.1f}) | "
                     f"{hepmc['generate_hz'] / full_hz:.0f}x | – | – |")
    lines += ["", f"Full chain for comparison (ttbar, 55-75 pileup, `bench/bench_flashsim.py`): {full_hz:.1f} events/s "
              f"with generation and pileup overlay, {full['sim_reco_hz']:.1f} events/s after generation.",
              f"Source: `bench/bench_generate.py`, results in `{path.relative_to(Path(__file__).parent.parent)}`."]
    update_doc_section("generate", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
