"""Contract tests of the MLPF network: shapes, gradients, padding and batching invariance, scaler."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from colliderflow.mlpf.model import (LOG_FEATURES, MLPF, FeatureScaler, MLPFConfig,  # noqa: E402
                                     count_parameters, element_mask)
from colliderflow.schema.elements import ELEMENT_FEATURES  # noqa: E402
from colliderflow.utils.config import ConfigError  # noqa: E402

SMALL = MLPFConfig(width=32, num_heads=4, num_layers=2, ffn_dim=64)
#: the window model at a window small enough that the test events span several windows
WINDOW = MLPFConfig(width=32, num_heads=4, num_layers=3, ffn_dim=64, attention="window", window=4, pair_hidden=8,
                    scaler="per_type", fused_heads=True)
CONFIGS = {"dense": SMALL, "window": WINDOW}
OUTPUT_SHAPES = {"binary": (), "pid": (8,), "pileup": (), "pt": (), "eta": (), "sin_phi": (), "cos_phi": (),
                 "energy": ()}


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny tensors: one thread avoids OpenMP oversubscription on shared machines (10x faster there)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_events(gen: torch.Generator, sizes: list[int], n_elements: int | None = None) -> torch.Tensor:
    """A padded batch (B, N, F) of random elements; event b has ``sizes[b]`` real rows, every type cycles."""
    F = len(ELEMENT_FEATURES)
    N = max(sizes + [1]) if n_elements is None else n_elements
    X = torch.zeros(len(sizes), N, F)
    for b, n in enumerate(sizes):
        rows = torch.randn(n, F, generator=gen) * torch.exp(2 * torch.randn(F, generator=gen))
        rows[:, 0] = (torch.randperm(n, generator=gen) % 5 + 1).float()
        rows[:, 1] = torch.exp(torch.randn(n, generator=gen))                       # pt
        rows[:, 2] = 2 * torch.randn(n, generator=gen)                               # eta
        rows[:, 3] = (2 * torch.rand(n, generator=gen) - 1) * math.pi               # phi
        rows[:, 4] = rows[:, 1] * torch.cosh(rows[:, 2])                             # energy
        X[b, :n] = rows
    return X


@pytest.fixture(params=sorted(CONFIGS))
def config(request) -> MLPFConfig:
    return CONFIGS[request.param]


def make_model(config: MLPFConfig = SMALL, seed: int = 0) -> MLPF:
    torch.manual_seed(seed)
    model = MLPF(config)
    model.scaler.fit(random_events(torch.Generator().manual_seed(seed + 100), [40, 25]))
    return model


def test_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="num_heads"):
        MLPFConfig(width=30, num_heads=4)
    with pytest.raises(ValueError, match="activation"):
        MLPFConfig(activation="tanh")
    with pytest.raises(ConfigError, match="unknown"):
        MLPFConfig.from_dict({"widht": 64})
    assert MLPFConfig.from_dict(SMALL.to_dict()) == SMALL


def test_default_parameter_count():
    n = count_parameters(MLPF(MLPFConfig()))
    assert 0.5e6 < n < 1.5e6


def test_output_shapes(config):
    model = make_model(config)
    X = random_events(torch.Generator().manual_seed(1), [11, 6])
    out = model(X)
    assert set(out) == set(OUTPUT_SHAPES)
    for name, tail in OUTPUT_SHAPES.items():
        assert out[name].shape == (2, 11, *tail), name
    decoded = model.decode(out, X)
    assert set(decoded) == {"p_binary", "pid_prob", "p_pileup", "pt", "eta", "phi", "energy"}
    assert decoded["pid_prob"].shape == (2, 11, 8)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_gradients_reach_every_parameter(activation, config):
    model = make_model(MLPFConfig.from_dict({**config.to_dict(), "activation": activation}))
    X = random_events(torch.Generator().manual_seed(2), [15, 9])
    out = model(X)
    sum(o.square().sum() for o in out.values()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_train_and_eval_agree_without_dropout(config):
    model = make_model(config)
    X = random_events(torch.Generator().manual_seed(3), [12, 7])
    train_out = model.train()(X)
    eval_out = model.eval()(X)
    for name in OUTPUT_SHAPES:
        torch.testing.assert_close(train_out[name], eval_out[name], rtol=0, atol=0)


def test_dropout_acts_in_train_mode_only(config):
    model = make_model(MLPFConfig.from_dict({**config.to_dict(), "dropout": 0.5}))
    X = random_events(torch.Generator().manual_seed(4), [12])
    assert not torch.equal(model.train()(X)["pt"], model(X)["pt"])
    assert torch.equal(model.eval()(X)["pt"], model(X)["pt"])


def test_state_dict_and_config_round_trip(config):
    model = make_model(config)
    clone = MLPF(MLPFConfig.from_dict(model.config.to_dict()))
    clone.load_state_dict(model.state_dict())
    X = random_events(torch.Generator().manual_seed(5), [10, 4])
    a, b = model.eval()(X), clone.eval()(X)
    for name in OUTPUT_SHAPES:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize("train", [True, False])
def test_padding_and_batching_do_not_change_an_event(train, config):
    model = make_model(config).train(train)
    gen = torch.Generator().manual_seed(6)
    event = random_events(gen, [9])                                          # (1, 9, F)
    other = random_events(gen, [23])                                         # (1, 23, F)
    alone = model(event)
    padded = model(torch.cat([event, torch.zeros(1, 7, event.shape[-1])], dim=1))
    batch = torch.zeros(2, 23, event.shape[-1])
    batch[0, :9], batch[1] = event[0], other[0]
    batched = model(batch)
    for name in OUTPUT_SHAPES:
        ref = alone[name][0]
        torch.testing.assert_close(padded[name][0, :9], ref, rtol=0, atol=1e-5)
        torch.testing.assert_close(batched[name][0, :9], ref, rtol=0, atol=1e-5)
        assert (padded[name][0, 9:] == 0).all() and (batched[name][0, 9:] == 0).all()


def test_outputs_follow_a_permutation_of_the_elements(config):
    model = make_model(config).eval()
    X = random_events(torch.Generator().manual_seed(7), [13])
    perm = torch.randperm(13, generator=torch.Generator().manual_seed(8))
    a, b = model(X), model(X[:, perm])
    for name in OUTPUT_SHAPES:
        torch.testing.assert_close(a[name][:, perm], b[name], rtol=0, atol=1e-5)


def test_event_without_elements_gives_finite_zero_outputs(config):
    model = make_model(config)
    X = random_events(torch.Generator().manual_seed(9), [0, 6, 0])
    out = model(X)
    decoded = model.decode(out, X)
    for name, y in {**out, **decoded}.items():
        assert torch.isfinite(y).all(), name
        assert (y[0] == 0).all() and (y[2] == 0).all(), name
    out = model(torch.zeros(2, 5, len(ELEMENT_FEATURES)))
    assert all(torch.isfinite(y).all() for y in out.values())


def test_nonfinite_inputs_do_not_propagate(config):
    model = make_model(config)
    X = random_events(torch.Generator().manual_seed(10), [8])
    X[0, 2, 7] = float("nan")
    X[0, 3, 9] = float("inf")
    X[0, 4, 0] = float("nan")  # a NaN type makes the row padding
    out = model(X)
    assert all(torch.isfinite(y).all() for y in out.values())
    assert not element_mask(X)[0, 4] and (out["pt"][0, 4] == 0)


def test_decode_physics():
    model = make_model()
    X = random_events(torch.Generator().manual_seed(11), [7], n_elements=9)
    zeros = {name: torch.zeros(1, 9, *tail) for name, tail in OUTPUT_SHAPES.items()}
    d = model.decode(zeros, X)
    real = element_mask(X)
    torch.testing.assert_close(d["pt"], X[..., 1])
    torch.testing.assert_close(d["eta"], X[..., 2])
    torch.testing.assert_close(d["phi"], X[..., 3], atol=1e-5, rtol=0)
    torch.testing.assert_close(d["energy"], X[..., 4])
    assert (d["p_binary"][real] == 0.5).all() and (d["p_binary"][~real] == 0).all()
    torch.testing.assert_close(d["pid_prob"].sum(-1), real.float())
    doubled = dict(zeros, pt=torch.full((1, 9), math.log(2.0)), energy=torch.full((1, 9), 1e6))
    d2 = model.decode(doubled, X)
    torch.testing.assert_close(d2["pt"], 2 * X[..., 1])
    assert torch.isfinite(d2["energy"]).all()
    # a phi shift by small sin/cos differences: rotate by delta
    delta = 0.1
    phi = X[..., 3]
    rot = dict(zeros, sin_phi=torch.sin(phi + delta) - torch.sin(phi), cos_phi=torch.cos(phi + delta) - torch.cos(phi))
    dphi = model.decode(rot, X)["phi"] - phi
    dphi = torch.remainder(dphi + math.pi, 2 * math.pi) - math.pi
    torch.testing.assert_close(dphi[real], torch.full_like(dphi[real], delta), atol=1e-5, rtol=0)


def test_scaler_keeps_padding_zero_and_type_unscaled():
    X = random_events(torch.Generator().manual_seed(12), [10, 4])
    scaler = FeatureScaler(ELEMENT_FEATURES).fit(X)
    y = scaler(X)
    assert (y[1, 4:] == 0).all()
    assert (scaler.mean != 0).any()
    torch.testing.assert_close(y[..., 0], X[..., 0])


def test_scaler_fits_real_rows_only_with_log_features():
    F = len(ELEMENT_FEATURES)
    pt, eta = ELEMENT_FEATURES.index("pt"), ELEMENT_FEATURES.index("eta")
    X = torch.zeros(2, 4, F)
    X[0, :3, 0] = 1.0
    X[0, :3, pt] = torch.tensor([1.0, 10.0, 100.0])
    X[0, :3, eta] = torch.tensor([-1.0, 0.0, 2.0])
    X[1, :1, 0] = 2.0
    X[1, 0, pt] = 5.0
    X[1, 0, eta] = 3.0
    scaler = FeatureScaler(ELEMENT_FEATURES).fit(X)
    log_pt = torch.log1p(torch.tensor([1.0, 10.0, 100.0, 5.0], dtype=torch.float64))
    eta_real = torch.tensor([-1.0, 0.0, 2.0, 3.0], dtype=torch.float64)
    assert scaler.log_mask[pt] and not scaler.log_mask[eta] and "pt" in LOG_FEATURES
    assert scaler.mean[pt].item() == pytest.approx(log_pt.mean().item(), rel=1e-6)
    assert scaler.std[pt].item() == pytest.approx(log_pt.std(unbiased=False).item(), rel=1e-6)
    assert scaler.mean[eta].item() == pytest.approx(eta_real.mean().item(), rel=1e-6)
    # an absent feature keeps std 1 instead of dividing by zero
    assert scaler.std[ELEMENT_FEATURES.index("muon_dt_hits")] == 1.0
    expected = (math.log1p(100.0) - log_pt.mean()) / log_pt.std(unbiased=False)
    assert scaler(X)[0, 2, pt].item() == pytest.approx(expected.item(), rel=1e-5)
    # signed log: a negative pz maps to -log1p(|pz|)
    X[0, 0, ELEMENT_FEATURES.index("pz")] = -9.0
    pz = ELEMENT_FEATURES.index("pz")
    mean, std = scaler.mean[pz].item(), scaler.std[pz].item()
    assert scaler(X)[0, 0, pz].item() == pytest.approx((-math.log(10.0) - mean) / std)


def test_per_type_scaler_standardises_each_type_on_its_own_rows():
    F = len(ELEMENT_FEATURES)
    pt = ELEMENT_FEATURES.index("pt")
    X = torch.zeros(1, 6, F)
    X[0, :3, 0], X[0, 3:5, 0] = 1.0, 2.0                       # three tracks, two ECAL clusters, padding
    X[0, :5, pt] = torch.tensor([1.0, 10.0, 100.0, 3.0, 30.0])
    scaler = FeatureScaler(ELEMENT_FEATURES, n_types=5).fit(X)
    assert scaler.mean.shape == (6, F)
    for t, rows in ((1, [1.0, 10.0, 100.0]), (2, [3.0, 30.0])):
        logs = torch.log1p(torch.tensor(rows, dtype=torch.float64))
        assert scaler.mean[t, pt].item() == pytest.approx(logs.mean().item(), rel=1e-6)
        assert scaler.std[t, pt].item() == pytest.approx(logs.std(unbiased=False).item(), rel=1e-6)
    y = scaler(X)
    assert y[0, :3, pt].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert y[0, 3:5, pt].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert (y[0, 5] == 0).all()
    # a type absent from the fit falls back to the statistics of all rows
    assert scaler.mean[4, pt].item() == pytest.approx(
        torch.log1p(torch.tensor([1.0, 10.0, 100.0, 3.0, 30.0], dtype=torch.float64)).mean().item(), rel=1e-6)


def test_one_window_without_pair_bias_is_dense_attention():
    dense = make_model(SMALL).eval()
    window = MLPF(MLPFConfig.from_dict({**SMALL.to_dict(), "attention": "window", "window": 64, "pair_hidden": 0}))
    window.load_state_dict(dense.state_dict())
    X = random_events(torch.Generator().manual_seed(13), [30, 17])
    a, b = dense(X), window.eval()(X)
    for name in OUTPUT_SHAPES:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)


def test_one_window_layer_sees_only_its_window():
    model = make_model(MLPFConfig.from_dict({**WINDOW.to_dict(), "num_layers": 1})).eval()
    X = random_events(torch.Generator().manual_seed(14), [16])
    X2 = X.clone()
    X2[0, 15, 1] *= 3.0                                                      # change one element's pT
    changed = (model(X)["binary"][0] - model(X2)["binary"][0]).abs() > 0
    # one block: the element itself and the other three of its window of 4, nothing else
    assert changed[15] and int(changed.sum()) == 4
