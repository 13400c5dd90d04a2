"""Helix geometry against closed-form answers."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.simulate.helix import (
    C_LIGHT, Helix, closest_approach, helix_radius, intersect_cylinder, intersect_surface, path_length,
    position_eta_phi, propagate, time_of_flight,
)

B = 3.8


def _radius(pt: float) -> float:
    return 100.0 * pt / (0.299792458 * B)


def _helix(pt, phi, pz, charge, x=0.0, y=0.0, z=0.0) -> Helix:
    pt, phi, pz, charge, x, y, z = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, float))
                                                         for a in (pt, phi, pz, charge, x, y, z)))
    return Helix.from_momentum(x, y, z, pt * np.cos(phi), pt * np.sin(phi), pz, charge, B)


def test_radius_formula_and_neutrals():
    r = helix_radius(np.array([1.0, 10.0, 5.0]), np.array([1, -1, 0]), B)
    assert r[:2] == pytest.approx([_radius(1.0), _radius(10.0)])
    assert np.isinf(r[2])


@pytest.mark.parametrize("charge", [1.0, -1.0])
def test_cylinder_crossing_has_the_analytic_phi_shift_and_z(charge):
    pt, phi0, pz, r = 2.0, 0.3, 1.5, 80.0
    rad = _radius(pt)
    hit = intersect_surface(_helix(pt, phi0, pz, charge), r, 1000.0)
    assert hit.hit[0] and not hit.endcap[0]
    # seen from the origin the point turns by asin(r / 2R); positive charges turn clockwise (B along +z)
    half_turn = np.arcsin(r / (2.0 * rad))
    assert np.hypot(hit.x, hit.y)[0] == pytest.approx(r, abs=1e-9)
    assert np.arctan2(hit.y, hit.x)[0] == pytest.approx(phi0 - charge * half_turn, abs=1e-12)
    assert hit.s[0] == pytest.approx(2.0 * rad * half_turn)
    assert hit.z[0] == pytest.approx(2.0 * rad * half_turn * pz / pt)
    # the momentum has turned by twice that angle and kept its magnitude
    assert np.arctan2(hit.py, hit.px)[0] == pytest.approx(phi0 - 2.0 * charge * half_turn, abs=1e-12)
    assert np.hypot(hit.px, hit.py)[0] == pytest.approx(pt)


def test_points_stay_on_the_circle():
    rng = np.random.default_rng(1)
    h = _helix(1.3, 0.7, -0.4, 1.0, x=2.0, y=-1.0, z=5.0)
    s = rng.uniform(-300, 300, 50)
    x, y, z, px, py, pz = propagate(h, s)
    rad = _radius(1.3)
    # centre to the right of the motion for positive charges
    xc, yc = 2.0 + rad * np.sin(0.7), -1.0 - rad * np.cos(0.7)
    assert np.hypot(x - xc, y - yc) == pytest.approx(np.full(50, rad))
    assert z == pytest.approx(5.0 + s * (-0.4 / 1.3))
    assert np.hypot(px, py) == pytest.approx(np.full(50, 1.3))


def test_neutrals_follow_straight_lines():
    x0, y0, z0, phi, pt, pz, r = 1.0, 2.0, 3.0, 2.0, 4.0, 3.0, 50.0
    hit = intersect_surface(_helix(pt, phi, pz, 0.0, x0, y0, z0), r, 500.0)
    ux, uy = np.cos(phi), np.sin(phi)
    along = x0 * ux + y0 * uy
    lam = -along + np.sqrt(along**2 + r**2 - x0**2 - y0**2)
    assert hit.x[0] == pytest.approx(x0 + lam * ux)
    assert hit.y[0] == pytest.approx(y0 + lam * uy)
    assert hit.z[0] == pytest.approx(z0 + lam * pz / pt)
    assert (hit.px[0], hit.py[0], hit.pz[0]) == pytest.approx((pt * ux, pt * uy, pz))


def test_very_stiff_tracks_approach_the_straight_line():
    stiff = intersect_surface(_helix(1e7, 1.0, 2e6, 1.0), 129.0, 315.0)
    line = intersect_surface(_helix(1e7, 1.0, 2e6, 0.0), 129.0, 315.0)
    assert (stiff.x[0], stiff.y[0], stiff.z[0]) == pytest.approx((line.x[0], line.y[0], line.z[0]), abs=1e-3)


def test_forward_particles_hit_the_disk():
    pt, eta, zdisk = 1.0, 3.0, 315.0
    pz = pt * np.sinh(eta)
    hit = intersect_surface(_helix(pt, 0.0, pz, -1.0), 129.0, zdisk)
    assert hit.hit[0] and hit.endcap[0]
    assert hit.z[0] == pytest.approx(zdisk)
    s = zdisk * pt / pz
    assert hit.s[0] == pytest.approx(s)
    assert np.hypot(hit.x, hit.y)[0] == pytest.approx(2.0 * _radius(pt) * abs(np.sin(s / (2.0 * _radius(pt)))))
    backward = intersect_surface(_helix(pt, 0.0, -pz, -1.0), 129.0, zdisk)
    assert backward.z[0] == pytest.approx(-zdisk)


def test_loopers_are_flagged():
    # 2R = 35 cm < 129 cm and no longitudinal motion: the surface is never reached
    hit = intersect_surface(_helix([0.2, 0.2], 0.0, [0.0, 0.01], 1.0), 129.0, 315.0)
    assert not hit.hit[0] and np.isinf(hit.s[0]) and np.isnan(hit.x[0])
    assert np.isinf(intersect_cylinder(_helix(0.2, 0.0, 0.0, 1.0), 129.0)[0])
    # with a little pz it spirals into the disk, after 315 cm / (2 pi R pz / pT) = 57 turns;
    # with pz = 2 pT it takes 1.4 turns
    assert hit.hit[1] and hit.endcap[1]
    few_turns = intersect_surface(_helix([0.2, 0.2], 0.0, [0.01, 0.4], 1.0), 129.0, 315.0, max_turns=2.0)
    assert not few_turns.hit[0] and few_turns.hit[1]


def test_closest_approach_of_a_displaced_helix():
    d0, z0, phi, pt, pz, charge = 0.5, 2.0, 1.0, 1.5, 0.8, -1.0
    pca = _helix(pt, phi, pz, charge, x=-d0 * np.sin(phi), y=d0 * np.cos(phi), z=z0)
    x, y, z, px, py, pz_ = propagate(pca, np.array([40.0]))
    start = Helix.from_momentum(x, y, z, px, py, pz_, [charge], B)
    found = closest_approach(start)
    assert found.d0[0] == pytest.approx(d0, abs=1e-9)
    assert found.z0[0] == pytest.approx(z0, abs=1e-9)
    assert found.phi[0] == pytest.approx(phi, abs=1e-12)
    assert found.s[0] == pytest.approx(-40.0)
    assert (found.x[0], found.y[0]) == pytest.approx((-d0 * np.sin(phi), d0 * np.cos(phi)), abs=1e-9)


def test_closest_approach_of_a_straight_line():
    x0, y0, phi = 3.0, 1.0, 0.4
    found = closest_approach(_helix(1.0, phi, 0.5, 0.0, x0, y0, 7.0))
    assert found.d0[0] == pytest.approx(-x0 * np.sin(phi) + y0 * np.cos(phi))
    assert found.s[0] == pytest.approx(-(x0 * np.cos(phi) + y0 * np.sin(phi)))
    assert found.z0[0] == pytest.approx(7.0 + found.s[0] * 0.5)


def test_path_length_and_time_of_flight():
    h = _helix(3.0, 0.0, 4.0, 1.0)
    assert path_length(h, np.array([30.0]))[0] == pytest.approx(50.0)
    assert time_of_flight(np.array([100.0]), np.array([5.0]), np.array([5.0]))[0] == pytest.approx(100.0 / C_LIGHT)
    # beta = p / E = 0.6
    assert time_of_flight(np.array([100.0]), np.array([3.0]), np.array([5.0]))[0] == pytest.approx(100.0 / (0.6 * C_LIGHT))


def test_several_surfaces_at_once_match_single_calls():
    rng = np.random.default_rng(4)
    n = 200
    h = Helix.from_momentum(*rng.normal(0, 1, (3, n)), *rng.normal(0, 2, (3, n)), rng.choice([-1, 0, 1], n), B)
    both = intersect_surface(h, np.array([[129.0], [177.7]]), np.array([[315.4], [388.0]]))
    for k, (r, z) in enumerate(((129.0, 315.4), (177.7, 388.0))):
        one = intersect_surface(h, r, z)
        np.testing.assert_array_equal(both.hit[k], one.hit)
        np.testing.assert_allclose(both.x[k], one.x)
        np.testing.assert_allclose(both.z[k], one.z)


def test_position_eta_phi():
    eta, phi = position_eta_phi(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([np.sqrt(2) * np.sinh(1.2), 5.0]))
    assert eta[0] == pytest.approx(1.2) and phi[0] == pytest.approx(np.pi / 4)
    assert eta[1] == 1e4
