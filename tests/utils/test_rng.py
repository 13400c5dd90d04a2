import numpy as np
import pytest

from colliderflow.utils.rng import event_rng, pythia_seed


def test_streams_are_reproducible_and_distinct():
    a = event_rng(3, 10, "simulate").normal(size=5)
    b = event_rng(3, 10, "simulate").normal(size=5)
    c = event_rng(3, 11, "simulate").normal(size=5)
    d = event_rng(3, 10, "pileup").normal(size=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, d)


def test_pythia_seed_range():
    seeds = {pythia_seed(1, i) for i in range(1000)}
    assert len(seeds) == 1000
    assert min(seeds) >= 1 and max(seeds) <= 900_000_000


def test_negative_seed_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        event_rng(-1, 0, "x")
