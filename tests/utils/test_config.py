from dataclasses import dataclass, field

import pytest

from colliderflow.utils.config import ConfigError, from_dict, to_dict


@dataclass(frozen=True)
class Inner:
    a: float = 1.0
    n: int = 2


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    values: tuple[float, ...] = (1.0, 2.0)


def test_defaults_and_overrides():
    cfg = from_dict(Outer, {"inner": {"a": 3}, "values": [4, 5]})
    assert cfg.inner == Inner(3.0, 2)
    assert cfg.values == (4.0, 5.0)
    assert to_dict(cfg) == {"name": "x", "inner": {"a": 3.0, "n": 2}, "values": [4.0, 5.0]}


def test_unknown_key_names_path():
    with pytest.raises(ConfigError, match=r"card\.inner: unknown key\(s\) \['b'\]"):
        from_dict(Outer, {"inner": {"b": 1}}, where="card")


def test_wrong_type_names_path():
    with pytest.raises(ConfigError, match=r"card\.inner\.n: expected an integer"):
        from_dict(Outer, {"inner": {"n": 1.5}}, where="card")
