"""Class 2 of the reliability issue: incomplete inputs are refused unless the user accepts them.

A dataset whose manifest lists a chunk that is not there is refused by every reader with one
line; ``--allow-partial`` processes the rest, and the output says that it is partial.
"""

from __future__ import annotations

import json

import pytest

from tests.reliability.conftest import CHUNKS, one_line_error, run


@pytest.fixture
def partial(work):
    (work / "ds" / CHUNKS[1]).unlink()
    (work / "pf" / CHUNKS[1]).unlink()
    return work


COMMANDS = {
    "reconstruct": lambda w: ["reconstruct", "--input", str(w / "ds"), "--output", str(w / "o_reco"), "--quiet"],
    "evaluate": lambda w: ["evaluate", "--dataset", str(w / "ds"), "--reco", f"PF={w / 'pf'}", "--jec", "self",
                           "--out", str(w / "o_eval")],
    "derive-jec": lambda w: ["derive-jec", "--dataset", str(w / "ds"), "--reco", f"PF={w / 'pf'}",
                             "--out", str(w / "o_jec.json")],
    "validate-target": lambda w: ["validate-target", str(w / "ds"), "--out", str(w / "o_vt")],
    "nano": lambda w: ["nano", "--dataset", str(w / "ds"), "--candidates", str(w / "pf"),
                       "--out", str(w / "o_nano.parquet"), "--quiet"],
    "train": lambda w: ["train", f"data.datasets=[{w / 'ds'}]", f"out={w / 'o_train'}", "optim.max_steps=1",
                        "--quiet"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_incomplete_dataset_is_refused(name, partial, capsys):
    rc, err = run(COMMANDS[name](partial), capsys)
    assert rc == 1
    line = one_line_error(err)
    assert "incomplete dataset, 1 of 2 chunks missing" in line and CHUNKS[1] in line and "--allow-partial" in line
    assert not any(p.name.startswith("o_") for p in partial.iterdir()), "a refused run left output"


def test_inspect_flags_incomplete(partial, capsys):
    rc, _ = run(["inspect", str(partial / "ds")], capsys)
    assert rc == 1


def test_allow_partial_is_stated_in_every_output(partial, capsys):
    from colliderflow.nano.io import read_nano_header

    w = partial
    for name in ("reconstruct", "evaluate", "derive-jec", "validate-target", "nano"):
        capsys.readouterr()
        assert run(COMMANDS[name](w) + ["--allow-partial"], capsys)[0] == 0, name
    assert [p.name for p in (w / "o_reco").iterdir()] == [CHUNKS[0]]
    metrics = json.loads((w / "o_eval" / "metrics.json").read_text())
    assert metrics["missing_chunks"] == 1 and metrics["events"] == 2
    assert "Partial dataset: 1 of its 2 chunks were missing" in (w / "o_eval" / "report.md").read_text()
    assert json.loads((w / "o_jec.json").read_text())["missing_chunks"] == 1
    assert json.loads((w / "o_vt" / "metrics.json").read_text())["missing_chunks"] == 1
    assert read_nano_header(w / "o_nano.parquet")["missing_chunks"] == 1


def test_reconstruct_says_partial(partial, capsys):
    main_out = partial / "o_reco"
    capsys.readouterr()
    from colliderflow.cli import main

    assert main(COMMANDS["reconstruct"](partial) + ["--allow-partial"]) == 0
    assert "PARTIAL: 1 dataset chunk(s) missing" in capsys.readouterr().out
    assert main_out.is_dir()


def test_candidates_of_another_dataset_are_refused(work, tiny, tmp_path_factory, capsys):
    from colliderflow.cli import main

    other = tmp_path_factory.mktemp("other")
    assert main(["dataset", "--process", "ttbar", "--events", "4", "--chunk-size", "2", "--seed", "6",
                 "--out", str(other / "ds"), "--quiet"]) == 0
    rc, err = run(["evaluate", "--dataset", str(other / "ds"), "--reco", f"PF={work / 'pf'}", "--jec", "self",
                   "--out", str(work / "o_eval")], capsys)
    assert rc == 1 and "reconstructed from another file" in one_line_error(err)
    assert not (work / "o_eval").exists()
