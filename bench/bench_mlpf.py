"""MLPF inference and training throughput on CPU (and GPU when present), PF on the same events.

Inference time per event versus the number of elements (500 to 20,000) for PyTorch and ONNX
Runtime with one thread, for one or more models (dense and window attention side by side); peak
memory per event (resident-set size of a child process per size and backend); the fitted
exponent of time against elements between 2,000 and 20,000; training throughput in events per
second; the PF time on the same events. Events are built by overlaying pileup until the wanted
size is reached, so every size is a real simulated event (3,000 elements is a ttbar event with
65 pileup interactions, the middle of the 55-75 range). Writes bench/results/mlpf.json and the
'mlpf' section of docs/benchmarks.md.

    python bench/bench_mlpf.py --model window.pt dense.pt [--dense-onnx-max 10000]
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

SIZES = (500, 1000, 2000, 3000, 5000, 10000, 20000)
PILEUP_FOR_SIZE = {500: 0, 1000: 10, 2000: 35, 3000: 65, 5000: 110, 10000: 230, 20000: 480}


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
    times, wall = [], []
    for _ in range(repeats):
        t0, w0 = time.process_time(), time.perf_counter()
        pred.predict_events([x])
        times.append(time.process_time() - t0)
        wall.append(time.perf_counter() - w0)
    # CPU time of this one-thread process: robust to other load on the machine; wall time beside it
    out = {"backend": backend, "n_elements": int(len(x["type"])), "ms": 1000 * float(np.median(times)),
           "wall_ms": 1000 * float(np.median(wall)),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024}
    if backend == "torch":
        from colliderflow.pf.calibration import load_calibration
        from colliderflow.pf.reconstruct import reconstruct_event

        calib = load_calibration("cms-like")
        reconstruct_event(x, calib)
        t0 = time.process_time()
        for _ in range(repeats):
            reconstruct_event(x, calib)
        out["pf_ms"] = 1000 * (time.process_time() - t0) / repeats
    return out


def _training_throughput(model: str, datasets: list[str], steps: int) -> dict:
    import torch

    from colliderflow.mlpf.data import load_events, make_batches, pad_batch
    from colliderflow.mlpf.loss import LossConfig, mlpf_loss
    from colliderflow.mlpf.files import load_model
    from colliderflow.mlpf.train import to_tensors

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


def _attention(model: str) -> str:
    from colliderflow.mlpf.files import read_model_file

    return read_model_file(model)["model_config"].get("attention", "dense")


def _exponent(rows: list[dict], lo: int = 2000, hi: int = 20000) -> float | None:
    """Slope of log(time) against log(elements) for rows with lo <= elements <= hi."""
    pts = [(r["n_elements"], r["ms"]) for r in rows if "ms" in r and lo <= r["target_elements"] <= hi]
    if len(pts) < 2:
        return None
    n, t = np.log(np.array(pts, dtype=float)).T
    return float(np.polyfit(n, t, 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs="+", required=True, help="model files (.pt; the .onnx beside each is used "
                    "for ONNX Runtime)")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dense-onnx-max", type=int, default=10000,
                    help="largest size run with ONNX Runtime for dense-attention models: its masked CPU attention "
                         "materialises the N x N scores of all heads (about 17 GB at 22,500 elements)")
    ap.add_argument("--train-datasets", nargs="*", default=[], help="datasets for the training-throughput measurement")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        model, backend, n, pool, repeats = args.child
        print(json.dumps(_child(model, backend, int(n), pool, int(repeats))))
        return

    from colliderflow.generate.source import generate_pool

    rows = []
    kinds = {m: _attention(m) for m in args.model}
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.parquet"
        generate_pool(pool, max(PILEUP_FOR_SIZE[s] for s in args.sizes) + 20, seed=9, progress=False)
        for n in args.sizes:
            for model in args.model:
                onnx_ok = kinds[model] != "dense" or n <= args.dense_onnx_max
                for backend in ("torch", "onnx") if onnx_ok else ("torch",):
                    res = subprocess.run([sys.executable, __file__, "--model", model, "--child", model, backend,
                                          str(n), str(pool), str(args.repeats)], capture_output=True, text=True)
                    row = {"model": model, "attention": kinds[model], "backend": backend, "target_elements": n}
                    if res.returncode != 0:
                        rows.append({**row, "error": res.stderr.strip().splitlines()[-1]})
                    else:
                        rows.append({**row, **json.loads(res.stdout.strip().splitlines()[-1])})
                    print(rows[-1], flush=True)
    training = {m: _training_throughput(m, args.train_datasets, steps=6) for m in args.model} \
        if args.train_datasets else {}
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    exponents = {f"{kinds[m]}/{b}": _exponent([r for r in rows if r["model"] == m and r["backend"] == b])
                 for m in args.model for b in ("torch", "onnx")}
    path = write_result("mlpf", {"models": kinds, "inference": rows, "exponent_2k_20k": exponents,
                                 "training": training, "gpu": device})
    labels = [kinds[m] for m in args.model]
    head = " | ".join(f"{k} PyTorch [ms] | {k} ORT [ms]" for k in labels)
    mem = " / ".join(f"{k} PT, ORT" for k in labels)
    lines = ["## MLPF inference on CPU (one thread), PF on the same events", "",
             "CPU time per event (process time of a one-thread child process, median of "
             f"{args.repeats}; robust to other load on the machine), and the peak resident memory of that process "
             "(including PyTorch/ONNX Runtime themselves and the event simulation).", "",
             f"| elements | PF [ms] | {head} | peak RSS [MB] ({mem}) |",
             "|---|---|" + "---|---|" * len(labels) + "---|"]
    by_n: dict[int, dict] = {}
    for r in rows:
        by_n.setdefault(r["target_elements"], {})[(r["model"], r["backend"])] = r
    fmt = lambda r, k: f"{r[k]:.0f}" if k in r else ("failed" if r else "not run")  # noqa: E731
    for n, d in sorted(by_n.items()):
        first = d.get((args.model[0], "torch"), {})
        cells = " | ".join(f"{fmt(d.get((m, 'torch'), {}), 'ms')} | {fmt(d.get((m, 'onnx'), {}), 'ms')}"
                           for m in args.model)
        rss = " / ".join(f"{fmt(d.get((m, 'torch'), {}), 'peak_rss_mb')}, {fmt(d.get((m, 'onnx'), {}), 'peak_rss_mb')}"
                         for m in args.model)
        lines.append(f"| {first.get('n_elements', n)} | {fmt(first, 'pf_ms')} | {cells} | {rss} |")
    lines += ["", "Fitted exponent of time against elements, 2,000 to 20,000: " +
              ", ".join(f"{k} {v:.2f}" for k, v in exponents.items() if v is not None) + "."]
    if training:
        lines += ["", "Training throughput (CPU, forward + backward + AdamW step, batches of ≤ 12,000 padded elements):", "",
                  "| model | sample | mean elements | events/s | threads |", "|---|---|---|---|---|"]
        for m, per in training.items():
            for name, t in per.items():
                lines.append(f"| {kinds[m]} | {name} | {t['mean_elements']:.0f} | {t['events_per_s']:.2f} | "
                             f"{t['threads']} |")
    lines += ["", f"ONNX Runtime is not run above {args.dense_onnx_max} elements for dense attention: with a padding "
              "mask its CPU attention kernel materialises the N x N scores of every head (PyTorch's fused CPU kernel "
              "does not). Window attention has no such limit.",
              f"GPU: {device} (no GPU was lent to the session that made this table; GPU figures are still to be "
              "measured)." if device == "none" else f"GPU: {device}.",
              "The MLPF paper quotes 20 ms/event on an L4 GPU, a few seconds on one CPU thread, and PF about 110 ms.",
              f"Source: `bench/bench_mlpf.py`, results in `{path.relative_to(Path(__file__).parent.parent)}`."]
    update_doc_section("mlpf", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
