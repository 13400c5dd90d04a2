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
def nano_path(tmp_path_factory, pool_path):
    """Full-simulation nano (Parquet) of 24 ttbar + 24 Z->mumu events with 10 pileup, built once."""
    import awkward as ak

    from colliderflow.dataset.build import DatasetConfig, build_dataset
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import GenerationConfig
    from colliderflow.nano.build import build_nano
    from colliderflow.nano.io import read_nano, write_nano
    from colliderflow.reconstruct import reconstruct_dataset

    root = tmp_path_factory.mktemp("nano")
    parts = []
    for process, seed in (("ttbar", 31), ("zmumu", 32)):
        gen = GenerationConfig(process, seed=seed, pileup=PileupRange(10, 10), pileup_pool=str(pool_path))
        build_dataset(DatasetConfig(gen, events=24, chunk_size=12), root / process, progress=False)
        reconstruct_dataset(root / process, root / f"pf_{process}", "pf", {"calibration": "cms-like", "config": {}},
                            progress=False)
        out = root / f"{process}.parquet"
        build_nano(root / process, root / f"pf_{process}", out, progress=False)
        parts.append(read_nano(out))
    path = root / "nano.parquet"
    write_nano(path, ak.concatenate(parts), {"source": "fullsim"})
    return path
