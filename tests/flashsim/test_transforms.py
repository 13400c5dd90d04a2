"""Target transforms: exact round trips, point masses restored, clipping to the training range."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.flashsim.transforms import DEQUANT_WIDTH, TargetSpec, TargetTransform


def _data(rng, n=2000):
    ref = {"pt": rng.uniform(10, 100, n), "eta": rng.uniform(-2, 2, n), "phi": rng.uniform(-np.pi, np.pi, n),
           "charge": rng.choice([-1.0, 1.0], n)}
    x = {
        "pt": ref["pt"] * rng.lognormal(0, 0.1, n),
        "eta": ref["eta"] + rng.normal(0, 0.01, n),
        "phi": (ref["phi"] + rng.normal(0, 0.05, n) + np.pi) % (2 * np.pi) - np.pi,
        "mass": np.where(rng.random(n) < 0.3, 0.0, rng.exponential(5, n)),
        "frac": np.where(rng.random(n) < 0.2, 0.0, np.where(rng.random(n) < 0.1, 1.0, rng.random(n))),
        "n": rng.integers(1, 40, n).astype(float),
        "id": rng.choice([0.0, 2.0, 6.0], n),
        "charge": ref["charge"] * np.where(rng.random(n) < 0.05, -1, 1),
        "dxy": rng.laplace(0, 0.003, n),
    }
    return x, ref


SPECS = [TargetSpec("pt", "logratio", "pt"), TargetSpec("eta", "delta", "eta"), TargetSpec("phi", "dphi", "phi"),
         TargetSpec("mass", "logeps", scale=1.0), TargetSpec("frac", "unit", scale=1e-3), TargetSpec("n", "integer"),
         TargetSpec("id", "categorical"), TargetSpec("charge", "sign", "charge"),
         TargetSpec("dxy", "asinh", scale=0.002)]


def test_round_trip_restores_values_and_point_masses():
    rng = np.random.default_rng(1)
    x, ref = _data(rng)
    tf = TargetTransform(SPECS)
    z = tf.fit(x, ref, np.random.default_rng(2))
    assert z.shape == (2000, len(SPECS))
    assert np.allclose(z.mean(0), 0, atol=1e-8) and np.allclose(z.std(0), 1, atol=1e-6)
    back = tf.inverse(z, ref)
    for k in ("pt", "eta", "mass", "dxy", "n", "id", "charge"):
        assert np.allclose(back[k], x[k], rtol=1e-6, atol=1e-7), k
    assert np.allclose(np.cos(back["phi"] - x["phi"]), 1.0)
    # 'unit' restores the exact 0 and 1 spikes; values inside keep their value up to eps clipping
    assert np.array_equal(back["frac"] == 0, x["frac"] == 0) and np.array_equal(back["frac"] == 1, x["frac"] == 1)
    inner = (x["frac"] > 1e-3) & (x["frac"] < 1 - 1e-3)
    assert np.allclose(back["frac"][inner], x["frac"][inner], atol=1e-9)


def test_dequantised_columns_are_continuous():
    rng = np.random.default_rng(3)
    x, ref = _data(rng)
    z = TargetTransform(SPECS).fit(x, ref, np.random.default_rng(4))
    for k, s in enumerate(SPECS):
        if s.kind in ("integer", "categorical", "sign", "logeps", "unit"):
            assert len(np.unique(z[:, k])) > 0.95 * len(z), s.name  # no spikes left for the flow


def test_discrete_values_fill_the_middle_of_their_box_and_leaks_decode_to_themselves():
    rng = np.random.default_rng(6)
    x, ref = _data(rng)
    tf = TargetTransform(SPECS)
    z = tf.fit(x, ref, np.random.default_rng(7))
    margin = (1 - DEQUANT_WIDTH) / 2
    assert 0 < margin < 0.5
    for k, s in enumerate(SPECS):
        if s.kind not in ("integer", "categorical", "sign"):
            continue
        y = z[:, k] * tf.std[k] + tf.mean[k]
        frac = y - np.floor(y)
        assert frac.min() >= margin - 1e-9 and frac.max() <= 1 - margin + 1e-9, s.name
        # a sample pushed almost a margin past its box edge still decodes to the value it came from
        for push in (-0.99 * margin, 0.99 * margin):
            edge = np.where(push < 0, np.floor(y) + margin, np.floor(y) + 1 - margin) + push
            zz = z.copy()
            zz[:, k] = (edge - tf.mean[k]) / tf.std[k]
            assert np.array_equal(tf.inverse(zz, ref)[s.name], tf.inverse(z, ref)[s.name]), s.name


def test_inverse_clips_to_training_range_and_state_roundtrip():
    rng = np.random.default_rng(5)
    x, ref = _data(rng)
    tf = TargetTransform(SPECS)
    tf.fit(x, ref, rng)
    wild = np.full((3, len(SPECS)), 1e6)
    out = tf.inverse(wild, {k: v[:3] for k, v in ref.items()})
    assert np.all(np.isfinite(out["dxy"])) and out["dxy"].max() <= x["dxy"].max() + 1e-12
    assert out["n"].max() <= x["n"].max()
    tf2 = TargetTransform.from_state(SPECS, tf.state())
    z = tf.forward(x, ref, np.random.default_rng(9))
    assert np.allclose(tf2.inverse(z, ref)["pt"], tf.inverse(z, ref)["pt"])


def test_bad_specs():
    with pytest.raises(ValueError, match="unknown transform"):
        TargetSpec("pt", "cube")
    with pytest.raises(ValueError, match="needs a reference"):
        TargetSpec("pt", "logratio")
