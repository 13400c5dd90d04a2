"""Training: data batching and its memory-mapped cache, exact resume after a kill, and inference through
both runtimes."""

import os

import numpy as np
import pytest
import torch

from colliderflow.dataset.build import DatasetConfig, build_dataset
from colliderflow.generate.source import GenerationConfig
from colliderflow.mlpf import train as T
from colliderflow.mlpf.data import load_events, make_batches, pad_batch, split_indices
from colliderflow.mlpf.files import load_model, read_model_file
from colliderflow.utils.config import ConfigError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlpf_ds")
    build_dataset(DatasetConfig(GenerationConfig("ztautau", seed=11), events=12, chunk_size=6), out, progress=False)
    return out


def _config(dataset, out, **overrides):
    base = [f"data.datasets=[{dataset}]", "data.batch_elements=700", "model.width=16", "model.num_heads=2",
            "model.num_layers=1", "model.ffn_dim=32", "optim.epochs=2", "optim.warmup_steps=2",
            "checkpoint_every=3", "log_every=2", "num_threads=1", "scaler_events=20", f"out={out}"]
    return T.load_train_config(None, base + [f"{k}={v}" for k, v in overrides.items()])


def test_split_and_batches_are_deterministic():
    tr, va = split_indices(100, 0.2, seed=3)
    assert len(va) == 20 and len(np.intersect1d(tr, va)) == 0
    assert np.array_equal(split_indices(100, 0.2, seed=3)[1], va)
    sizes = np.random.default_rng(0).integers(50, 4000, 300)
    b1 = make_batches(sizes, 8000, seed=1, epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(b1, make_batches(sizes, 8000, seed=1, epoch=2)))
    assert sorted(np.concatenate(b1).tolist()) == list(range(300))
    for b in b1:
        assert len(b) == 1 or sizes[b].max() * len(b) <= 8000
    assert not all(np.array_equal(a, b) for a, b in zip(b1, make_batches(sizes, 8000, seed=1, epoch=3)))


def test_pad_batch(dataset):
    ev = load_events([dataset])
    X, Y = pad_batch(ev, np.array([0, 1]))
    n0, n1 = len(ev.X[0]), len(ev.X[1])
    assert X.shape[1] == max(n0, n1)
    short = 0 if n0 < n1 else 1
    assert (X[short, min(n0, n1):] == 0).all()
    assert np.array_equal(Y[0, :n0], ev.Y[0])


def test_memory_mapped_events_equal_the_in_memory_ones_and_follow_the_dataset(dataset, tmp_path):
    ram = load_events([dataset], max_events=10)
    mapped = load_events([dataset], max_events=10, cache_dir=tmp_path / "cache")
    assert len(mapped) == len(ram) == 10 and mapped.source == ram.source
    assert all(isinstance(x.base, np.memmap) or isinstance(x, np.memmap) for x in mapped.X)
    assert all(np.array_equal(a, b) for a, b in zip(ram.X, mapped.X))
    assert all(np.array_equal(a, b) for a, b in zip(ram.Y, mapped.Y))
    (folder,) = (tmp_path / "cache").iterdir()
    stamp = (folder / "X.npy").stat().st_mtime_ns
    load_events([dataset], max_events=10, cache_dir=tmp_path / "cache")  # reused, not rewritten
    assert (folder / "X.npy").stat().st_mtime_ns == stamp
    load_events([dataset], max_events=5, cache_dir=tmp_path / "cache")  # another cap: its own copy
    assert len(list((tmp_path / "cache").iterdir())) == 2
    chunk = sorted(p for p in dataset.iterdir() if p.suffix == ".parquet")[0]
    st = chunk.stat()
    os.utime(chunk, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a rewritten chunk: copied again
    try:
        load_events([dataset], max_events=10, cache_dir=tmp_path / "cache")
    finally:
        os.utime(chunk, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert len(list((tmp_path / "cache").iterdir())) == 3


def test_training_from_the_memory_mapped_cache_gives_the_same_model(dataset, tmp_path):
    T.train(_config(dataset, tmp_path / "ram", **{"optim.max_steps": 3}), progress=False)
    T.train(_config(dataset, tmp_path / "map", **{"optim.max_steps": 3, "data.cache": str(tmp_path / "cache")}),
            progress=False)
    a = read_model_file(tmp_path / "ram" / "model.pt")["state_dict"]
    b = read_model_file(tmp_path / "map" / "model.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a run without the cache resumes with it (and the reverse): where the events come from is not the config
    T.train(_config(dataset, tmp_path / "ram", **{"optim.max_steps": 3, "data.cache": str(tmp_path / "cache")}),
            progress=False)


def test_resume_after_kill_is_exact(dataset, tmp_path, monkeypatch):
    T.train(_config(dataset, tmp_path / "a"), progress=False)
    real = T.iterate
    seen = {"n": 0}

    def killed_after_four(*args, **kwargs):
        for item in real(*args, **kwargs):
            seen["n"] += 1
            if seen["n"] == 5:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(T, "iterate", killed_after_four)
    with pytest.raises(KeyboardInterrupt):
        T.train(_config(dataset, tmp_path / "b"), progress=False)
    assert (tmp_path / "b" / "checkpoint.pt").exists() and not (tmp_path / "b" / "model.pt").exists()
    monkeypatch.setattr(T, "iterate", real)
    summary = T.train(_config(dataset, tmp_path / "b"), progress=False)
    a = read_model_file(tmp_path / "a" / "model.pt")["state_dict"]
    b = read_model_file(tmp_path / "b" / "model.pt")["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert summary["epochs"] == 2 and (tmp_path / "b" / "losses.png").stat().st_size > 10_000
    # every loss term is logged for training and validation
    header = (tmp_path / "b" / "losses.csv").read_text().splitlines()[0].split(",")
    for term in ("binary", "pid", "pt", "eta", "sin_phi", "cos_phi", "energy", "pileup", "total"):
        assert term in header


def test_resume_refuses_other_config(dataset, tmp_path):
    T.train(_config(dataset, tmp_path / "c", **{"optim.max_steps": 2}), progress=False)
    with pytest.raises(ConfigError, match="another configuration"):
        T.train(_config(dataset, tmp_path / "c", **{"optim.max_steps": 3}), progress=False)


def test_snapshots_and_resume_with_other_thread_count(dataset, tmp_path):
    cfg = _config(dataset, tmp_path / "s", **{"optim.max_steps": 4, "snapshot_every": 2, "model.attention": "window",
                                             "model.window": 8, "model.scaler": "per_type"})
    T.train(cfg, progress=False)
    snaps = sorted((tmp_path / "s" / "snapshots").glob("step_*.pt"))
    assert [p.name for p in snaps] == ["step_000002.pt", "step_000004.pt"]
    meta = [read_model_file(p) for p in snaps]
    assert 0 < meta[0]["events"] < meta[1]["events"] and 0 < meta[0]["cpu_seconds"] <= meta[1]["cpu_seconds"]
    assert load_model(snaps[-1]).config.attention == "window"
    # threads, checkpoint and log cadence change the speed of a run, not its result: it may resume with others
    T.train(_config(dataset, tmp_path / "s", **{"optim.max_steps": 4, "snapshot_every": 2, "model.attention": "window",
                                               "model.window": 8, "model.scaler": "per_type", "num_threads": 2}),
            progress=False)


def test_override_numbers():
    cfg = T.load_train_config(None, ["optim.lr=3e-4", "data.max_events=5", "data.datasets=[a, b]", "out=x"])
    assert cfg.optim.lr == 3e-4 and cfg.data.max_events == 5 and cfg.data.datasets == ("a", "b")


def test_unknown_override_is_named():
    with pytest.raises(ConfigError, match=r"optim: unknown key\(s\) \['lrate'\]"):
        T.load_train_config(None, ["optim.lrate=0.1"])


def test_inference_torch_and_onnx_agree(dataset, tmp_path):
    from colliderflow.cli import main
    from colliderflow.schema.candidates import load_candidates

    T.train(_config(dataset, tmp_path / "m", **{"optim.max_steps": 4}), progress=False)
    model = tmp_path / "m" / "model.pt"
    assert main(["export-onnx", "--model", str(model), "--out", str(tmp_path / "m" / "model.onnx")]) == 0
    outs = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / f"reco_{backend}"
        src = model if backend == "torch" else tmp_path / "m" / "model.onnx"
        # a low threshold so that an untrained model still makes candidates
        assert main(["reconstruct", "--algo", "mlpf", "--model", str(src), "--backend", backend, "--input",
                     str(dataset), "--output", str(out), "--binary-threshold", "0.3", "--quiet"]) == 0
        outs[backend] = load_candidates(out)
    import awkward as ak

    assert ak.sum(ak.num(outs["torch"])) > 0
    for field in ("cls", "element"):
        assert ak.all(outs["torch"][field] == outs["onnx"][field])
    assert np.allclose(ak.to_numpy(ak.flatten(outs["torch"].pt)), ak.to_numpy(ak.flatten(outs["onnx"].pt)), rtol=1e-4)


def test_fine_tuning_starts_from_the_given_model(dataset, tmp_path):
    T.train(_config(dataset, tmp_path / "pre", **{"optim.max_steps": 3}), progress=False)
    pre = read_model_file(tmp_path / "pre" / "model.pt")["state_dict"]
    cfg = _config(dataset, tmp_path / "ft", **{"optim.max_steps": 1, "optim.lr": 1e-12, "optim.warmup_steps": 1,
                                              "init_from": str(tmp_path / "pre" / "model.pt")})
    T.train(cfg, progress=False)
    ft = read_model_file(tmp_path / "ft" / "model.pt")["state_dict"]
    # one step at a negligible learning rate: the weights (and the kept scaler) are the pre-trained ones
    assert all(torch.allclose(pre[k].float(), ft[k].float(), atol=1e-6) for k in pre)
    bad = _config(dataset, tmp_path / "bad", **{"model.width": 32, "init_from": str(tmp_path / "pre" / "model.pt")})
    with pytest.raises(ConfigError, match="architecture"):
        T.train(bad, progress=False)


def test_ddp_two_ranks_with_torchrun(dataset, tmp_path):
    """DistributedDataParallel on CPU (Gloo): two ranks train in step and rank 0 writes the model."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29611",
           "-m", "colliderflow.cli", "train", f"data.datasets=[{dataset}]", "data.batch_elements=700",
           "model.width=16", "model.num_heads=2", "model.num_layers=1", "model.ffn_dim=32", "optim.epochs=1",
           "num_threads=1", f"out={out}", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "model.pt").exists()
    summary = __import__("json").loads((out / "summary.json").read_text())
    # 10 training events in batches of <= 700 padded elements, split evenly over two ranks
    assert summary["steps"] >= 1 and summary["epochs"] == 1
