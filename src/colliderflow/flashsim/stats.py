"""Statistical uncertainties of oversampled FlashSim histograms.

FlashSim makes many reconstructed replicas of each generator event cheaply ("oversampling"),
as in the CMS FlashSim talk at CHEP 2024 (CMS DP-2024/080). Generator event ``e`` (weight
``w_e``) is simulated ``K`` times and every replica entry is filled with weight ``w_e / K``, so
the content of bin ``i`` is

    c_i = sum_e w_e n_ei / K,

where ``n_ei`` counts the entries of gen event ``e`` in bin ``i`` over all ``K`` replicas (it
can exceed ``K`` for per-object variables such as jet pT). The replicas of one gen event share
its generator-level kinematics, so their entries are correlated: they form one "fold". The
variance of ``c_i`` is the sum over independent folds,

    sigma_i^2 = sum_e (w_e n_ei / K)^2,

while treating every replica entry as an independent event gives the naive

    sigma_naive_i^2 = sum_entries (w_e / K)^2 = sum_e w_e^2 n_ei / K^2,

which underestimates the uncertainty by up to a factor ``sqrt(K)`` (bins much wider than the
resolution, where all replicas land together). Both are the Poisson (extended-likelihood)
variances: the number of generator events is taken as Poisson distributed. Different bins are
treated as uncorrelated. With per-entry weights that vary within a fold, ``w_e n_ei`` is
generalised to the sum of the weights of the fold's entries in the bin.

:func:`pull_study` checks both against pseudo-experiments of a toy detector,
:func:`plot_pulls` draws the result and :func:`write_pull_report` writes both into a report
folder (``colliderflow flashsim pulls``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import hist
import numpy as np
from scipy.integrate import quad_vec
from scipy.special import ndtr

__all__ = ["FoldHistogram", "fold_histogram", "pull_study", "plot_pulls", "write_pull_report", "PULL_SUMMARY_KEYS"]

#: the scalar entries of a :func:`pull_study` result that ``pulls.json`` keeps
PULL_SUMMARY_KEYS = ("pull_std_fold", "pull_std_naive", "pull_mean_fold", "pull_mean_naive", "n_gen", "oversample",
                     "n_experiments", "seed")

# A key (fold, bin) packed as fold * n_bins + bin must stay below this to fit in int64.
_MAX_KEY = 2**62


@dataclass
class FoldHistogram:
    """A 1-D histogram of oversampled entries with fold-aware and naive variances.

    ``edges`` (B+1,) are the bin edges in the units of the filled variable; ``values`` (B,) the
    bin contents ``c_i`` (sum of weights / K); ``variances`` (B,) the fold-aware
    ``sum_e (w_e n_ei / K)^2``; ``naive_variances`` (B,) the per-entry ``sum (w_e / K)^2``.
    """

    edges: np.ndarray
    values: np.ndarray
    variances: np.ndarray
    naive_variances: np.ndarray

    def errors(self) -> np.ndarray:
        """Fold-aware standard deviations of the bin contents, (B,)."""
        return np.sqrt(self.variances)

    def naive_errors(self) -> np.ndarray:
        """Naive (replica entries taken as independent) standard deviations, (B,)."""
        return np.sqrt(self.naive_variances)

    def to_hist(self, name: str = "x", label: str = "") -> hist.Hist:
        """A ``hist.Hist`` with Weight storage holding the values and the fold-aware variances.

        Under- and overflow of the returned histogram are empty.
        """
        h = hist.Hist(hist.axis.Variable(self.edges, name=name, label=label or name), storage=hist.storage.Weight())
        view = h.view(flow=False)
        view["value"] = self.values
        view["variance"] = self.variances
        return h


def _check_edges(edges) -> np.ndarray:
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2:
        raise ValueError(f"edges: expected a 1-D array of at least 2 bin edges, got shape {edges.shape}")
    if not np.all(np.isfinite(edges)):
        raise ValueError(f"edges: expected finite bin edges, got {edges.tolist()}")
    if not np.all(np.diff(edges) > 0):
        raise ValueError(f"edges: expected strictly increasing bin edges, got {edges.tolist()}")
    return edges


def _check_oversample(oversample) -> int:
    if isinstance(oversample, bool) or not isinstance(oversample, (int, np.integer)) or oversample < 1:
        raise ValueError(f"oversample: expected an integer number of replicas K >= 1, got {oversample!r}")
    return int(oversample)


def _bin_index(values: np.ndarray, edges: np.ndarray, flow: bool) -> np.ndarray:
    """Bin of each value, (M,); -1 outside the edges when ``flow`` is False.

    Bins are half-open ``[lo, hi)`` except the last, which includes its upper edge (as ``np.histogram``).
    """
    n_bins = len(edges) - 1
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == edges[-1]] = n_bins - 1
    if flow:
        return np.clip(idx, 0, n_bins - 1)
    idx[idx >= n_bins] = -1
    return idx


def _fold_keys(fold: np.ndarray, n_bins: int) -> np.ndarray:
    """Fold ids as non-negative int64 with ``key * n_bins`` < 2^62: shifted, or ranked if their range is huge."""
    lo, hi = int(fold.min()), int(fold.max())
    if (hi - lo + 1) * n_bins < _MAX_KEY:
        return (fold - fold.dtype.type(lo)).astype(np.int64)
    return np.unique(fold, return_inverse=True)[1].reshape(-1).astype(np.int64)


def fold_histogram(values, fold, edges, weights=None, oversample: int = 1, flow: bool = False) -> FoldHistogram:
    """Histogram oversampled entries with the fold-aware bin variance.

    ``values`` (M,): the variable of every replica entry (e.g. jet pT in GeV); ``fold`` (M,):
    integer id of the generator event each entry comes from, shared by all its replicas;
    ``edges`` (B+1,): strictly increasing bin edges; ``weights`` (M,): the generator weight
    ``w_e`` of each entry, not yet divided by ``oversample`` (default 1); ``oversample``: the
    number of replicas K per generator event. Entries outside the edges are dropped, or with
    ``flow=True`` counted in the first / last bin. Runs in O(M log M) (one sort).
    """
    edges = _check_edges(edges)
    k = _check_oversample(oversample)
    values = np.asarray(values, dtype=float)
    fold = np.asarray(fold)
    if values.ndim != 1:
        raise ValueError(f"values: expected a 1-D array of entries, got shape {values.shape}")
    if fold.shape != values.shape:
        raise ValueError(f"fold: expected one gen-event id per entry, shape {values.shape}, got {fold.shape}")
    if fold.size and not np.issubdtype(fold.dtype, np.integer):
        raise ValueError(f"fold: expected integer gen-event ids, got dtype {fold.dtype}")
    if weights is None:
        weights = np.ones_like(values)
    else:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != values.shape:
            raise ValueError(f"weights: expected one weight per entry, shape {values.shape}, got {weights.shape}")
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise ValueError(f"values: {bad} of {len(values)} entries are not finite (NaN or inf)")
    bad = np.count_nonzero(~np.isfinite(weights))
    if bad:
        raise ValueError(f"weights: {bad} of {len(weights)} weights are not finite (NaN or inf)")

    n_bins = len(edges) - 1
    idx = _bin_index(values, edges, flow)
    keep = idx >= 0
    idx, fold, w = idx[keep], fold[keep], weights[keep] / k  # (M',)
    contents = np.bincount(idx, weights=w, minlength=n_bins)
    naive = np.bincount(idx, weights=w * w, minlength=n_bins)
    variances: np.ndarray = np.zeros(n_bins)
    if len(idx):
        key = _fold_keys(fold, n_bins) * n_bins + idx  # (fold, bin) packed into one int64
        order = np.argsort(key, kind="stable")
        key, w = key[order], w[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        fold_sums = np.add.reduceat(w, starts)  # sum_{entries of fold e in bin i} w / K
        variances = np.bincount(key[starts] % n_bins, weights=fold_sums**2, minlength=n_bins)
    return FoldHistogram(edges=edges, values=contents, variances=variances, naive_variances=naive)


@dataclass(frozen=True)
class _ToyDetector:
    """Toy generator and detector for :func:`pull_study`; energies in GeV.

    Each gen event has 1 object, or 2 with probability ``p_two``, and a weight uniform in
    ``[1 - weight_spread, 1 + weight_spread]``. An object's gen-level x is ``x_min + Exp(scale)``
    with probability ``f_exp``, else ``N(peak, peak_width)``. Each replica reconstructs it with
    probability ``efficiency`` at ``x * (1 + resolution * N(0, 1))``.
    """

    p_two: float = 0.4
    weight_spread: float = 0.5
    f_exp: float = 0.7
    x_min: float = 20.0
    scale: float = 25.0
    peak: float = 80.0
    peak_width: float = 8.0
    efficiency: float = 0.9
    resolution: float = 0.1

    def simulate(self, rng: np.random.Generator, n_events: int, oversample: int):
        """Replica entries of ``n_events`` gen events: x (M,), fold (M,), weight (M,)."""
        weight = rng.uniform(1 - self.weight_spread, 1 + self.weight_spread, n_events)
        n_obj = 1 + (rng.random(n_events) < self.p_two)
        event = np.repeat(np.arange(n_events), n_obj)  # (N_obj,)
        x_gen = np.where(rng.random(len(event)) < self.f_exp,
                         self.x_min + rng.exponential(self.scale, len(event)),
                         rng.normal(self.peak, self.peak_width, len(event)))
        x_gen = np.tile(x_gen, oversample)  # (K * N_obj,): replica r of object j at r * N_obj + j
        fold = np.tile(event, oversample)
        x_reco = x_gen * (1 + self.resolution * rng.standard_normal(len(x_gen)))
        found = rng.random(len(x_gen)) < self.efficiency
        fold = fold[found]
        return x_reco[found], fold, weight[fold]

    def _p_bins(self, x_gen: float, edges: np.ndarray) -> np.ndarray:
        """Probability that an object at gen-level ``x_gen`` > 0 is reconstructed in each bin, (B,)."""
        z = (edges / x_gen - 1) / self.resolution
        return self.efficiency * np.diff(ndtr(z))

    def expected_per_event(self, edges: np.ndarray) -> np.ndarray:
        """E[w_e n_ei / K], the expected contribution of one gen event to each bin, (B,).

        Exact up to quadrature (absolute error < 1e-10): the gen-level density is integrated against
        the probability of reconstructing in each bin; the Gaussian peak below x = 0 (10 sigma) is neglected.
        """
        tail, _ = quad_vec(lambda u: np.exp(-u) * self._p_bins(self.x_min + self.scale * u, edges), 0, np.inf,
                           epsabs=1e-12, epsrel=1e-10)
        lo, hi = max(self.peak - 12 * self.peak_width, 1e-3), self.peak + 12 * self.peak_width
        gauss, _ = quad_vec(lambda x: np.exp(-0.5 * ((x - self.peak) / self.peak_width) ** 2)
                            / (np.sqrt(2 * np.pi) * self.peak_width) * self._p_bins(x, edges), lo, hi,
                            epsabs=1e-12, epsrel=1e-10)
        mean_objects = 1 + self.p_two
        return mean_objects * (self.f_exp * tail + (1 - self.f_exp) * gauss)  # E[w] = 1


_DEFAULT_PULL_EDGES = np.array([20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 120.0])  # GeV


def pull_study(n_gen: int, oversample: int, n_experiments: int, seed: int, edges=None) -> dict:
    """Pulls of oversampled toy histograms with fold-aware and naive uncertainties.

    Each pseudo-experiment draws ``Poisson(n_gen)`` fresh gen events of a toy model (1 or 2
    objects per event, weights in [0.5, 1.5], an exponential-plus-peak x spectrum in GeV; see
    ``_ToyDetector``), reconstructs each ``oversample`` (K) times with 10 % resolution and 90 %
    efficiency, and fills :func:`fold_histogram` over ``edges`` (B+1,) (default 20-120 GeV, 9
    bins). The pulls ``(c_i - mu_i) / sigma_i`` use the exact expectation
    ``mu_i = n_gen E[w_e n_ei / K]`` (by quadrature) and either the fold-aware or the naive sigma.
    The fold-aware pulls should have unit width; the naive ones are wider by about
    ``sqrt(variance_ratio)``. Deterministic for a given ``seed``.

    Returns a dict with ``pull_std_fold``, ``pull_std_naive``, ``pull_mean_fold``,
    ``pull_mean_naive`` (over all bins and experiments), the per-bin ``(B,)`` arrays
    ``pull_std_fold_per_bin``, ``pull_std_naive_per_bin``, ``pull_mean_fold_per_bin``,
    ``pull_mean_naive_per_bin``, ``variance_ratio_per_bin`` (mean fold / mean naive variance),
    ``expected`` (mu_i) and ``edges``, all pulls as ``pulls_fold`` and ``pulls_naive``
    (n_experiments, B), and ``n_gen``, ``oversample``, ``n_experiments``, ``seed``.
    """
    k = _check_oversample(oversample)
    if isinstance(n_gen, bool) or not isinstance(n_gen, (int, np.integer)) or n_gen < 1:
        raise ValueError(f"n_gen: expected a positive integer number of gen events, got {n_gen!r}")
    if isinstance(n_experiments, bool) or not isinstance(n_experiments, (int, np.integer)) or n_experiments < 2:
        raise ValueError(f"n_experiments: expected an integer >= 2, got {n_experiments!r}")
    edges = _check_edges(_DEFAULT_PULL_EDGES if edges is None else edges)
    if edges[0] <= 0:
        raise ValueError(f"edges: the toy x spectrum is positive; expected edges[0] > 0, got {edges[0]}")
    toy = _ToyDetector()
    expected = n_gen * toy.expected_per_event(edges)  # (B,)
    # Pulls are Gaussian only with enough entries per bin; below ~10 the estimated sigma is too noisy.
    sparse = np.flatnonzero(expected < 10)
    if len(sparse):
        raise ValueError(f"edges: bins {sparse.tolist()} expect contents below 10 for n_gen={n_gen} "
                         f"({np.round(expected[sparse], 2).tolist()}); widen them or raise n_gen")

    rng = np.random.default_rng(seed)
    n_bins = len(edges) - 1
    values = np.empty((n_experiments, n_bins))
    var_fold = np.empty((n_experiments, n_bins))
    var_naive = np.empty((n_experiments, n_bins))
    for i in range(n_experiments):
        x, fold, w = toy.simulate(rng, int(rng.poisson(n_gen)), k)
        h = fold_histogram(x, fold, edges, weights=w, oversample=k)
        values[i], var_fold[i], var_naive[i] = h.values, h.variances, h.naive_variances
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty bin has no pull: NaN
        pulls_fold = np.where(var_fold > 0, (values - expected) / np.sqrt(var_fold), np.nan)
        pulls_naive = np.where(var_naive > 0, (values - expected) / np.sqrt(var_naive), np.nan)
    return {
        "pull_std_fold": float(np.nanstd(pulls_fold)),
        "pull_std_naive": float(np.nanstd(pulls_naive)),
        "pull_mean_fold": float(np.nanmean(pulls_fold)),
        "pull_mean_naive": float(np.nanmean(pulls_naive)),
        "pull_std_fold_per_bin": np.nanstd(pulls_fold, axis=0),
        "pull_std_naive_per_bin": np.nanstd(pulls_naive, axis=0),
        "pull_mean_fold_per_bin": np.nanmean(pulls_fold, axis=0),
        "pull_mean_naive_per_bin": np.nanmean(pulls_naive, axis=0),
        "variance_ratio_per_bin": var_fold.mean(axis=0) / var_naive.mean(axis=0),
        "expected": expected,
        "edges": edges,
        "pulls_fold": pulls_fold,
        "pulls_naive": pulls_naive,
        "n_gen": int(n_gen),
        "oversample": k,
        "n_experiments": int(n_experiments),
        "seed": seed,
    }


def plot_pulls(result: dict, path: str | os.PathLike) -> Path:
    """Draw the fold-aware and naive pull distributions of a :func:`pull_study` result with a N(0, 1) overlay."""
    import matplotlib.pyplot as plt
    import mplhep as hep

    from colliderflow.plotting import LABEL, save, use_cms_style

    use_cms_style()
    fold, naive = np.ravel(result["pulls_fold"]), np.ravel(result["pulls_naive"])
    fold, naive = fold[np.isfinite(fold)], naive[np.isfinite(naive)]
    half = float(np.clip(np.ceil(4 * result["pull_std_naive"]), 5, 15))
    bins = np.linspace(-half, half, int(4 * half) + 1)
    fig, ax = plt.subplots(figsize=(9, 7))
    top = 1 / np.sqrt(2 * np.pi)
    for pulls, name, key in ((fold, "fold-aware", "fold"), (naive, "naive", "naive")):
        h, _ = np.histogram(pulls, bins=bins)
        density = h / max(len(pulls), 1) / np.diff(bins)
        top = max(top, float(density.max()))
        label = (f"{name} $\\sigma$: mean {result[f'pull_mean_{key}']:+.2f}, "
                 f"std {result[f'pull_std_{key}']:.2f}")
        hep.histplot(density, bins, ax=ax, label=label, lw=2)
    x = np.linspace(-half, half, 400)
    ax.plot(x, np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi), color="black", ls="--", lw=1.5, label="N(0, 1)")
    ax.set_xlabel(r"pull $(c_i - \mu_i) / \sigma_i$")
    ax.set_ylabel("density")
    ax.set_xlim(-half, half)
    ax.set_ylim(0, 1.35 * top)  # room for the legend above the peak
    ax.legend(fontsize=13, loc="upper right")
    hep.label.exp_text("", LABEL, ax=ax, loc=0, fontsize=14)
    ax.set_title(f"K = {result['oversample']}, $N_{{gen}}$ = {result['n_gen']}, "
                 f"{result['n_experiments']} pseudo-experiments", fontsize=13, loc="right")
    return save(fig, path)


def write_pull_report(result: dict, out: str | os.PathLike) -> Path:
    """Write ``pulls.png`` and ``pulls.json`` (:data:`PULL_SUMMARY_KEYS`) of a :func:`pull_study` result.

    The folder ``out`` appears whole or not at all; an earlier report there is replaced.
    """
    import json

    from colliderflow.utils.atomic import atomic_dir, atomic_write_text

    with atomic_dir(out) as tmp:
        plot_pulls(result, tmp / "pulls.png")
        atomic_write_text(tmp / "pulls.json",
                          json.dumps({k: result[k] for k in PULL_SUMMARY_KEYS}, indent=1, default=float))
    return Path(out)
