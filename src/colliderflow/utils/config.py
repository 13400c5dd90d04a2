"""Typed dataclass configs from plain mappings (YAML): unknown keys, wrong types and values out
of range are errors.

Ranges are declared on the field and checked by one base class, whether a config is built from
YAML (:func:`from_dict`, :func:`load_config`) or in code::

    @dataclass(frozen=True)
    class CaloConfig(RangeChecked):
        cell_size: float = positive(2.2)                    # > 0
        noise: tuple[float, ...] = non_negative((0.04, 0.12))  # each >= 0
        efficiency: float = fraction(0.97)                  # in [0, 1]
        eta_min: float = bounded(1.5, ge=0, le=10)
        eta_max: float = bounded(3.0, gt="eta_min", le=10)  # a bound may name another field

A bound applies to every element of a tuple; ``None`` (an optional field left unset) is not
checked; a checked float must also be finite. Checks of shape and of choices among strings stay
in the dataclass's own ``__post_init__``, which calls ``super().__post_init__()`` first.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from colliderflow.utils.errors import one_line

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["ConfigError", "RangeError", "Range", "RangeChecked", "RANGE_KEY", "bounded", "positive", "non_negative",
           "fraction", "check_ranges", "from_dict", "to_dict", "load_config"]

T = TypeVar("T", bound="DataclassInstance")

#: key of a field's range in ``dataclasses.Field.metadata``
RANGE_KEY = "range"


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names where."""


class RangeError(ConfigError):
    """A configuration value outside its range: ``{where}.{field} = {value} is out of range: must be {rule}``.

    ``where`` is the class name when a config is built in code, the file and key path (for
    example ``card.yaml.ecal``) when it is built by :func:`from_dict`.
    """

    def __init__(self, where: str, field: str, value: Any, rule: str, owner: type | None = None) -> None:
        self.where, self.field, self.value, self.rule, self.owner = where, field, value, rule, owner
        super().__init__(f"{where}.{field} = {value!r} is out of range: must be {rule}")

    def at(self, where: str) -> RangeError:
        """The same error located at ``where`` (a file and key path) instead of the class name."""
        return RangeError(where, self.field, self.value, self.rule, self.owner)


#: a bound: a number, the name of another field of the config, or None (no bound)
Bound = typing.Union[float, str, None]


def _finite_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a numeric field: ``gt``/``ge`` below, ``lt``/``le`` above.

    A bound is a number or the name of another field of the same config (``None``: no bound).
    ``note`` is appended to the message (why the range is what it is).
    """

    gt: Bound = None
    ge: Bound = None
    lt: Bound = None
    le: Bound = None
    note: str = ""

    @property
    def relative(self) -> bool:
        """Whether a bound names another field."""
        return any(isinstance(b, str) for b in (self.gt, self.ge, self.lt, self.le))

    def rule(self, obj: Any = None) -> str:
        """The allowed range in words, e.g. ``> 0``, ``in [0, 1)``, ``>= pt_min (1)``."""
        def show(bound: Bound) -> str:
            if isinstance(bound, str):
                return bound if obj is None else f"{bound} ({getattr(obj, bound)!r})"
            return f"{bound:g}"

        low = (">", self.gt) if self.gt is not None else (">=", self.ge) if self.ge is not None else None
        high = ("<", self.lt) if self.lt is not None else ("<=", self.le) if self.le is not None else None
        if low and high and not isinstance(low[1], str) and not isinstance(high[1], str):
            text = f"in {'(' if low[0] == '>' else '['}{show(low[1])}, {show(high[1])}{')' if high[0] == '<' else ']'}"
        else:
            text = " and ".join(f"{side[0]} {show(side[1])}" for side in (low, high) if side)
        text = text or "finite"
        return f"{text} ({self.note})" if self.note else text

    def violated(self, value: Any, obj: Any) -> bool:
        """Whether ``value`` breaks the range (or is not a finite number); bounds naming an unset
        (None) field are skipped."""
        if not _finite_number(value):
            return True

        def bound(b: Bound) -> Any:
            return getattr(obj, b) if isinstance(b, str) else b

        gt, ge, lt, le = (bound(b) for b in (self.gt, self.ge, self.lt, self.le))
        return ((gt is not None and not value > gt) or (ge is not None and not value >= ge)
                or (lt is not None and not value < lt) or (le is not None and not value <= le))


def bounded(default: Any = dataclasses.MISSING, *, gt: Bound = None, ge: Bound = None, lt: Bound = None,
            le: Bound = None, note: str = "", default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value (or each element of a tuple value) must lie in a range.

    Bounds are numbers or names of other fields of the same config. Checked on construction by
    :class:`RangeChecked`.
    """
    if gt is not None and ge is not None or lt is not None and le is not None:
        raise TypeError("give at most one lower (gt, ge) and one upper (lt, le) bound")
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={RANGE_KEY: Range(gt=gt, ge=ge, lt=lt, le=le, note=note)})


def positive(default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field that must be > 0 (lengths, widths, counts that cannot be zero)."""
    return bounded(default, gt=0, **kwargs)


def non_negative(default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field that must be >= 0 (resolution terms, noise, thresholds)."""
    return bounded(default, ge=0, **kwargs)


def fraction(default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field in [0, 1] (probabilities, efficiencies, fractions)."""
    return bounded(default, ge=0, le=1, **kwargs)


def check_ranges(obj: Any) -> None:
    """Check every field of dataclass ``obj`` that was declared with a range.

    Raises:
        RangeError: naming the class, the field (``field[i]`` for a tuple element), the value and
            the allowed range.
    """
    owner = type(obj)
    checked = [f for f in dataclasses.fields(obj) if f.metadata.get(RANGE_KEY) is not None]
    # fixed bounds first, so that a bad field is named before a field compared with it
    checked.sort(key=lambda f: f.metadata[RANGE_KEY].relative)
    for f in checked:
        spec = f.metadata[RANGE_KEY]
        value = getattr(obj, f.name)
        if value is None:
            continue
        items = enumerate(value) if isinstance(value, (tuple, list)) else [(None, value)]
        for i, v in items:
            if spec.violated(v, obj):
                name = f.name if i is None else f"{f.name}[{i}]"
                rule = spec.rule(obj)
                if not _finite_number(v):
                    rule = "a finite number" if rule == "finite" else f"a finite number {rule}"
                raise RangeError(owner.__name__, name, v, rule, owner)


class RangeChecked:
    """Base of config dataclasses: construction checks every field declared with a range.

    A subclass that defines its own ``__post_init__`` calls ``super().__post_init__()`` first.
    """

    def __post_init__(self) -> None:
        check_ranges(self)


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        errors = []
        for a in non_none:
            try:
                return _convert(value, a, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError("; ".join(errors))
    if dataclasses.is_dataclass(hint):
        cls = typing.cast("type[DataclassInstance]", hint)  # a type hint is the class, never an instance
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(value).__name__}")
        return from_dict(cls, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        inner = args[0] if args else Any
        return tuple(_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; missing keys take the defaults.

    Raises:
        ConfigError: on an unknown key, a value of the wrong type or out of its range (a
            :class:`RangeError`), naming ``where.key``.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except RangeError as err:
        if err.owner is cls:  # not one raised by a config that cls builds itself
            raise err.at(where) from None
        raise ConfigError(f"{where}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None


def to_dict(obj: Any) -> Any:
    """A dataclass (recursively) as plain JSON/YAML-serialisable data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def _set(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def _parse_value(text: str) -> Any:
    """A YAML scalar or list; numbers like 3e-4 (a string to YAML 1.1) are read as numbers."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_config(cls: type[T], path: str | os.PathLike | None, overrides=(), what: str = "config") -> T:
    """A dataclass from a YAML file with ``key.sub=value`` overrides (values parsed as YAML)."""
    data: dict = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read {what}: {one_line(err)}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: {what} must be a mapping of keys to values")
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, value = item.split("=", 1)
        _set(data, key.strip(), _parse_value(value))
    return from_dict(cls, data, where=str(path or what))
