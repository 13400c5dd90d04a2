"""Collections of a reconstruction: PF and MLPF with CHS and PUPPI, MLPF with its pileup score."""

import awkward as ak
import numpy as np
import pytest

from colliderflow.evaluate.collections import reco_collections


@pytest.fixture
def cands():
    """Two events of candidates, every field set to recognisable values."""
    return ak.Array([
        [{"cls": 1, "charge": 1, "pt": 10.0, "eta": 0.1, "phi": 0.2, "energy": 10.1, "vertex": 0, "chs": True,
          "puppi_weight": 1.0, "pu_score": 0.1},
         {"cls": 1, "charge": -1, "pt": 2.0, "eta": 1.0, "phi": -1.0, "energy": 3.0, "vertex": 2, "chs": False,
          "puppi_weight": 0.0, "pu_score": 0.6},
         {"cls": 2, "charge": 0, "pt": 5.0, "eta": -2.0, "phi": 3.0, "energy": 19.0, "vertex": -1, "chs": True,
          "puppi_weight": 0.4, "pu_score": 0.4}],
        [],
    ])


def _weights(coll):
    return ak.to_list(coll.weight)


def test_pf_collections(cands):
    colls = reco_collections("PF", cands)
    assert list(colls) == ["PF", "PF+CHS", "PF+PUPPI"]
    assert _weights(colls["PF"]) == [[1, 1, 1], []]
    assert _weights(colls["PF+CHS"]) == [[1, 0, 1], []]
    assert _weights(colls["PF+PUPPI"]) == [[1, 0, pytest.approx(0.4)], []]
    assert ak.all(colls["PF+CHS"].pt == cands.pt)


@pytest.mark.parametrize("threshold,pu", [(0.5, [1, 0, 1]), (0.3, [1, 0, 0]), (0.7, [1, 1, 1])])
def test_mlpf_collections_use_the_pileup_score_with_the_given_threshold(cands, threshold, pu):
    colls = reco_collections("MLPF", cands, "mlpf", pileup_threshold=threshold)
    assert list(colls) == ["MLPF", "MLPF+CHS", "MLPF+PUPPI", "MLPF+PU"]
    assert _weights(colls["MLPF+CHS"]) == [[1, 0, 1], []]
    assert _weights(colls["MLPF+PUPPI"]) == [[1, 0, pytest.approx(0.4)], []]
    assert _weights(colls["MLPF+PU"]) == [pu, []]
    for c in colls.values():
        assert c.fields == ["cls", "charge", "pt", "eta", "phi", "energy", "weight"]
        assert np.array_equal(ak.to_numpy(ak.flatten(c.energy)), [10.1, 3.0, 19.0])


def test_mlpf_collections_need_the_threshold_used_at_reconstruction(cands):
    with pytest.raises(ValueError, match="pileup_threshold"):
        reco_collections("MLPF", cands, "mlpf")


def test_offset_step_only_for_collections_that_keep_pileup_particles():
    from colliderflow.evaluate.collections import has_offset_step

    assert [has_offset_step(n) for n in ("PF", "PF+CHS", "MLPF", "MLPF+CHS")] == [True] * 4
    assert [has_offset_step(n) for n in ("PF+PUPPI", "MLPF+PUPPI", "MLPF+PU", "target", "truth")] == [False] * 5
