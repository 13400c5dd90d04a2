import dataclasses

import numpy as np
import pytest

from colliderflow.pf.pileup import (PuppiConfig, PuppiRegion, VertexConfig, associate, find_vertices, mitigate_pileup,
                                    puppi_weights)


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


def _event(rng, vertices_z, tracks_per_vertex, n_clusters):
    """Elements (tracks from the given vertices, then clusters) and one candidate per element."""
    from colliderflow.schema.candidates import empty_candidates
    from colliderflow.schema.elements import ELEMENT_HCAL, ELEMENT_TRACK, stack_elements

    vz = np.concatenate([rng.normal(z, 0.01, k) for z, k in zip(vertices_z, tracks_per_vertex)])
    nt = len(vz)
    tracks = {"type": np.full(nt, ELEMENT_TRACK), "vz": vz, "dz_err": rng.uniform(0.003, 0.03, nt),
              "pt": rng.exponential(3.0, nt) + 0.3, "eta": rng.uniform(-2.4, 2.4, nt),
              "phi": rng.uniform(-np.pi, np.pi, nt), "charge": rng.choice([-1.0, 1.0], nt)}
    clusters = {"type": np.full(n_clusters, ELEMENT_HCAL), "pt": rng.exponential(3.0, n_clusters) + 0.5,
                "eta": rng.uniform(-4.5, 4.5, n_clusters), "phi": rng.uniform(-np.pi, np.pi, n_clusters)}
    x = stack_elements(tracks, clusters)
    cands = empty_candidates(len(x["type"]))
    cands["charge"] = x["charge"].astype(np.int8)
    cands["cls"] = np.where(cands["charge"] != 0, 1, 2).astype(np.int8)
    for k in ("pt", "eta", "phi"):
        cands[k] = x[k].astype(np.float32)
    cands["element"] = np.arange(len(x["type"]), dtype=np.int32)
    return x, cands


def _former_pf_code(x, cands, vertex_config, puppi_config):
    """The pileup part of pf/reconstruct.py:reconstruct_event before it became mitigate_pileup (an oracle)."""
    from colliderflow.schema.elements import ELEMENT_TRACK

    cands = {k: v.copy() for k, v in cands.items()}
    tracks = np.flatnonzero(x["type"] == ELEMENT_TRACK)
    vertex_z, _ = find_vertices(x["vz"][tracks].astype(np.float64), x["dz_err"][tracks].astype(np.float64),
                                x["pt"][tracks].astype(np.float64), vertex_config)
    charged = cands["charge"] != 0
    elem = cands["element"][charged]
    z = x["vz"][elem].astype(np.float64)
    vtx = associate(z, x["dz_err"][elem].astype(np.float64), vertex_z, vertex_config)
    cands["vertex"][charged] = vtx
    cands["chs"] = ~(charged & (cands["vertex"] > 0))
    puppi_in = dict(cands)
    if len(vertex_z):
        near_pv = (vtx < 0) & (np.abs(z - vertex_z[0]) < vertex_config.pv_dz_keep)
        puppi_in["vertex"] = cands["vertex"].copy()
        puppi_in["vertex"][np.flatnonzero(charged)[near_pv]] = 0
    cands["puppi_weight"] = puppi_weights(puppi_in, len(vertex_z), puppi_config)
    return cands


@pytest.mark.parametrize("seed", [0, 1])
def test_mitigate_pileup_is_the_former_pf_code(seed):
    rng = np.random.default_rng(seed)
    x, cands = _event(rng, [0.3, -4.0, 2.2, 7.5, -1.1], [40, 30, 25, 20, 15], 120)
    before = {k: v.copy() for k, v in cands.items()}
    got = mitigate_pileup(x, cands, VertexConfig(), PuppiConfig())
    want = _former_pf_code(x, cands, VertexConfig(), PuppiConfig())
    assert all(np.array_equal(before[k], cands[k]) for k in cands)  # the input is left alone
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k
    assert (got["vertex"] > 0).any() and (got["vertex"] == 0).any() and not got["chs"].all()
    assert ((got["puppi_weight"] > 0) & (got["puppi_weight"] < 1)).any()


def test_mitigate_pileup_on_a_hand_made_event():
    from colliderflow.schema.candidates import empty_candidates
    from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_TRACK, stack_elements

    # PV: 5 hard tracks at z = 0; pileup vertex: 3 soft tracks at z = 5 cm; a track 2 mm from the PV
    # (outside the 0.5 mm window, inside PUPPI's 3 mm); a track at z = 20 cm; an ECAL cluster
    vz = np.array([0.0, 0.001, -0.001, 0.002, -0.002, 5.0, 5.001, 4.999, 0.2, 20.0, 0.0])
    n = len(vz)
    x = stack_elements({"type": np.r_[np.full(n - 1, ELEMENT_TRACK), ELEMENT_ECAL], "vz": vz,
                        "dz_err": np.full(n, 0.005), "pt": np.r_[np.full(5, 10.0), np.full(5, 1.0), 5.0],
                        "eta": np.linspace(-1, 1, n), "phi": np.linspace(-1, 1, n)})
    cands = empty_candidates(n + 1)
    cands["element"] = np.r_[np.arange(n), n - 1].astype(np.int32)
    # every track a charged candidate; the cluster makes a neutral and, as a model might, a charged one
    cands["charge"] = np.r_[np.ones(n - 1), 0, 1].astype(np.int8)
    cands["cls"] = np.r_[np.ones(n - 1), 3, 1].astype(np.int8)
    cands["pt"], cands["eta"], cands["phi"] = (x[k][cands["element"]] for k in ("pt", "eta", "phi"))
    out = mitigate_pileup(x, cands)
    assert out["vertex"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, -1, -1, -1, -1]
    assert out["chs"].tolist() == [True] * 5 + [False] * 3 + [True] * 4
    assert out["puppi_weight"][:9].tolist() == [1.0] * 5 + [0.0] * 3 + [1.0]


def _pileup_event(rng, n_pu=400):
    """Soft charged pileup (vertex 1) over |eta| < 2.4 and soft neutral pileup over 2.5 < |eta| < 5."""
    pu = _cands([1] * n_pu, [1] * n_pu, rng.exponential(0.7, n_pu) + 0.3, rng.uniform(-2.4, 2.4, n_pu),
                rng.uniform(-np.pi, np.pi, n_pu), [1] * n_pu)
    fwd = _cands([2] * n_pu, [0] * n_pu, rng.exponential(0.7, n_pu) + 0.3,
                 rng.choice([-1, 1], n_pu) * rng.uniform(2.5, 5.0, n_pu), rng.uniform(-np.pi, np.pi, n_pu), [-1] * n_pu)
    return {k: np.concatenate([pu[k], fwd[k]]) for k in pu}


def test_puppi_forward_region_extrapolates_the_charged_reference():
    rng = np.random.default_rng(3)
    event = _pileup_event(rng)
    # a forward jet: a hard neutral core with hard neutral neighbours, at eta = 4
    jet = _cands([2] * 4, [0] * 4, [30.0, 20.0, 15.0, 10.0], 4.0 + rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4),
                 [-1] * 4)
    cands = {k: np.concatenate([event[k], jet[k]]) for k in event}
    # every region on the extrapolated charged-pileup reference (the CMS tune), without pT cuts
    no_cut = tuple(PuppiRegion(r.eta_max, r.use_charged, 0.0, 0.0, r.median_scale) for r in PuppiConfig().regions)
    w = puppi_weights(cands, n_vertices=40, config=PuppiConfig(regions=no_cut))
    fwd_pu = (np.abs(cands["eta"]) > 3) & (np.arange(len(w)) < len(event["pt"]))
    assert w[-4:].min() > 0.5 and w[-4:].mean() > 0.85  # the forward jet stays
    # the weights alone keep part of this toy's forward pileup, the default (HF: its own
    # reference and the N_vtx pT cut) removes most of its pT
    assert w[fwd_pu].mean() < 0.5
    w_default = puppi_weights(cands, n_vertices=40, config=PuppiConfig())
    pt = cands["pt"]
    assert (w_default[fwd_pu] * pt[fwd_pu]).sum() < 0.15 * pt[fwd_pu].sum()  # forward pileup pT mostly goes
    assert w_default[-4:].min() > 0.9
    # a larger median scale in HF can only lower the weights there
    higher = tuple(PuppiRegion(r.eta_max, r.use_charged, 0.0, 0.0, r.median_scale * (1.3 if r.eta_max > 3 else 1))
                   for r in PuppiConfig().regions)
    w2 = puppi_weights(cands, n_vertices=40, config=PuppiConfig(regions=higher))
    hf = np.abs(cands["eta"]) > 3
    assert (w2[hf] <= w[hf] + 1e-6).all() and (w2[hf] < w[hf]).any()
    assert np.array_equal(w2[~hf], w[~hf])


def _hf_reference(reference: str) -> PuppiConfig:
    """Default regions without pT cuts and with unit scales; HF takes ``reference``."""
    regions = [dataclasses.replace(r, ptcut=0.0, ptcut_slope=0.0, median_scale=1.0) for r in PuppiConfig().regions]
    regions[-1] = dataclasses.replace(regions[-1], reference=reference)
    return PuppiConfig(regions=tuple(regions))


def test_puppi_region_reference_follows_the_local_pileup():
    rng = np.random.default_rng(5)
    event = _pileup_event(rng)
    hf = np.abs(event["eta"]) > 3
    event["pt"] = np.where(hf, 3.0 * event["pt"], event["pt"])  # HF pileup harder than the central reference
    jet = _cands([2] * 4, [0] * 4, [60.0, 40.0, 30.0, 20.0], 4.0 + rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4),
                 [-1] * 4)
    cands = {k: np.concatenate([event[k], jet[k]]) for k in event}
    fwd_pu = (np.abs(cands["eta"]) > 3) & (np.arange(len(cands["pt"])) < len(event["pt"]))
    w_charged = puppi_weights(cands, n_vertices=40, config=_hf_reference("charged_pileup"))
    w_region = puppi_weights(cands, n_vertices=40, config=_hf_reference("region"))
    # the extrapolated charged reference takes the harder HF pileup for signal; its own reference does not
    assert w_charged[fwd_pu].mean() > 0.6
    assert w_region[fwd_pu].mean() < 0.4
    assert w_region[-4:].min() > 0.9  # the forward jet stays
    outside = np.abs(cands["eta"]) <= 3
    assert np.array_equal(w_region[outside], w_charged[outside])  # other regions are untouched
    # without pileup (too few charged pileup particles) the region reference keeps every neutral
    quiet = {k: v[~fwd_pu & (cands["charge"] == 0)] for k, v in cands.items()}
    assert (puppi_weights(quiet, n_vertices=1, config=_hf_reference("region")) == 1.0).all()


def test_puppi_pt_cut_and_hard_neutral_protection():
    rng = np.random.default_rng(4)
    event = _pileup_event(rng)
    # a jet of charged particles from the primary vertex, and isolated neutrals in the barrel: a soft
    # one, one below and one above neutral_pt_max
    jet = _cands([1] * 8, [1] * 8, [20.0] * 8, rng.normal(0, 0.05, 8), rng.normal(0, 0.05, 8), [0] * 8)
    iso = _cands([2] * 3, [0] * 3, [0.5, 30.0, 60.0], [1.0, -1.0, 1.5], [3.0, 3.0, 1.5], [-1] * 3)
    cands = {k: np.concatenate([event[k], jet[k], iso[k]]) for k in event}
    w = puppi_weights(cands, n_vertices=40, config=PuppiConfig(neutral_pt_max=40.0))
    assert w[-3] == 0.0          # below the pT cut 0.2 + 0.05 * 40 GeV
    assert w[-2] < 1.0           # isolated among pileup: no protection below 40 GeV
    assert w[-1] == 1.0          # protected


@pytest.mark.parametrize("bad", [
    dict(regions=(PuppiRegion(3.0, False, 1.0, 0.0), PuppiRegion(2.5, True, 1.0, 0.0))),
    dict(regions=()),
    dict(r_min=0.5),
    dict(min_reference=1),
])
def test_puppi_config_is_checked(bad):
    with pytest.raises(ValueError):
        PuppiConfig(**bad)
    with pytest.raises(ValueError):
        PuppiRegion(2.5, True, ptcut=-1.0, ptcut_slope=0.0)
    with pytest.raises(ValueError, match="reference"):
        PuppiRegion(5.0, False, 0.0, 0.0, reference="everything")
    with pytest.raises(ValueError, match="reference"):
        PuppiRegion(2.5, True, 0.0, 0.0, reference="region")  # alpha_C regions use charged pileup
