"""Sampling speed-ups that must not change a bit: chunked network evaluation, the layer loop of the
MLP, shared source tables, automatic batches; and reproducibility of whole files from the seed."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from colliderflow.cli import main
from colliderflow.flashsim import sample as sample_module
from colliderflow.flashsim.nets import MLP, MultiplicityNet
from colliderflow.flashsim.ode import integrate
from colliderflow.flashsim.sample import AUTO_BATCH_EVENTS, FlashSim, SampleConfig, sample_file
from colliderflow.nano.io import read_nano, read_nano_header


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return FlashSim("cms-like", device="cpu")


def _columns(events: ak.Array) -> dict[str, np.ndarray]:
    """Every field of every collection and singleton as one flat numpy array (plus the counts)."""
    out = {}
    for name in events.fields:
        arr = events[name]
        if not arr.fields:
            out[name] = ak.to_numpy(arr)
            continue
        for f in arr.fields:
            x = arr[f]
            out[f"{name}.{f}"] = ak.to_numpy(ak.flatten(x)) if x.ndim > 1 else ak.to_numpy(x)
            if x.ndim > 1:
                out[f"n{name}"] = ak.to_numpy(ak.num(x))
    return out


def _assert_identical(a: ak.Array, b: ak.Array) -> None:
    ca, cb = _columns(a), _columns(b)
    assert ca.keys() == cb.keys()
    for k in ca:
        assert ca[k].dtype == cb[k].dtype and np.array_equal(ca[k], cb[k], equal_nan=True), k


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 100, 1023, 1024, 1025, 2047, 2048, 2049, 5000, 123457])
def test_row_chunks_cover_the_rows_and_are_never_tiny(n):
    chunks = sample_module._chunks(n, 1024)
    covered = np.concatenate([np.arange(n)[s] for s in chunks])
    assert np.array_equal(covered, np.arange(n))
    sizes = [s.stop - s.start for s in chunks] if n else [0]
    assert max(sizes) <= 1024
    if n > 1024:
        assert min(sizes) >= 512
    assert min(sizes) >= min(n, 4)


def _whole_batch_field(flow, cond):
    """v(x, t | cond) as the forward pass computes it: one nn.Sequential call on the whole batch."""
    def field(x, t):
        tt = t.expand(x.shape[0]).reshape(-1, 1).to(x.dtype)
        ft = tt * flow.freq[None, :]
        return flow.mlp.net(torch.cat([x, flow.norm(cond), tt, torch.sin(ft), torch.cos(ft)], dim=1))
    return field


@pytest.mark.parametrize("solver,steps", [("euler", 3), ("midpoint", 2), ("rk4", 1)])
@pytest.mark.parametrize("rows", [1, 3, 7, 1024, 4097, 9000])
def test_chunked_flow_is_bit_identical_to_the_whole_batch(shipped, solver, steps, rows):
    m = shipped.models["jet_genjet"]
    g = torch.Generator().manual_seed(rows)
    cond_dim = m.flow.norm.mean.shape[0]
    cond = (m.flow.norm.mean + m.flow.norm.std * torch.randn(rows, cond_dim, generator=g)).numpy()
    got = shipped._flow(m, cond, torch.Generator().manual_seed(5), solver, steps)
    x0 = torch.randn((rows, m.flow.dim), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = integrate(m.flow.at(torch.as_tensor(cond)), x0, solver, steps).double().numpy()
        forward = integrate(_whole_batch_field(m.flow, torch.as_tensor(cond)), x0, solver, steps).double().numpy()
    assert np.array_equal(got, want)
    # the sampling field (first layer split into its x, conditioning and time parts) is the forward
    # pass up to float rounding
    np.testing.assert_allclose(got, forward, rtol=1e-4, atol=1e-4)


def test_mlp_layer_loop_equals_the_sequential_module():
    torch.manual_seed(0)
    mlp = MLP(7, 3, hidden=32, layers=3)
    x = torch.randn(50, 7)
    assert torch.equal(mlp(x), mlp.net(x))
    x.requires_grad_(True)
    mlp(x).sum().backward()  # training goes through the same loop
    assert all(p.grad is not None for p in mlp.parameters())


def test_classifier_draws_do_not_depend_on_the_chunks():
    torch.manual_seed(0)
    net = MultiplicityNet(5, 3, hidden=16)
    cond = torch.randn(3000, 5)
    a = net.sample(cond, torch.Generator().manual_seed(1))
    b = net.sample(cond, torch.Generator().manual_seed(1), sample_module._chunks(len(cond), 1024))
    assert torch.equal(a, b)


def test_simulate_is_bit_identical_to_unchunked_whole_batch_sampling(shipped, nano_path, monkeypatch):
    gen = read_nano(nano_path)
    cfg = SampleConfig(oversample=25, seed=11, steps=3)  # about 7000 generator-jet rows: several chunks
    fast = shipped.simulate(gen, cfg, batch_index=2)
    monkeypatch.setattr(sample_module, "_CPU_CHUNK", 10**9)
    monkeypatch.setattr(MLP, "forward", lambda self, x: self.net(x))
    _assert_identical(fast, shipped.simulate(gen, cfg, batch_index=2))


def test_same_seed_gives_the_same_bytes(nano_path, tmp_path):
    def run(name, seed, **kw):
        r = sample_file("cms-like", nano_path, tmp_path / name, SampleConfig(oversample=3, seed=seed, steps=2,
                                                                            device="cpu", **kw), progress=False)
        return (tmp_path / name).read_bytes(), r

    a, ra = run("a.parquet", 4)
    b, _ = run("b.parquet", 4)
    c, _ = run("c.parquet", 5)
    assert a == b and a != c
    assert ra["batch_size"] == AUTO_BATCH_EVENTS // 3 and ra["events_per_cpu_second"] > 0
    assert read_nano_header(tmp_path / "a.parquet")["batch_size"] == AUTO_BATCH_EVENTS // 3
    # several batches: each draws from its own (seed, batch index) stream
    d, _ = run("d.parquet", 4, batch_size=10)
    e, _ = run("e.parquet", 4, batch_size=10)
    assert d == e and d != a


def test_automatic_batch_size():
    assert SampleConfig().events_per_batch() == AUTO_BATCH_EVENTS
    assert SampleConfig(oversample=10).events_per_batch() == AUTO_BATCH_EVENTS // 10
    assert SampleConfig(oversample=10**6).events_per_batch() == 1
    assert SampleConfig(oversample=10, batch_size=7).events_per_batch() == 7
    with pytest.raises(ValueError, match="batch_size"):
        SampleConfig(batch_size=-1)


def test_cli_default_and_former_schedule(nano_path, tmp_path, capsys):
    default, former = tmp_path / "default.parquet", tmp_path / "former.parquet"
    assert main(["flashsim", "sample", "--input", str(nano_path), "--out", str(default), "--quiet"]) == 0
    assert "per CPU-second" in capsys.readouterr().out
    h = read_nano_header(default)
    assert (h["solver"], h["steps"], h["batch_size"]) == (SampleConfig.solver, SampleConfig.steps, AUTO_BATCH_EVENTS)
    assert main(["flashsim", "sample", "--input", str(nano_path), "--out", str(former), "--quiet", "--solver",
                 "midpoint", "--steps", "10", "--batch-size", "2000", "--threads", "0"]) == 0
    h = read_nano_header(former)
    assert (h["solver"], h["steps"], h["batch_size"]) == ("midpoint", 10, 2000)
