"""Shared fixtures: small generated samples cached per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pool_path(tmp_path_factory):
    """A small minimum-bias pool (120 events), generated once per session."""
    from colliderflow.generate.source import generate_pool

    path = tmp_path_factory.mktemp("pool") / "pool.parquet"
    return generate_pool(path, 120, seed=7, jobs=1, progress=False)
