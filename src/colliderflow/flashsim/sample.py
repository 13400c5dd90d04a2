"""FlashSim event simulation: generator objects -> NanoAOD-like reconstructed objects, with oversampling.

For a batch of E generator events and oversampling factor K the chain is (FlashSim, CHEP 2024,
"event simulation chain"): for every model, extract the conditioning of its source objects,
repeat it K times (replica k of event e becomes output event e K + k), draw each source's
multiplicity from the classifier (fresh uniform draws per replica), then sample the properties
of every produced object by integrating the flow's ODE from Gaussian noise, and invert the
target transforms. Objects of all sources of a collection are merged, the full simulation's
selections applied and pT-sorted. The pileup stage (vertices, rho) is sampled first from the
number of pileup interactions, and every object model is conditioned on the sampled rho and
number of vertices (older bundles: rho only); MET is sampled last, conditioned on the FlashSim
objects. Generator collections are copied to every replica; ``event`` keeps the generator event
number (the fold of :mod:`colliderflow.flashsim.stats`), ``FlashSim.replica``
the replica index.

Random numbers come from a torch generator seeded with (seed, batch index), so a file is
reproducible, to the byte for Parquet, for a given seed, batch size and ODE schedule.

Speed (docs/flashsim.md, section 7): the networks dominate. Their rows are evaluated in chunks of
1024, small enough that a chunk's activations stay in the CPU cache through all evaluations of an
ODE solve, which gives every row the same bits as one whole-batch evaluation; the conditioning
of a source is built once per batch for all models that share the source.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import awkward as ak
import numpy as np
import torch
from tqdm import tqdm

from colliderflow.flashsim.event import (CONDITIONS, PILEUP_FEATURES, UNRECORDED_CONDITIONS,
                                         UNRECORDED_PILEUP_FEATURES, met_condition, met_from_targets,
                                         pileup_columns, pv_condition)
from colliderflow.flashsim.nets import MultiplicityNet, VectorField
from colliderflow.flashsim.ode import integrate
from colliderflow.flashsim.sources import MODELS, SourceTable, event_features, source_table
from colliderflow.flashsim.bundle import (BUNDLE_FILE, bundle_selections, model_targets, object_condition, read_bundle,
                                          resolve_model)
from colliderflow.flashsim.transforms import TargetSpec, TargetTransform
from colliderflow.nano.io import NanoWriter, event_ids, iter_nano, nano_entries
from colliderflow.nano.schema import GEN_COLLECTIONS, GEN_INPUTS, GEN_SINGLETONS, LEPTON_MASS, RECO_COLLECTIONS
from colliderflow.utils.config import RangeChecked, from_dict, non_negative, positive
from colliderflow.utils.rng import event_rng
from colliderflow.utils.torchfile import as_file_error

__all__ = ["SampleConfig", "FlashSim", "sample_file", "resolve_model", "AUTO_BATCH_EVENTS"]

#: fields no model samples: every PF muon passes the loose ID
_DEFAULTS = {"looseId": 1.0}
#: the field of each collection that points to its generator object
_INDEX_FIELD = {"Jet": "genJetIdx", "Muon": "genPartIdx", "Electron": "genPartIdx", "Photon": "genPartIdx"}


@dataclass
class SampleConfig(RangeChecked):
    """Sampling settings.

    Attributes:
        oversample: replicas K of every generator event.
        solver, steps: ODE solver ('euler', 'midpoint', 'rk4', 'adaptive') and fixed steps.
        batch_size: generator events per batch; 0 (default): about ``AUTO_BATCH_EVENTS`` output
            events per batch (``AUTO_BATCH_EVENTS // oversample`` generator events). The random
            numbers depend on the batching, so the header records the resolved size.
        seed: random seed.
        device: 'cpu', 'cuda' or 'auto'.
        threads: torch CPU threads (0: torch's default, one per core). One thread is the most
            events per CPU-second: the networks are too small to share well between threads.
    """

    oversample: int = positive(1)
    solver: str = "midpoint"
    steps: int = positive(10)
    batch_size: int = non_negative(0)
    seed: int = non_negative(0)
    device: str = "auto"
    threads: int = non_negative(1)

    def events_per_batch(self) -> int:
        """Generator events per batch: ``batch_size``, or the automatic size for 0."""
        return self.batch_size or max(1, AUTO_BATCH_EVENTS // self.oversample)


#: output events (generator events x replicas) per batch when ``batch_size`` is 0: fixed costs per
#: batch (reading, awkward bookkeeping, one ROOT basket per branch) are a few per cent of a batch this
#: size, and a batch of ttbar events this size takes about 0.5 GB
AUTO_BATCH_EVENTS = 20_000


#: rounds in which an object drawn outside its collection's selection is drawn again (the few left
#: after them are dropped, as the selection drops them in the full simulation)
_REDRAWS = 3


#: rows per ODE chunk on the CPU: a chunk's activations (4096 x 64 floats, 1 MB) stay in the
#: core's L2 cache through all network evaluations of a solve, which makes the flows faster than
#: solving a whole batch at once, with the same result for every row. With the width-64 flows,
#: 4096 rows sample ttbar 10 % faster than 1024 (fewer calls) and 5 % faster than 16384.
_CPU_CHUNK = 4096


def _chunks(n: int, size: int) -> list[slice]:
    """ceil(n / size) slices of nearly equal length covering range(n), each at least size / 2 long
    (one slice if n <= size). No slice is shorter than 4 rows unless n is: matrix products of 1-3
    rows take another code path in the BLAS whose last bits differ, while products of 4 or more rows
    give each row the bits of the whole-batch product (tests/flashsim/test_sample.py checks it)."""
    k = max(1, -(-n // size))
    edges = [(n * i) // k for i in range(k + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


class _Model:
    def __init__(self, name: str, entry: dict[str, Any], targets, device: torch.device):
        self.name = name
        self.clf = None
        #: the multiplicity cap it was trained with (rank and count features are scaled by it);
        #: the bundle's, not this code's MODELS, so that older bundles keep theirs
        self.max_multiplicity = MODELS[name].max_multiplicity if name in MODELS else 1
        if "classifier" in entry:
            c = entry["classifier"]
            self.max_multiplicity = int(c["max_multiplicity"])
            self.clf = MultiplicityNet(c["cond_dim"], self.max_multiplicity, c["hidden"], c["layers"]).to(device)
            self._load(self.clf, c["state"])
        f = entry["flow"]
        self.flow = VectorField(f["dim"], f["cond_dim"], f["hidden"], f["layers"]).to(device)
        self._load(self.flow, f["state"])
        # the bundle's own target transforms (bundles from before they were stored: this code's)
        if "targets" in f:
            targets = [from_dict(TargetSpec, t, f"model {name!r} target") for t in f["targets"]]
        self.transform = TargetTransform.from_state(targets, f["transform"])
        #: met and pv: what they are conditioned on (event.py; bundles from before the record: the
        #: first ones, reconstructed jets and the pileup count)
        self.condition = str(entry.get("condition", UNRECORDED_CONDITIONS.get(name, "")))
        if name in CONDITIONS and self.condition not in CONDITIONS[name]:
            raise ValueError(f"model {name!r} is conditioned on {self.condition!r}, not one of {CONDITIONS[name]}")
        #: the pileup-stage columns it is conditioned on (event.py; bundles without the record: rho)
        self.pileup = tuple(str(p) for p in entry.get("pileup", UNRECORDED_PILEUP_FEATURES))
        if any(p not in PILEUP_FEATURES for p in self.pileup):
            raise ValueError(f"model {name!r} is conditioned on pileup features {list(self.pileup)}, "
                             f"this colliderflow knows {list(PILEUP_FEATURES)}")

    @staticmethod
    def _load(module: torch.nn.Module, state: dict) -> None:
        module.load_state_dict(state)
        module.eval()


class FlashSim:
    """A trained FlashSim bundle, ready to simulate batches of generator events."""

    def __init__(self, path: str | os.PathLike, device: str = "auto"):
        path, bundle = read_bundle(path)
        self.path = path
        self.device = torch.device("cuda" if (device == "auto" and torch.cuda.is_available()) else
                                   ("cpu" if device == "auto" else device))
        with as_file_error(path, BUNDLE_FILE):
            self.skipped = dict(bundle.get("skipped", {}))
            #: collection -> (minimum pT, maximum |eta|) applied to sampled objects, as in the training files
            self.selections = bundle_selections(bundle)
            self.models: dict[str, _Model] = {}
            for name, entry in bundle["models"].items():
                self.models[name] = _Model(name, entry, model_targets(name), self.device)

    # -- one model ---------------------------------------------------------------------------
    def _flow(self, m: _Model, cond: np.ndarray, gen: torch.Generator, solver: str, steps: int) -> np.ndarray:
        if len(cond) == 0:
            return np.zeros((0, m.flow.dim))
        c = torch.as_tensor(cond, dtype=torch.float32, device=self.device)
        x0 = torch.randn((len(cond), m.flow.dim), generator=gen, device=self.device)
        # every row is integrated on its own, so the rows can go in cache-sized chunks (fixed-step
        # solvers; the adaptive reference controls its step over the whole batch)
        with torch.inference_mode():
            x1 = torch.cat([integrate(m.flow.at(c[s]), x0[s], solver, steps)
                            for s in (self._row_chunks(len(cond)) if solver != "adaptive" else [slice(None)])])
        return x1.double().cpu().numpy()

    def _row_chunks(self, n: int) -> list[slice]:
        """Network rows evaluated together: cache-sized chunks on the CPU, everything at once elsewhere."""
        return _chunks(n, _CPU_CHUNK) if self.device.type == "cpu" else [slice(None)]

    def _objects(self, events: ak.Array, name: str, ev_feat: np.ndarray,
                 pileup: Callable[[tuple[str, ...]], np.ndarray], K: int,
                 gen: torch.Generator, cfg: SampleConfig,
                 tables: dict[str, SourceTable]) -> dict[str, np.ndarray] | None:
        """Objects of model ``name``; ``tables`` caches the source tables of this batch by source."""
        m = self.models.get(name)
        if m is None:
            return None
        spec = MODELS[name]
        if spec.source not in tables:  # the conditioning depends on the source only: GenJet serves four models
            tables[spec.source] = source_table(events, spec, ev_feat=ev_feat)
        t = tables[spec.source]
        ns = len(t.cond)
        cond = np.repeat(t.cond, K, axis=0)  # source-major, replica-minor
        out_event = np.repeat(t.event, K) * K + np.tile(np.arange(K), ns)
        # each replica's own pileup stage (rho, vertices)
        cond = np.column_stack([cond, pileup(m.pileup)[out_event]]).astype(np.float32)
        if m.clf is not None and len(cond):
            with torch.inference_mode():
                drawn = m.clf.sample(torch.as_tensor(cond, device=self.device), gen, self._row_chunks(len(cond)))
            count = drawn.cpu().numpy()
        else:
            count = np.ones(len(cond), dtype=np.int64)
        rows = np.repeat(np.arange(len(cond)), count)
        first = np.concatenate([[0], np.cumsum(count)[:-1]]) if len(count) else np.zeros(0, np.int64)
        rank = np.arange(len(rows)) - np.repeat(first, count)
        oc = object_condition(cond[rows], rank, count[rows], m.max_multiplicity)
        z = self._flow(m, oc, gen, cfg.solver, cfg.steps)
        src_rows = rows // K
        ref = {k: v[src_rows] for k, v in t.ref.items()}
        props = m.transform.inverse(z, ref)
        # the classifier counts objects that pass the collection's selection (the training files
        # hold no others); a draw that the flow puts outside it (its smooth density leaks past the
        # sharp pT and eta cuts) is drawn again, so the multiplicity stays the classifier's
        min_pt, max_eta = self.selections[spec.collection]
        for _ in range(_REDRAWS):
            bad = np.flatnonzero(~((props["pt"] > min_pt) & (np.abs(props["eta"]) < max_eta)))
            if len(bad) == 0:
                break
            again = m.transform.inverse(self._flow(m, oc[bad], gen, cfg.solver, cfg.steps),
                                        {k: v[bad] for k, v in ref.items()})
            for k, v in again.items():
                props[k][bad] = v
        if "phi" not in props:  # event sources: phi is uniform (phi-symmetric detector)
            u = torch.rand(len(rows), generator=gen, device=self.device, dtype=torch.float64).cpu().numpy()
            props["phi"] = (2.0 * u - 1.0) * np.pi
        props["_event"] = out_event[rows]
        idx = t.index[src_rows]
        is_gen = spec.source == "GenJet" if spec.collection == "Jet" else spec.source.startswith("GenPart")
        props["_index"] = np.where(is_gen, idx, -1)
        return props

    def _collection(self, coll: str, parts: list[dict[str, np.ndarray]], n_out: int) -> ak.Array:
        fields = RECO_COLLECTIONS[coll]
        names = [f for f in fields if f != _INDEX_FIELD[coll]]
        merged = {f: np.concatenate([p[f] for p in parts]) if parts else np.zeros(0) for f in names + ["_event", "_index"]}
        # fields a source does not model (e.g. charge of photons) default to 0
        min_pt, max_eta = self.selections[coll]
        keep = (merged["pt"] > min_pt) & (np.abs(merged["eta"]) < max_eta)
        order = np.lexsort((-merged["pt"][keep], merged["_event"][keep]))
        sel = np.flatnonzero(keep)[order]
        counts = np.bincount(merged["_event"][sel].astype(np.int64), minlength=n_out)
        flat: dict[str, np.ndarray] = {f: merged[f][sel].astype(dt) for f, dt in fields.items() if f in merged}
        flat[_INDEX_FIELD[coll]] = merged["_index"][sel].astype(fields[_INDEX_FIELD[coll]])
        if coll in LEPTON_MASS:
            flat["mass"] = np.full(len(sel), LEPTON_MASS[coll], fields["mass"])
        return ak.unflatten(ak.zip({f: flat[f] for f in fields}), counts)

    def simulate(self, events: ak.Array, config: SampleConfig, batch_index: int = 0) -> ak.Array:
        """FlashSim NanoAOD events (E K, ...) for generator events (E, ...) with gen collections."""
        K = config.oversample
        gen = torch.Generator(device=self.device).manual_seed(int(event_rng(config.seed, batch_index, "flashsim").integers(2**62)))
        ev_feat = event_features(events)
        n_out = len(events) * K
        rep = np.repeat(np.arange(len(events)), K)
        gen_ev = events[rep] if K > 1 else events
        out: dict[str, Any] = {c: gen_ev[c] for c in [*GEN_COLLECTIONS, *GEN_SINGLETONS]}
        # pileup stage first: vertices and rho, on which every object model is conditioned
        if "pv" not in self.models:
            raise ValueError(f"{self.path}: the bundle has no 'pv' model (vertices and rho), which FlashSim needs first")
        m = self.models["pv"]
        ev_rep = ev_feat[rep]
        pv_cond = pv_condition(gen_ev, ev_rep, m.condition)
        pv = m.transform.inverse(self._flow(m, pv_cond, gen, config.solver, config.steps), {})
        zeros = np.zeros(n_out, np.float32)  # the beam line, as in the full simulation
        out["PV"] = ak.zip({"npvs": pv["npvs"].astype(np.int16), "x": zeros, "y": zeros, "z": pv["z"].astype(np.float32)})
        out["Rho"] = ak.zip({"fixedGridRhoFastjetAll": pv["rho"].astype(np.float32)})
        stage = {"rho": pv["rho"], "npvs": ak.to_numpy(out["PV"].npvs)}
        pileup = functools.cache(lambda names: pileup_columns(stage, names))  # (E K, C), once per set of names
        reco: dict[str, ak.Array] = {}
        tables: dict[str, SourceTable] = {}
        for coll in RECO_COLLECTIONS:
            parts = []
            for name, spec in MODELS.items():
                if spec.collection != coll:
                    continue
                p = self._objects(events, name, ev_feat, pileup, K, gen, config, tables)
                if p is not None:
                    for f in RECO_COLLECTIONS[coll]:
                        p.setdefault(f, np.full(len(p["_event"]), _DEFAULTS.get(f, 0.0)))
                    parts.append(p)
            reco[coll] = self._collection(coll, parts, n_out)
        out.update(reco)
        if "met" in self.models:
            m = self.models["met"]
            cond = np.column_stack([met_condition(gen_ev, reco, ev_rep, m.condition),
                                    pileup(m.pileup)]).astype(np.float32)
            z = self._flow(m, cond, gen, config.solver, config.steps)
            met = met_from_targets(m.transform.inverse(z, {}), ak.to_numpy(gen_ev.GenMET.phi).astype(np.float64))
            out["PuppiMET"] = ak.zip({k: met[k].astype(np.float32) for k in ("pt", "phi", "sumEt")})
        replica = np.tile(np.arange(K), len(events))
        out["FlashSim"] = ak.zip({"replica": replica.astype(np.int16)})
        out.update(event_ids(ak.to_numpy(events.run)[rep], ak.to_numpy(events.event)[rep], replica))
        if "genWeight" in events.fields:
            out["genWeight"] = ak.to_numpy(events.genWeight)[rep]
        return ak.zip(out, depth_limit=1)


#: what FlashSim reads of its input: the generator record and the event identity
_GEN_READ = (*GEN_INPUTS, "genWeight")


def _gen_batches(path: str | os.PathLike, batch_size: int) -> Iterator[ak.Array]:
    """Generator-level events of a nano file in batches, read and validated batch by batch."""
    yield from iter_nano(path, batch_size, require=GEN_INPUTS, only=_GEN_READ)


def sample_file(model: str | os.PathLike, input_path: str | os.PathLike, output: str | os.PathLike,
                config: SampleConfig, progress: bool = True) -> dict[str, Any]:
    """Simulate every generator event of ``input_path`` K times and write ``output`` (.root/.parquet).

    Returns counts, the wall and CPU seconds (model loading included) and the rates; torch's thread
    count is ``config.threads`` meanwhile and restored after.
    """
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _sample_file(model, input_path, output, config, progress)
    finally:
        torch.set_num_threads(threads)


def _sample_file(model: str | os.PathLike, input_path: str | os.PathLike, output: str | os.PathLike,
                 config: SampleConfig, progress: bool) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    sim = FlashSim(model, config.device)
    n_gen = 0
    batch_size = config.events_per_batch()
    header = {"source": "flashsim", "model": str(sim.path), "input": str(input_path), "oversample": config.oversample,
              "solver": config.solver, "steps": config.steps, "seed": config.seed, "batch_size": batch_size}
    n_total = nano_entries(input_path)
    with NanoWriter(output, header) as writer, \
            tqdm(total=n_total, desc="flashsim", unit="ev", disable=not progress) as bar:
        for i, batch in enumerate(_gen_batches(input_path, batch_size)):
            writer.write(sim.simulate(batch, config, i))
            n_gen += len(batch)
            bar.update(len(batch))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n_out = n_gen * config.oversample
    return {"generator_events": n_gen, "events": n_out, "seconds": dt, "cpu_seconds": cpu,
            "events_per_second": n_out / max(dt, 1e-9), "events_per_cpu_second": n_out / max(cpu, 1e-9),
            "batch_size": batch_size, "output": str(output), "device": str(sim.device), "skipped_models": sim.skipped}
