"""Fold-aware variances of oversampled histograms: hand-computed cases, a brute-force reference, pulls."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from colliderflow.flashsim.stats import PULL_SUMMARY_KEYS, fold_histogram, plot_pulls, pull_study, write_pull_report


def _reference(values, fold, edges, weights, k):
    """Loop implementation of c_i, sum_e (sum_{entries of e in i} w / K)^2 and sum (w / K)^2."""
    n_bins = len(edges) - 1
    per_fold = defaultdict(float)
    contents, naive = np.zeros(n_bins), np.zeros(n_bins)
    for x, f, w in zip(values, fold, weights):
        i = np.searchsorted(edges, x, side="right") - 1
        if x == edges[-1]:
            i = n_bins - 1
        if not 0 <= i < n_bins:
            continue
        per_fold[f, i] += w / k
        contents[i] += w / k
        naive[i] += (w / k) ** 2
    variances = np.zeros(n_bins)
    for (_, i), s in per_fold.items():
        variances[i] += s**2
    return contents, variances, naive


def test_unit_weights_k1_sums_squared_counts_per_fold():
    # fold 0 puts 2 entries in bin 0 and 1 in bin 1; folds 1 and 2 one entry each in bin 1
    h = fold_histogram([0.5, 0.6, 1.5, 1.7, 1.2], [0, 0, 0, 1, 2], [0.0, 1.0, 2.0])
    assert h.values == pytest.approx([2.0, 3.0])
    assert h.variances == pytest.approx([2**2, 1 + 1 + 1])
    assert h.naive_variances == pytest.approx([2.0, 3.0])
    assert h.errors() == pytest.approx([2.0, np.sqrt(3.0)])


def test_at_most_one_entry_per_fold_and_bin_equals_naive():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 500)
    w = rng.uniform(0.5, 2.0, 500)
    h = fold_histogram(x, np.arange(500), np.linspace(0, 10, 11), weights=w)
    assert h.variances == pytest.approx(h.naive_variances, rel=1e-12)
    assert h.values == pytest.approx(np.histogram(x, np.linspace(0, 10, 11), weights=w)[0])


def test_two_folds_k2_weighted_by_hand():
    # fold 0 (w = 2): replica A at 0.5, 1.5; replica B at 0.7, 2.5 -> n = (2, 1, 1)
    # fold 1 (w = 0.5): replica A at 0.2; replica B at 1.1 -> n = (1, 1, 0)
    x = [0.5, 1.5, 0.7, 2.5, 0.2, 1.1]
    fold = [0, 0, 0, 0, 1, 1]
    w = [2.0, 2.0, 2.0, 2.0, 0.5, 0.5]
    h = fold_histogram(x, fold, [0.0, 1.0, 2.0, 3.0], weights=w, oversample=2)
    assert h.values == pytest.approx([(2 * 2 + 0.5) / 2, (2 + 0.5) / 2, 2 / 2])
    assert h.variances == pytest.approx([(2 * 2 / 2) ** 2 + (0.5 / 2) ** 2, 1**2 + 0.25**2, 1.0])
    assert h.naive_variances == pytest.approx([2 * 1**2 + 0.25**2, 1**2 + 0.25**2, 1.0])
    hh = h.to_hist(name="pt", label="pT [GeV]")
    assert hh.values() == pytest.approx(h.values)
    assert hh.variances() == pytest.approx(h.variances)
    assert hh.axes[0].edges == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_identical_replicas_give_the_single_copy_histogram():
    # K identical replicas: n_ei = K m_ei, so c_i = sum w m, sigma^2 = sum (w m)^2, naive = sum w^2 m / K
    k = 4
    one_x, one_fold, one_w = [0.5, 0.6, 0.5, 1.5], [0, 0, 1, 1], [1.0, 1.0, 3.0, 3.0]
    h = fold_histogram(one_x * k, one_fold * k, [0.0, 1.0, 2.0], weights=one_w * k, oversample=k)
    assert h.values == pytest.approx([1 * 2 + 3 * 1, 3.0])
    assert h.variances == pytest.approx([(1 * 2) ** 2 + 3**2, 3**2])
    assert h.naive_variances == pytest.approx([(1 * 2 + 9 * 1) / k, 9 / k])
    single = fold_histogram(one_x, one_fold, [0.0, 1.0, 2.0], weights=one_w)
    assert h.values == pytest.approx(single.values)
    assert h.variances == pytest.approx(single.variances)


@pytest.mark.parametrize("offset", [0, -7, 2**62])  # the last forces the ranked (np.unique) fold ids
def test_matches_loop_reference(offset):
    rng = np.random.default_rng(11)
    n_events, k = 200, 5
    fold = np.repeat(np.arange(n_events), rng.integers(1, 4, n_events) * k) * 3 + offset  # sparse ids
    x = rng.normal(5, 2, len(fold))
    w = rng.uniform(-0.5, 2.0, n_events)[(fold - offset) // 3] * rng.uniform(0.9, 1.1, len(fold))
    edges = np.array([0.0, 2.0, 3.0, 4.5, 5.0, 6.0, 8.0])
    h = fold_histogram(x, fold, edges, weights=w, oversample=k)
    contents, variances, naive = _reference(x, fold, edges, w, k)
    assert h.values == pytest.approx(contents, rel=1e-12)
    assert h.variances == pytest.approx(variances, rel=1e-12)
    assert h.naive_variances == pytest.approx(naive, rel=1e-12)


def test_flow_and_edges():
    x = [-1.0, 0.0, 2.0, 3.0]  # below, first edge, last edge (kept, as np.histogram), above
    fold = [0, 1, 2, 3]
    assert fold_histogram(x, fold, [0.0, 1.0, 2.0]).values == pytest.approx([1.0, 1.0])
    assert fold_histogram(x, fold, [0.0, 1.0, 2.0], flow=True).values == pytest.approx([2.0, 2.0])
    empty = fold_histogram(np.zeros(0), np.zeros(0, dtype=int), [0.0, 1.0, 2.0], oversample=3)
    assert empty.values.tolist() == [0.0, 0.0] and empty.variances.tolist() == [0.0, 0.0]


def test_bad_inputs():
    edges = [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match=r"values: 2 of 4 entries are not finite"):
        fold_histogram([0.5, np.nan, np.inf, 1.0], [0, 1, 2, 3], edges)
    with pytest.raises(ValueError, match=r"weights: 1 of 2 weights are not finite"):
        fold_histogram([0.5, 1.5], [0, 1], edges, weights=[1.0, np.nan])
    with pytest.raises(ValueError, match=r"fold: expected one gen-event id per entry"):
        fold_histogram([0.5, 1.5], [0, 1, 2], edges)
    with pytest.raises(ValueError, match=r"weights: expected one weight per entry"):
        fold_histogram([0.5, 1.5], [0, 1], edges, weights=[1.0])
    with pytest.raises(ValueError, match=r"fold: expected integer"):
        fold_histogram([0.5, 1.5], [0.0, 1.0], edges)
    for k in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match=r"oversample: expected an integer number of replicas"):
            fold_histogram([0.5], [0], edges, oversample=k)
    with pytest.raises(ValueError, match=r"edges: expected strictly increasing"):
        fold_histogram([0.5], [0], [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match=r"edges: expected a 1-D array of at least 2"):
        fold_histogram([0.5], [0], [0.0])
    with pytest.raises(ValueError, match=r"edges: bins \[3, 7, 8\] expect contents below 10 for n_gen=100"):
        pull_study(100, 2, 5, seed=0)
    with pytest.raises(ValueError, match=r"n_gen: expected a positive integer"):
        pull_study(0, 2, 5, seed=0)
    with pytest.raises(ValueError, match=r"n_experiments: expected an integer >= 2"):
        pull_study(2000, 2, 1, seed=0)


def test_pull_study_fold_pulls_are_unit_gaussian(tmp_path):
    r = pull_study(n_gen=1000, oversample=10, n_experiments=200, seed=0)
    n_bins = len(r["edges"]) - 1
    assert r["pulls_fold"].shape == r["pulls_naive"].shape == (200, n_bins)
    assert r["pull_std_fold_per_bin"].shape == (n_bins,)
    assert 0.85 <= r["pull_std_fold"] <= 1.15
    assert abs(r["pull_mean_fold"]) < 0.15  # the expectation mu_i is right
    assert r["pull_std_naive"] > 1.3
    # the naive pulls are wider by about sqrt(<fold variance> / <naive variance>)
    predicted = np.sqrt(r["variance_ratio_per_bin"])
    assert r["pull_std_naive_per_bin"] / r["pull_std_fold_per_bin"] == pytest.approx(predicted, rel=0.2)
    png = plot_pulls(r, tmp_path / "pulls.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    folder = write_pull_report(r, tmp_path / "report")
    assert sorted(p.name for p in folder.iterdir()) == ["pulls.json", "pulls.png"]
    summary = json.loads((folder / "pulls.json").read_text())
    assert list(summary) == list(PULL_SUMMARY_KEYS)
    assert summary["pull_std_fold"] == pytest.approx(r["pull_std_fold"])


def test_pull_study_is_deterministic():
    a = pull_study(n_gen=500, oversample=3, n_experiments=10, seed=5, edges=[20.0, 40.0, 70.0, 100.0])
    b = pull_study(n_gen=500, oversample=3, n_experiments=10, seed=5, edges=[20.0, 40.0, 70.0, 100.0])
    c = pull_study(n_gen=500, oversample=3, n_experiments=10, seed=6, edges=[20.0, 40.0, 70.0, 100.0])
    np.testing.assert_array_equal(a["pulls_fold"], b["pulls_fold"])
    np.testing.assert_array_equal(a["pulls_naive"], b["pulls_naive"])
    assert a["pull_std_fold"] == b["pull_std_fold"]
    assert not np.array_equal(a["pulls_fold"], c["pulls_fold"])
