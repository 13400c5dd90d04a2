"""The command line: help texts, the dataset -> inspect path, and one-line errors."""

import pytest

from colliderflow.cli import build_parser, main

COMMANDS = ["pileup-pool", "dataset", "generate", "inspect", "validate-target", "cards", "pf-calibrate", "reconstruct",
            "derive-jec", "evaluate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    assert "usage: colliderflow" in capsys.readouterr().out


def test_dataset_inspect_and_validate_target(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["dataset", "--process", "ztautau", "--events", "3", "--chunk-size", "2", "--seed", "3",
                 "--out", str(out), "--quiet"]) == 0
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 events in 2 file(s)" in text and "all files valid" in text
    assert main(["validate-target", str(out), "--out", str(tmp_path / "plots")]) == 0
    for name in ("particle_pt.png", "jet_pt.png", "jet_response.png", "met.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 10_000
    import json

    metrics = json.loads((tmp_path / "plots" / "metrics.json").read_text())
    assert metrics["events"] == 3 and metrics["particles"]["target_pu_removed"] > 0


def test_inspect_bad_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "chunk_0000000_0000002.parquet"
    bad.write_bytes(b"PAR1 truncated garbage")
    assert main(["inspect", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "chunk_0000000_0000002.parquet" in err[0]


def test_pileup_without_pool_is_explained(tmp_path, capsys):
    assert main(["dataset", "--pileup", "55-75", "--events", "1", "--out", str(tmp_path)]) == 1
    assert "pileup-pool" in capsys.readouterr().err


def test_unknown_card(tmp_path, capsys):
    assert main(["dataset", "--detector", "atlas", "--events", "1", "--out", str(tmp_path), "--quiet"]) == 1
    assert "atlas" in capsys.readouterr().err


def test_one_option_vocabulary_with_the_old_spellings():
    from colliderflow.cli import build_parser
    from colliderflow.generate.pileup import PileupRange

    parser = build_parser()
    new = parser.parse_args(["reconstruct", "--dataset", "d", "--out", "o"])
    old = parser.parse_args(["reconstruct", "--input", "d", "--output", "o"])
    assert (new.dataset, new.out) == (old.dataset, old.out)
    sample = parser.parse_args(["flashsim", "sample", "--model", "m", "--input", "g.root", "--output", "f.root"])
    assert str(sample.out) == "f.root"
    assert PileupRange.parse("55:75") == PileupRange.parse("55-75") == PileupRange(55, 75)
    seeds = {cmd: parser.parse_args(argv).seed for cmd, argv in {
        "pileup-pool": ["pileup-pool", "--out", "p"], "dataset": ["dataset", "--out", "d"],
        "generate": ["generate", "--process", "ttbar", "--out", "g.root"], "flashsim pulls": ["flashsim", "pulls", "--out", "p"]}.items()}
    assert set(seeds.values()) == {0}, seeds

