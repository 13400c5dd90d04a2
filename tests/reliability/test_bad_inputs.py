"""Class 1 of the reliability issue: every command validates what it reads as ``inspect`` does.

Each row damages one file of a private copy of a tiny sample; every command that reads that file
must exit 1 with one line naming the file and the problem, and create no output.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from tests.reliability.conftest import CHUNKS, drop_field, one_line_error, rewrite, run, set_value


def _set_event_value(array: ak.Array, field: str, value: float, index: int = 0) -> ak.Array:
    """``array`` with entry ``index`` of the per-event column ``field`` set to ``value``."""
    col = np.array(ak.to_numpy(array[field]))
    col[index] = value
    return ak.with_field(array, col, field)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_version(path):
    from colliderflow.utils.parquet import read_header, read_parquet, write_parquet

    header = read_header(path)
    array, _ = read_parquet(path, header["kind"], header["schema_version"])
    write_parquet(path, array, {**header, "schema_version": 99})


def _foreign(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1, 2]}), path)


#: name -> (file to damage: ("ds" | "pf", chunk), damage, expected message fragment, commands that read it)
CASES = {
    "element feature missing": (("ds", 0), lambda p: rewrite(p, lambda a: drop_field(a, "X", "pt_err")),
                                "element features missing: ['pt_err']",
                                ("inspect", "reconstruct", "nano", "train", "evaluate")),
    "element feature NaN": (("ds", 0), lambda p: rewrite(p, lambda a: set_value(a, "X", "pt", float("nan"))),
                            "element feature 'pt' is NaN or inf", ("inspect", "reconstruct", "nano", "train")),
    "truth inf": (("ds", 1), lambda p: rewrite(p, lambda a: set_value(a, "truth", "pt", float("inf"))),
                  "truth field 'pt' is NaN or inf", ("inspect", "evaluate", "derive-jec", "validate-target", "nano")),
    "target NaN": (("ds", 1), lambda p: rewrite(p, lambda a: set_value(a, "ytarget", "energy", float("nan"))),
                   "ytarget field 'energy' is NaN or inf", ("inspect", "validate-target", "train")),
    "event field missing": (("ds", 1), lambda p: rewrite(p, lambda a: drop_field(a, "event", "genmet_x")),
                            "event fields missing: ['genmet_x']", ("inspect", "evaluate")),
    "truncated chunk": (("ds", 1), _truncate, "not a readable Parquet file",
                        ("inspect", "reconstruct", "evaluate", "validate-target", "nano", "train")),
    "other schema version": (("ds", 1), _other_version, "schema version 99",
                             ("inspect", "reconstruct", "evaluate", "derive-jec", "nano")),
    "foreign Parquet": (("ds", 0), _foreign, "without a colliderflow header", ("reconstruct", "evaluate", "train")),
    "candidate NaN": (("pf", 0), lambda p: rewrite(p, lambda a: set_value(a, "cands", "pt", float("nan"))),
                      "candidate field 'pt' is NaN or inf", ("evaluate", "derive-jec", "nano")),
    "candidate field missing": (("pf", 1), lambda p: rewrite(p, lambda a: drop_field(a, "cands", "puppi_weight")),
                                "candidate fields missing: ['puppi_weight']", ("evaluate", "nano")),
    "candidate vertex NaN": (("pf", 0), lambda p: rewrite(p, lambda a: _set_event_value(a, "pv_z", float("nan"))),
                             "'pv_z' is NaN or inf", ("evaluate", "nano")),
    "candidates truncated": (("pf", 1), _truncate, "not a readable Parquet file", ("evaluate", "derive-jec", "nano")),
}


def command(name: str, w) -> tuple[list[str], object]:
    """argv of ``name`` on work folder ``w``, and the output it must not leave behind."""
    ds, pf = str(w / "ds"), str(w / "pf")
    out = w / f"out_{name}"
    argv = {
        "inspect": ["inspect", ds],
        "reconstruct": ["reconstruct", "--input", ds, "--output", str(out), "--quiet"],
        "evaluate": ["evaluate", "--dataset", ds, "--reco", f"PF={pf}", "--jec", "self", "--out", str(out)],
        "derive-jec": ["derive-jec", "--dataset", ds, "--reco", f"PF={pf}", "--out", str(out)],
        "validate-target": ["validate-target", ds, "--out", str(out)],
        "nano": ["nano", "--dataset", ds, "--candidates", pf, "--out", str(out) + ".parquet", "--quiet"],
        "train": ["train", f"data.datasets=[{ds}]", f"out={out}", "optim.max_steps=1", "--quiet"],
    }[name]
    return argv, (w / f"out_{name}.parquet" if name == "nano" else out)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_line_and_no_output(case, work, capsys):
    (folder, k), damage, fragment, commands = CASES[case]
    damaged = work / folder / CHUNKS[k]
    damage(damaged)
    for name in commands:
        argv, output = command(name, work)
        rc, err = run(argv, capsys)
        assert rc == 1, f"{case}: {name} exited {rc}"
        line = one_line_error(err)
        assert damaged.name in line and fragment in line, f"{case}: {name}: {line}"
        if name == "reconstruct" and output.exists():  # chunks completed before the bad one are kept
            assert sorted(p.name for p in output.iterdir()) == list(CHUNKS[:k]), f"{case}: {name}"
        else:
            assert not output.exists(), f"{case}: {name} left {output}"


def test_shipped_model_loader_rejects_a_text_file(work, capsys):
    bad = work / "model.pt"
    bad.write_text("not a model\n")
    rc, err = run(["reconstruct", "--algo", "mlpf", "--model", str(bad), "--input", str(work / "ds"),
                   "--output", str(work / "out"), "--quiet"], capsys)
    assert rc == 1 and "model.pt" in one_line_error(err)
    assert not (work / "out").exists()



def test_nano_resaved_by_other_tools_is_read(nano_path, tmp_path):
    """A file re-saved by uproot (ROOT) or awkward (Parquet) loses our header but not its content."""
    import awkward as ak
    import numpy as np
    import uproot

    from colliderflow.nano.io import read_nano, read_nano_header, write_nano
    from colliderflow.nano.schema import GEN_INPUTS, RECO_CONTENT

    ours = read_nano(nano_path)
    root = tmp_path / "ours.root"
    write_nano(root, ours[:10], {"source": "fullsim"})
    with uproot.open(root) as f:  # a skim: the first 5 events, every branch but the counters
        branches = f["Events"].arrays(entry_stop=5, filter_name=lambda n: not n.startswith("n"), how=dict)
    with uproot.recreate(tmp_path / "skim.root") as f:
        f["Events"] = branches
    pq_path = tmp_path / "resaved.parquet"
    ak.to_parquet(ours[:5], pq_path)
    for path in (tmp_path / "skim.root", pq_path):
        assert read_nano_header(path)["header"] == "missing"
        events = read_nano(path, require=(*GEN_INPUTS, *RECO_CONTENT))
        assert len(events) == 5
        np.testing.assert_array_equal(ak.to_numpy(ak.flatten(events.Jet.pt)), ak.to_numpy(ak.flatten(ours[:5].Jet.pt)))


def test_foreign_root_file_is_refused(tmp_path):
    import uproot

    from colliderflow.nano.io import read_nano
    from colliderflow.utils.parquet import FileFormatError

    with uproot.recreate(tmp_path / "other.root") as f:
        f["Events"] = {"x": [1.0, 2.0]}
    with pytest.raises(FileFormatError, match=r"other\.root: no colliderflow header and no 'run' and 'event'"):
        read_nano(tmp_path / "other.root")
