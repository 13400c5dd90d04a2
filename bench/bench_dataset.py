"""Dataset-chain throughput: events/s/core for generation, simulation and target building.

Runs ttbar without pileup and with 55-75 pileup on one core, in separate processes so that the
peak memory of each configuration is measured on its own. Writes bench/results/dataset.json
and the 'dataset' table of docs/benchmarks.md.

    python bench/bench_dataset.py [--events-nopu 200] [--events-pu 30] [--pool-events 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402

TARGETS = {"nopu": 20.0, "pu": 3.0}


def run_one(label: str, pileup: str, events: int, pool: str | None) -> dict:
    """Process ``events`` events in this process and time each stage (after a warm-up event)."""
    import numpy as np

    from colliderflow.dataset.build import StageTimer, event_record, process_event
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import EventSource, GenerationConfig
    from colliderflow.simulate.card import load_card

    cfg = GenerationConfig("ttbar", seed=11, pileup=PileupRange.parse(pileup), pileup_pool=pool)
    source, card = EventSource(cfg), load_card("cms-like")
    process_event(source, card, 10_000)  # warm-up: Pythia init, numba compilation
    timer = StageTimer()
    n_elem, n_part = [], []
    t0 = time.perf_counter()
    for i in range(events):
        ev, sim, tgt = process_event(source, card, i, timer)
        event_record(ev, sim, tgt)
        n_elem.append(sim.n_elements)
        n_part.append(len(ev.particles))
    wall = time.perf_counter() - t0
    rates = {k: events / v for k, v in timer.seconds.items()}
    return {
        "label": label, "pileup": pileup, "events": events,
        "events_per_s": {**rates, "chain": events / sum(timer.seconds.values())},
        "ms_per_event": {k: 1000 * v / events for k, v in timer.seconds.items()},
        "wall_seconds": wall,
        "elements_per_event": float(np.mean(n_elem)),
        "particles_per_event": float(np.mean(n_part)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events-nopu", type=int, default=200)
    ap.add_argument("--events-pu", type=int, default=30)
    ap.add_argument("--pool-events", type=int, default=1000)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        label, pileup, events, pool = args.child
        print(json.dumps(run_one(label, pileup, int(events), pool if pool != "-" else None)))
        return

    from colliderflow.generate.source import generate_pool

    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.parquet"
        t0 = time.perf_counter()
        generate_pool(pool, args.pool_events, seed=3, progress=False)
        pool_rate = args.pool_events / (time.perf_counter() - t0)
        rows = []
        for label, pileup, events, p in (("ttbar, no pileup", "0", args.events_nopu, "-"),
                                         ("ttbar, pileup 55-75", "55-75", args.events_pu, str(pool))):
            out = subprocess.run([sys.executable, __file__, "--child", label, pileup, str(events), p],
                                 check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    path = write_result("dataset", {"minbias_pool_events_per_s": pool_rate, "runs": rows, "targets": TARGETS})

    lines = ["## Dataset chain (generate → simulate → target), one core", "",
             "| sample | generate [ev/s] | simulate [ev/s] | target building [ev/s] | chain [ev/s] | goal [ev/s] | elements/event | peak RSS [MB] |",
             "|---|---|---|---|---|---|---|---|"]
    for r, target in zip(rows, (TARGETS["nopu"], TARGETS["pu"])):
        e = r["events_per_s"]
        lines.append(f"| {r['label']} ({r['events']} ev) | {e['generate']:.1f} | {e['simulate']:.1f} | "
                     f"{e['target']:.0f} | **{e['chain']:.1f}** | ≥ {target:g} | {r['elements_per_event']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    lines += ["", f"Min-bias pool generation: {pool_rate:.0f} events/s on one core (Pythia initialisation included).",
              f"Source: `bench/bench_dataset.py`, results in `{path.relative_to(Path(__file__).parent.parent)}`."]
    update_doc_section("dataset", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
