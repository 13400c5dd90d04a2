import numpy as np
import pytest

from colliderflow.generate.pileup import BeamSpot, PileupPool, PileupRange
from colliderflow.generate.source import EventSource, GenerationConfig, generate_pool


def test_range_parsing():
    assert PileupRange.parse("55-75") == PileupRange(55, 75)
    assert PileupRange.parse("200") == PileupRange(200, 200)
    assert PileupRange.parse(0) == PileupRange(0, 0)
    with pytest.raises(ValueError, match="cannot read pileup"):
        PileupRange.parse("lots")
    with pytest.raises(ValueError, match=r"PileupRange\.high = 5 is out of range: must be >= low \(10\)"):
        PileupRange(10, 5)


def test_pool_parallel_equals_serial(tmp_path, pool_path):
    # the session pool was made serially; the same seed in 2 processes gives the same bytes
    parallel = generate_pool(tmp_path / "p.parquet", 120, seed=7, jobs=2, progress=False)
    a, b = PileupPool(pool_path), PileupPool(parallel)
    assert np.array_equal(a._flat["px"], b._flat["px"])
    assert np.array_equal(a._offsets, b._offsets)


def test_overlay_distinct_events_and_vertices(pool_path):
    pool = PileupPool(pool_path)
    rng = np.random.default_rng(1)
    pu = pool.overlay(60, rng, BeamSpot())
    assert set(np.unique(pu.interaction)) == set(range(1, 61))
    # each interaction has its own vertex: the z spread of interactions is the beam spot's ~3.5 cm
    zs = np.array([np.median(pu.vz[pu.interaction == k]) for k in range(1, 61)])
    assert 2.0 < zs.std() < 5.0
    # no pool event repeats within one event: particle multiplicities per interaction are a
    # permutation-free draw, checked through the sums of |px| being all distinct
    sums = np.array([np.abs(pu.px[pu.interaction == k]).sum() for k in range(1, 61)])
    assert len(np.unique(sums)) == 60


def test_pool_too_small(pool_path):
    with pytest.raises(ValueError, match="fewer than the 500 interactions"):
        PileupPool(pool_path).overlay(500, np.random.default_rng(0), BeamSpot())


def test_event_source_pileup(pool_path):
    cfg = GenerationConfig("ttbar", seed=3, pileup=PileupRange(5, 8), pileup_pool=str(pool_path))
    src = EventSource(cfg)
    ev = src.generate(2)
    assert 5 <= ev.info.n_pu <= 8
    assert ev.particles.interaction.max() == ev.info.n_pu
    hard = ev.hard
    assert abs(np.median(hard.vz) - ev.info.pv_z) < 0.1
    again = EventSource(cfg).generate(2)
    assert np.array_equal(ev.particles.px, again.particles.px)
    assert np.array_equal(ev.particles.vz, again.particles.vz)


def test_pileup_needs_pool_to_overlay():
    from colliderflow.dataset.build import DatasetConfig

    cfg = GenerationConfig("ttbar", pileup=PileupRange(10, 10))
    for make in (lambda: EventSource(cfg), lambda: DatasetConfig(cfg)):
        with pytest.raises(ValueError, match="no pileup pool given"):
            make()


def test_source_without_overlay_draws_the_same_count(pool_path):
    """Generator-level samples: the same hard scatter, vertex and pileup count, no pileup particles."""
    cfg = GenerationConfig("zmumu", seed=4, pileup=PileupRange(5, 60), pileup_pool=str(pool_path))
    counts = set()
    for i in range(3):
        full = EventSource(cfg).generate(i)
        bare = EventSource(GenerationConfig("zmumu", seed=4, pileup=PileupRange(5, 60)), overlay=False).generate(i)
        assert bare.info == full.info
        counts.add(bare.info.n_pu)
        assert np.all(bare.particles.interaction == 0)
        for k, v in full.hard.to_dict().items():
            assert np.array_equal(v, getattr(bare.particles, k)), k
    assert len(counts) == 3
