"""The reconstruction runner: MLPF candidates get PF's pileup mitigation; headers are read back safely."""

import awkward as ak
import numpy as np
import pytest

from colliderflow.pf.pileup import VertexConfig
from colliderflow.pf.reconstruct import PFRecoConfig
from colliderflow.reconstruct import MLPFPileupConfig, PFSettings, mlpf_pileup_threshold, reconstruct_dataset
from colliderflow.schema.candidates import (CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION, load_candidates,
                                            load_reconstruction)
from colliderflow.utils.config import to_dict
from colliderflow.utils.parquet import FileFormatError, read_parquet, write_parquet

PF = PFSettings("cms-like")
#: a mapping of the header's shape, as ``reconstruct_dataset`` also takes (its header lists only the config given)
MLPF = {"model": "element-rule.pt", "config": {"pileup_threshold": 0.35}}


@pytest.fixture(scope="module")
def pu_dataset(ttbar_pileup_dataset):
    """4 ttbar events with 20 pileup interactions, in two chunks."""
    return ttbar_pileup_dataset("reco", seed=41, events=4, chunk_size=2)


def test_mlpf_candidates_get_pf_vertices_chs_and_puppi(pu_dataset, element_predictor, tmp_path):
    reconstruct_dataset(pu_dataset, tmp_path / "pf", "pf", PF, progress=False)
    s = reconstruct_dataset(pu_dataset, tmp_path / "mlpf", "mlpf", MLPF, progress=False)
    assert s["chunks_built"] == 2
    pf, pf_header = load_reconstruction(tmp_path / "pf")
    mlpf, header = load_reconstruction(tmp_path / "mlpf")
    # PF headers hold every resolved setting, so output made with other defaults is never reused
    assert pf_header["settings"] == {"calibration": "cms-like", "config": to_dict(PFRecoConfig())}
    assert header["algo"] == "mlpf" and header["settings"]["pileup"] == to_dict(MLPFPileupConfig())
    assert mlpf_pileup_threshold(header) == 0.35
    n_pu = 0
    for p, m in zip(pf, mlpf):
        # every track is a charged MLPF candidate; PF's charged candidates sit on tracks: same vertex
        pf_vertex = dict(zip(ak.to_list(p.element[p.charge != 0]), ak.to_list(p.vertex[p.charge != 0])))
        charged = m[m.charge != 0]
        pairs = [(pf_vertex[e], v) for e, v in zip(ak.to_list(charged.element), ak.to_list(charged.vertex))
                 if e in pf_vertex]
        assert len(pairs) > 20 and all(a == b for a, b in pairs)
        assert ak.all(m.vertex[m.charge == 0] == -1)
        assert ak.all(m.chs == ~((m.charge != 0) & (m.vertex > 0)))
        assert ak.all(m.puppi_weight[(m.charge != 0) & (m.vertex > 0)] == 0)
        assert ak.all(m.puppi_weight[(m.charge != 0) & (m.vertex == 0)] == 1)
        assert ak.any((m.puppi_weight > 0) & (m.puppi_weight < 1))
        # pu_score stays the model's pileup probability
        assert np.allclose(ak.to_numpy(m.pu_score), ak.to_numpy(m.element) % 10 / 10)
        n_pu += int(ak.sum(m.vertex > 0))
    assert n_pu > 50
    assert reconstruct_dataset(pu_dataset, tmp_path / "mlpf", "mlpf", MLPF, progress=False)["chunks_skipped"] == 2


def test_mlpf_pileup_threshold_defaults_to_inference_config():
    from colliderflow.mlpf.infer import InferenceConfig

    header = {"algo": "mlpf", "settings": {"model": "m.pt", "config": {"backend": "onnx"}}}
    assert mlpf_pileup_threshold(header) == InferenceConfig().pileup_threshold == 0.9


def _rewrite_header(path, change):
    array, header = read_parquet(path, CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION)
    write_parquet(path, array, change(header))


def test_old_and_mixed_mlpf_candidates_are_refused(pu_dataset, element_predictor, tmp_path, capsys):
    from colliderflow.cli import main

    out = tmp_path / "mlpf"
    reconstruct_dataset(pu_dataset, out, "mlpf", MLPF, progress=False)
    chunks = sorted(out.glob("chunk_*"))
    _rewrite_header(chunks[1], lambda h: dict(h, settings=dict(h["settings"], config={})))
    with pytest.raises(FileFormatError, match="written with other settings"):
        load_candidates(out)

    def old(h):  # as written before MLPF+CHS/PUPPI: no pileup settings, 'chs' held the pileup-score cut
        return dict(h, settings={"model": MLPF["model"], "config": MLPF["config"]})

    for c in chunks:
        _rewrite_header(c, old)
    with pytest.raises(FileFormatError, match="older colliderflow.*reconstruct --algo mlpf"):
        load_candidates(out)
    assert main(["evaluate", "--dataset", str(pu_dataset), "--reco", f"MLPF={out}", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "older colliderflow" in err
    # reconstructing again replaces the old chunks
    assert reconstruct_dataset(pu_dataset, out, "mlpf", MLPF, progress=False)["chunks_built"] == 2
    assert len(load_candidates(out)) == 4


def test_candidates_carry_the_vertices_their_reconstruction_found(pu_dataset, tmp_path):
    from colliderflow.dataset.read import dataset_files, load_dataset
    from colliderflow.pf.pileup import event_vertices
    from colliderflow.reconstruct import iter_events
    from colliderflow.schema.candidates import read_candidate_events

    out = tmp_path / "pf"
    vertex = {"min_tracks": 3}  # not the default (2): the file must hold what PF used
    reconstruct_dataset(pu_dataset, out, "pf", PFSettings("cms-like", PFRecoConfig(vertex=VertexConfig(**vertex))),
                        progress=False)
    for chunk in dataset_files(pu_dataset):
        events, header = read_candidate_events(out / chunk.name, chunk)
        assert header["schema_version"] == CANDIDATES_SCHEMA_VERSION == 2
        data = load_dataset(chunk, ["X", "event"])
        for x, pv_z, npvs in zip(iter_events(data.X), ak.to_numpy(events.pv_z), ak.to_numpy(events.npvs)):
            found = event_vertices(x, VertexConfig(**vertex))
            assert npvs == len(found) > 5  # 20 pileup interactions
            assert pv_z == np.float32(found[0])
        # the primary vertex is the hard scatter's (ttbar: many hard tracks)
        assert np.all(np.abs(ak.to_numpy(events.pv_z) - ak.to_numpy(data.event.pv_z)) < 0.05)
    # nano takes the vertices from the candidates, found with PF's settings, and finds none itself
    from colliderflow.nano.build import build_nano
    from colliderflow.nano.io import read_nano
    from colliderflow.schema.candidates import load_reconstruction

    build_nano(pu_dataset, out, tmp_path / "nano.parquet", progress=False)
    nano = read_nano(tmp_path / "nano.parquet")
    records = ak.concatenate([read_candidate_events(out / c.name)[0] for c in dataset_files(pu_dataset)])
    np.testing.assert_array_equal(ak.to_numpy(nano.PV.z), ak.to_numpy(records.pv_z))
    np.testing.assert_array_equal(ak.to_numpy(nano.PV.npvs), ak.to_numpy(records.npvs))
    assert len(load_reconstruction(out)[0]) == len(nano) == 4


def test_version_1_candidates_are_rebuilt_not_reused(pu_dataset, tmp_path):
    out = tmp_path / "pf"
    reconstruct_dataset(pu_dataset, out, "pf", PF, progress=False)
    chunk = sorted(out.glob("chunk_*"))[0]
    array, header = read_parquet(chunk, CANDIDATES_KIND, CANDIDATES_SCHEMA_VERSION)
    write_parquet(chunk, ak.zip({"cands": array.cands, "event_index": array.event_index}, depth_limit=1),
                  dict(header, schema_version=1))
    with pytest.raises(FileFormatError, match="schema version 1, this colliderflow reads version 2"):
        load_candidates(out)
    s = reconstruct_dataset(pu_dataset, out, "pf", PF, progress=False)
    assert (s["chunks_built"], s["chunks_skipped"]) == (1, 1)
    assert len(load_candidates(out)) == 4
