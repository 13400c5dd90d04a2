"""MLPF learning curves: validation loss, element-level decisions and jet resolution per snapshot.

For every model snapshot of one or more training runs (``snapshot_every`` in the training
config), on validation datasets that are neither training nor scoreboard samples (seeds 401/402):

* the validation loss, per term;
* the primary-element decision on ECAL clusters and on HCAL clusters: ROC AUC and binary
  cross-entropy of ``p_binary`` against "this cluster is a particle's primary element";
* the corrected (self-calibrated) jet resolution for gen jets of 30-100 GeV, |eta| < 2.5:
  MLPF without pileup, MLPF+PUPPI with pileup, and PF / PF+PUPPI on the same events;

against training steps, training events and CPU hours. Results are cached per snapshot in the
JSON, so a later call only evaluates new snapshots (runs continue across sessions). Writes
bench/results/mlpf_learning_curves.json, docs/figures/mlpf_learning_curves.png and the
'learning_curves' section of docs/benchmarks.md.

    python bench/mlpf_learning_curves.py --run runs/mlpf-window --run runs/mlpf-dense \
        --nopu data/val/ttbar_nopu --pu data/val/ttbar_pu --work data/lc
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, update_doc_section, write_result  # noqa: E402

ROOT = Path(__file__).parent.parent
FIGURE = ROOT / "docs" / "figures" / "mlpf_learning_curves.png"


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    from scipy.stats import rankdata

    n_pos, n_neg = int(label.sum()), int((~label).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _jet_resolution(data, colls: dict) -> dict:
    """Self-calibrated corrected jet resolution, gen jets 30-100 GeV, |eta| < 2.5, per collection."""
    from colliderflow.evaluate.collections import truth_collection
    from colliderflow.evaluate.jets import collection_jets, derive_corrections, jet_performance, matched_jets
    from colliderflow.physics.resolution import summarise_response

    gen_jets = collection_jets(truth_collection(data), 0.4, min_pt=10.0)
    out = {}
    for name, coll in colls.items():
        m = matched_jets(collection_jets(coll, 0.4), gen_jets)
        p = jet_performance(m, derive_corrections(m))
        sel = (p["gen_pt_values"] >= 30) & (p["gen_pt_values"] < 100)
        s = summarise_response(p["corrected_response_values"][sel]).to_dict()
        out[name] = {"value": s.get("gauss_sigma_over_mean"), "error": s.get("gauss_sigma_over_mean_err"),
                     "n": s.get("n")}
    return out


def _pf_collections(dataset: str, work: Path, n_events: int) -> dict:
    from colliderflow.evaluate.collections import reco_collections
    from colliderflow.reconstruct import PFSettings, reconstruct_dataset
    from colliderflow.schema.candidates import load_reconstruction

    out = work / f"pf_{Path(dataset).name}"
    reconstruct_dataset(dataset, out, "pf", PFSettings("cms-like"), progress=False)
    cands, _ = load_reconstruction(out)
    return reco_collections("PF", cands[:n_events], "pf")


def _evaluate_snapshot(path: Path, samples: dict, configs: dict | None = None) -> dict:
    """One forward pass per validation batch: loss terms, element decisions, MLPF candidates.

    ``configs`` maps a label to an ``InferenceConfig`` (thresholds): the jets are measured for
    each; the default is the default InferenceConfig under the label "" (``entry["jets"]``),
    others go to ``entry["jets_by_config"][label]``.
    """
    import torch

    from colliderflow.evaluate.collections import reco_collections
    from colliderflow.mlpf.data import make_batches, pad_batch
    from colliderflow.mlpf.infer import InferenceConfig, candidates_from_prediction
    from colliderflow.mlpf.loss import mlpf_loss
    from colliderflow.mlpf.files import load_model
    from colliderflow.mlpf.train import to_tensors
    from colliderflow.pf.pileup import mitigate_pileup
    from colliderflow.reconstruct import candidates_to_array
    from colliderflow.schema.elements import ELEMENT_FEATURES

    model = load_model(path)
    configs = configs or {"": InferenceConfig()}
    result = {}
    for tag, s in samples.items():
        events = s["events"]
        sums, n_ev = {}, 0
        scores: dict[int, list] = {2: [], 3: []}
        labels: dict[int, list] = {2: [], 3: []}
        cands: dict[str, list] = {label: [None] * len(events) for label in configs}
        with torch.no_grad():
            for idx in make_batches(events.sizes(), 12000, seed=0, epoch=0, shuffle=False):
                X, Y = pad_batch(events, idx)
                x, t = to_tensors(X, Y, torch.device("cpu"))
                raw = model(x)
                for k, v in mlpf_loss(raw, x, t).items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
                n_ev += len(idx)
                dec = {k: v.numpy() for k, v in model.decode(raw, x).items()}
                for b, i in enumerate(idx):
                    n = len(events.X[i])
                    xd = {f: events.X[i][:, j] for j, f in enumerate(ELEMENT_FEATURES)}
                    pred = {k: v[b, :n] for k, v in dec.items()}
                    for label, cfg in configs.items():
                        cands[label][i] = mitigate_pileup(xd, candidates_from_prediction(xd, pred, cfg))
                    for typ in (2, 3):
                        sel = xd["type"] == typ
                        scores[typ].append(pred["p_binary"][sel])
                        labels[typ].append(events.Y[i][sel, 0] > 0)
        entry = {"loss": {k: v / n_ev for k, v in sums.items()}}
        for typ, name in ((2, "ecal"), (3, "hcal")):
            sc, lb = np.concatenate(scores[typ]), np.concatenate(labels[typ])
            p = np.clip(sc, 1e-7, 1 - 1e-7)
            entry[f"{name}_auc"] = _auc(sc, lb)
            entry[f"{name}_bce"] = float(-np.mean(lb * np.log(p) + (~lb) * np.log(1 - p)))
        wanted = ("MLPF",) if tag == "nopu" else ("MLPF+PUPPI", "MLPF", "MLPF+PU")
        for label, cfg in configs.items():
            colls = reco_collections("MLPF", candidates_to_array(cands[label]), "mlpf", cfg.pileup_threshold)
            jets = _jet_resolution(s["data"], {k: colls[k] for k in wanted})
            if label == "":
                entry["jets"] = jets
            else:
                entry.setdefault("jets_by_config", {})[label] = jets
        result[tag] = entry
    return result


def _plot(results: dict, reference: dict, path: Path, offsets: dict[str, float]) -> None:
    import matplotlib.pyplot as plt

    from colliderflow.plotting import LABEL, save, use_cms_style

    use_cms_style()
    fig, axes = plt.subplots(2, 2, figsize=(14, 11))
    def jets(tag, coll):
        return lambda e: (100 * e[tag]["jets"][coll]["value"], 100 * e[tag]["jets"][coll]["error"])

    panels = [(axes[0][0], "validation loss", "ttbar, 55-75 pileup", lambda e: (e["pu"]["loss"]["total"], 0.0), None),
              (axes[0][1], "primary-element AUC", "ECAL clusters, ttbar, no pileup",
               lambda e: (e["nopu"]["ecal_auc"], 0.0), None),
              (axes[1][0], r"jet $\sigma/\mu$ [%]", "MLPF, ttbar, no pileup", jets("nopu", "MLPF"), ("nopu", "PF")),
              (axes[1][1], r"jet $\sigma/\mu$ [%]", "MLPF+PUPPI, ttbar, 55-75 pileup", jets("pu", "MLPF+PUPPI"),
               ("pu", "PF+PUPPI"))]
    for ax, ylabel, title, get, ref in panels:
        for run, snaps in results.items():
            pts = sorted((s["cpu_seconds"] / 3600 + offsets.get(run, 0.0), *get(s)) for s in snaps.values())
            if pts:
                xs, ys, es = zip(*pts)
                ax.errorbar(xs, ys, yerr=es, fmt="o-", capsize=2, label=run)
        for key, entry in reference.items():
            if key.startswith("model:"):
                value = get({"cpu_seconds": 0.0, **entry})[0]
                ax.axhline(value, color="gray", ls=":", label=f"{key[6:]} ({value:.3g})")
        if ref is not None and ref[1] in reference.get(ref[0], {}):
            r = reference[ref[0]][ref[1]]
            ax.axhline(100 * r["value"], color="k", ls="--", label=f"{ref[1]} ({100 * r['value']:.1f} ± "
                       f"{100 * r['error']:.1f}%)")
        ax.set_title(title, fontsize=13)
        ax.set_xlabel("training CPU time [core hours]", fontsize=14)
        ax.set_ylabel(ylabel, fontsize=14)
        ax.tick_params(labelsize=12)
        ax.legend(fontsize=11)
    fig.suptitle(f"{LABEL}: MLPF learning curves on validation samples (seeds 401/402)", fontsize=14)
    save(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True, help="training output directory (repeatable)")
    ap.add_argument("--nopu", default="data/val/ttbar_nopu", help="validation dataset without pileup")
    ap.add_argument("--pu", default="data/val/ttbar_pu", help="validation dataset with 55-75 pileup")
    ap.add_argument("--nopu-events", type=int, default=300)
    ap.add_argument("--pu-events", type=int, default=100)
    ap.add_argument("--max-cpu-hours", type=float, default=None,
                    help="skip snapshots beyond this training CPU time (equal-CPU-time comparisons)")
    ap.add_argument("--work", type=Path, default=Path("data/lc"), help="where PF reconstructions are kept")
    ap.add_argument("--cpu-offset", action="append", default=[], metavar="RUN=HOURS",
                    help="add HOURS to the CPU axis of run RUN (a run started from another run's model)")
    ap.add_argument("--reference-model", metavar="[LABEL=]MODEL",
                    help="also evaluate this trained model and show it as a horizontal line (kept in the JSON)")
    args = ap.parse_args()

    import torch

    from colliderflow.dataset.read import load_dataset
    from colliderflow.mlpf.data import load_events
    from colliderflow.mlpf.files import read_model_file

    torch.set_num_threads(1)
    cache_path = RESULTS / "mlpf_learning_curves.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    setup = {"samples": {"nopu": args.nopu, "pu": args.pu}, "events": {"nopu": args.nopu_events, "pu": args.pu_events}}
    if any(cache.get(k) != v for k, v in setup.items()):
        cache = {}  # other validation events: nothing cached is comparable
    results: dict = cache.get("runs", {})
    samples = {}
    reference = {}
    for tag, ds, n in (("nopu", args.nopu, args.nopu_events), ("pu", args.pu, args.pu_events)):
        data = load_dataset(ds, columns=["ytarget", "truth", "event"])[:n]
        samples[tag] = {"events": load_events([ds], max_events=n), "data": data}
        pf = _pf_collections(ds, args.work, n)
        reference[tag] = _jet_resolution(data, {k: pf[k] for k in (("PF",) if tag == "nopu" else ("PF", "PF+PUPPI"))})
    # reference models evaluated earlier stay (the file they came from may have changed since)
    reference.update({k: v for k, v in cache.get("reference", {}).items() if k.startswith("model:")})
    if args.reference_model:
        label, _, path = args.reference_model.rpartition("=")
        reference[f"model:{label or path}"] = _evaluate_snapshot(Path(path), samples)
    for run in args.run:
        name = Path(run).name
        done = results.setdefault(name, {})
        for snap in sorted((Path(run) / "snapshots").glob("step_*.pt")):
            if snap.name in done:
                continue
            meta = read_model_file(snap)
            if args.max_cpu_hours is not None and meta["cpu_seconds"] > 3600 * args.max_cpu_hours:
                continue
            entry = {"step": meta["step"], "events": meta["events"], "cpu_seconds": meta["cpu_seconds"],
                     **_evaluate_snapshot(snap, samples)}
            done[snap.name] = entry
            print(f"{name} {snap.name}: cpu {entry['cpu_seconds'] / 3600:.2f} h, val loss {entry['pu']['loss']['total']:.3f}, "
                  f"ECAL AUC {entry['nopu']['ecal_auc']:.3f}, jets noPU {100 * entry['nopu']['jets']['MLPF']['value']:.1f}%, "
                  f"PU+PUPPI {100 * entry['pu']['jets']['MLPF+PUPPI']['value']:.1f}%", flush=True)
            write_result("mlpf_learning_curves", {**setup, "reference": reference, "runs": results})
    write_result("mlpf_learning_curves", {**setup, "reference": reference, "runs": results})
    offsets = {}
    for item in args.cpu_offset:
        run, _, hours = item.partition("=")
        offsets[run] = float(hours)
    _plot(results, reference, FIGURE, offsets)
    lines = ["## MLPF learning curves (validation samples, never the scoreboard's)", "",
             f"Validation: {args.nopu_events} ttbar events without pileup (seed 401) and {args.pu_events} with "
             "55-75 pileup (seed 402); jets self-calibrated, gen jets 30-100 GeV, |η| < 2.5.", "",
             "| run | step | training events | CPU [core h] | val loss (PU) | ECAL AUC | HCAL AUC | jets no PU | "
             "jets PU, +PUPPI |", "|---|---|---|---|---|---|---|---|---|"]
    for run, snaps in results.items():
        for s in sorted(snaps.values(), key=lambda s: s["step"]):
            j0, j1 = s["nopu"]["jets"]["MLPF"], s["pu"]["jets"]["MLPF+PUPPI"]
            lines.append(f"| {run} | {s['step']} | {s['events']} | {s['cpu_seconds'] / 3600 + offsets.get(run, 0.0):.2f} | "
                         f"{s['pu']['loss']['total']:.3f} | {s['nopu']['ecal_auc']:.3f} | {s['nopu']['hcal_auc']:.3f} | "
                         f"{100 * j0['value']:.1f} ± {100 * j0['error']:.1f}% | "
                         f"{100 * j1['value']:.1f} ± {100 * j1['error']:.1f}% |")
    for key, r in reference.items():
        if not key.startswith("model:"):
            continue
        lines.append(f"| {key[6:]} (reference) | | | | {r['pu']['loss']['total']:.3f} | "
                     f"{r['nopu']['ecal_auc']:.3f} | {r['nopu']['hcal_auc']:.3f} | "
                     f"{100 * r['nopu']['jets']['MLPF']['value']:.1f} ± {100 * r['nopu']['jets']['MLPF']['error']:.1f}% | "
                     f"{100 * r['pu']['jets']['MLPF+PUPPI']['value']:.1f} ± "
                     f"{100 * r['pu']['jets']['MLPF+PUPPI']['error']:.1f}% |")
    pf0, pf1 = reference["nopu"]["PF"], reference["pu"]["PF+PUPPI"]
    lines += ["", f"PF on the same events: {100 * pf0['value']:.1f} ± {100 * pf0['error']:.1f}% without pileup, "
              f"PF+PUPPI {100 * pf1['value']:.1f} ± {100 * pf1['error']:.1f}% with pileup.",
              f"Figure: `{FIGURE.relative_to(ROOT)}`; source: `bench/mlpf_learning_curves.py`."]
    update_doc_section("learning_curves", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
