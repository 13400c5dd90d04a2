"""Training of every FlashSim model on full-simulation nano files.

``colliderflow flashsim train --config FILE key=value ...`` reads a :class:`FlashSimTrainConfig`
(YAML), builds the source tables of every model from the training nano files, splits source
objects (or events) into training and validation sets (seeded, by event), and trains per model

* the multiplicity classifier (efficiency, duplicates; masked BCE) unless the model has
  multiplicity 1, and
* the property flow (conditional flow matching) on the transformed targets.

The bundle ``flashsim.pt`` (atomic write; plain data only, read without unpickling code:
:mod:`colliderflow.utils.torchfile`) holds every network, transform and spec; the training report
``training.json`` holds losses and the reliability (calibration) of every classifier on the
validation split, with one PNG per classifier.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
from tqdm import tqdm

from colliderflow.flashsim.bundle import model_targets, object_condition, save_bundle
from colliderflow.flashsim.event import (PILEUP_FEATURES, TRAINED_CONDITIONS, met_condition, met_targets,
                                         pileup_columns, pv_condition, pv_targets, rho_of)
from colliderflow.flashsim.nets import MultiplicityNet, VectorField, cfm_loss, multiplicity_loss
from colliderflow.flashsim.sources import MODELS, event_features, source_table
from colliderflow.flashsim.transforms import TargetTransform
from colliderflow.nano.io import read_nano, read_nano_header
from colliderflow.nano.reco import RecoConfig, object_selections
from colliderflow.nano.schema import GEN_INPUTS, RECO_CONTENT
from colliderflow.utils.atomic import atomic_write_text
from colliderflow.utils.config import RangeChecked, bounded, from_dict, non_negative, positive, to_dict

__all__ = ["FlashSimTrainConfig", "NetConfig", "train_flashsim", "ModelData", "model_data", "reliability"]


@dataclass
class NetConfig(RangeChecked):
    """Network and optimiser settings shared by all models.

    Each network trains for ``steps`` optimiser steps, fewer for small training sets:
    min(steps, max(min_steps, max_epochs x batches per epoch)). The validation loss is measured
    ``evals`` times over that schedule, and the weights with the lowest one are kept (early
    stopping); a classifier's (flow's) training ends once ``clf_patience`` (``flow_patience``)
    evaluations in a row found no lower loss (0: never). The classifiers overfit within a few per
    cent of a 1000-epoch schedule (validation loss rising from its minimum while the training loss
    falls), so a coarse evaluation grid keeps weights far from the minimum and the rest of the
    schedule is wasted time; the flows mostly improve until the learning rate has annealed.
    The flows' width, 64, is the speed choice: a third of the network cost of 128 at the same
    accuracy figures (docs/flashsim.md, section 5).
    """

    flow_hidden: int = positive(64)
    flow_layers: int = positive(3)
    clf_hidden: int = positive(64)
    clf_layers: int = positive(3)
    steps: int = bounded(20000, ge=10, note="the one-cycle schedule needs a warm-up")
    max_epochs: int = positive(1000)
    min_steps: int = non_negative(300)
    batch_size: int = positive(1024)
    lr: float = positive(2e-3)
    weight_decay: float = non_negative(1e-5)
    evals: int = positive(100)
    clf_patience: int = non_negative(10)
    flow_patience: int = non_negative(0)

    def steps_for(self, n: int) -> int:
        """Optimiser steps for a training set of ``n`` rows (at least 10)."""
        per_epoch = max(1, -(-n // self.batch_size))
        return max(10, min(self.steps, max(self.min_steps, self.max_epochs * per_epoch)))


@dataclass
class FlashSimTrainConfig(RangeChecked):
    """``colliderflow flashsim train`` configuration.

    Attributes:
        train: full-simulation nano files (.root or .parquet) to learn from.
        out: output directory (bundle, report, plots).
        models: model names to train (default: all of ``MODELS`` plus ``met`` and ``pv``).
        val_fraction: fraction of events held out for validation curves and calibration.
        min_objects: models with fewer training objects are skipped (and reported).
        seed: all random draws (split, dequantisation, initialisation, batches).
        threads: torch CPU threads (0: torch default).
        device: 'cpu', 'cuda' or 'auto'.
    """

    train: list[str] = field(default_factory=list)
    out: str = "runs/flashsim"
    models: list[str] = field(default_factory=list)
    val_fraction: float = bounded(0.2, gt=0, lt=1)
    min_objects: int = non_negative(30)
    seed: int = non_negative(0)
    threads: int = non_negative(0)
    device: str = "auto"
    net: NetConfig = field(default_factory=NetConfig)


@dataclass
class ModelData:
    """Training inputs of one model: source conditioning/multiplicity and object targets."""

    cond: np.ndarray  # (Ns, C)
    count: np.ndarray | None  # (Ns,)
    obj_cond: np.ndarray  # (No, C + 2)
    obj_x: dict[str, np.ndarray]  # field -> (No,)
    obj_ref: dict[str, np.ndarray]  # field -> (No,)
    event: np.ndarray  # (Ns,) event of each source
    obj_event: np.ndarray  # (No,)


def model_data(events: ak.Array, name: str, ev_feat: np.ndarray | None = None) -> ModelData:
    """Build the training inputs of model ``name`` from full-simulation nano events."""
    ev_feat = event_features(events) if ev_feat is None else ev_feat
    pileup = pileup_columns({"rho": rho_of(events), "npvs": ak.to_numpy(events.PV.npvs)}, PILEUP_FEATURES)
    if name == "met":
        reco = {k: events[k] for k in ("Jet", "Muon", "Electron", "Photon")}
        cond = np.column_stack([met_condition(events, reco, ev_feat, TRAINED_CONDITIONS["met"]), pileup]).astype(np.float32)
        ev = np.arange(len(events))
        return ModelData(cond, None, cond, met_targets(events), {}, ev, ev)
    if name == "pv":
        cond = pv_condition(events, ev_feat, TRAINED_CONDITIONS["pv"])
        ev = np.arange(len(events))
        return ModelData(cond, None, cond, pv_targets(events), {}, ev, ev)
    spec = MODELS[name]
    t = source_table(events, spec, with_targets=True, ev_feat=ev_feat)
    t.cond = np.column_stack([t.cond, pileup[t.event]]).astype(np.float32)
    rows = t.obj_source
    assert rows is not None and t.count is not None and t.obj_rank is not None and t.obj is not None  # with_targets
    oc = object_condition(t.cond[rows], t.obj_rank, t.count[rows], spec.max_multiplicity)
    return ModelData(t.cond, t.count, oc, t.obj, {k: v[rows] for k, v in t.ref.items()}, t.event, t.event[rows])


def _device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability curve (predicted vs observed frequency in bins of predicted probability) and ECE."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    n = np.bincount(idx, minlength=bins)
    mean_p = np.bincount(idx, weights=p, minlength=bins) / np.maximum(n, 1)
    freq = np.bincount(idx, weights=y, minlength=bins) / np.maximum(n, 1)
    err = np.sqrt(np.maximum(freq * (1 - freq), 1e-12) / np.maximum(n, 1))
    ece = float(np.sum(n * np.abs(mean_p - freq)) / max(n.sum(), 1))
    return {"n": n.tolist(), "mean_p": mean_p.tolist(), "freq": freq.tolist(), "err": err.tolist(), "ece": ece}


def _batches(n: int, size: int, steps: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    pos = 0
    for _ in range(steps):
        if pos + size > n:
            perm = torch.randperm(n, generator=gen)
            pos = 0
        yield perm[pos:pos + min(size, n)]
        pos += size


def _train_loop(module: torch.nn.Module, loss_fn, n: int, net: NetConfig, gen: torch.Generator, desc: str,
                progress: bool, val_fn=None, patience: int = 0) -> dict[str, Any]:
    steps = net.steps_for(n)
    opt = torch.optim.AdamW(module.parameters(), lr=net.lr, weight_decay=net.weight_decay)
    # 5% warm-up, at least two steps (torch's one-cycle schedule divides by zero below that)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=net.lr, total_steps=steps, pct_start=max(0.05, 2.5 / steps))
    hist: dict[str, Any] = {"step": [], "train": [], "val": []}  # lists of floats, and the int best_step
    running = []
    every = max(steps // net.evals, 1)
    best: tuple[float, int, dict | None] = (float("inf"), 0, None)
    since_best = 0
    with tqdm(total=steps, desc=desc, unit="step", disable=not progress, leave=False) as bar:
        for step, idx in enumerate(_batches(n, net.batch_size, steps, gen), start=1):
            module.train()
            loss = loss_fn(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
            opt.step()
            sched.step()
            running.append(float(loss.detach()))
            bar.update(1)
            if step % every == 0 or step == steps:
                hist["step"].append(step)
                hist["train"].append(float(np.mean(running)))
                running = []
                if val_fn is not None:
                    module.eval()
                    with torch.no_grad():
                        hist["val"].append(float(val_fn()))
                    if hist["val"][-1] < best[0]:
                        best = (hist["val"][-1], step, copy.deepcopy(module.state_dict()))
                        since_best = 0
                    else:
                        since_best += 1
                    if patience and since_best >= patience:
                        break
    if best[2] is not None:  # early stopping: keep the weights with the lowest validation loss
        module.load_state_dict(best[2])
        hist["best_step"] = best[1]
    return hist


def train_model(name: str, data: ModelData, config: FlashSimTrainConfig, device: torch.device,
                progress: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train one model; returns (bundle entry, report entry)."""
    net = config.net
    seed = config.seed * 1000 + sum(ord(c) for c in name)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    n_events = int(max(data.event.max(initial=-1), data.obj_event.max(initial=-1)) + 1)
    val_events = np.flatnonzero(np.random.default_rng(config.seed).random(n_events) < config.val_fraction)
    entry: dict[str, Any] = {"name": name}
    report: dict[str, Any] = {"name": name, "n_sources": int(len(data.cond)), "n_objects": int(len(data.obj_cond))}
    t0 = time.perf_counter()
    # multiplicity classifier
    max_mult = MODELS[name].max_multiplicity if name in MODELS else 1
    if data.count is not None:
        is_val = np.isin(data.event, val_events)
        c_tr = torch.as_tensor(data.cond[~is_val], device=device)
        n_tr = torch.as_tensor(np.minimum(data.count[~is_val], max_mult), device=device)
        c_va = torch.as_tensor(data.cond[is_val], device=device)
        n_va = torch.as_tensor(np.minimum(data.count[is_val], max_mult), device=device)
        clf = MultiplicityNet(data.cond.shape[1], max_mult, net.clf_hidden, net.clf_layers).to(device)
        clf.norm.set(data.cond[~is_val].mean(0), data.cond[~is_val].std(0))
        hist = _train_loop(clf, lambda idx: multiplicity_loss(clf(c_tr[idx]), n_tr[idx]), len(c_tr), net, gen,
                           f"{name} eff", progress, lambda: multiplicity_loss(clf(c_va), n_va) if len(c_va) else 0.0,
                           net.clf_patience)
        clf.eval()
        with torch.no_grad():
            p = torch.sigmoid(clf(c_va)).cpu().numpy()
        nv = n_va.cpu().numpy()
        rel = {}
        for k in range(max_mult):
            m = nv >= k
            if m.sum() >= 20:
                rel[f"head{k}"] = reliability(p[m, k], (nv[m] > k).astype(np.float64))
        report["classifier"] = {"loss": hist, "reliability": rel,
                                "efficiency_val": float(np.mean(nv > 0)) if len(nv) else None,
                                "efficiency_pred": float(np.mean(p[:, 0])) if len(nv) else None}
        entry["classifier"] = {"state": clf.state_dict(), "cond_dim": data.cond.shape[1], "max_multiplicity": max_mult,
                               "hidden": net.clf_hidden, "layers": net.clf_layers}
    # property flow
    specs = model_targets(name)
    tf = TargetTransform(specs)
    is_val = np.isin(data.obj_event, val_events)
    tr = ~is_val
    x_tr = tf.fit({k: v[tr] for k, v in data.obj_x.items()}, {k: v[tr] for k, v in data.obj_ref.items()}, rng)
    x_va = tf.forward({k: v[is_val] for k, v in data.obj_x.items()}, {k: v[is_val] for k, v in data.obj_ref.items()}, rng)
    xt = torch.as_tensor(x_tr, dtype=torch.float32, device=device)
    xv = torch.as_tensor(x_va, dtype=torch.float32, device=device)
    ct = torch.as_tensor(data.obj_cond[tr], device=device)
    cv = torch.as_tensor(data.obj_cond[is_val], device=device)
    vf = VectorField(len(specs), data.obj_cond.shape[1], net.flow_hidden, net.flow_layers).to(device)
    vf.norm.set(data.obj_cond[tr].mean(0), data.obj_cond[tr].std(0))

    def val_loss():  # the same noise and times at every evaluation, so curves compare like with like
        return cfm_loss(vf, xv, cv, generator=torch.Generator(device=device).manual_seed(seed + 1))

    hist = _train_loop(vf, lambda idx: cfm_loss(vf, xt[idx], ct[idx], generator=None), len(xt), net, gen,
                       f"{name} flow", progress,
                       val_loss if len(xv) else None, net.flow_patience)
    report["flow"] = {"loss": hist, "targets": [s.name for s in specs]}
    report["seconds"] = time.perf_counter() - t0
    entry["flow"] = {"state": vf.state_dict(), "dim": len(specs), "cond_dim": data.obj_cond.shape[1],
                     "hidden": net.flow_hidden, "layers": net.flow_layers, "transform": tf.state(),
                     "targets": [to_dict(sp) for sp in specs]}
    return entry, report


def training_selections(paths: list[str]) -> dict[str, list[float]]:
    """The object selections of the training files (``nano`` stores its ``reco_config`` in the
    header), which sampling applies; defaults for files without it. All files must agree."""
    found = {}
    for p in paths:
        reco = read_nano_header(p).get("reco_config")
        sel = object_selections(from_dict(RecoConfig, reco, where=f"{p} reco_config") if reco else RecoConfig())
        found[p] = {k: [float(lo), float(hi)] for k, (lo, hi) in sel.items()}
    first = next(iter(found.values()))
    other = [p for p, sel in found.items() if sel != first]
    if other:
        raise ValueError(f"{other[0]}: object selections {found[other[0]]} differ from {paths[0]}'s {first}; "
                         "train on files made with one nano configuration")
    return first


def load_training_events(paths: list[str]) -> ak.Array:
    if not paths:
        raise ValueError("no training files: set 'train' in the config (full-simulation nano files from "
                         "'colliderflow nano')")
    arrays = [read_nano(p, require=(*GEN_INPUTS, *RECO_CONTENT)) for p in paths]
    keep = [f for f in arrays[0].fields if f != "FlashSim"]
    arrays = [a[keep] for a in arrays]
    return ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]


def train_flashsim(config: FlashSimTrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train all requested models and write ``flashsim.pt`` and ``training.json`` under ``config.out``."""
    names = config.models or [*MODELS, "met", "pv"]
    unknown = [n for n in names if n not in MODELS and n not in ("met", "pv")]
    if unknown:
        raise ValueError(f"unknown FlashSim models {unknown}; choose from {[*MODELS, 'met', 'pv']}")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _device(config.device)
    events = load_training_events(config.train)
    ev_feat = event_features(events)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    bundle: dict[str, Any] = {"models": {}, "skipped": {}}
    report: dict[str, Any] = {"n_events": len(events), "models": {}, "skipped": {}}
    for name in tqdm(names, desc="models", unit="model", disable=not progress):
        data = model_data(events, name, ev_feat)
        if len(data.obj_cond) < config.min_objects:
            msg = f"{len(data.obj_cond)} training objects < min_objects={config.min_objects}"
            bundle["skipped"][name] = report["skipped"][name] = msg
            continue
        entry, rep = train_model(name, data, config, device, progress)
        if name in TRAINED_CONDITIONS:  # what sampling conditions them on (bundles without it: the old ones)
            entry["condition"] = rep["condition"] = TRAINED_CONDITIONS[name]
        if name != "pv":  # the pileup-stage columns every other model is conditioned on
            entry["pileup"] = rep["pileup"] = list(PILEUP_FEATURES)
        bundle["models"][name] = entry
        report["models"][name] = rep
    save_bundle(out / "flashsim.pt", to_dict(config), bundle["models"], bundle["skipped"],
                training_selections(config.train))
    atomic_write_text(out / "training.json", json.dumps(report, indent=1))
    from colliderflow.flashsim.plots import plot_training

    plot_training(report, out)
    return report
