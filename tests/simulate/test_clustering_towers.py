"""HF clusters as single cells (ClusteringConfig.hf_towers)."""

import numpy as np

from colliderflow.simulate.clustering import ClusteringConfig, cell_clusters


def test_cell_clusters_are_single_cells_above_threshold_in_decreasing_energy():
    energy = np.array([0.5, 3.0, 2.0, 10.0, 1.0])
    active = np.array([True, True, False, True, True])
    pc = cell_clusters(energy, active, np.full(5, 1.4))
    assert pc.n_clusters == 2 and pc.seed.tolist() == [3, 1]  # cell 2 is not read out, 0 and 4 are below
    assert pc.cluster.tolist() == [0, 1] and pc.cell.tolist() == [3, 1] and np.all(pc.fraction == 1.0)


def test_hf_towers_is_the_cms_like_default():
    assert ClusteringConfig().hf_towers is True
