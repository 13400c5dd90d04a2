import awkward as ak
import numpy as np
import pytest

from colliderflow.physics.met import type1_met
from colliderflow.physics.offset import N_PHI, RING_EDGES, jet_offset, ring_rho


def _grid_event(pt_per_cell: float, hard: float = 0.0):
    """One particle of pt_per_cell at the centre of every grid cell, plus a hard particle in one cell."""
    eta_c = 0.5 * (RING_EDGES[1:] + RING_EDGES[:-1])
    phi_c = -np.pi + (np.arange(N_PHI) + 0.5) * 2 * np.pi / N_PHI
    e, p = np.meshgrid(np.concatenate([eta_c, -eta_c]), phi_c)
    eta, phi, pt = e.ravel(), p.ravel(), np.full(e.size, pt_per_cell)
    if hard:
        eta, phi, pt = np.append(eta, 0.1), np.append(phi, 0.2), np.append(pt, hard)
    return pt, eta, phi


def test_ring_rho_is_the_median_density_and_ignores_a_hard_jet():
    a = _grid_event(2.0, hard=100.0)
    b = _grid_event(0.0)
    pt, eta, phi = (ak.Array([a[i], b[i], []]) for i in range(3))
    rho = ring_rho(pt, eta, phi)
    area = 0.5 * 2 * np.pi / N_PHI
    assert rho.shape == (3, len(RING_EDGES) - 1)
    assert rho[0] == pytest.approx(np.full(len(RING_EDGES) - 1, 2.0 / area))
    assert rho[1:] == pytest.approx(0.0)  # no pileup, no event: no offset


def test_ring_rho_weights_scale_the_pt_and_rings_are_separate():
    pt, eta, phi = _grid_event(1.0)
    fwd = np.abs(eta) > 3.0
    w = ak.Array([np.where(fwd, 3.0, 0.5)])
    rho = ring_rho(ak.Array([pt]), ak.Array([eta]), ak.Array([phi]), w)[0]
    area = 0.5 * 2 * np.pi / N_PHI
    ring_lo = RING_EDGES[:-1]
    assert rho[ring_lo >= 3.0] == pytest.approx(3.0 / area)
    assert rho[ring_lo < 3.0] == pytest.approx(0.5 / area)


def test_jet_offset_is_rho_of_the_jets_ring_times_the_area():
    rho = np.arange(20, dtype=float).reshape(2, 10)
    off = jet_offset(rho, ak.Array([[0.2, -3.7], [4.99]]), radius=0.4)
    a = np.pi * 0.16
    assert ak.num(off).tolist() == [2, 1]
    assert ak.to_numpy(ak.flatten(off)) == pytest.approx([0.0 * a, 7.0 * a, 19.0 * a])


def test_type1_met_adds_back_the_offset_the_corrections_removed():
    # a jet of 20 GeV raw holding 8 GeV of pileup, corrected (offset included) to 22 GeV:
    # L123 - L1 = 22 - 12 = 10 GeV propagated, not 22 - 20 = 2
    pt, phi, corrected = ak.Array([[20.0]]), ak.Array([[0.0]]), ak.Array([[22.0]])
    mx, _ = type1_met(np.zeros(1), np.zeros(1), pt, phi, corrected)
    assert mx == pytest.approx([-2.0])
    mx, _ = type1_met(np.zeros(1), np.zeros(1), pt, phi, corrected, jet_offset=ak.Array([[8.0]]))
    assert mx == pytest.approx([-10.0])
    # an offset larger than the jet leaves L1 at 0
    mx, _ = type1_met(np.zeros(1), np.zeros(1), pt, phi, corrected, jet_offset=ak.Array([[30.0]]))
    assert mx == pytest.approx([-22.0])
