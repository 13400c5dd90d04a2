"""Event bootstrap and binomial errors against closed-form values."""

import numpy as np
import pytest

from colliderflow.physics.uncertainty import binomial_error, event_bootstrap


def test_bootstrap_error_of_a_mean_is_sigma_over_sqrt_n():
    x = np.random.default_rng(2).normal(0, 1, 400)
    value, err = event_bootstrap(np.mean, [x], np.random.default_rng(3), n_boot=400)
    assert value == pytest.approx(x.mean())
    assert err == pytest.approx(1 / 20, rel=0.15)
    # same seed, same error
    assert event_bootstrap(np.mean, [x], np.random.default_rng(3), n_boot=400)[1] == err
    assert event_bootstrap(np.mean, [x], np.random.default_rng(4), n_boot=400)[1] != err


def test_bootstrap_keeps_an_events_arrays_together():
    # y = -x event by event: any replica of the mean of x + y is exactly 0
    x = np.random.default_rng(0).normal(0, 1, 50)
    assert event_bootstrap(lambda a, b: np.mean(a + b), [x, -x], np.random.default_rng(0))[1] == 0.0


def test_grouped_bootstrap_resamples_whole_events():
    x = np.random.default_rng(2).normal(0, 1, 400)
    rows, groups = np.repeat(x, 5), np.repeat(np.arange(400), 5)
    # five identical rows per event: the error is that of 400 events, not of 2000 rows
    value, err = event_bootstrap(np.mean, [rows], np.random.default_rng(3), n_boot=400, groups=groups)
    assert value == pytest.approx(x.mean()) and err == pytest.approx(1 / 20, rel=0.15)
    assert event_bootstrap(np.mean, [rows], np.random.default_rng(3), n_boot=400)[1] == pytest.approx(
        1 / np.sqrt(2000), rel=0.15)
    # one row per event, in any group order: the plain bootstrap's replicas (the same draws)
    shuffled = np.random.default_rng(5).permutation(400)
    plain = event_bootstrap(np.mean, [x], np.random.default_rng(3))
    assert event_bootstrap(np.mean, [x[shuffled]], np.random.default_rng(3), groups=shuffled) == plain
    assert np.isnan(event_bootstrap(np.mean, [rows[:5]], np.random.default_rng(0), groups=groups[:5])[1])
    with pytest.raises(ValueError, match="one length"):
        event_bootstrap(np.mean, [rows], np.random.default_rng(0), groups=groups[:3])


def test_bootstrap_edge_cases():
    x = np.arange(5.0)
    assert np.isnan(event_bootstrap(np.mean, [x[:1]], np.random.default_rng(0))[1])
    with pytest.raises(ValueError, match="one length"):
        event_bootstrap(np.mean, [x, x[:3]], np.random.default_rng(0))


def test_binomial_error_closed_form():
    # p = 1/2 of 4: sqrt(1/4 / 4) = 1/4; p = 0 and 1 of 10: p moved to 1/10 and 9/10, sqrt(0.09 / 10)
    assert binomial_error(2, 4) == pytest.approx(0.25)
    assert binomial_error(0, 10) == pytest.approx(np.sqrt(0.09 / 10))
    assert binomial_error(10, 10) == pytest.approx(np.sqrt(0.09 / 10))
    assert binomial_error(50, 100) == pytest.approx(0.05)
    assert binomial_error(3, 10) == pytest.approx(np.sqrt(0.3 * 0.7 / 10))
    # n = 1 and 2: p = 1/2 whatever the outcome
    assert binomial_error(0, 1) == pytest.approx(0.5)
    assert binomial_error(2, 2) == pytest.approx(np.sqrt(0.125))
    # vectorised; no count, no error
    err = binomial_error(np.array([0, 2, 0]), np.array([10, 4, 0]))
    assert err[:2] == pytest.approx([np.sqrt(0.009), 0.25])
    assert np.isnan(err[2])
