"""Two-sample metrics for validating a fast simulation (Flash) against the full one (Full).

Three views, following the CMS FlashSim validation (Vaselli et al., CMS-DP-2023-003;
arXiv:2402.13684):

* **1-D marginals** -- the Wasserstein-1 (earth mover's) distance between the Flash and Full
  distributions of each variable, in units of a width of the Full distribution, next to its
  *statistical floor*: the distance between two independent Full samples of the same sizes,
  i.e. what statistics alone would give (:func:`wasserstein_table`).
* **Correlations** -- Pearson or Spearman correlation matrices of Flash and Full and their
  difference (:func:`correlation_matrix`, :func:`plot_correlations`).
* **The full joint distribution** -- a classifier two-sample test (Lopez-Paz & Oquab,
  arXiv:1610.06545): a small MLP is trained to tell Flash from Full, and the ROC AUC on a
  held-out split measures how separable they are; 0.5 means indistinguishable
  (:func:`classifier_two_sample_test`). It sees differences that the marginals cannot, such
  as a wrong sign of a correlation.

Torch is imported only inside the classifier, so the module imports without the ``ml`` extra.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, wasserstein_distance

from colliderflow.physics.resolution import IQR_TO_SIGMA

__all__ = [
    "wasserstein",
    "wasserstein_table",
    "correlation_matrix",
    "TwoSampleResult",
    "classifier_two_sample_test",
    "roc_auc",
    "plot_correlations",
]

_CLIP = 10.0  # classifier inputs are clipped at +-_CLIP robust sigmas after standardisation
_MIN_EVENTS = 20  # per sample, after dropping non-finite rows, for the classifier test
_VAL_FRACTION = 0.2  # of the training split, for early stopping
_PATIENCE = 10  # epochs without a validation-loss improvement before stopping
_BATCH = 512
_LR = 1e-3


# ----------------------------------------------------------------------------- 1-D distances

def _finite_1d(x, w, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Values (and weights) of a 1-D sample restricted to finite values with finite weights."""
    x = np.asarray(x, dtype=float).ravel()
    ok = np.isfinite(x)
    if w is not None:
        w = np.asarray(w, dtype=float).ravel()
        if w.shape != x.shape:
            raise ValueError(f"{name}: {len(w)} weights for {len(x)} values")
        ok &= np.isfinite(w)
        w = w[ok]
        if np.any(w < 0):
            raise ValueError(f"{name}: weights must be non-negative")
        if w.sum() <= 0:
            raise ValueError(f"{name}: weights of the finite values sum to zero")
    x = x[ok]
    if len(x) == 0:
        raise ValueError(f"{name}: no finite values")
    return x, w


def wasserstein(a: np.ndarray, b: np.ndarray, wa: np.ndarray | None = None, wb: np.ndarray | None = None) -> float:
    """Wasserstein-1 distance between two weighted 1-D samples, in the units of the values.

    a: (Na,) and b: (Nb,) values; wa: (Na,) and wb: (Nb,) optional non-negative weights.
    Entries with a non-finite value or weight are ignored; a sample with no finite entry is a
    ValueError. For a pure location shift the distance equals the shift.
    """
    a, wa = _finite_1d(a, wa, "sample a")
    b, wb = _finite_1d(b, wb, "sample b")
    return float(wasserstein_distance(a, b, wa, wb))


def _scale_of(x: np.ndarray, scale: str) -> float:
    """Width used to make distances comparable across variables (1.0 for a degenerate sample)."""
    if scale == "none":
        return 1.0
    if scale not in ("iqr", "std"):
        raise ValueError(f"scale must be 'iqr', 'std' or 'none', got {scale!r}")
    s = 0.0
    if scale == "iqr":
        q25, q75 = np.percentile(x, [25, 75])
        s = float(q75 - q25)
    if s <= 0:
        s = float(np.std(x))
    return s if s > 0 else 1.0


def _ratio(w: float, floor: float) -> float:
    if floor > 0:
        return w / floor
    return float("inf") if w > 0 else float("nan")


def _split_half_floor(full: np.ndarray, n_flash: int, rng: np.random.Generator, n_splits: int) -> float:
    """Statistical floor from ``full`` alone: W between random halves, rescaled to sizes (n_flash, N).

    For two independent samples of sizes n and m from one distribution, E[W1] scales as
    sqrt(1/n + 1/m) (del Barrio, Gine & Matran 1999). Halves of sizes h1, h2 give
    W_half ~ sqrt(1/h1 + 1/h2), so the floor for (n_flash, N) is
    W_half * sqrt((1/n_flash + 1/N) / (1/h1 + 1/h2)) -- a factor sqrt(1/2) when n_flash = N.
    The mean over ``n_splits`` random splits reduces the noise of the estimate.
    """
    n = len(full)
    if n < 4:
        raise ValueError(f"need at least 4 finite Full values to estimate the floor by splitting, got {n}")
    h1 = n // 2
    h2 = n - h1
    dists = []
    for _ in range(n_splits):
        perm = rng.permutation(n)
        dists.append(wasserstein_distance(full[perm[:h1]], full[perm[h1:]]))
    return float(np.mean(dists) * np.sqrt((1 / n_flash + 1 / n) / (1 / h1 + 1 / h2)))


def wasserstein_table(flash: dict[str, np.ndarray], full: dict[str, np.ndarray],
                      reference: dict[str, np.ndarray] | None = None, scale: str = "iqr",
                      seed: int = 0, n_splits: int = 5) -> dict[str, dict]:
    """Per-variable Wasserstein distance of Flash to Full, next to its statistical floor.

    flash, full, reference: variable name -> (N,) values; only finite values are used.
    ``reference`` is a Full sample independent of ``full`` with the size of ``flash``; the
    floor is then W(reference, full), the distance statistics alone give. With
    ``reference=None`` the floor is estimated from ``full`` by splitting it into random halves
    (``n_splits`` times, seeded by ``seed``) and rescaling by the sample sizes, see
    :func:`_split_half_floor`.

    Distances are divided by a width of the Full distribution: ``scale="iqr"`` (the
    interquartile range, or the standard deviation where it is zero), ``"std"`` or ``"none"``.

    Returns, for each variable present in every given sample (in the order of ``flash``):
    ``{"w", "floor", "ratio" (w / floor), "scale", "n_flash", "n_full", "n_ref"}``; ``n_ref``
    is the size of ``full`` (the halves' parent) when ``reference`` is None.
    A ratio near 1 means Flash is as close to Full as another Full sample would be.
    """
    rng = np.random.default_rng(seed)
    names = [k for k in flash if k in full and (reference is None or k in reference)]
    table: dict[str, dict] = {}
    for name in names:
        try:
            x_flash, _ = _finite_1d(flash[name], None, "flash")
            x_full, _ = _finite_1d(full[name], None, "full")
            s = _scale_of(x_full, scale)
            w = float(wasserstein_distance(x_flash, x_full)) / s
            if reference is None:
                n_ref = len(x_full)
                floor = _split_half_floor(x_full, len(x_flash), rng, n_splits) / s
            else:
                x_ref, _ = _finite_1d(reference[name], None, "reference")
                n_ref = len(x_ref)
                floor = float(wasserstein_distance(x_ref, x_full)) / s
        except ValueError as err:
            raise ValueError(f"variable {name!r}: {err}") from err
        table[name] = {"w": w, "floor": floor, "ratio": _ratio(w, floor), "scale": s,
                       "n_flash": len(x_flash), "n_full": len(x_full), "n_ref": n_ref}
    return table


# ----------------------------------------------------------------------------- correlations

def correlation_matrix(columns: dict[str, np.ndarray], method: str = "pearson") -> tuple[list[str], np.ndarray]:
    """Correlation matrix of equal-length columns.

    columns: name -> (N,) values. Rows where any column is non-finite are dropped first.
    ``method="spearman"`` correlates the (average) ranks instead of the values.
    Returns the names and the (D, D) matrix; entries involving a constant column are NaN
    (the diagonal stays 1).
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    names = list(columns)
    if not names:
        raise ValueError("no columns given")
    cols = [np.asarray(columns[k], dtype=float).ravel() for k in names]
    lengths = {k: len(c) for k, c in zip(names, cols)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns must have equal lengths, got {lengths}")
    x = np.column_stack(cols)  # (N, D)
    x = x[np.all(np.isfinite(x), axis=1)]
    if len(x) < 2:
        raise ValueError(f"need at least 2 rows with all columns finite, got {len(x)}")
    if method == "spearman":
        x = rankdata(x, axis=0)
    x = x - x.mean(axis=0)
    norm = np.sqrt(np.sum(x * x, axis=0))  # (D,)
    ok = norm > 0
    z = np.zeros_like(x)
    z[:, ok] = x[:, ok] / norm[ok]
    corr = np.clip(z.T @ z, -1.0, 1.0)
    corr[~ok, :] = np.nan
    corr[:, ~ok] = np.nan
    np.fill_diagonal(corr, 1.0)
    return names, corr


def plot_correlations(names: list[str], flash_corr: np.ndarray, full_corr: np.ndarray,
                      path: str | os.PathLike, title: str = "") -> Path:
    """Three panels -- Full, Flash and Flash - Full -- of (D, D) correlation matrices, saved as PNG.

    Diverging colour map, [-1, 1] for the matrices and symmetric about 0 for the difference;
    the values are written in the cells when D <= 12.
    """
    import matplotlib.pyplot as plt
    import mplhep as hep

    from colliderflow.plotting import LABEL, save, use_cms_style

    flash_corr = np.asarray(flash_corr, dtype=float)
    full_corr = np.asarray(full_corr, dtype=float)
    d = len(names)
    for label, m in (("flash_corr", flash_corr), ("full_corr", full_corr)):
        if m.shape != (d, d):
            raise ValueError(f"{label} has shape {m.shape}, expected ({d}, {d}) for {d} names")
    diff = flash_corr - full_corr
    finite = np.abs(diff[np.isfinite(diff)])
    dmax = max(float(finite.max()) if finite.size else 0.0, 0.05)

    use_cms_style()
    size = max(6.0, 0.6 * d + 3.0)
    fig, axes = plt.subplots(1, 3, figsize=(3 * size + 3, size), constrained_layout=True)
    panels = (("Full", full_corr, 1.0), ("Flash", flash_corr, 1.0), ("Flash $-$ Full", diff, dmax))
    fs = 15 if d <= 6 else 12
    for ax, (label, m, vmax) in zip(axes, panels):
        im = ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cbar.ax.tick_params(labelsize=fs)
        ax.set_xticks(range(d), names, rotation=45, ha="right", fontsize=fs)
        ax.set_yticks(range(d), names, fontsize=fs)
        ax.minorticks_off()
        ax.tick_params(top=False, right=False)
        ax.set_title(label, fontsize=18)
        if d <= 12:
            for i in range(d):
                for j in range(d):
                    v = m[i, j]
                    if np.isfinite(v):
                        text = f"{v:.2f}" if abs(v) >= 0.005 else "0.00"  # no "-0.00"
                        ax.text(j, i, text, ha="center", va="center", fontsize=fs - 1,
                                color="white" if abs(v) > 0.6 * vmax else "black")
    hep.label.exp_text("", LABEL, ax=axes[0], loc=0, fontsize=12)
    if title:
        fig.suptitle(title, fontsize=16)
    return save(fig, path)


# ----------------------------------------------------------------------------- classifier test

def roc_auc(scores_pos: np.ndarray, scores_neg: np.ndarray,
            weights_pos: np.ndarray | None = None, weights_neg: np.ndarray | None = None) -> float:
    """ROC AUC = P(score_pos > score_neg) + P(tie) / 2, via the Mann-Whitney U statistic.

    scores_pos: (Np,), scores_neg: (Nn,). Unweighted, U is the rank sum of the positives
    (average ranks for ties) minus Np (Np + 1) / 2, and AUC = U / (Np Nn). With weights
    (both (Np,) and (Nn,), non-negative) each pair counts with w_pos * w_neg.
    """
    pos = np.asarray(scores_pos, dtype=float).ravel()
    neg = np.asarray(scores_neg, dtype=float).ravel()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"roc_auc needs at least one score per class, got {len(pos)} positive, {len(neg)} negative")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise ValueError("roc_auc: scores must be finite")
    n_pos, n_neg = len(pos), len(neg)
    if weights_pos is None and weights_neg is None:
        ranks = rankdata(np.concatenate([pos, neg]))  # average ranks for ties
        u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
        return float(u / (n_pos * n_neg))
    wp = np.ones(n_pos) if weights_pos is None else np.asarray(weights_pos, dtype=float).ravel()
    wn = np.ones(n_neg) if weights_neg is None else np.asarray(weights_neg, dtype=float).ravel()
    if wp.shape != pos.shape or wn.shape != neg.shape:
        raise ValueError(f"roc_auc: weights of shapes {wp.shape}, {wn.shape} for scores {pos.shape}, {neg.shape}")
    if np.any(wp < 0) or np.any(wn < 0) or wp.sum() <= 0 or wn.sum() <= 0:
        raise ValueError("roc_auc: weights must be non-negative with a positive sum per class")
    values, inverse = np.unique(np.concatenate([pos, neg]), return_inverse=True)
    wpos_v = np.bincount(inverse[:n_pos], weights=wp, minlength=len(values))  # weight per distinct score
    wneg_v = np.bincount(inverse[n_pos:], weights=wn, minlength=len(values))
    below = np.cumsum(wneg_v) - wneg_v  # negative weight strictly below each score
    return float(np.sum(wpos_v * (below + 0.5 * wneg_v)) / (wp.sum() * wn.sum()))


def _hanley_mcneil(auc: float, n_pos: float, n_neg: float) -> float:
    """Standard error of an AUC (Hanley & McNeil, Radiology 143 (1982) 29, eq. 1)."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


def _n_eff(w: np.ndarray) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2."""
    return float(w.sum() ** 2 / np.sum(w**2))


@dataclass
class TwoSampleResult:
    """Outcome of :func:`classifier_two_sample_test`.

    auc: held-out ROC AUC for telling A (positive) from B; 0.5 = indistinguishable.
    auc_err: its standard error (Hanley-McNeil, with Kish effective sizes when weighted).
    n_train, n_test: events of both classes in the training split (validation slice included)
    and in the held-out split. n_nonfinite_a, n_nonfinite_b: rows dropped for a non-finite
    feature or weight. epochs_run: training epochs before early stopping.
    """

    auc: float
    auc_err: float
    n_train: int
    n_test: int
    features: list[str]
    n_nonfinite_a: int = 0
    n_nonfinite_b: int = 0
    epochs_run: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _as_2d(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D) or (N,), got {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty")
    return x


def _finite_rows(x: np.ndarray, w, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of x (N, D) with all features and the weight finite; weights default to 1."""
    if w is None:
        w = np.ones(len(x))
    else:
        w = np.asarray(w, dtype=float).ravel()
        if len(w) != len(x):
            raise ValueError(f"{len(w)} weights for {len(x)} events of {name}")
    ok = np.all(np.isfinite(x), axis=1) & np.isfinite(w)
    x, w = x[ok], w[ok]
    if np.any(w < 0):
        raise ValueError(f"weights of {name} must be non-negative (negative weights are not supported)")
    if len(x) < _MIN_EVENTS or w.sum() <= 0:
        raise ValueError(f"{name} has {len(x)} events with finite features and weights, need >= {_MIN_EVENTS}")
    return x, w, int((~ok).sum())


def _robust_standardise(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (median) and width (IQR / 1.349, else std, else 1) per feature, from (N, D)."""
    med = np.median(x_train, axis=0)
    q25, q75 = np.percentile(x_train, [25, 75], axis=0)
    width = (q75 - q25) / IQR_TO_SIGMA
    std = np.std(x_train, axis=0)
    width = np.where(width > 0, width, np.where(std > 0, std, 1.0))
    return med, width


def _train_mlp(x, y, w, x_val, y_val, w_val, hidden: int, epochs: int, seed: int):
    """Train a D -> hidden -> hidden -> 1 SiLU MLP with weighted BCE, early-stopped on the validation loss.

    x: (N, D), y, w: (N,) float32 tensors (labels 0/1 and per-event weights). Initialisation
    draws from a forked torch RNG seeded with ``seed`` and shuffling from a local generator,
    so the global torch RNG state is untouched. Returns the best model and the epochs run.
    """
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.SiLU(),
                              nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=_LR)
    bce = nn.BCEWithLogitsLoss(reduction="none")

    def loss_of(xb, yb, wb):
        return (bce(model(xb).squeeze(-1), yb) * wb).sum() / wb.sum()

    best, best_state, stale, n_epochs = float("inf"), None, 0, 0
    for _ in range(epochs):
        n_epochs += 1
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), _BATCH):
            idx = perm[start:start + _BATCH]
            loss = loss_of(x[idx], y[idx], w[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = float(loss_of(x_val, y_val, w_val))
        if val < best - 1e-4:
            best, stale = val, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= _PATIENCE:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, n_epochs


def classifier_two_sample_test(a: np.ndarray, b: np.ndarray, seed: int = 0, test_fraction: float = 0.5,
                               hidden: int = 64, epochs: int = 30, max_events: int = 200_000,
                               weights_a: np.ndarray | None = None, weights_b: np.ndarray | None = None,
                               features: list[str] | None = None) -> TwoSampleResult:
    """Classifier two-sample test: how well can an MLP tell sample A (Flash) from sample B (Full)?

    a: (Na, D) and b: (Nb, D) features (or (N,) for D = 1); weights_a: (Na,), weights_b: (Nb,)
    optional non-negative event weights; features: D names (default ``x0, x1, ...``).

    Rows with a non-finite feature or weight are dropped (counted in the result). The larger
    sample is subsampled to the size of the smaller, then to at most ``max_events`` per sample;
    each class is split into a training part and a held-out part (``test_fraction``). Features
    are standardised with the training split's median and IQR and clipped at +-10 robust sigmas.
    An MLP (2 hidden layers of ``hidden`` SiLU units, Adam lr 1e-3, batch 512, BCEWithLogits,
    event weights normalised to mean 1 per class) is trained for up to ``epochs`` epochs, early-
    stopped on a 20 % validation slice of the training split. The AUC of its scores on the
    held-out split (A positive) is the Mann-Whitney statistic (:func:`roc_auc`) and its error
    the Hanley-McNeil formula. AUC = 0.5 +- auc_err means the classifier finds no difference.

    Deterministic for a given ``seed``; global numpy and torch RNG states are not touched.
    """
    import torch

    a = _as_2d(a, "sample a")
    b = _as_2d(b, "sample b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"sample a has {a.shape[1]} features per event but sample b has {b.shape[1]} "
                         f"(shapes {a.shape} and {b.shape})")
    d = a.shape[1]
    features = [f"x{i}" for i in range(d)] if features is None else list(features)
    if len(features) != d:
        raise ValueError(f"{len(features)} feature names for {d} features")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if max_events < _MIN_EVENTS:
        raise ValueError(f"max_events must be >= {_MIN_EVENTS}, got {max_events}")
    a, wa, bad_a = _finite_rows(a, weights_a, "sample a")
    b, wb, bad_b = _finite_rows(b, weights_b, "sample b")

    # balance, cap, split: independent seeded streams
    rng_sub, rng_split = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    n = min(len(a), len(b), max_events)
    n_test = min(max(1, round(n * test_fraction)), n - 2)
    parts = []
    for name, x, w in (("sample a", a, wa), ("sample b", b, wb)):
        idx = rng_sub.permutation(len(x))[:n]
        idx = rng_split.permutation(idx)
        if w[idx].sum() <= 0:
            raise ValueError(f"the {n} events kept of {name} all have zero weight")
        x, w = x[idx], w[idx] / w[idx].mean()  # mean weight 1 per class: balanced classes
        parts.append((x[n_test:], w[n_test:], x[:n_test], w[:n_test]))
    (xa_tr, wa_tr, xa_te, wa_te), (xb_tr, wb_tr, xb_te, wb_te) = parts

    x_tr = np.concatenate([xa_tr, xb_tr])  # (2 n_train, D)
    y_tr = np.concatenate([np.ones(len(xa_tr)), np.zeros(len(xb_tr))])
    w_tr = np.concatenate([wa_tr, wb_tr])
    med, width = _robust_standardise(x_tr)

    def t(v):
        return torch.as_tensor(v, dtype=torch.float32)

    def prep(x):  # standardised, clipped features (N, D)
        return t(np.clip((x - med) / width, -_CLIP, _CLIP))

    order = rng_split.permutation(len(x_tr))
    n_val = max(2, int(_VAL_FRACTION * len(x_tr)))
    val, fit = order[:n_val], order[n_val:]
    model, n_epochs = _train_mlp(prep(x_tr[fit]), t(y_tr[fit]), t(w_tr[fit]),
                                 prep(x_tr[val]), t(y_tr[val]), t(w_tr[val]), hidden, epochs, seed)
    with torch.no_grad():
        s_a = model(prep(xa_te)).squeeze(-1).double().numpy()
        s_b = model(prep(xb_te)).squeeze(-1).double().numpy()

    weighted = weights_a is not None or weights_b is not None
    if weighted:
        auc = roc_auc(s_a, s_b, wa_te, wb_te)
        err = _hanley_mcneil(auc, _n_eff(wa_te), _n_eff(wb_te))
    else:
        auc = roc_auc(s_a, s_b)
        err = _hanley_mcneil(auc, len(s_a), len(s_b))
    return TwoSampleResult(auc=auc, auc_err=err, n_train=len(x_tr), n_test=len(s_a) + len(s_b),
                           features=features, n_nonfinite_a=bad_a, n_nonfinite_b=bad_b, epochs_run=n_epochs)
