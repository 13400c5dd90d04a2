"""MLPF inference and training throughput on CPU (and GPU when present), PF on the same events.

Inference time per event versus the number of elements (500 to 20,000) for PyTorch and ONNX
Runtime with one thread; peak memory per event (resident-set growth in a child process per
size); training throughput in events per second; the PF time on the same events. Events are
built by overlaying pileup until the wanted size is reached, so every size is a real
simulated event. Writes bench/results/mlpf.json and the 'mlpf' section of docs/benchmarks.md.

    python bench/bench_mlpf.py --model src/colliderflow/mlpf/models/cms-like/model.pt
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

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402

SIZES = (500, 1000, 2000, 5000, 10000, 20000)
PILEUP_FOR_SIZE = {500: 0, 1000: 10, 2000: 35, 5000: 110, 10000: 230, 20000: 480}


def _event_of_size(n: int, pool: Path):
    """Element features of a simulated ttbar event with pileup chosen to give about n elements."""
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import EventSource, GenerationConfig
    from colliderflow.simulate.card import load_card
    from colliderflow.simulate.detector import simulate_event
    from colliderflow.utils.rng import event_rng

    pu = PILEUP_FOR_SIZE[n]
    src = EventSource(GenerationConfig("ttbar", seed=31, pileup=PileupRange(pu, pu),
                                       pileup_pool=str(pool) if pu else None))
    sim = simulate_event(src.generate(0).particles, load_card("cms-like"), event_rng(31, 0, "simulate"))
    return sim.elements


def _child(model: str, backend: str, n: int, pool: str, repeats: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from colliderflow.mlpf.infer import InferenceConfig, Predictor

    x = _event_of_size(n, Path(pool))
    pred = Predictor(model if backend == "torch" else model.replace(".pt", ".onnx"),
                     InferenceConfig(backend=backend, num_threads=1, batch_elements=10**9))
    pred.predict_events([x])  # warm-up
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred.predict_events([x])
        times.append(time.perf_counter() - t0)
    out = {"backend": backend, "n_elements": int(len(x["type"])), "ms": 1000 * float(np.median(times)),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024}
    if backend == "torch":
        from colliderflow.pf.calibration import load_calibration
        from colliderflow.pf.reconstruct import reconstruct_event

        calib = load_calibration("cms-like")
        reconstruct_event(x, calib)
        t0 = time.perf_counter()
        for _ in range(repeats):
            reconstruct_event(x, calib)
        out["pf_ms"] = 1000 * (time.perf_counter() - t0) / repeats
    return out


def _training_throughput(model: str, datasets: list[str], steps: int) -> dict:
    import torch

    from colliderflow.mlpf.data import load_events, make_batches, pad_batch
    from colliderflow.mlpf.loss import LossConfig, mlpf_loss
    from colliderflow.mlpf.train import load_model, to_tensors

    out = {}
    for ds in datasets:
        events = load_events([ds], max_events=200)
        m = load_model(model).train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-5)
        batches = make_batches(events.sizes(), 12000, seed=0, epoch=0)[:steps]
        n, t0 = 0, time.perf_counter()
        for b in batches:
            X, Y = pad_batch(events, b)
            x, t = to_tensors(X, Y, torch.device("cpu"))
            loss = mlpf_loss(m(x), x, t, LossConfig())["total"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += len(b)
        out[Path(ds).name] = {"events_per_s": n / (time.perf_counter() - t0), "threads": torch.get_num_threads(),
                              "mean_elements": float(events.sizes().mean())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--onnx-max", type=int, default=10000,
                    help="largest size run with ONNX Runtime: its masked CPU attention materialises the N x N "
                         "scores of all heads (about 13 GB at 20,000 elements)")
    ap.add_argument("--train-datasets", nargs="*", default=[], help="datasets for the training-throughput measurement")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        model, backend, n, pool, repeats = args.child
        print(json.dumps(_child(model, backend, int(n), pool, int(repeats))))
        return

    from colliderflow.generate.source import generate_pool

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.parquet"
        generate_pool(pool, max(PILEUP_FOR_SIZE[s] for s in args.sizes) + 20, seed=9, progress=False)
        for n in args.sizes:
            for backend in ("torch", "onnx") if n <= args.onnx_max else ("torch",):
                res = subprocess.run([sys.executable, __file__, "--model", args.model, "--child", args.model, backend,
                                      str(n), str(pool), str(args.repeats)], capture_output=True, text=True)
                if res.returncode != 0:
                    rows.append({"backend": backend, "target_elements": n, "error": res.stderr.strip().splitlines()[-1]})
                    continue
                rows.append({"target_elements": n, **json.loads(res.stdout.strip().splitlines()[-1])})
                print(rows[-1], flush=True)
    training = _training_throughput(args.model, args.train_datasets, steps=6) if args.train_datasets else {}
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    path = write_result("mlpf", {"model": args.model, "inference": rows, "training": training, "gpu": device})
    lines = ["## MLPF inference on CPU (one thread), PF on the same events", "",
             "| elements | PyTorch [ms] | ONNX Runtime [ms] | PF [ms] | peak RSS PyTorch / ORT [MB] |", "|---|---|---|---|---|"]
    by_n: dict[int, dict] = {}
    for r in rows:
        by_n.setdefault(r["target_elements"], {})[r["backend"]] = r
    for n, d in sorted(by_n.items()):
        t, o = d.get("torch", {}), d.get("onnx", {})
        fmt = lambda r, k: f"{r[k]:.0f}" if k in r else ("failed" if r else "not run")  # noqa: E731
        lines.append(f"| {t.get('n_elements', n)} | {fmt(t, 'ms')} | {fmt(o, 'ms')} | {fmt(t, 'pf_ms')} | "
                     f"{fmt(t, 'peak_rss_mb')} / {fmt(o, 'peak_rss_mb')} |")
    if training:
        lines += ["", "Training throughput (CPU, forward + backward + AdamW step, batches of ≤ 12,000 padded elements):", "",
                  "| sample | mean elements | events/s | threads |", "|---|---|---|---|"]
        for name, t in training.items():
            lines.append(f"| {name} | {t['mean_elements']:.0f} | {t['events_per_s']:.2f} | {t['threads']} |")
    lines += ["", f"ONNX Runtime is not run above {args.onnx_max} elements: with a padding mask its CPU attention "
              "kernel materialises the N x N scores of every head (PyTorch's fused CPU kernel does not).",
              f"GPU: {device} (no GPU was lent to the session that made this table; GPU figures are still to be "
              "measured)." if device == "none" else f"GPU: {device}.",
              "The MLPF paper quotes 20 ms/event on an L4 GPU, a few seconds on one CPU thread, and PF about 110 ms.",
              f"Source: `bench/bench_mlpf.py`, results in `{path.relative_to(Path(__file__).parent.parent)}`."]
    update_doc_section("mlpf", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
