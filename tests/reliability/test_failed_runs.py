"""Class 3 of the reliability issue: a failed run leaves no partial output.

Reports (evaluate, validate-target, flashsim validate) appear whole or not at all, and an earlier
report survives a failed rerun; resumable runs (dataset, reconstruct, train) remove a folder
they created when they fail before completing anything.
"""

from __future__ import annotations

import pytest

from tests.reliability.conftest import run


def _fail_on_third_plot(monkeypatch, modules):
    """Make plotting fail on the third plot (after two PNGs exist), in ``modules`` and ``plotting``."""
    from colliderflow import plotting

    calls = {"n": 0}
    real = plotting.save

    def flaky(fig, path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full (simulated)")
        return real(fig, path, *args, **kwargs)

    for mod in modules:
        if hasattr(mod, "save"):
            monkeypatch.setattr(mod, "save", flaky)
    monkeypatch.setattr(plotting, "save", flaky)


def test_failed_evaluate_leaves_no_folder_and_keeps_the_old_report(work, monkeypatch, capsys):
    from colliderflow.cli import main
    from colliderflow.evaluate import report

    out = work / "report"
    argv = ["evaluate", "--dataset", str(work / "ds"), "--reco", f"PF={work / 'pf'}", "--jec", "self",
            "--out", str(out)]
    _fail_on_third_plot(monkeypatch, [report])
    with pytest.raises(RuntimeError):
        main(argv)
    assert not out.exists() and not list(work.glob(".report.*"))
    monkeypatch.undo()
    assert main(argv) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "stale.txt").write_text("from an old report")
    _fail_on_third_plot(monkeypatch, [report])
    with pytest.raises(RuntimeError):
        main(argv)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == {**before, "stale.txt": b"from an old report"}
    monkeypatch.undo()
    assert main(argv) == 0
    assert not (out / "stale.txt").exists(), "a new report replaces the old folder as a whole"


def test_failed_validate_target_leaves_nothing(work, monkeypatch):
    from colliderflow.dataset import validation

    _fail_on_third_plot(monkeypatch, [validation])
    with pytest.raises(RuntimeError):
        validation.validate_target(work / "ds", work / "vt")
    assert not (work / "vt").exists()


def test_failed_dataset_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "ds"
    rc, err = run(["dataset", "--process", "ttbar", "--events", "2", "--pileup", "5", "--pileup-pool",
                   str(tmp_path / "no_pool.parquet"), "--out", str(out), "--quiet"], capsys)
    assert rc == 1 and "no_pool.parquet" in err
    assert not out.exists()


def test_failed_dataset_keeps_a_folder_it_did_not_make(tmp_path, capsys):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    rc, _ = run(["dataset", "--process", "ttbar", "--events", "2", "--pileup", "5", "--pileup-pool",
                 str(tmp_path / "no_pool.parquet"), "--out", str(out), "--quiet"], capsys)
    assert rc == 1 and (out / "notes.txt").read_text() == "mine"


def test_failed_train_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    rc, err = run(["train", f"data.datasets=[{tmp_path / 'missing'}]", f"out={out}", "--quiet"], capsys)
    assert rc == 1 and "missing" in err
    assert not out.exists()


def test_failed_reconstruct_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "pf"
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "chunk_0000000_0000002.parquet").write_bytes(b"garbage")
    rc, err = run(["reconstruct", "--input", str(tmp_path / "ds"), "--output", str(out), "--quiet"], capsys)
    assert rc == 1 and "chunk_0000000_0000002.parquet" in err
    assert not out.exists()


def test_failed_flashsim_validate_leaves_nothing(nano_path, tmp_path, capsys):
    from colliderflow.nano.io import read_nano, write_nano

    events = read_nano(nano_path)
    write_nano(tmp_path / "nogen.parquet", events[[f for f in events.fields if not f.startswith("Gen")]])
    rc, err = run(["flashsim", "validate", "--flash", str(nano_path), "--full", str(tmp_path / "nogen.parquet"),
                   "--out", str(tmp_path / "val"), "--quiet"], capsys)
    assert rc == 1 and "nogen.parquet: no GenJet, GenPart, GenMET" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "val").exists()
