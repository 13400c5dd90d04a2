"""End-to-end dataset building: reproducibility, resume, atomic chunks and bad files."""

import awkward as ak
import numpy as np
import pytest

from colliderflow.dataset.build import DatasetConfig, build_dataset
from colliderflow.dataset.read import inspect_dataset, load_dataset, validate_chunk
from colliderflow.dataset.schema import CHUNK_KIND, SCHEMA_VERSION, chunk_name
from colliderflow.generate.pileup import PileupRange
from colliderflow.generate.source import GenerationConfig
from colliderflow.utils.parquet import FileFormatError, read_header, write_parquet

CFG = DatasetConfig(GenerationConfig("ttbar", seed=4), events=6, chunk_size=2)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    build_dataset(CFG, out, jobs=1, progress=False)
    return out


def test_parallel_equals_serial(serial, tmp_path):
    build_dataset(CFG, tmp_path, jobs=2, progress=False)
    for a, b in CFG.chunks():
        assert (serial / chunk_name(a, b)).read_bytes() == (tmp_path / chunk_name(a, b)).read_bytes()


def test_content_and_inspect(serial):
    data = load_dataset(serial, validate=True)
    assert len(data) == 6
    assert ak.all(ak.num(data.X) == ak.num(data.ytarget))
    assert ak.all(data.event.n_elements == ak.num(data.X))
    assert list(data.event["index"]) == list(range(6))
    summary = inspect_dataset(serial)
    assert summary["events"] == 6 and summary["missing_chunks"] == []
    assert summary["target_classes"]["charged hadron"] > 0
    # targets of tracks are charged, targets of clusters neutral
    y, x = ak.flatten(data.ytarget), ak.flatten(data.X)
    on_track = (x["type"] == 1) & (y.cls > 0)
    assert ak.all(y.charge[on_track] != 0)
    assert ak.all(y.charge[(x["type"] != 1)] == 0)
    # truth: hard scatter only, no neutrinos; elements point back into the event
    assert not ak.any(np.isin(abs(ak.flatten(data.truth.pid)), [12, 14, 16]))
    n_elem = ak.broadcast_arrays(data.event.n_elements, data.truth.element)[0]
    assert ak.all(data.truth.element < n_elem)
    assert ak.mean(data.truth.element >= 0) > 0.5


def test_resume_rebuilds_only_missing_and_broken(serial, tmp_path):
    import shutil

    work = tmp_path / "ds"
    shutil.copytree(serial, work)
    (work / chunk_name(2, 4)).unlink()
    broken = work / chunk_name(4, 6)
    broken.write_bytes(broken.read_bytes()[:100])
    summary = build_dataset(CFG, work, progress=False)
    assert summary["chunks_built"] == 2 and summary["chunks_skipped"] == 1
    assert (work / chunk_name(4, 6)).read_bytes() == (serial / chunk_name(4, 6)).read_bytes()


def test_chunk_range_for_batch_jobs(tmp_path):
    summary = build_dataset(CFG, tmp_path, chunk_range=(1, 2), progress=False)
    assert summary["chunks_built"] == 1
    assert [p.name for p in tmp_path.glob("chunk_*")] == [chunk_name(2, 4)]
    assert inspect_dataset(tmp_path)["missing_chunks"] == [chunk_name(0, 2), chunk_name(4, 6)]


def test_other_configuration_refused(serial):
    other = DatasetConfig(GenerationConfig("ttbar", seed=5), events=6, chunk_size=2)
    with pytest.raises(FileExistsError, match="another configuration"):
        build_dataset(other, serial, progress=False)


def test_truncated_chunk_is_named(serial, tmp_path):
    bad = tmp_path / chunk_name(0, 2)
    bad.write_bytes((serial / chunk_name(0, 2)).read_bytes()[:-50])
    with pytest.raises(FileFormatError, match=r"chunk_0000000_0000002\.parquet"):
        inspect_dataset(tmp_path)


def test_other_schema_version_is_named(serial, tmp_path):
    data = load_dataset(serial / chunk_name(0, 2))
    header = {**read_header(serial / chunk_name(0, 2)), "schema_version": SCHEMA_VERSION + 1}
    write_parquet(tmp_path / chunk_name(0, 2), data, header)
    with pytest.raises(FileFormatError, match=rf"schema version {SCHEMA_VERSION + 1}"):
        load_dataset(tmp_path)


def test_nan_feature_names_event_and_field(serial, tmp_path):
    data = load_dataset(serial / chunk_name(0, 2))
    pt = ak.to_list(data.X.pt)
    pt[1][0] = float("nan")
    broken = ak.with_field(data, ak.with_field(data.X, ak.Array(pt), "pt"), "X")
    path = tmp_path / chunk_name(0, 2)
    write_parquet(path, broken, read_header(serial / chunk_name(0, 2)))
    with pytest.raises(FileFormatError, match=r"event 1: element feature 'pt' is NaN or inf"):
        validate_chunk(path, load_dataset(path))


def test_missing_column(serial, tmp_path):
    data = load_dataset(serial / chunk_name(0, 2))
    path = tmp_path / chunk_name(0, 2)
    write_parquet(path, data[["X", "truth", "event"]], {"kind": CHUNK_KIND, "schema_version": SCHEMA_VERSION,
                                                       "start": 0, "stop": 2})
    with pytest.raises(FileFormatError, match=r"missing top-level field\(s\)"):
        inspect_dataset(tmp_path)


def test_chunks_written_before_the_resonances_read_with_none(serial, tmp_path):
    data = load_dataset(serial / chunk_name(0, 2))
    # ttbar: t, t-bar and their W, each W pointing to its top
    assert ak.all(ak.num(data.gen_resonances) == 4)
    res = data.gen_resonances
    w = abs(res.pid) == 24
    assert ak.all(abs(res.pid[res.mother[w]]) == 6)
    # a chunk of the layout before: no gen_resonances, no truth.resonance_index
    truth = data.truth[[f for f in data.truth.fields if f != "resonance_index"]]
    old = ak.zip({k: (truth if k == "truth" else data[k]) for k in data.fields if k != "gen_resonances"},
                 depth_limit=1)
    write_parquet(tmp_path / chunk_name(0, 2), old, read_header(serial / chunk_name(0, 2)))
    back = load_dataset(tmp_path / chunk_name(0, 2))
    assert ak.all(ak.num(back.gen_resonances) == 0) and back.gen_resonances.fields == res.fields
    assert ak.all(back.truth.resonance_index == -1) and back.truth.resonance_index.type.content.content.primitive == "int16"
    assert ak.all(load_dataset(tmp_path / chunk_name(0, 2), columns=["truth"]).truth.resonance_index == -1)


def test_pileup_event_has_thousands_of_elements(pool_path, tmp_path):
    cfg = DatasetConfig(GenerationConfig("ttbar", seed=2, pileup=PileupRange(55, 75), pileup_pool=str(pool_path)),
                        events=1, chunk_size=1)
    build_dataset(cfg, tmp_path, progress=False)
    data = load_dataset(tmp_path)
    assert data.event.n_elements[0] > 1500
    y = data.ytarget[0]
    # most target particles come from pileup, and the energy-weighted fraction is in [0, 1]
    frac = ak.to_numpy(y.pu_frac[y.cls > 0])
    assert ((frac >= 0) & (frac <= 1)).all() and (frac > 0.5).mean() > 0.5


def test_empty_gun_like_event_survives(tmp_path):
    from colliderflow.generate.guns import GunConfig

    # a forward neutrino-free gun far outside the detector: an event with (almost) no elements
    cfg = DatasetConfig(GenerationConfig("gun", seed=1, gun=GunConfig("mu", 0.3, 0.3, 4.9, 5.0)), events=2,
                        chunk_size=2)
    build_dataset(cfg, tmp_path, progress=False)
    data = load_dataset(tmp_path, validate=True)
    assert len(data) == 2


def test_moved_pool_still_matches(pool_path, tmp_path):
    import shutil

    cfg = DatasetConfig(GenerationConfig("ttbar", seed=2, pileup=PileupRange(3, 3), pileup_pool=str(pool_path)),
                        events=1, chunk_size=1)
    build_dataset(cfg, tmp_path / "ds", progress=False)
    moved = tmp_path / "elsewhere.parquet"
    shutil.copyfile(pool_path, moved)
    cfg2 = DatasetConfig(GenerationConfig("ttbar", seed=2, pileup=PileupRange(3, 3), pileup_pool=str(moved)),
                         events=1, chunk_size=1)
    assert build_dataset(cfg2, tmp_path / "ds", progress=False)["chunks_skipped"] == 1
