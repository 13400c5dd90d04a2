"""Response and resolution estimators, and jet energy corrections (section 3.3.1).

Resolution is reported two ways: the Gaussian-fit sigma/mu of the response distribution
(fitted within +-2 sigma of the peak, iterated), and the interquartile measure
(q75 - q25) / (1.349 * median), equal to sigma/mu for a Gaussian. Uncertainties are the
standard errors from the fit covariance, and for the quantile measure from bootstrap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.optimize import OptimizeWarning, curve_fit

__all__ = ["IQR_TO_SIGMA", "ResponseSummary", "summarise_response", "binned_response", "JetCorrections",
           "derive_jec"]

#: interquartile range of a unit Gaussian, 2 * 0.6745: sigma = IQR / IQR_TO_SIGMA
IQR_TO_SIGMA = 1.349


@dataclass
class ResponseSummary:
    """Response statistics of one bin."""

    n: int
    median: float
    iqr_resolution: float
    iqr_resolution_err: float
    gauss_mean: float
    gauss_sigma_over_mean: float
    gauss_sigma_over_mean_err: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _gauss(x, a, mu, sigma):
    return a * np.exp(-0.5 * ((x - mu) / sigma) ** 2)


def _iqr_resolution(r: np.ndarray) -> float:
    q25, q50, q75 = np.percentile(r, [25, 50, 75])
    return float((q75 - q25) / (IQR_TO_SIGMA * q50)) if q50 > 0 else float("nan")


def summarise_response(r: np.ndarray, rng: np.random.Generator | None = None, n_boot: int = 100) -> ResponseSummary:
    """Statistics of a response sample (reco / gen), (N,)."""
    r = np.asarray(r, dtype=float)
    r = r[np.isfinite(r)]
    nan = float("nan")
    if len(r) < 10:
        med = float(np.median(r)) if len(r) else nan
        return ResponseSummary(len(r), med, nan, nan, nan, nan, nan)
    rng = rng or np.random.default_rng(0)
    med = float(np.median(r))
    iqr = _iqr_resolution(r)
    boot = [_iqr_resolution(rng.choice(r, len(r))) for _ in range(n_boot)]
    iqr_err = float(np.std(boot))
    mu, sigma = med, iqr * med if np.isfinite(iqr) and iqr > 0 else float(np.std(r))
    g_mean, g_res, g_err = nan, nan, nan
    try:
        for _ in range(3):
            lo, hi = mu - 2 * sigma, mu + 2 * sigma
            sel = r[(r > lo) & (r < hi)]
            nb = int(np.clip(np.sqrt(len(sel)), 10, 60))
            h, edges = np.histogram(sel, bins=nb, range=(lo, hi))
            c = 0.5 * (edges[1:] + edges[:-1])
            with warnings.catch_warnings():  # a singular covariance leaves the error NaN below, not inf
                warnings.simplefilter("ignore", OptimizeWarning)
                popt, pcov = curve_fit(_gauss, c, h, p0=(h.max(), mu, sigma), sigma=np.sqrt(np.maximum(h, 1)),
                                       absolute_sigma=True, maxfev=2000)
            mu, sigma = popt[1], abs(popt[2])
        err = np.sqrt(np.diag(pcov))
        g_mean, g_res = float(mu), float(sigma / mu)
        g_err = float(g_res * np.hypot(err[2] / sigma, err[1] / mu))
        if not np.isfinite(g_err):
            g_err = nan
    except (RuntimeError, ValueError, TypeError):
        pass
    return ResponseSummary(len(r), med, iqr, iqr_err, g_mean, g_res, g_err)


def binned_response(x: np.ndarray, response: np.ndarray, edges: np.ndarray,
                    min_entries: int = 10) -> list[dict]:
    """Response summaries in bins of ``x`` (e.g. gen jet pT): one dict per bin with its edges."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (x >= lo) & (x < hi)
        s = summarise_response(response[sel]) if sel.sum() >= min_entries else None
        out.append({"lo": float(lo), "hi": float(hi), "n": int(sel.sum()), **(s.to_dict() if s else {})})
    return out


@dataclass
class JetCorrections:
    """Multiplicative jet energy corrections c(pT_reco, |eta|), 2-D linear interpolation in (log pT, |eta|)."""

    log_pt: np.ndarray
    abs_eta: np.ndarray
    factor: np.ndarray  # (len(log_pt), len(abs_eta))

    def __call__(self, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
        interp = RegularGridInterpolator((self.log_pt, self.abs_eta), self.factor, bounds_error=False, fill_value=None)
        lp = np.clip(np.log(np.maximum(pt, 1e-3)), self.log_pt[0], self.log_pt[-1])
        ae = np.clip(np.abs(eta), self.abs_eta[0], self.abs_eta[-1])
        return interp(np.column_stack([lp, ae]))

    def to_json(self) -> dict:
        return {"log_pt": self.log_pt.tolist(), "abs_eta": self.abs_eta.tolist(), "factor": self.factor.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "JetCorrections":
        return cls(np.asarray(d["log_pt"]), np.asarray(d["abs_eta"]), np.asarray(d["factor"]))


def derive_jec(gen_pt: np.ndarray, gen_eta: np.ndarray, reco_pt: np.ndarray,
               pt_edges: np.ndarray | None = None, eta_edges: np.ndarray | None = None,
               min_entries: int = 20) -> JetCorrections:
    """Derive corrections from matched jets (typically QCD): the median response in bins of gen pT
    and |eta| gives c = 1/R at the mean reco pT of the bin; empty bins take their neighbours."""
    pt_edges = np.geomspace(15, 3000, 16) if pt_edges is None else pt_edges
    eta_edges = np.array([0.0, 1.3, 2.5, 3.0, 5.0]) if eta_edges is None else eta_edges
    n_pt, n_eta = len(pt_edges) - 1, len(eta_edges) - 1
    factor = np.full((n_pt, n_eta), np.nan)
    log_reco = np.full((n_pt, n_eta), np.nan)
    ae = np.abs(gen_eta)
    r = reco_pt / gen_pt
    for i in range(n_pt):
        for j in range(n_eta):
            sel = (gen_pt >= pt_edges[i]) & (gen_pt < pt_edges[i + 1]) & (ae >= eta_edges[j]) & (ae < eta_edges[j + 1])
            if sel.sum() >= min_entries:
                med = np.median(r[sel])
                factor[i, j] = 1.0 / med
                log_reco[i, j] = np.log(np.median(reco_pt[sel]))
    # one common pT axis: the gen-bin centres mapped to reco pT through the (eta-averaged) response
    centres = np.log(np.sqrt(pt_edges[1:] * pt_edges[:-1]))
    for j in range(n_eta):
        col = factor[:, j]
        ok = np.isfinite(col)
        if ok.any():
            idx = np.arange(n_pt)
            factor[:, j] = np.interp(idx, idx[ok], col[ok])
        else:
            factor[:, j] = np.nan
    for i in range(n_pt):
        row = factor[i]
        ok = np.isfinite(row)
        factor[i] = np.interp(np.arange(n_eta), np.arange(n_eta)[ok], row[ok]) if ok.any() else 1.0
    n_ok = np.isfinite(log_reco).sum(axis=1)
    axis = np.where(n_ok > 0, np.nansum(log_reco, axis=1) / np.maximum(n_ok, 1), centres)
    axis = np.maximum.accumulate(axis) + np.arange(n_pt) * 1e-6  # strictly increasing grid
    eta_centres = 0.5 * (eta_edges[1:] + eta_edges[:-1])
    return JetCorrections(axis, eta_centres, factor)
