"""Calorimeter calibration of hadrons for PF, derived from single neutral-hadron guns.

The calibrated energy of a hadron with raw energies (E_ecal, E_hcal) is
``a(E_raw, eta) * E_ecal + b(E_raw, eta) * E_hcal``, E_raw = E_ecal + E_hcal, with separate
coefficients for showers that leave nothing in the ECAL (``b_h``) and for ECAL+HCAL showers
(``a``, ``b``), fitted by least squares in bins of raw energy for the barrel and the endcap and
interpolated linearly in log(E_raw). The resolution after calibration is fitted as
``S / sqrt(E) (+) C`` per region. The fitted tables are stored next to the detector card
(``cards/<name>.pfcalib.json``); ``colliderflow pf-calibrate`` derives them again for any card.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import nnls

from colliderflow.utils.atomic import atomic_write_text

__all__ = ["HadronCalibration", "fit_calibration", "calibration_path", "load_calibration", "CALIB_VERSION"]

CALIB_VERSION = 1
_REGIONS = ("barrel", "endcap")
_BARREL_ETA = 1.3


@dataclass
class HadronCalibration:
    """Calibration tables. ``edges`` are raw-energy bin edges (GeV); coefficient arrays per region."""

    edges: np.ndarray
    a: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    b_h: dict[str, np.ndarray]
    stochastic: dict[str, float]
    constant: dict[str, float]

    def _interp(self, table: dict[str, np.ndarray], e_raw: np.ndarray, eta: np.ndarray) -> np.ndarray:
        centres = np.log(np.sqrt(self.edges[1:] * self.edges[:-1]))
        le = np.log(np.clip(e_raw, self.edges[0], self.edges[-1]))
        barrel = np.interp(le, centres, table["barrel"])
        endcap = np.interp(le, centres, table["endcap"])
        return np.where(np.abs(eta) < _BARREL_ETA, barrel, endcap)

    def energy(self, e_ecal: np.ndarray, e_hcal: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Calibrated hadron energy (GeV) from raw ECAL and HCAL energies, arrays (N,)."""
        e_ecal, e_hcal, eta = (np.asarray(v, dtype=np.float64) for v in (e_ecal, e_hcal, eta))
        e_raw = e_ecal + e_hcal
        h_only = self._interp(self.b_h, e_raw, eta) * e_hcal
        both = self._interp(self.a, e_raw, eta) * e_ecal + self._interp(self.b, e_raw, eta) * e_hcal
        return np.where(e_raw <= 0, 0.0, np.where(e_ecal > 0, both, h_only))

    def resolution(self, energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Expected absolute resolution (GeV) of a calibrated hadron energy, (N,)."""
        e = np.maximum(np.asarray(energy, dtype=np.float64), 0.1)
        barrel = np.abs(np.asarray(eta)) < _BARREL_ETA
        s = np.where(barrel, self.stochastic["barrel"], self.stochastic["endcap"])
        c = np.where(barrel, self.constant["barrel"], self.constant["endcap"])
        return e * np.hypot(s / np.sqrt(e), c)

    def to_json(self) -> dict:
        return {"version": CALIB_VERSION, "edges": self.edges.tolist(),
                "a": {k: v.tolist() for k, v in self.a.items()}, "b": {k: v.tolist() for k, v in self.b.items()},
                "b_h": {k: v.tolist() for k, v in self.b_h.items()},
                "stochastic": self.stochastic, "constant": self.constant}

    @classmethod
    def from_json(cls, data: dict, where: str = "calibration") -> "HadronCalibration":
        if data.get("version") != CALIB_VERSION:
            raise ValueError(f"{where}: calibration version {data.get('version')}, expected {CALIB_VERSION}; "
                             "derive it again with 'colliderflow pf-calibrate'")
        try:
            return cls(edges=np.asarray(data["edges"], dtype=float),
                       a={k: np.asarray(v) for k, v in data["a"].items()},
                       b={k: np.asarray(v) for k, v in data["b"].items()},
                       b_h={k: np.asarray(v) for k, v in data["b_h"].items()},
                       stochastic=dict(data["stochastic"]), constant=dict(data["constant"]))
        except KeyError as err:
            raise ValueError(f"{where}: calibration file lacks {err}") from None

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=1) + "\n")


def _smooth(values: ArrayLike, fallback: float) -> np.ndarray:
    """Fill bins without a fit by their neighbours."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return np.full_like(v, fallback)
    idx = np.arange(len(v))
    return np.interp(idx, idx[ok], v[ok])


def fit_calibration(e_ecal: np.ndarray, e_hcal: np.ndarray, eta: np.ndarray, e_true: np.ndarray,
                    edges: np.ndarray | None = None, min_entries: int = 30) -> HadronCalibration:
    """Fit calibration tables to single-hadron samples.

    Args:
        e_ecal, e_hcal: raw cluster energies around each hadron (GeV), (N,).
        eta: hadron pseudorapidity, (N,).
        e_true: true hadron energy (GeV), (N,).
    """
    edges = np.geomspace(1.0, 3000.0, 25) if edges is None else np.asarray(edges)
    e_raw = e_ecal + e_hcal
    a, b, b_h, stoch, const = {}, {}, {}, {}, {}
    for region in _REGIONS:
        in_region = (np.abs(eta) < _BARREL_ETA) if region == "barrel" else (np.abs(eta) >= _BARREL_ETA)
        ra, rb, rh = [], [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = in_region & (e_raw >= lo) & (e_raw < hi) & (e_true > 0)
            h_only = sel & (e_ecal <= 0)
            both = sel & (e_ecal > 0)
            rh.append(np.median(e_true[h_only] / e_hcal[h_only]) if h_only.sum() >= min_entries else np.nan)
            if both.sum() >= min_entries:
                A = np.column_stack([e_ecal[both], e_hcal[both]])
                # least squares on E_true, weighted by 1/E_true so every energy counts alike
                w = 1.0 / np.sqrt(e_true[both])
                coef, *_ = np.linalg.lstsq(A * w[:, None], e_true[both] * w, rcond=None)
                ra.append(coef[0])
                rb.append(coef[1])
            else:
                ra.append(np.nan)
                rb.append(np.nan)
        b_h[region] = _smooth(rh, 1.0)
        a[region] = _smooth(ra, 1.0)
        b[region] = _smooth(rb, 1.0)
    calib = HadronCalibration(edges, a, b, b_h, {"barrel": 1.0, "endcap": 1.0}, {"barrel": 0.05, "endcap": 0.05})
    # resolution after calibration: fit (sigma/E)^2 = S^2/E + C^2 in bins of true energy
    e_cal = calib.energy(e_ecal, e_hcal, eta)
    for region in _REGIONS:
        in_region = (np.abs(eta) < _BARREL_ETA) if region == "barrel" else (np.abs(eta) >= _BARREL_ETA)
        xs, ys = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = in_region & (e_true >= lo) & (e_true < hi) & (e_raw > 0)
            if sel.sum() >= min_entries:
                r = e_cal[sel] / e_true[sel]
                q16, q84 = np.percentile(r, [16, 84])
                xs.append(1.0 / np.sqrt(lo * hi))
                ys.append(((q84 - q16) / 2) ** 2)
        if len(xs) >= 2:
            # non-negative least squares: both terms are squares of resolutions
            coef, _ = nnls(np.column_stack([xs, np.ones(len(xs))]), np.asarray(ys))
            stoch[region] = float(np.sqrt(max(coef[0], 1e-4)))
            const[region] = float(np.sqrt(max(coef[1], 1e-6)))
        else:
            stoch[region], const[region] = 1.0, 0.05
    calib.stochastic, calib.constant = stoch, const
    return calib


def calibration_path(card_name: str) -> Path:
    """Where the calibration of a shipped card lives."""
    from importlib import resources

    return Path(str(resources.files("colliderflow.simulate") / "cards" / f"{card_name}.pfcalib.json"))


def load_calibration(card_name_or_path: str | os.PathLike) -> HadronCalibration:
    """The calibration of a shipped card (by card name) or from a calibration file path."""
    path = Path(card_name_or_path)
    if not path.suffix == ".json":
        path = calibration_path(str(card_name_or_path))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no PF hadron calibration for this detector card; derive one with "
                                f"'colliderflow pf-calibrate --detector {card_name_or_path}'")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: corrupt calibration file: {err}") from None
    return HadronCalibration.from_json(data, where=str(path))
