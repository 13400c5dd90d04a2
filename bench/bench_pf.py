"""PF runtime per event versus the number of elements, on one core.

Generates ttbar events with no pileup, 55-75 and 200 pileup interactions, simulates them, and
times ``colliderflow.pf.reconstruct.reconstruct_event`` (linking, particle building, vertexing,
CHS, PUPPI) per event. Fits t = A * n_elements^k. Writes bench/results/pf.json and the 'pf'
section of docs/benchmarks.md.

    python bench/bench_pf.py [--events 20] [--pool-events 600]
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

TARGET_MS = 100.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20, help="events per pileup setting")
    ap.add_argument("--pool-events", type=int, default=600)
    args = ap.parse_args()

    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import EventSource, GenerationConfig, generate_pool
    from colliderflow.pf.calibration import load_calibration
    from colliderflow.pf.reconstruct import reconstruct_event
    from colliderflow.simulate.card import load_card
    from colliderflow.simulate.detector import simulate_event
    from colliderflow.utils.rng import event_rng

    card, calib = load_card("cms-like"), load_calibration("cms-like")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.parquet"
        generate_pool(pool, args.pool_events, seed=5, progress=False)
        for label, pu in (("no pileup", "0"), ("pileup 55-75", "55-75"), ("pileup 200", "200")):
            src = EventSource(GenerationConfig("ttbar", seed=21, pileup=PileupRange.parse(pu), pileup_pool=str(pool)))
            warm = simulate_event(src.generate(10_000).particles, card, event_rng(21, 10_000, "simulate"))
            reconstruct_event(warm.elements, calib)
            for i in range(args.events):
                sim = simulate_event(src.generate(i).particles, card, event_rng(21, i, "simulate"))
                t0 = time.perf_counter()
                reconstruct_event(sim.elements, calib)
                rows.append({"setting": label, "n_elements": sim.n_elements, "ms": 1000 * (time.perf_counter() - t0)})
    n = np.array([r["n_elements"] for r in rows], dtype=float)
    ms = np.array([r["ms"] for r in rows])
    k, log_a = np.polyfit(np.log(n), np.log(ms), 1)
    summary = {}
    for label in dict.fromkeys(r["setting"] for r in rows):
        sel = [r for r in rows if r["setting"] == label]
        summary[label] = {"events": len(sel), "mean_elements": float(np.mean([r["n_elements"] for r in sel])),
                          "median_ms": float(np.median([r["ms"] for r in sel])),
                          "p90_ms": float(np.percentile([r["ms"] for r in sel], 90))}
    path = write_result("pf", {"events": rows, "summary": summary, "scaling_exponent": float(k),
                               "scaling_prefactor_ms": float(np.exp(log_a)), "target_ms_55_75": TARGET_MS})
    lines = ["## PF reconstruction time, one core", "",
             "| ttbar sample | events | mean elements | median [ms/event] | 90% quantile [ms] |", "|---|---|---|---|---|"]
    for label, s in summary.items():
        lines.append(f"| {label} | {s['events']} | {s['mean_elements']:.0f} | **{s['median_ms']:.1f}** | {s['p90_ms']:.1f} |")
    lines += ["", f"Fitted scaling: t ∝ N_elements^{k:.2f}. Goal at 55–75 pileup: ≤ {TARGET_MS:.0f} ms/event "
              "(CMS PF: about 110 ms/event on a Xeon core, MLPF paper section 8). Linking, particle building, "
              "vertexing, CHS and PUPPI are included; reading and writing files are not.",
              f"Source: `bench/bench_pf.py`, results in `{path.relative_to(Path(__file__).parent.parent)}`."]
    update_doc_section("pf", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
