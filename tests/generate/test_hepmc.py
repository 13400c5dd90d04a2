"""HepMC input: Pythia's own HepMC output gives back Pythia's generator record; a hand-made event; bad files."""

import numpy as np
import pytest

pyhepmc = pytest.importorskip("pyhepmc")

from colliderflow.generate.hepmc import read_hepmc
from colliderflow.generate.particles import FLAG_FROM_B, FLAG_FROM_C, FLAG_FROM_TAU
from colliderflow.generate.pythia import PythiaGenerator
from colliderflow.utils.parquet import FileFormatError


def _canonical(hard):
    """Particles and records sorted by content (a HepMC file lists particles in topological order, not
    Pythia's), tau_index and the resonance links renumbered to the sorted taus and resonances."""
    def order(rec, keys):
        return np.lexsort([rec[k] for k in reversed(keys)])

    def renumber(index, rank):
        return np.where(index >= 0, rank[np.maximum(index, 0)] if len(rank) else -1, -1).astype(index.dtype)

    taus = hard.taus
    t_order = order(taus, ["px", "py", "pz"])
    rank = np.argsort(t_order)
    res = hard.resonances
    r_order = order(res, ["pid", "px", "py", "pz"])
    r_rank = np.argsort(r_order)
    p = hard.particles.to_dict()
    p["tau_index"] = renumber(p["tau_index"], rank)
    p["resonance_index"] = renumber(p["resonance_index"], r_rank)
    out = {"particles": {k: v[order(p, ["pid", "px", "py", "pz"])] for k, v in p.items()},
           "taus": {k: v[t_order] for k, v in taus.items()},
           "resonances": {k: (renumber(v, r_rank) if k == "mother" else v)[r_order] for k, v in res.items()}}
    for name in ("hadrons", "partons"):
        rec = getattr(hard, name)
        out[name] = {k: v[order(rec, ["pid", "px", "py"])] for k, v in rec.items()}
    return out


@pytest.mark.parametrize("process, seed", [("ttbar", 41), ("ztautau", 42)])
def test_pythia_hepmc_gives_back_pythia_record(pythia_hepmc, process, seed):
    path = pythia_hepmc(process, seed, 3)
    events = list(read_hepmc(path))
    gen = PythiaGenerator(process, seed=seed)
    assert [e.position for e in events] == [0, 1, 2]
    n_flagged = n_linked = n_res_mother = 0
    for i, e in enumerate(events):
        ref = gen.generate(i)
        a, b = _canonical(ref), _canonical(e.hard)
        for rec in a:
            for k in a[rec]:
                assert np.array_equal(a[rec][k], b[rec][k]), (process, i, rec, k)
                assert a[rec][k].dtype == b[rec][k].dtype
        assert e.hard.weight == ref.weight
        assert e.sqrt_s == pytest.approx(14.0)
        n_flagged += int((e.hard.particles.flags > 0).sum())
        n_linked += int((e.hard.particles.resonance_index >= 0).sum())
        n_res_mother += int((e.hard.resonances["mother"] >= 0).sum())
    assert n_flagged > 10  # the comparison covers b, c and tau descendants
    if process == "ttbar":  # and W from top, and the W's decay products
        assert n_res_mother > 0 and n_linked > 0


def _hand_made_event(path):
    """Beams -> hard vertex: B+, tau-, prompt mu-, a status-23 gluon (showering into a photon);
    B+ -> anti-D0 mu+ nu_mu, anti-D0 -> K+ pi-, tau- -> pi- pi0 nu_tau, pi0 -> gamma gamma.
    Written in MeV and cm; the tau's decay vertex has no position of its own."""
    ev = pyhepmc.GenEvent(pyhepmc.Units.MEV, pyhepmc.Units.CM)

    def particle(p, pid, status):
        return pyhepmc.GenParticle(tuple(1000.0 * x for x in p), pid, status)

    beams = [particle((0, 0, 7000, 7000), 2212, 4), particle((0, 0, -7000, 7000), 2212, 4)]
    hard = pyhepmc.GenVertex()
    for b in beams:
        hard.add_particle_in(b)
    bplus = particle((30, 0, 10, 32.1), 521, 2)
    tau = particle((0, 40, 0, 40.04), 15, 2)
    mu = particle((-20, -20, 5, 28.7), 13, 1)
    gluon = particle((-10, -20, -15, 26.9), 21, 23)
    for p in (bplus, tau, mu, gluon):
        hard.add_particle_out(p)
    shower = pyhepmc.GenVertex()
    shower.add_particle_in(gluon)
    shower.add_particle_out(particle((-10, -20, -15, 26.9), 22, 1))
    b_decay = pyhepmc.GenVertex((0.3, 0.0, 0.1, 0.32))  # cm
    b_decay.add_particle_in(bplus)
    d0 = particle((15, 0, 5, 16.0), -421, 2)
    for p in (d0, particle((10, 0, 3, 10.5), -13, 1), particle((5, 0, 2, 5.6), 14, 1)):
        b_decay.add_particle_out(p)
    d_decay = pyhepmc.GenVertex((0.4, 0.0, 0.13, 0.42))
    d_decay.add_particle_in(d0)
    for p in (particle((9, 0, 3, 9.5), 321, 1), particle((6, 0, 2, 6.4), -211, 1)):
        d_decay.add_particle_out(p)
    tau_decay = pyhepmc.GenVertex()  # no position: inherits the hard vertex's (0)
    tau_decay.add_particle_in(tau)
    pi0 = particle((0, 15, 0, 15.0), 111, 2)
    for p in (particle((0, 20, 0, 20.0), -211, 1), pi0, particle((0, 5, 0, 5.0), 16, 1)):
        tau_decay.add_particle_out(p)
    pi0_decay = pyhepmc.GenVertex((0.0, 1e-6, 0.0, 1e-6))
    pi0_decay.add_particle_in(pi0)
    for p in (particle((0, 10, 0, 10.0), 22, 1), particle((0, 5, 0, 5.0), 22, 1)):
        pi0_decay.add_particle_out(p)
    for v in (hard, shower, b_decay, d_decay, tau_decay, pi0_decay):
        ev.add_vertex(v)
    ev.weights = [0.5]
    with pyhepmc.open(path, "w") as f:
        f.write(ev)


def test_hand_made_event(tmp_path):
    path = tmp_path / "event.hepmc3"
    _hand_made_event(path)
    (event,) = list(read_hepmc(path))
    h = event.hard
    p = h.particles
    by_pid = {int(pid): i for i, pid in enumerate(p.pid)}
    assert sorted(by_pid) == [-211, -13, 13, 14, 16, 22, 321]  # final state (the two pi-: one key)
    assert len(p) == 10 and h.weight == 0.5 and event.sqrt_s == pytest.approx(14.0)
    assert p.px[by_pid[13]] == pytest.approx(-20.0)  # MeV -> GeV
    assert p.flags[by_pid[13]] == 0  # prompt muon
    assert p.flags[by_pid[-13]] == FLAG_FROM_B and p.flags[by_pid[14]] == FLAG_FROM_B
    assert p.flags[by_pid[321]] == FLAG_FROM_B | FLAG_FROM_C
    assert p.vx[by_pid[321]] == pytest.approx(0.4) and p.t[by_pid[321]] == pytest.approx(4.2 / 299.792458)  # cm, ns
    from_tau = (p.flags & FLAG_FROM_TAU) > 0
    assert sorted(p.pid[from_tau].tolist()) == [-211, 16, 22, 22]
    assert np.all(p.tau_index[from_tau] == 0) and np.all(p.tau_index[~from_tau] == -1)
    assert np.all(p.vx[from_tau & (p.pid != 22)] == 0)  # the tau vertex inherits position 0
    assert p.charge[by_pid[-13]] == 1 and p.charge[by_pid[321]] == 1 and p.charge[by_pid[22]] == 0
    assert sorted(h.hadrons["pid"].tolist()) == [-421, 521]
    assert sorted(h.hadrons["flavour"].tolist()) == [4, 5]
    assert h.taus["decay_mode"].tolist() == [1] and h.taus["charge"].tolist() == [-1]
    assert h.taus["energy"][0] == pytest.approx(35.0)  # pi- + pi0, the neutrino removed
    assert h.partons["pid"].tolist() == [21]


def test_bad_files(tmp_path, pythia_hepmc):
    with pytest.raises(FileNotFoundError, match="no such HepMC file"):
        list(read_hepmc(tmp_path / "missing.hepmc3"))
    (tmp_path / "junk.hepmc3").write_text("garbage\n")
    with pytest.raises(FileFormatError, match="not a HepMC3 or HepMC2"):
        list(read_hepmc(tmp_path / "junk.hepmc3"))
    (tmp_path / "x.lhe").write_text('<LesHouchesEvents version="3.0">\n')
    with pytest.raises(FileFormatError, match="parton-level"):
        list(read_hepmc(tmp_path / "x.lhe"))
    data = pythia_hepmc("ttbar", 41, 3).read_bytes()
    middle = (data.index(b"\nE 1 ") + data.index(b"\nE 2 ")) // 2
    (tmp_path / "cut.hepmc3").write_bytes(data[:middle])  # inside event 1
    with pytest.raises(FileFormatError, match="cut.hepmc3: event 1 cannot be read"):
        list(read_hepmc(tmp_path / "cut.hepmc3"))
    (tmp_path / "cut2.hepmc3").write_bytes(data[: data.index(b"\nE 2 ") + 1])  # between events
    with pytest.raises(FileFormatError, match="truncated after event 1"):
        list(read_hepmc(tmp_path / "cut2.hepmc3"))
