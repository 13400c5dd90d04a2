"""Full-simulation NanoAOD-like events: dataset (generator record + elements) + PF candidates -> nano.

This is the *reference* FlashSim learns: the whole chain (detector simulation, PF with PUPPI,
object building) applied to generator events, written one output file per dataset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import awkward as ak
from tqdm import tqdm

from colliderflow.dataset.read import dataset_card, dataset_files, load_dataset, missing_chunks
from colliderflow.nano.gen import GenConfig, event_scalars, gen_objects
from colliderflow.nano.io import NanoWriter
from colliderflow.nano.reco import TRACK_FIELDS, RecoConfig, reco_objects
from colliderflow.physics.jec import load_jec_file, shipped_jec
from colliderflow.physics.resolution import JetCorrections
from colliderflow.schema.candidates import read_candidate_events
from colliderflow.utils.config import to_dict
from colliderflow.utils.jagged import per_event

__all__ = ["nano_batch", "build_nano", "load_jec"]

_JEC_COLLECTION = "PF+PUPPI"


def load_jec(spec: str | os.PathLike | None, card: str | None) -> JetCorrections | None:
    """PF+PUPPI jet corrections: 'shipped' (the card's shipped file), 'none', or a derive-jec JSON path."""
    if spec is None or str(spec) == "none":
        return None
    if str(spec) == "shipped":
        path = shipped_jec(card) if card else None
        if path is None:
            raise ValueError(f"no shipped jet corrections for card {card!r}; pass --jec FILE or --jec none")
    else:
        path = Path(spec)
    corr = load_jec_file(path)
    if _JEC_COLLECTION not in corr:
        raise ValueError(f"{path}: no {_JEC_COLLECTION!r} corrections (has {sorted(corr)})")
    return corr[_JEC_COLLECTION]


def nano_batch(data: ak.Array, reco_events: ak.Array, jec: JetCorrections | None,
               gen_config: GenConfig = GenConfig(), reco_config: RecoConfig = RecoConfig()) -> ak.Array:
    """NanoAOD-like events (generator and reconstructed collections) for a batch of dataset events.

    ``reco_events``: the PF candidates file's event records of the same events (``cands`` and the
    vertices PF found, ``pv_z`` and ``npvs``; ``colliderflow.schema.candidates.read_candidate_events``).
    """
    gen = gen_objects(data, gen_config)
    genjets = per_event(gen["GenJet"], ["eta", "phi"])
    genparts = per_event(gen["GenPart"], ["eta", "phi", "pdgId"])
    vertices = {k: ak.to_numpy(reco_events[k]) for k in ("pv_z", "npvs")}
    reco = reco_objects(data.X, reco_events.cands, vertices, genjets, genparts, jec, reco_config)
    return ak.zip({**gen, **reco, **event_scalars(data.event)}, depth_limit=1)


def build_nano(dataset: str | os.PathLike, candidates: str | os.PathLike, output: str | os.PathLike,
               jec: str | None = "shipped", gen_config: GenConfig = GenConfig(),
               reco_config: RecoConfig = RecoConfig(), progress: bool = True,
               allow_partial: bool = False) -> dict[str, Any]:
    """Build the full-simulation nano file of a dataset reconstructed with PF.

    Args:
        dataset: dataset directory (``colliderflow dataset``).
        candidates: PF candidates of the same dataset (``colliderflow reconstruct --algo pf``).
        output: ``.root`` or ``.parquet``.
        jec: 'shipped', 'none' or a derive-jec JSON.
        allow_partial: accept a dataset whose manifest lists missing chunks; the file's header
            records how many (``missing_chunks``).
    """
    files = dataset_files(dataset, allow_partial)
    cdir = Path(candidates)
    card = dataset_card(dataset)
    corr = load_jec(jec, card)
    header = {"source": "fullsim", "dataset": str(dataset), "candidates": str(candidates), "card": card, "jec": str(jec),
              "missing_chunks": len(missing_chunks(dataset)[0]),
              "gen_config": to_dict(gen_config), "reco_config": to_dict(reco_config)}
    n = 0
    with NanoWriter(output, header) as writer:
        for f in tqdm(files, desc="nano", unit="chunk", disable=not progress):
            cpath = cdir / f.name
            if not cpath.exists():
                raise FileNotFoundError(f"{cpath}: no candidates for dataset chunk {f.name}; run "
                                        f"'colliderflow reconstruct --algo pf --dataset {dataset} --out {candidates}'")
            data = load_dataset(f, ["X", "truth", "gen_hadrons", "gen_partons", "gen_resonances", "event"])
            reco_events = read_candidate_events(cpath, f)[0]
            data = ak.zip({"X": data.X[TRACK_FIELDS], "truth": data.truth, "gen_hadrons": data.gen_hadrons,
                           "gen_partons": data.gen_partons, "gen_resonances": data.gen_resonances,
                           "event": data.event}, depth_limit=1)
            batch = nano_batch(data, reco_events, corr, gen_config, reco_config)
            writer.write(batch)
            n += len(batch)
    return {"events": n, "output": str(output), "card": card}
