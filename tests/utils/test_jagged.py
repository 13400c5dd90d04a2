import awkward as ak
import numpy as np

from colliderflow.utils.jagged import per_event, to_jagged


def test_round_trip_with_empty_events_and_casts():
    records = [{"a": np.array([1, 2]), "b": np.array([0.5, 1.5])}, {}, {"a": np.array([3]), "b": np.array([2.5])}]
    arr = to_jagged(records, {"a": np.int16, "b": np.float32})
    assert ak.num(arr).tolist() == [2, 0, 1]
    assert str(arr.a.type.content) == "var * int16"
    back = per_event(arr, ["a", "b"], np.float64)
    assert [len(r["a"]) for r in back] == [2, 0, 1]
    assert back[2]["b"].dtype == np.float64 and back[2]["b"][0] == 2.5
    # without field types: names and types of the first record
    same = to_jagged([{"x": np.arange(3)}, {"x": np.arange(0)}])
    assert ak.to_list(same.x) == [[0, 1, 2], []]


def test_first_non_finite():
    import awkward as ak
    import numpy as np

    from colliderflow.utils.jagged import first_non_finite

    assert first_non_finite(ak.Array([[1.0], [], [2.0, 3.0]])) is None
    assert first_non_finite(ak.Array([[1.0], [], [2.0, np.inf], [np.nan]])) == 2
    assert first_non_finite(ak.Array([[], [np.nan]])) == 1
    assert first_non_finite(ak.Array([1.0, 2.0, np.nan])) == 2
    assert first_non_finite(ak.Array([1.0])) is None
