"""One base for the struct-of-arrays containers: a dataclass whose fields are arrays with one row
per entry (particle, impact, deposit, trajectory).

A container is a ``@dataclass`` that also derives from :class:`Columns`; every field is an array
of shape ``(N,)`` (or ``(N, *)`` where the container says so) for the same ``N``. The base
checks the common length on construction, converts fields to declared dtypes, and gives
``len``, ``empty``, ``concatenate`` and ``take``; the container keeps its physics methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field, fields
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import numpy as np

__all__ = ["Columns"]

_C = TypeVar("_C", bound="Columns")


def _field_names(cls: type[Columns]) -> tuple[str, ...]:
    """The field names of a container class, in declaration order (checked once per class)."""
    names = tuple(f.name for f in fields(cls))
    if not names:
        raise TypeError(f"{cls.__name__}: a Columns container needs at least one field")
    unknown = (set(cls._dtypes) | set(cls._ndim)) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__}: _dtypes/_ndim name {sorted(unknown)}, which are not fields")
    return names


#: ``_field_names``, cached per class (cast: mypy does not count a ``type[...]`` as the Hashable
#: that functools.cache's wrapper asks for, python/mypy#11470)
_names = cast("Callable[[type[Columns]], tuple[str, ...]]", cache(_field_names))


class Columns:
    """Mixin for a dataclass of equal-length arrays, one row per entry.

    Class attributes a container may set (plain assignments, not dataclass fields):
        _dtypes: field -> dtype; the field is converted to it on construction. Fields not named
            keep the dtype they are given.
        _ndim: field -> number of axes, for fields of shape (N, *) (default 1: shape (N,)).
        _copy: True: every field is copied on construction, so the container never shares memory
            with its arguments (for containers modified in place); False: converted without a copy
            where the dtype already matches.

    Subsets and concatenations are built without the checks: their fields already have the
    dtypes and the common length, and are new arrays.
    """

    _dtypes: ClassVar[Mapping[str, type]] = {}
    _ndim: ClassVar[dict[str, int]] = {}
    _copy: ClassVar[bool] = False
    if TYPE_CHECKING:  # every container is a dataclass
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def __post_init__(self) -> None:
        cls = type(self)
        n = None
        for name in _names(cls):
            value = getattr(self, name)
            dtype = cls._dtypes.get(name)
            arr = np.array(value, dtype=dtype) if cls._copy else np.asarray(value, dtype=dtype)
            ndim = cls._ndim.get(name, 1)
            if n is None and arr.ndim >= 1:
                n = arr.shape[0]
            if arr.ndim != ndim or arr.shape[0] != n:
                expected = f"({'N' if n is None else n},{' *' * (ndim - 1)})"
                raise ValueError(f"{cls.__name__}.{name}: expected shape {expected}, got {arr.shape}")
            # object.__setattr__: frozen containers are converted in place like the others
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(getattr(self, _names(type(self))[0]))

    @classmethod
    def empty(cls: type[_C]) -> _C:
        """A container with no rows (fields of shape (0,), or (0, 0) for (N, *) fields)."""
        return cls(**{name: np.zeros((0,) * cls._ndim.get(name, 1), dtype=cls._dtypes.get(name, np.float64))
                      for name in _names(cls)})

    @classmethod
    def concatenate(cls: type[_C], parts: list[_C]) -> _C:
        """The rows of ``parts`` one after the other; ``empty()`` for no parts."""
        if not parts:
            return cls.empty()
        return cls._unchecked({name: np.concatenate([getattr(p, name) for p in parts]) for name in _names(cls)})

    def take(self: _C, selection: np.ndarray) -> _C:
        """The rows picked by a boolean mask (N,) or an integer index array (M,), in that order."""
        selection = np.asarray(selection)
        if selection.ndim != 1:
            raise IndexError(f"{type(self).__name__}.take: expected a 1-D mask or index array, "
                             f"got shape {selection.shape}")
        if selection.dtype == np.bool_:
            if len(selection) != len(self):
                raise IndexError(f"{type(self).__name__}.take: expected a mask of length {len(self)}, "
                                 f"got {len(selection)}")
            selection = np.flatnonzero(selection)     # one scan of the mask, not one per field
        elif selection.size == 0:
            selection = selection.astype(np.intp)     # [] arrives as float64
        return self._unchecked({name: getattr(self, name)[selection] for name in _names(type(self))})

    @classmethod
    def _unchecked(cls: type[_C], arrays: dict[str, np.ndarray]) -> _C:
        """Build from arrays that already have the right dtypes and a common length (no checks, no copies)."""
        out = object.__new__(cls)
        out.__dict__.update(arrays)
        return out
