import numpy as np
import pytest

from colliderflow.generate.particles import FLAG_FROM_B, FLAG_FROM_TAU
from colliderflow.generate.pythia import PythiaGenerator, hadron_flavour


@pytest.fixture(scope="module")
def ttbar():
    return PythiaGenerator("ttbar", seed=5)


def test_event_depends_only_on_seed_and_index(ttbar):
    a = ttbar.generate(3)
    ttbar.generate(4)  # generating something else in between must not matter
    b = ttbar.generate(3)
    c = PythiaGenerator("ttbar", seed=5).generate(3)  # nor a fresh instance (another worker)
    for other in (b, c):
        assert np.array_equal(a.particles.px, other.particles.px)
        assert np.array_equal(a.particles.pid, other.particles.pid)
    assert not np.array_equal(a.particles.px[:5], ttbar.generate(5).particles.px[:5])


def test_ttbar_content(ttbar):
    ev = ttbar.generate(0)
    p = ev.particles
    # four-momentum conservation of the final state (beams along z at 14 TeV)
    assert abs(p.px.sum()) < 1e-6 and abs(p.py.sum()) < 1e-6
    assert p.energy.sum() == pytest.approx(14000.0, rel=1e-6)
    # ttbar always has two b quarks, hence weakly decaying b hadrons and flagged descendants
    assert (ev.hadrons["flavour"] == 5).sum() >= 2
    assert (p.flags & FLAG_FROM_B).any()
    assert set(np.abs(ev.partons["pid"])) <= {1, 2, 3, 4, 5, 21}
    # vertices in cm: B-hadron daughters are displaced transversely by ~0.1-1 cm (c*tau = 0.045 cm)
    rxy = np.hypot(p.vx, p.vy)[(p.flags & FLAG_FROM_B) > 0]
    assert 0.005 < np.median(rxy) < 2.0


def test_ztautau_hadronic_only():
    gen = PythiaGenerator("ztautau", seed=1)
    for i in range(5):
        ev = gen.generate(i)
        assert len(ev.taus["px"]) == 2
        assert (ev.taus["decay_mode"] >= 0).all()  # no direct e/mu daughters: hadronic decays only
        assert (ev.taus["energy"] > 0).all()
        from_tau = ev.particles.take((ev.particles.flags & FLAG_FROM_TAU) > 0)
        # every hadronic tau yields a tau neutrino and at least one charged hadron
        assert (np.abs(from_tau.pid) == 16).sum() == 2
        assert (from_tau.charge != 0).sum() >= 2


def test_qcd_is_weighted():
    gen = PythiaGenerator("qcd", seed=1)
    weights = [gen.generate(i).weight for i in range(10)]
    assert len(set(weights)) > 1


def test_unknown_process():
    with pytest.raises(ValueError, match="unknown process 'wjets'"):
        PythiaGenerator("wjets")


@pytest.mark.parametrize("pid,flavour", [(511, 5), (-521, 5), (5122, 5), (421, 4), (4122, 4), (211, 0),
                                         (2212, 0), (22, 0), (553, 5), (443, 4)])
def test_hadron_flavour(pid, flavour):
    assert hadron_flavour(pid) == flavour
