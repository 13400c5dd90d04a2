import numpy as np
import pytest

from colliderflow.pf.pileup import PuppiConfig, associate, find_vertices, puppi_weights


def test_vertices_and_association():
    rng = np.random.default_rng(0)
    vz_true = np.array([0.5, -2.0, 3.1])
    n = [30, 12, 8]
    z = np.concatenate([rng.normal(v, 0.005, k) for v, k in zip(vz_true, n)])
    pt = np.concatenate([rng.exponential(8.0, 30) + 1, rng.exponential(1.0, 12) + 0.5, rng.exponential(1.0, 8) + 0.5])
    err = np.full(len(z), 0.005)
    vz, pv = find_vertices(z, err, pt)
    assert pv == 0 and len(vz) == 3
    assert vz[0] == pytest.approx(0.5, abs=0.005)  # the hardest vertex is the primary one
    assoc = associate(z, err, vz)
    assert (assoc[:30] == 0).all() and (assoc[30:] > 0).all()
    assert associate(np.array([10.0]), np.array([0.005]), vz)[0] == -1


def _cands(cls, charge, pt, eta, phi, vertex):
    return {"cls": np.array(cls), "charge": np.array(charge), "pt": np.array(pt, float), "eta": np.array(eta, float),
            "phi": np.array(phi, float), "vertex": np.array(vertex)}


def test_puppi_charged_and_neutral():
    rng = np.random.default_rng(1)
    # pileup: soft charged particles everywhere from vertex 1; hard scatter: a jet of PV charged at eta=0, phi=0
    n_pu = 300
    pu = _cands([1] * n_pu, [1] * n_pu, rng.exponential(0.7, n_pu) + 0.3, rng.uniform(-2.4, 2.4, n_pu),
                rng.uniform(-np.pi, np.pi, n_pu), [1] * n_pu)
    jet = _cands([1] * 8, [1] * 8, [20.0] * 8, rng.normal(0, 0.05, 8), rng.normal(0, 0.05, 8), [0] * 8)
    neutral = _cands([2, 2], [0, 0], [10.0, 2.0], [0.02, 1.5], [0.02, -2.0], [-1, -1])
    cands = {k: np.concatenate([pu[k], jet[k], neutral[k]]) for k in pu}
    w = puppi_weights(cands, n_vertices=40, config=PuppiConfig())
    assert (w[:n_pu] == 0).all()            # charged from pileup vertices
    assert (w[n_pu:n_pu + 8] == 1).all()    # charged from the primary vertex
    assert w[-2] > 0.9                      # a neutral inside the hard jet
    assert w[-1] < 0.5                      # an isolated soft neutral among pileup
    assert ((w >= 0) & (w <= 1)).all()


def test_puppi_without_pileup_keeps_neutrals():
    cands = _cands([2, 1], [0, 1], [5.0, 10.0], [0.0, 0.1], [0.0, 0.1], [-1, 0])
    w = puppi_weights(cands, n_vertices=1)
    assert w[1] == 1.0 and w[0] == 1.0
