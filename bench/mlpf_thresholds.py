"""MLPF inference thresholds scanned on validation events (never on the scoreboard's samples).

For one model, on the validation datasets of the learning curves (seeds 401/402): the corrected
(self-calibrated) jet resolution of MLPF without pileup, and of MLPF, MLPF+PUPPI and MLPF+PU
with pileup, for a grid of primary-element (binary) thresholds and pileup-score thresholds.
Prints the table and writes bench/results/mlpf_thresholds.json; the chosen thresholds are then
passed to ``reconstruct`` (``--binary-threshold``, ``--pileup-threshold``) and quoted in
docs/mlpf.md.

    python bench/mlpf_thresholds.py --model runs/mlpf-window/model.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_result  # noqa: E402
from mlpf_learning_curves import _evaluate_snapshot, _pf_collections, _jet_resolution  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--nopu", default="data/val/ttbar_nopu")
    ap.add_argument("--pu", default="data/val/ttbar_pu")
    ap.add_argument("--nopu-events", type=int, default=300)
    ap.add_argument("--pu-events", type=int, default=200)
    ap.add_argument("--binary", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7])
    ap.add_argument("--pileup", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    ap.add_argument("--work", type=Path, default=Path("data/lc"))
    args = ap.parse_args()

    import torch

    from colliderflow.dataset.read import load_dataset
    from colliderflow.mlpf.data import load_events
    from colliderflow.mlpf.infer import InferenceConfig

    torch.set_num_threads(1)
    samples, reference = {}, {}
    for tag, ds, n in (("nopu", args.nopu, args.nopu_events), ("pu", args.pu, args.pu_events)):
        data = load_dataset(ds, columns=["ytarget", "truth", "event"])[:n]
        samples[tag] = {"events": load_events([ds], max_events=n), "data": data}
        pf = _pf_collections(ds, args.work, n)
        reference[tag] = _jet_resolution(data, {k: pf[k] for k in ("PF", "PF+PUPPI")})
    configs = {f"b{b:g}_p{p:g}": InferenceConfig(binary_threshold=b, pileup_threshold=p)
               for b in args.binary for p in args.pileup}
    res = _evaluate_snapshot(Path(args.model), samples, configs)

    def cell(tag, label, coll):
        j = res[tag]["jets_by_config"][label][coll]
        return f"{100 * j['value']:.1f} ± {100 * j['error']:.1f}"

    lines = [f"Thresholds on validation events ({args.nopu_events} ttbar no PU, {args.pu_events} ttbar 55-75 PU), "
             f"model {args.model}; corrected jet σ/μ [%], 30-100 GeV, self-calibrated", "",
             "| binary | pileup | no PU: MLPF | PU: MLPF | PU: MLPF+PUPPI | PU: MLPF+PU |", "|---|---|---|---|---|---|"]
    for label in configs:
        b, p = label[1:].split("_p")
        lines.append(f"| {b} | {p} | {cell('nopu', label, 'MLPF')} | {cell('pu', label, 'MLPF')} | "
                     f"{cell('pu', label, 'MLPF+PUPPI')} | {cell('pu', label, 'MLPF+PU')} |")
    pf0, pf1 = reference["nopu"]["PF"], reference["pu"]["PF+PUPPI"]
    lines += ["", f"PF on the same events: {100 * pf0['value']:.1f} ± {100 * pf0['error']:.1f} (no PU), "
              f"PF+PUPPI {100 * pf1['value']:.1f} ± {100 * pf1['error']:.1f} (PU)."]
    write_result("mlpf_thresholds", {"model": args.model, "events": {"nopu": args.nopu_events, "pu": args.pu_events},
                                     "reference": reference, "scan": {t: res[t]["jets_by_config"] for t in res}})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
