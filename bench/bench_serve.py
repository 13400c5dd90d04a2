"""MLPF as a service against local inference: events/s and time per event with 1, 2 and 4 clients.

Starts ``colliderflow serve`` (PyTriton, ONNX Runtime on the CPU, one instance) on free loopback
ports and runs the inference step of ``reconstruct --algo mlpf`` (``Predictor.predict_events``:
padded batches within the memory bound, decoded outputs; no pileup mitigation) on the same events:

* local: ONNX Runtime in this process, the same .onnx and thread count as the server;
* served: 1, 2 or 4 client processes at once (``reconstruct --jobs N --server``), each sending the
  whole event list; events/s counts every client's events, time per event is a client's wall
  time over its events.

With one client it splits the served time per batch into the client's encoding of the request
(``set_data_from_numpy``), its decoding of the answer (``as_numpy``), the identity check after each
answer (one metadata request) and the rest (gRPC, Triton, PyTriton's hop from its Python backend
to the server process, ONNX Runtime), against ONNX Runtime alone on the same batch. The server's
CPU time per event (its whole process group) is robust to other load on the machine; wall times
are not, and the load average is recorded with them. Writes bench/results/serve.json and the
'serve' section of docs/benchmarks.md.

    python bench/bench_serve.py [--nopu data/val/ttbar_nopu --pu data/val/ttbar_pu --events 120 24]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_doc_section, write_result  # noqa: E402

CLIENTS = (1, 2, 4)


def _events(dataset: Path, n: int) -> list[dict[str, np.ndarray]]:
    from colliderflow.dataset.read import _read_chunk, dataset_files
    from colliderflow.reconstruct import iter_events

    out: list[dict[str, np.ndarray]] = []
    for f in dataset_files(dataset):
        out += list(iter_events(_read_chunk(f).X))
        if len(out) >= n:
            return out[:n]
    raise SystemExit(f"{dataset}: {len(out)} events, {n} wanted")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of the live processes of process group ``pgid``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _background(seconds: float = 3.0) -> str:
    """Other processes using more than a third of a core, sampled over ``seconds`` (e.g. a training run)."""
    def cpu() -> dict[int, tuple[float, str]]:
        out = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            out[int(stat.parent.name)] = ((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), cmd)
        return out

    before = cpu()
    time.sleep(seconds)
    after = cpu()
    busy = [f"{(after[pid][0] - before[pid][0]) / seconds:.1f} cores: {' '.join(after[pid][1].split()[:4])[:90]}"
            for pid in after if pid in before and pid != os.getpid()
            and (after[pid][0] - before[pid][0]) / seconds > 0.33]
    return "; ".join(busy) or "nothing else busy"


def _instrument() -> dict[str, float]:
    """Time the client's encoding, decoding and identity checks (this process only)."""
    import tritonclient.grpc as grpcclient

    from colliderflow.mlpf.client import TritonMLPF

    times = {"encode": 0.0, "decode": 0.0, "identity": 0.0, "request": 0.0, "requests": 0}

    def timed(owner, name, key, count=False):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                times[key] += time.perf_counter() - t0
                if count:
                    times["requests"] += 1

        setattr(owner, name, wrapper)

    timed(grpcclient.InferInput, "set_data_from_numpy", "encode")
    timed(grpcclient.InferResult, "as_numpy", "decode")
    timed(TritonMLPF, "_metadata", "identity")
    timed(TritonMLPF, "_infer", "request", count=True)
    return times


def _client(server: str, dataset: str, n: int, threads: int, barrier, queue) -> None:
    from colliderflow.mlpf.infer import InferenceConfig, Predictor

    events = _events(Path(dataset), n)
    times = _instrument()
    pred = Predictor("", InferenceConfig(backend="onnx", server=server, server_timeout=600))
    pred.predict_events(events[:2])  # warm-up: connection, first requests
    for k in times:
        times[k] = 0
    barrier.wait()
    t0 = time.perf_counter()
    pred.predict_events(events)
    queue.put({"wall": time.perf_counter() - t0, **times})


def _local(onnx: Path, events, threads: int) -> dict:
    from colliderflow.mlpf.infer import InferenceConfig, Predictor

    pred = Predictor(onnx, InferenceConfig(backend="onnx", num_threads=threads))
    pred.predict_events(events[:2])
    c0, t0 = time.process_time(), time.perf_counter()
    pred.predict_events(events)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


def _padded_bytes(events, batch_elements: int = 20000) -> tuple[int, int]:
    """Bytes sent and received for ``events`` in local-inference batches (X float32; 14 outputs per element)."""
    from colliderflow.mlpf.data import make_batches

    sizes = np.array([len(e["type"]) for e in events])
    sent = received = 0
    for b in make_batches(sizes, batch_elements, seed=0, epoch=0, shuffle=False):
        padded = len(b) * int(sizes[b].max())
        sent += padded * 57 * 4
        received += padded * 14 * 4  # 6 per-element outputs + 8 class probabilities
    return sent, received


def main() -> int:
    from colliderflow.mlpf.serve import server_command, serving_python
    from colliderflow.mlpf.shipped import shipped_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nopu", type=Path, default=Path("data/val/ttbar_nopu"), help="dataset without pileup")
    ap.add_argument("--pu", type=Path, default=Path("data/val/ttbar_pu"), help="dataset with 55-75 pileup")
    ap.add_argument("--events", type=int, nargs=2, default=(120, 24), metavar=("NOPU", "PU"))
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads, server and local (default: 1)")
    ap.add_argument("--model", type=Path, default=shipped_model("cms-like", "onnx"))
    args = ap.parse_args()

    http, grpc, metrics = _free_ports(3)
    address = f"127.0.0.1:{grpc}"
    log = open(Path(tempfile.gettempdir()) / "bench_serve_server.log", "w")  # the server's own log
    server = subprocess.Popen(server_command(args.model, serving_python(), http_port=http, grpc_port=grpc,
                                             metrics_port=metrics, threads=args.threads),
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    rows, overhead = [], []
    load_before = os.getloadavg()
    background = _background()
    print(f"background: {background}", flush=True)
    try:
        from colliderflow.mlpf.client import TritonMLPF

        TritonMLPF(address, timeout=300).close()  # wait until it serves
        ctx = mp.get_context("spawn")
        for label, dataset, n in (("0", args.nopu, args.events[0]), ("55-75", args.pu, args.events[1])):
            events = _events(dataset, n)
            elements = float(np.mean([len(e["type"]) for e in events]))
            local = _local(args.model, events, args.threads)
            rows.append({"pileup": label, "mode": "local ONNX Runtime", "clients": 1, "events": n,
                         "elements": elements, "events_per_s": n / local["wall"], "ms_per_event": 1e3 * local["wall"] / n,
                         "cpu_ms_per_event": 1e3 * local["cpu"] / n})
            print(rows[-1], flush=True)
            for clients in CLIENTS:
                barrier, queue = ctx.Barrier(clients), ctx.Queue()
                procs = [ctx.Process(target=_client, args=(address, str(dataset), n, args.threads, barrier, queue))
                         for _ in range(clients)]
                for p in procs:
                    p.start()
                results = [queue.get() for _ in procs]
                for p in procs:
                    p.join()
                wall = max(r["wall"] for r in results)
                rows.append({"pileup": label, "mode": "served", "clients": clients, "events": n * clients,
                             "elements": elements, "events_per_s": n * clients / wall,
                             "ms_per_event": 1e3 * float(np.mean([r["wall"] for r in results])) / n})
                if clients == 1:
                    r = results[0]
                    sent, received = _padded_bytes(events)
                    overhead.append({"pileup": label, "requests": r["requests"], "MB_per_event":
                                     (sent + received) / n / 1e6, **{k: 1e3 * r[k] / n for k in
                                     ("wall", "request", "encode", "decode", "identity")},
                                     "local_ms": 1e3 * local["wall"] / n})
                print(rows[-1], flush=True)
            # server CPU per event: one more single-client pass, measured on the server's process group
            cpu0 = _group_cpu_s(server.pid)
            barrier, queue = ctx.Barrier(1), ctx.Queue()
            p = ctx.Process(target=_client, args=(address, str(dataset), n, args.threads, barrier, queue))
            p.start()
            queue.get()
            p.join()
            overhead[-1]["server_cpu_ms"] = 1e3 * (_group_cpu_s(server.pid) - cpu0) / (n + 2)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(120)
        log.close()
    load_after = os.getloadavg()
    path = write_result("serve", {"threads": args.threads, "model": str(args.model), "rows": rows,
                                  "overhead_one_client": overhead, "load_average_1min": [load_before[0], load_after[0]],
                                  "background": background})
    lines = [f"`bench/bench_serve.py` (shipped cms-like model, ONNX Runtime with {args.threads} thread(s) on the "
             f"server and locally, CPU; PyTriton 0.7, one model instance; gRPC on loopback). Machine: 2 cores; "
             f"other processes at the start: {background}; 1-min load average {load_before[0]:.1f} before, {load_after[0]:.1f} "
             "after: wall times are those of a loaded machine.", "",
             "| pileup | elements/event | mode | clients | events/s (all clients) | ms/event per client |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['pileup']} | {r['elements']:.0f} | {r['mode']} | {r['clients']} | {r['events_per_s']:.1f} "
                     f"| {r['ms_per_event']:.1f} |")
    lines += ["", "Where the time of one client goes, ms per event (served, 1 client):", "",
              "| pileup | requests | MB sent+received/event | local ONNX Runtime | served total | in requests "
              "(all of the next three) | encode request | decode answer | identity checks | server CPU |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for o in overhead:
        lines.append(f"| {o['pileup']} | {o['requests']} | {o['MB_per_event']:.2f} | {o['local_ms']:.1f} | {o['wall']:.1f} "
                     f"| {o['request']:.1f} | {o['encode']:.2f} | {o['decode']:.2f} | {o['identity']:.2f} "
                     f"| {o.get('server_cpu_ms', float('nan')):.1f} |")
    update_doc_section("serve", "\n".join(lines))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
