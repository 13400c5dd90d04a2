"""Flash-vs-Full two-sample metrics: closed-form distances and AUCs, the statistical floor, the classifier test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from colliderflow.flashsim.metrics import (classifier_two_sample_test, correlation_matrix, plot_correlations,
                                           roc_auc, wasserstein, wasserstein_table)


@pytest.fixture
def torch_one_thread():
    """The classifier needs torch; one thread avoids OpenMP oversubscription on shared machines."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def correlated(n: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) standard Gaussians with corr(x0, x1) = rho and x2 independent."""
    z = rng.normal(size=(n, 3))
    z[:, 1] = rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]
    return z


# ----------------------------------------------------------------------------- wasserstein

def test_wasserstein_identical_and_shifted():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    assert wasserstein(x, x) == 0.0
    assert wasserstein(x, x + 0.5) == pytest.approx(0.5, abs=1e-12)  # pure location shift
    assert wasserstein(x, rng.normal(0.5, 1.0, 5000)) == pytest.approx(0.5, abs=0.05)


def test_wasserstein_weights_equal_duplicates_and_nonfinite_ignored():
    assert wasserstein([0.0, 1.0], [0.0], wa=[3.0, 1.0]) == pytest.approx(wasserstein([0, 0, 0, 1], [0]))
    assert wasserstein([0.0, 1.0, np.nan, np.inf], [0.0, 2.0]) == pytest.approx(wasserstein([0.0, 1.0], [0.0, 2.0]))
    # an entry with a non-finite weight is ignored as well
    assert wasserstein([0.0, 5.0], [0.0], wa=[1.0, np.nan]) == 0.0


@pytest.mark.parametrize("a, b, match", [
    ([], [1.0], "sample a: no finite values"),
    ([1.0], [np.nan, np.inf], "sample b: no finite values"),
])
def test_wasserstein_rejects_empty(a, b, match):
    with pytest.raises(ValueError, match=match):
        wasserstein(a, b)


def test_wasserstein_rejects_bad_weights():
    with pytest.raises(ValueError, match="2 weights for 3 values"):
        wasserstein([1.0, 2.0, 3.0], [1.0], wa=[1.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        wasserstein([1.0, 2.0], [1.0], wa=[1.0, -1.0])


# ----------------------------------------------------------------------------- wasserstein table

def _gaussian_vars(rng, n, names, shift=0.0):
    return {k: rng.normal(shift, 1.0 + i, n) for i, k in enumerate(names)}


NAMES = [f"v{i}" for i in range(8)]


def test_table_floor_matches_same_distribution():
    rng = np.random.default_rng(1)
    flash, full, ref = (_gaussian_vars(rng, 5000, NAMES) for _ in range(3))
    table = wasserstein_table(flash, full, ref)
    assert list(table) == NAMES
    ratios = np.array([row["ratio"] for row in table.values()])
    assert np.all((ratios > 0.2) & (ratios < 5.0))
    assert 0.5 < np.median(ratios) < 2.0
    row = table["v3"]
    assert (row["n_flash"], row["n_full"], row["n_ref"]) == (5000, 5000, 5000)
    # scaled by the Full IQR (1.349 sigma): distances of v0 and v3 (sigma 1 and 4) are comparable
    assert row["scale"] == pytest.approx(1.349 * 4, rel=0.05)
    assert 0.2 < table["v0"]["w"] / row["w"] < 5.0


def test_table_shifted_flash_is_far_above_floor():
    rng = np.random.default_rng(2)
    full, ref = (_gaussian_vars(rng, 5000, NAMES) for _ in range(2))
    flash = {k: v + 0.3 * np.std(v) for k, v in _gaussian_vars(rng, 5000, NAMES).items()}
    table = wasserstein_table(flash, full, ref)
    for row in table.values():
        assert row["w"] == pytest.approx(0.3 / 1.349, rel=0.25)  # the shift in IQR units
        assert row["ratio"] > 5


def test_table_split_half_floor_agrees_with_reference():
    rng = np.random.default_rng(3)
    flash, full, ref = (_gaussian_vars(rng, 4000, NAMES) for _ in range(3))
    flash = {k: v[:2000] for k, v in flash.items()}  # unequal sizes: the size correction matters
    ref = {k: v[:2000] for k, v in ref.items()}
    with_ref = wasserstein_table(flash, full, ref)
    boot = wasserstein_table(flash, full, None, seed=5)
    assert boot == wasserstein_table(flash, full, None, seed=5)  # deterministic
    floors = np.array([boot[k]["floor"] / with_ref[k]["floor"] for k in NAMES])
    assert 0.5 < np.median(floors) < 2.0
    assert boot["v0"]["n_ref"] == 4000


def test_table_variables_scales_and_errors():
    rng = np.random.default_rng(4)
    flash = {"a": rng.normal(size=100), "b": rng.normal(size=100), "only_flash": np.zeros(3)}
    full = {"a": rng.normal(size=100), "b": rng.normal(size=100)}
    ref = {"a": rng.normal(size=100)}
    assert list(wasserstein_table(flash, full, ref)) == ["a"]
    assert list(wasserstein_table(flash, full, None)) == ["a", "b"]
    const = wasserstein_table({"c": np.ones(10)}, {"c": np.ones(10)}, {"c": np.ones(10)})["c"]
    assert (const["w"], const["floor"], const["scale"]) == (0.0, 0.0, 1.0)
    assert np.isnan(const["ratio"])
    std = wasserstein_table({"a": flash["a"]}, {"a": full["a"]}, None, scale="std")["a"]
    assert std["scale"] == pytest.approx(np.std(full["a"]))
    with pytest.raises(ValueError, match="scale must be"):
        wasserstein_table(flash, full, ref, scale="mad")
    with pytest.raises(ValueError, match="variable 'a': reference: no finite values"):
        wasserstein_table(flash, full, {"a": np.full(5, np.nan)})


# ----------------------------------------------------------------------------- correlations

@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_linear_and_independent(method):
    rng = np.random.default_rng(5)
    x = rng.normal(size=20000)
    names, corr = correlation_matrix({"x": x, "y": 2 * x + 1, "z": rng.normal(size=20000), "neg": -x},
                                     method=method)
    assert names == ["x", "y", "z", "neg"]
    assert corr.shape == (4, 4)
    np.testing.assert_allclose(corr, corr.T)
    assert corr[0, 1] == pytest.approx(1.0)
    assert corr[0, 3] == pytest.approx(-1.0)
    assert abs(corr[0, 2]) < 0.03  # ~ 1/sqrt(N) = 0.007
    np.testing.assert_allclose(np.diag(corr), 1.0)


def test_correlation_spearman_sees_monotonic_relation():
    x = np.linspace(0.1, 5, 200)
    _, pearson = correlation_matrix({"x": x, "e": np.exp(3 * x)})
    _, spearman = correlation_matrix({"x": x, "e": np.exp(3 * x)}, method="spearman")
    assert pearson[0, 1] < 0.8
    assert spearman[0, 1] == pytest.approx(1.0)


def test_correlation_drops_nonfinite_rows_and_flags_constants():
    x = np.array([1.0, 2.0, np.nan, 3.0, 4.0])
    y = np.array([2.0, 4.0, 100.0, 6.0, np.inf])
    _, corr = correlation_matrix({"x": x, "y": y, "c": np.ones(5)})
    assert corr[0, 1] == pytest.approx(1.0)  # rows 2 and 4 dropped
    assert np.isnan(corr[0, 2]) and np.isnan(corr[2, 1]) and corr[2, 2] == 1.0


def test_correlation_rejects_bad_input():
    with pytest.raises(ValueError, match="equal lengths"):
        correlation_matrix({"a": np.ones(3), "b": np.ones(4)})
    with pytest.raises(ValueError, match="no columns"):
        correlation_matrix({})
    with pytest.raises(ValueError, match="at least 2 rows"):
        correlation_matrix({"a": [1.0, np.nan], "b": [np.nan, 1.0]})
    with pytest.raises(ValueError, match="method must be"):
        correlation_matrix({"a": [1.0, 2.0]}, method="kendall")


def test_plot_correlations_writes_png(tmp_path):
    rng = np.random.default_rng(6)
    full = {"pt": rng.normal(size=500), "eta": rng.normal(size=500), "const": np.ones(500)}
    full["mass"] = full["pt"] + rng.normal(size=500)
    flash = {k: v + 0.1 * rng.normal(size=500) for k, v in full.items()}
    names, c_full = correlation_matrix(full)
    _, c_flash = correlation_matrix(flash)
    out = plot_correlations(names, c_flash, c_full, tmp_path / "corr.png", title="jets")
    assert out == tmp_path / "corr.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"flash_corr has shape \(3, 3\), expected \(4, 4\)"):
        plot_correlations(names, c_flash[:3, :3], c_full, tmp_path / "bad.png")


# ----------------------------------------------------------------------------- roc_auc

@pytest.mark.parametrize("pos, neg, auc", [
    ([3.0, 4.0], [1.0, 2.0], 1.0),        # perfect separation
    ([1.0, 2.0], [3.0, 4.0], 0.0),        # reversed
    ([1.0, 1.0], [1.0, 1.0, 1.0], 0.5),   # all tied
    ([1.0, 3.0], [2.0], 0.5),
    ([2.0, 2.0], [2.0, 1.0], 0.75),       # each positive: one below, one tie
])
def test_roc_auc_hand_examples(pos, neg, auc):
    assert roc_auc(pos, neg) == pytest.approx(auc)
    assert roc_auc(pos, neg, np.ones(len(pos)), np.ones(len(neg))) == pytest.approx(auc)  # weighted path


def test_roc_auc_weights_and_gaussian_closed_form():
    # a weight-3 negative equals three copies of it
    assert roc_auc([2.0], [1.0, 3.0], weights_neg=[3.0, 1.0]) == pytest.approx(roc_auc([2.0], [1.0, 1.0, 1.0, 3.0]))
    rng = np.random.default_rng(7)
    # N(1, 1) against N(0, 1): AUC = Phi(1 / sqrt(2)) = 0.7602
    assert roc_auc(rng.normal(1, 1, 20000), rng.normal(0, 1, 20000)) == pytest.approx(ndtr(1 / np.sqrt(2)), abs=0.01)


def test_roc_auc_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one score per class"):
        roc_auc([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        roc_auc([np.nan], [1.0])


# ----------------------------------------------------------------------------- classifier test

def test_c2st_same_distribution_is_half(torch_one_thread):
    rng = np.random.default_rng(8)
    a, b = correlated(5000, 0.6, rng), correlated(5000, 0.6, rng)
    res = classifier_two_sample_test(a, b, seed=0, features=["pt", "eta", "phi"])
    assert res.auc == pytest.approx(0.5, abs=0.03)
    # Hanley-McNeil at AUC = 0.5: sqrt((n1 + n2) / (12 n1 n2)) with 2500 held-out events per class
    assert res.auc_err == pytest.approx(np.sqrt(5000 / (12 * 2500**2)), rel=0.05)
    assert (res.n_train, res.n_test, res.features) == (5000, 5000, ["pt", "eta", "phi"])


def test_c2st_sees_flipped_correlation_marginals_cannot(torch_one_thread):
    rng = np.random.default_rng(9)
    a, b = correlated(5000, 0.8, rng), correlated(5000, -0.8, rng)
    table = wasserstein_table({f"x{i}": a[:, i] for i in range(3)}, {f"x{i}": b[:, i] for i in range(3)}, None)
    assert all(row["ratio"] < 4 for row in table.values())  # the marginals agree
    res = classifier_two_sample_test(a, b, seed=0)
    assert res.auc > 0.7
    assert (res.auc - 0.5) / res.auc_err > 20


def test_c2st_one_feature_reaches_optimal_auc(torch_one_thread):
    rng = np.random.default_rng(10)
    res = classifier_two_sample_test(rng.normal(1, 1, 5000), rng.normal(0, 1, 5000), seed=1)
    assert res.features == ["x0"]
    assert res.auc == pytest.approx(ndtr(1 / np.sqrt(2)), abs=0.03)  # the Neyman-Pearson optimum


def test_c2st_is_deterministic_and_balances(torch_one_thread):
    rng = np.random.default_rng(11)
    a, b = correlated(3000, 0.5, rng), correlated(1000, 0.0, rng)
    state = torch_one_thread.random.get_rng_state()
    r1 = classifier_two_sample_test(a, b, seed=3, epochs=5)
    r2 = classifier_two_sample_test(a, b, seed=3, epochs=5)
    assert r1 == r2
    assert torch_one_thread.equal(state, torch_one_thread.random.get_rng_state())  # global RNG untouched
    assert r1.n_train + r1.n_test == 2000  # A subsampled to the size of B
    capped = classifier_two_sample_test(a, b, seed=3, epochs=1, max_events=400, test_fraction=0.25)
    assert (capped.n_train, capped.n_test) == (600, 200)


def test_c2st_weights_reweight_one_sample_onto_the_other(torch_one_thread):
    rng = np.random.default_rng(12)
    a, b = rng.normal(0.5, 1, 5000), rng.normal(0, 1, 5000)
    plain = classifier_two_sample_test(a, b, seed=0)
    assert plain.auc > 0.6
    ones = classifier_two_sample_test(a, b, seed=0, weights_a=np.full(5000, 2.0))
    assert ones.auc == pytest.approx(plain.auc, abs=1e-9)
    # b weighted by the density ratio N(0.5, 1) / N(0, 1) is distributed like a
    w = np.exp(0.5 * b - 0.125)
    reweighted = classifier_two_sample_test(a, b, seed=0, weights_b=w)
    assert reweighted.auc == pytest.approx(0.5, abs=0.03)
    assert reweighted.auc_err > plain.auc_err  # Kish effective size < N


def test_c2st_drops_nonfinite_rows(torch_one_thread):
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=(500, 2)), rng.normal(size=(500, 2))
    a[:7, 1] = np.nan
    b[:3, 0] = np.inf
    wb = np.ones(500)
    wb[10] = np.nan
    res = classifier_two_sample_test(a, b, seed=0, epochs=2, weights_b=wb)
    assert (res.n_nonfinite_a, res.n_nonfinite_b) == (7, 4)
    assert res.n_train + res.n_test == 2 * 493


@pytest.mark.parametrize("a, b, kwargs, match", [
    (np.zeros((0, 3)), np.zeros((100, 3)), {}, "sample a is empty"),
    (np.zeros((100, 3)), np.zeros((100, 2)), {}, "sample a has 3 features per event but sample b has 2"),
    (np.zeros((100, 2, 2)), np.zeros((100, 2)), {}, r"shape \(N, D\)"),
    (np.zeros((100, 2)), np.zeros((100, 2)), {"features": ["pt"]}, "1 feature names for 2 features"),
    (np.zeros((100, 2)), np.zeros((100, 2)), {"test_fraction": 1.0}, "test_fraction"),
    (np.zeros((100, 2)), np.zeros((100, 2)), {"weights_a": np.ones(99)}, "99 weights for 100 events of sample a"),
    (np.zeros((100, 2)), np.zeros((100, 2)), {"weights_b": -np.ones(100)}, "weights of sample b must be non-negative"),
    (np.full((100, 2), np.nan), np.zeros((100, 2)), {}, "sample a has 0 events with finite"),
])
def test_c2st_rejects_bad_input(a, b, kwargs, match):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=match):
        classifier_two_sample_test(a, b, **kwargs)
