"""Generator-only nano (colliderflow generate): the full chain's generator collections, any --jobs,
HepMC input, FlashSim on the output, one-line errors."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from colliderflow.cli import main
from colliderflow.generate.pileup import PileupRange
from colliderflow.generate.source import GenerationConfig
from colliderflow.nano.io import read_nano, read_nano_header
from colliderflow.nano.nanogen import NanoGenConfig, generate_nano, hepmc_nano
from colliderflow.nano.schema import GEN_COLLECTIONS, GEN_SINGLETONS, SCALARS

SEED = 61
GEN = GenerationConfig("ttbar", seed=SEED, pileup=PileupRange(5, 10))


def assert_same_generator_content(a: ak.Array, b: ak.Array) -> None:
    """Every generator collection, singleton and scalar of ``a`` equals ``b``'s, field by field, exactly."""
    names = [n for n in (*GEN_COLLECTIONS, *GEN_SINGLETONS, *SCALARS) if n in a.fields]
    assert {"GenJet", "GenPart", "GenMET", "Pileup", "run", "event", "genWeight"} <= set(names)
    assert len(a) == len(b)
    for name in names:
        for f in a[name].fields or [None]:
            x, y = (a[name], b[name]) if f is None else (a[name][f], b[name][f])
            if x.ndim > 1:
                assert ak.all(ak.num(x) == ak.num(y)), (name, f)
                x, y = ak.flatten(x), ak.flatten(y)
            x, y = ak.to_numpy(x), ak.to_numpy(y)
            assert x.dtype == y.dtype and np.array_equal(x, y), (name, f)


@pytest.fixture(scope="module")
def full_chain(tmp_path_factory, pool_path):
    """4 ttbar events with 5-10 pileup through dataset -> PF -> nano."""
    from colliderflow.dataset.build import DatasetConfig, build_dataset
    from colliderflow.nano.build import build_nano
    from colliderflow.reconstruct import PFSettings, reconstruct_dataset

    root = tmp_path_factory.mktemp("full")
    gen = GenerationConfig("ttbar", seed=SEED, pileup=PileupRange(5, 10), pileup_pool=str(pool_path))
    build_dataset(DatasetConfig(gen, events=4, chunk_size=2), root / "ds", progress=False)
    reconstruct_dataset(root / "ds", root / "pf", "pf", PFSettings("cms-like"), progress=False)
    build_nano(root / "ds", root / "pf", root / "nano.parquet", progress=False)
    return read_nano(root / "nano.parquet")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "gen.root"
    generate_nano(NanoGenConfig(GEN, events=4, chunk_size=3), path, progress=False)
    return path


def test_same_generator_collections_as_the_full_chain(full_chain, generated):
    events = read_nano(generated)
    assert_same_generator_content(events, full_chain)
    assert ak.all((events.Pileup.nPU >= 5) & (events.Pileup.nPU <= 10))
    assert len(set(events.Pileup.nPU.tolist())) > 1  # drawn per event
    assert events.event.tolist() == [0, 1, 2, 3] and set(events.run.tolist()) == {SEED}
    assert "Jet" not in events.fields and "MET" not in events.fields
    header = read_nano_header(generated)
    assert header["source"] == "generator" and header["pileup"] == "5-10" and header["seed"] == SEED


def test_jobs_give_the_same_file(tmp_path):
    config = NanoGenConfig(GenerationConfig("zmumu", seed=5, pileup=PileupRange(55, 75)), events=5, chunk_size=2)
    generate_nano(config, tmp_path / "one.parquet", jobs=1, progress=False)
    generate_nano(config, tmp_path / "two.parquet", jobs=2, progress=False)
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()


def test_hepmc_input_equals_pythia(pythia_hepmc, generated, tmp_path):
    """Pythia events written as HepMC3 and read back give the collections of the same events generated
    directly; with --pileup and the same seed, the same pileup counts."""
    out = tmp_path / "hepmc.parquet"
    r = hepmc_nano(pythia_hepmc("ttbar", SEED, 4), out, seed=SEED, pileup=PileupRange(5, 10), chunk_size=3,
                   progress=False)
    assert r["events"] == 4
    assert_same_generator_content(read_nano(out), read_nano(generated))
    no_pileup = tmp_path / "no_pileup.parquet"
    hepmc_nano(pythia_hepmc("ttbar", SEED, 4), no_pileup, events=2, progress=False)
    events = read_nano(no_pileup)
    assert len(events) == 2 and ak.all(events.Pileup.nPU == 0) and ak.all(events.run == 0)


def test_flashsim_samples_a_generator_file(generated, tmp_path, capsys):
    out = tmp_path / "flash.root"
    assert main(["flashsim", "sample", "--model", "cms-like", "--input", str(generated), "--output", str(out),
                 "--oversample", "2", "--device", "cpu", "--threads", "1", "--quiet"]) == 0
    assert "8 events (4 generator events x 2)" in capsys.readouterr().out
    events = read_nano(out)
    assert len(events) == 8 and {"Jet", "Muon", "GenJet", "Pileup"} <= set(events.fields)
    assert ak.all(events.Pileup.nPU == np.repeat(read_nano(generated).Pileup.nPU.to_numpy(), 2))


def test_cli_generate_and_one_line_errors(pythia_hepmc, tmp_path, capsys):
    out = tmp_path / "gen.parquet"
    assert main(["generate", "--hepmc", str(pythia_hepmc("ttbar", SEED, 4)), "--events", "1", "--out", str(out),
                 "--quiet"]) == 0
    assert "1 generator events" in capsys.readouterr().out
    assert len(read_nano(out)) == 1

    def error(*args: str) -> str:
        assert main(["generate", *args, "--out", str(tmp_path / "x.root"), "--quiet"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert not (tmp_path / "x.root").exists()
        return err[0]

    assert "no such HepMC file" in error("--hepmc", str(tmp_path / "missing.hepmc3"))
    corrupt = tmp_path / "corrupt.hepmc3"
    data = pythia_hepmc("ttbar", SEED, 4).read_bytes()
    corrupt.write_bytes(data[: (data.index(b"\nE 1 ") + data.index(b"\nE 2 ")) // 2])
    assert "corrupt.hepmc3: event 1 cannot be read" in error("--hepmc", str(corrupt))
    assert "--jobs applies to --process only" in error("--hepmc", str(corrupt), "--jobs", "2")
    assert "cannot read pileup" in error("--process", "zmumu", "--pileup", "many")
