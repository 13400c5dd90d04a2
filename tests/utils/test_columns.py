from dataclasses import dataclass

import numpy as np
import pytest

from colliderflow.utils.columns import Columns


@dataclass
class _Hits(Columns):
    index: np.ndarray
    energy: np.ndarray
    sigma: np.ndarray

    _dtypes = {"index": np.int32, "energy": np.float64}
    _ndim = {"sigma": 2}


@dataclass(frozen=True)
class _Track(Columns):
    x: np.ndarray
    y: np.ndarray

    _copy = True


def _hits(n: int = 4) -> _Hits:
    return _Hits(index=np.arange(n), energy=np.arange(n) * 1.5, sigma=np.arange(2 * n, dtype=float).reshape(n, 2))


def test_length_and_declared_dtypes():
    h = _hits(4)
    assert len(h) == 4
    assert h.index.dtype == np.int32 and h.energy.dtype == np.float64
    # undeclared fields keep their dtype
    assert _Hits(index=[1], energy=[2.0], sigma=np.zeros((1, 3), np.float32)).sigma.dtype == np.float32


def test_length_mismatch_names_the_field():
    with pytest.raises(ValueError, match=r"^_Hits\.energy: expected shape \(3,\), got \(2,\)$"):
        _Hits(index=np.arange(3), energy=np.zeros(2), sigma=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^_Hits\.sigma: expected shape \(3, \*\), got \(3,\)$"):
        _Hits(index=np.arange(3), energy=np.zeros(3), sigma=np.zeros(3))
    with pytest.raises(ValueError, match=r"^_Track\.x: expected shape \(N,\), got \(\)$"):
        _Track(x=1.0, y=np.zeros(1))


def test_empty():
    e = _Hits.empty()
    assert len(e) == 0
    assert e.index.dtype == np.int32 and e.sigma.shape == (0, 0)
    assert len(_Track.empty()) == 0


def test_concatenate():
    a, b = _hits(2), _hits(3)
    c = _Hits.concatenate([a, b])
    assert len(c) == 5
    assert c.index.tolist() == [0, 1, 0, 1, 2] and c.index.dtype == np.int32
    assert c.sigma.shape == (5, 2)
    assert len(_Hits.concatenate([])) == 0


def test_take_with_index_and_mask():
    h = _hits(5)
    by_index = h.take(np.array([4, 0, 4]))
    assert by_index.index.tolist() == [4, 0, 4]
    assert by_index.sigma.tolist() == [[8.0, 9.0], [0.0, 1.0], [8.0, 9.0]]
    by_mask = h.take(h.energy > 3.0)
    assert by_mask.index.tolist() == [3, 4] and by_mask.index.dtype == np.int32
    assert len(h.take([])) == 0 and len(h.take(np.zeros(5, bool))) == 0
    with pytest.raises(IndexError, match="mask of length 5"):
        h.take(np.ones(4, bool))


def test_copy_on_construction_and_frozen_containers():
    x = np.arange(3.0)
    t = _Track(x=x, y=x)
    assert t.x is not x and t.y is not t.x
    sub = t.take(np.array([True, False, True]))
    assert isinstance(sub, _Track) and sub.x.tolist() == [0.0, 2.0]
    sub.x[0] = 7.0
    assert t.x[0] == 0.0     # a subset never shares memory with its parent
    e = np.arange(3.0)
    assert _Hits(index=[0, 1, 2], energy=e, sigma=np.zeros((3, 2))).energy is e     # no copy unless asked


def test_dtype_for_an_unknown_field_is_rejected():
    @dataclass
    class _Typo(Columns):
        energy: np.ndarray

        _dtypes = {"enrgy": np.float64}

    with pytest.raises(TypeError, match="enrgy"):
        _Typo(energy=np.zeros(1))
