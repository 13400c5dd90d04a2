"""Invertible target transforms for the property models, with dequantisation.

A flow learns a smooth density; reconstructed properties are not smooth: pT spans decades,
isolation has a spike at zero, IDs and jetId are integers, b-tag scores pile up near 0 and 1.
Each property is therefore mapped to an unbounded, continuous variable before training and
mapped back after sampling (FlashSim, CHEP 2024: "better learn pT^reco / pT^gen ... apply logs
when needed"):

====================  ========================================  ======================================
kind                  forward y(x, ref)                          inverse
====================  ========================================  ======================================
``logratio``          log(x / ref)                               ref exp(y)
``log``               log(x)                                     exp(y)
``delta``             x - ref                                    ref + y
``dphi``              wrap(x - ref) into [-pi, pi)               wrap(ref + y)
``linear``            x                                          y
``asinh``             asinh(x / scale)                           scale sinh(y)
``logeps``            log(x + eps); x = 0 -> log(eps u)          max(exp(y) - eps, 0), 0 if y < log(eps)
``unit``              logit of x in [0, 1]; 0 and 1 spread over  sigmoid, with the spread regions
                      one unit beyond logit(eps), logit(1-eps)    mapped back onto 0 and 1
``integer``           x + d(u)                                   floor(y), clipped to the seen range
``categorical``       index(x) + d(u)  over the values seen       value[floor(y)], clipped
``sign``              categorical of x * ref (charge flips)      value * ref
====================  ========================================  ======================================

u ~ U(0, 1) is the dequantisation noise (drawn from a caller's generator, so training data are
reproducible). Discrete values fill only the middle of their unit box, d(u) = (1 - w) / 2 + w u with
w = ``DEQUANT_WIDTH``: the flow's smooth density leaks past the edges of a box, and a margin on each
side keeps a leak from decoding as the neighbouring value (a rare "fails the medium ID" drawn for
muons that always pass it, with w = 1). Decoding is floor(y) for any w. After the kind's transform
every column is standardised with the training mean and standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
from scipy.special import expit

from colliderflow.utils.config import RangeChecked, positive

__all__ = ["TargetSpec", "TargetTransform", "KINDS", "DEQUANT_WIDTH"]

KINDS = ("logratio", "log", "delta", "dphi", "linear", "asinh", "logeps", "unit", "integer", "categorical", "sign")
#: the share of its unit box a discrete value's dequantisation noise fills (module docstring)
DEQUANT_WIDTH = 0.5
_NEEDS_REF = {"logratio", "delta", "dphi", "sign"}


@dataclass
class TargetSpec(RangeChecked):
    """One reconstructed property and how it is transformed.

    Attributes:
        name: field of the reconstructed collection (e.g. ``pt``).
        kind: one of ``KINDS``.
        ref: field of the source object used as reference (``logratio``, ``delta``, ``dphi``, ``sign``).
        scale: ``asinh`` scale; ``eps`` of ``logeps`` and ``unit``.
    """

    name: str
    kind: str
    ref: str | None = None
    scale: float = positive(1.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind not in KINDS:
            raise ValueError(f"target {self.name!r}: unknown transform {self.kind!r}; choose one of {KINDS}")
        if self.kind in _NEEDS_REF and self.ref is None:
            raise ValueError(f"target {self.name!r}: transform {self.kind!r} needs a reference field")


def _dequant(u: np.ndarray) -> np.ndarray:
    """Dequantisation offset in [(1 - w) / 2, (1 + w) / 2) of the unit box, w = ``DEQUANT_WIDTH``."""
    return (1 - DEQUANT_WIDTH) / 2 + DEQUANT_WIDTH * u


def _wrap(x):
    return (x + np.pi) % (2 * np.pi) - np.pi


@dataclass
class TargetTransform:
    """Fitted transforms of a list of targets: ``forward`` (training) and ``inverse`` (sampling).

    Arrays are (N, D) with D = len(specs); reference arrays are dicts field -> (N,).
    """

    specs: list[TargetSpec]
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    std: np.ndarray = field(default_factory=lambda: np.ones(0))
    values: dict[str, list[float]] = field(default_factory=dict)  # categorical/sign/integer: seen values or range
    lo: np.ndarray = field(default_factory=lambda: np.zeros(0))  # training range of the standardised columns
    hi: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def _raw_forward(self, x: dict[str, np.ndarray], ref: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        cols = []
        for s in self.specs:
            v = np.asarray(x[s.name], dtype=np.float64)
            # None only for the kinds that use no reference (TargetSpec checks that the others name one)
            r = cast(np.ndarray, np.asarray(ref[s.ref], dtype=np.float64) if s.ref else None)
            u = rng.random(len(v))
            if s.kind == "logratio":
                y = np.log(np.maximum(v, 1e-6) / np.maximum(r, 1e-6))
            elif s.kind == "log":
                y = np.log(np.maximum(v, 1e-6))
            elif s.kind == "delta":
                y = v - r
            elif s.kind == "dphi":
                y = _wrap(v - r)
            elif s.kind == "linear":
                y = v
            elif s.kind == "asinh":
                y = np.arcsinh(v / s.scale)
            elif s.kind == "logeps":
                eps = s.scale
                y = np.where(v > 0, np.log(np.maximum(v, 0) + eps), np.log(eps * np.maximum(u, 1e-12)))
            elif s.kind == "unit":
                eps = s.scale
                lo, hi = np.log(eps / (1 - eps)), np.log((1 - eps) / eps)
                c = np.clip(v, eps, 1 - eps)
                y = np.log(c / (1 - c))
                y = np.where(v <= 0, lo - u, np.where(v >= 1, hi + u, y))
            elif s.kind == "integer":
                y = np.floor(v) + _dequant(u)
            else:  # categorical, sign
                w = v * r if s.kind == "sign" else v
                cats = np.asarray(self.values[s.name])
                idx = np.searchsorted(cats, w)
                idx = np.clip(idx, 0, len(cats) - 1)
                y = idx + _dequant(u)
            cols.append(y)
        return np.column_stack(cols) if cols else np.zeros((0, 0))

    def fit(self, x: dict[str, np.ndarray], ref: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Fit category lists and standardisation on training data; returns the transformed (N, D)."""
        for s in self.specs:
            if s.kind in ("categorical", "sign"):
                v = np.asarray(x[s.name], dtype=np.float64)
                w = v * np.asarray(ref[cast(str, s.ref)], dtype=np.float64) if s.kind == "sign" else v
                self.values[s.name] = sorted(float(a) for a in np.unique(w))
            elif s.kind == "integer":
                v = np.asarray(x[s.name], dtype=np.float64)
                self.values[s.name] = [float(np.floor(v.min())), float(np.floor(v.max()))]
        y = self._raw_forward(x, ref, rng)
        self.mean = y.mean(axis=0)
        self.std = np.where(y.std(axis=0) > 1e-8, y.std(axis=0), 1.0)
        z = (y - self.mean) / self.std
        self.lo, self.hi = z.min(axis=0), z.max(axis=0)
        return z

    def forward(self, x: dict[str, np.ndarray], ref: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        return (self._raw_forward(x, ref, rng) - self.mean) / self.std

    def inverse(self, z: np.ndarray, ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Properties from standardised model output z (N, D), clipped to the training range first
        (a flow can put rare samples far outside the data, e.g. sinh of a large asinh value)."""
        z = np.asarray(z, dtype=np.float64)
        if len(self.lo) == z.shape[1]:
            z = np.clip(z, self.lo, self.hi)
        y = z * self.std + self.mean
        out = {}
        for k, s in enumerate(self.specs):
            c = y[:, k]
            # None only for the kinds that use no reference (TargetSpec checks that the others name one)
            r = cast(np.ndarray, np.asarray(ref[s.ref], dtype=np.float64) if s.ref else None)
            if s.kind == "logratio":
                v = r * np.exp(np.clip(c, -20, 20))
            elif s.kind == "log":
                v = np.exp(np.clip(c, -20, 20))
            elif s.kind == "delta":
                v = r + c
            elif s.kind == "dphi":
                v = _wrap(r + c)
            elif s.kind == "linear":
                v = c
            elif s.kind == "asinh":
                v = s.scale * np.sinh(np.clip(c, -30, 30))
            elif s.kind == "logeps":
                eps = s.scale
                v = np.where(c < np.log(eps), 0.0, np.maximum(np.exp(np.clip(c, -50, 50)) - eps, 0.0))
            elif s.kind == "unit":
                eps = s.scale
                lo, hi = np.log(eps / (1 - eps)), np.log((1 - eps) / eps)
                v = np.where(c < lo, 0.0, np.where(c > hi, 1.0, expit(c)))
            elif s.kind == "integer":
                lo, hi = self.values[s.name]
                v = np.clip(np.floor(c), lo, hi)
            else:
                cats = np.asarray(self.values[s.name])
                idx = np.clip(np.floor(c).astype(np.int64), 0, len(cats) - 1)
                v = cats[idx]
                if s.kind == "sign":
                    v = v * r
            out[s.name] = v
        return out

    def state(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "values": self.values, "lo": self.lo.tolist(),
                "hi": self.hi.tolist()}

    @classmethod
    def from_state(cls, specs: list[TargetSpec], state: dict) -> "TargetTransform":
        return cls(specs, np.asarray(state["mean"]), np.asarray(state["std"]), dict(state["values"]),
                   np.asarray(state.get("lo", [])), np.asarray(state.get("hi", [])))
