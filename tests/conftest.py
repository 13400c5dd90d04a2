"""Shared fixtures: small generated samples cached per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pool_path(tmp_path_factory):
    """A small minimum-bias pool (120 events), generated once per session."""
    from colliderflow.generate.source import generate_pool

    path = tmp_path_factory.mktemp("pool") / "pool.parquet"
    return generate_pool(path, 120, seed=7, jobs=1, progress=False)


@pytest.fixture(scope="session")
def ttbar_pileup_dataset(tmp_path_factory, pool_path):
    """Builder of small ttbar datasets with 20 pileup interactions from ``pool_path``:
    ``make(name, seed, events, chunk_size)`` returns the dataset directory."""
    from colliderflow.dataset.build import DatasetConfig, build_dataset
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import GenerationConfig

    def make(name: str, seed: int, events: int, chunk_size: int):
        out = tmp_path_factory.mktemp(name) / "ds"
        gen = GenerationConfig("ttbar", seed=seed, pileup=PileupRange(20, 20), pileup_pool=str(pool_path))
        build_dataset(DatasetConfig(gen, events=events, chunk_size=chunk_size), out, progress=False)
        return out

    return make


@pytest.fixture(scope="session")
def nano_path(tmp_path_factory, pool_path):
    """Full-simulation nano (Parquet) of 24 ttbar + 24 Z->mumu events with 10 pileup, built once."""
    import awkward as ak

    from colliderflow.dataset.build import DatasetConfig, build_dataset
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import GenerationConfig
    from colliderflow.nano.build import build_nano
    from colliderflow.nano.io import read_nano, write_nano
    from colliderflow.reconstruct import PFSettings, reconstruct_dataset

    root = tmp_path_factory.mktemp("nano")
    parts = []
    for process, seed in (("ttbar", 31), ("zmumu", 32)):
        gen = GenerationConfig(process, seed=seed, pileup=PileupRange(10, 10), pileup_pool=str(pool_path))
        build_dataset(DatasetConfig(gen, events=24, chunk_size=12), root / process, progress=False)
        reconstruct_dataset(root / process, root / f"pf_{process}", "pf", PFSettings("cms-like"), progress=False)
        out = root / f"{process}.parquet"
        build_nano(root / process, root / f"pf_{process}", out, progress=False)
        parts.append(read_nano(out))
    path = root / "nano.parquet"
    write_nano(path, ak.concatenate(parts), {"source": "fullsim"})
    return path


@pytest.fixture
def element_predictor(monkeypatch):
    """Replace the MLPF model by a fixed rule (no model file needed) for ``reconstruct --algo mlpf``.

    Every element makes a candidate with the element's own kinematics: a track a charged hadron,
    an ECAL cluster a photon, any other cluster a neutral hadron; the pileup score of element i
    is (i mod 10) / 10.
    """
    import numpy as np

    from colliderflow.mlpf import infer
    from colliderflow.schema import classes as C
    from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_TRACK

    class ElementPredictor(infer.Predictor):
        def __init__(self, model_path, config=infer.InferenceConfig()):
            self.config = config

        def predict_events(self, events):
            out = []
            for x in events:
                n = len(x["type"])
                cls = np.where(x["type"] == ELEMENT_TRACK, C.CHARGED_HADRON,
                               np.where(x["type"] == ELEMENT_ECAL, C.PHOTON, C.NEUTRAL_HADRON))
                out.append({"p_binary": np.ones(n, np.float32),
                            "pid_prob": np.eye(C.N_CLASSES, dtype=np.float32)[cls],
                            "p_pileup": (np.arange(n) % 10 / 10).astype(np.float32),
                            **{k: x[k] for k in ("pt", "eta", "phi", "energy")}})
            return out

    monkeypatch.setattr(infer, "Predictor", ElementPredictor)
    return ElementPredictor


def _pythia_to_hepmc(event, weight: float, number: int):
    """A Pythia 8 event record as a HepMC3 event, built as Pythia8ToHepMC3 builds it: HepMC status
    codes, one vertex per set of mothers placed at the first non-zero production point, particles
    in topological order (add_tree)."""
    import pyhepmc

    ev = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
    ev.event_number = number
    parts = [None]
    for i in range(1, event.size()):
        p = event[i]
        gp = pyhepmc.GenParticle((p.px(), p.py(), p.pz(), p.e()), p.id(), p.statusHepMC())
        gp.generated_mass = p.m()
        parts.append(gp)
    vertices = []  # particles refer to their vertices weakly: keep them alive until add_tree
    for i in range(1, event.size()):
        p = event[i]
        mothers = p.motherList()
        if not mothers:
            continue
        v = parts[mothers[0]].end_vertex
        if v is None:
            v = pyhepmc.GenVertex()
            vertices.append(v)
            for m in mothers:
                v.add_particle_in(parts[m])
        pos = (p.xProd(), p.yProd(), p.zProd(), p.tProd())
        if any(pos) and not any((v.position.x, v.position.y, v.position.z, v.position.t)):
            v.position = pyhepmc.FourVector(*pos)
        v.add_particle_out(parts[i])
    ev.add_tree([parts[1], parts[2]])
    ev.weights = [weight]
    return ev


@pytest.fixture(scope="session")
def pythia_hepmc(tmp_path_factory):
    """``make(process, seed, events)``: a HepMC3 file of Pythia events 0..events-1 of (process, seed),
    as ``PythiaGenerator(process, seed=seed)`` makes them; each file is written once per session."""
    pyhepmc = pytest.importorskip("pyhepmc")
    from colliderflow.generate.pythia import PythiaGenerator

    root = tmp_path_factory.mktemp("hepmc")
    made = {}

    def make(process: str, seed: int, events: int):
        key = (process, seed, events)
        if key not in made:
            gen = PythiaGenerator(process, seed=seed)
            path = root / f"{process}_{seed}_{events}.hepmc3"
            with pyhepmc.open(path, "w") as f:
                for i in range(events):
                    hard = gen.generate(i)
                    f.write(_pythia_to_hepmc(gen._pythia.event, hard.weight, i))
            made[key] = path
        return made[key]

    return make
