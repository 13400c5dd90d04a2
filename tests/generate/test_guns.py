import numpy as np
import pytest

from colliderflow.generate.guns import GunConfig, shoot


def test_gun_kinematics():
    cfg = GunConfig("pi", 2.0, 50.0, -1.0, 1.0, n_per_event=2000)
    p = shoot(cfg, np.random.default_rng(0))
    assert len(p) == 2000
    assert p.pt.min() >= 2.0 and p.pt.max() <= 50.0
    assert np.abs(p.eta).max() <= 1.0
    assert set(np.unique(p.pid)) == {-211, 211}
    assert np.array_equal(np.sign(p.pid), p.charge)
    assert np.allclose(p.energy**2 - p.p**2, 0.13957**2, atol=1e-6)


def test_neutral_gun():
    p = shoot(GunConfig("k0l", n_per_event=10), np.random.default_rng(0))
    assert (p.pid == 130).all() and (p.charge == 0).all()


def test_bad_gun():
    with pytest.raises(ValueError, match="gun particle 'tau'"):
        GunConfig("tau")


def test_gun_vertices_follow_the_beam_spot():
    # regression: one zeros array used for vx, vy, vz and t made the beam-spot shifts pile up
    from colliderflow.generate.source import EventSource, GenerationConfig

    src = EventSource(GenerationConfig("gun", seed=3, gun=GunConfig("pi", n_per_event=1)))
    ev = [src.generate(i) for i in range(200)]
    rxy = np.array([np.hypot(e.particles.vx[0], e.particles.vy[0]) for e in ev])
    z = np.array([e.particles.vz[0] for e in ev])
    t = np.array([e.particles.t[0] for e in ev])
    assert rxy.max() < 0.01                 # transverse beam spot: ~12 um
    assert 2.5 < z.std() < 4.5              # longitudinal: 3.5 cm
    assert t.std() < 0.5                    # time: 0.18 ns, not the z offset
    assert all(e.particles.vz[0] == e.info.pv_z for e in ev)
