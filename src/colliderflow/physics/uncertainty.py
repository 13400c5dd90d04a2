"""Statistical errors of reported figures: event bootstrap and binomial fractions.

Events are the independent units of a sample, so a statistic of per-event quantities (a
quantile of MET residuals, a ratio of per-event sums) gets its error from resampling whole
events with replacement (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993): every
array of one event stays together in a replica. Fractions of counted objects (efficiencies,
fake rates) get a binomial error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["event_bootstrap", "binomial_error"]


def event_bootstrap(statistic: Callable[..., float], per_event: Sequence[np.ndarray], rng: np.random.Generator,
                    n_boot: int = 200, groups: np.ndarray | None = None) -> tuple[float, float]:
    """A statistic of per-event arrays and its bootstrap standard error, resampling events.

    Args:
        statistic: function of the arrays (same order as ``per_event``) returning a number.
        per_event: arrays whose first axis is the event, (events, ...), all of one length; a
            replica draws event indices once and takes those rows of every array.
        rng: the generator of the resampling (seed it for reproducible errors).
        n_boot: number of bootstrap replicas.
        groups: (rows,) the event each row belongs to, when an event has several rows (the
            objects of one event, or FlashSim's K replicas of one generator event): a replica
            draws events and takes all their rows together. None: every row is an event.

    Returns:
        (statistic on all events, standard deviation over the replicas); NaN error for fewer than
        2 events. Replicas where the statistic is not finite are left out of the spread.

    Raises:
        ValueError: if the arrays (and ``groups``) differ in length.
    """
    arrays = [np.asarray(a) for a in per_event]
    n = len(arrays[0])
    lengths = [len(a) for a in arrays] + ([] if groups is None else [len(groups)])
    if any(k != n for k in lengths):
        raise ValueError(f"event_bootstrap: arrays of lengths {lengths}, expected one length")
    value = float(statistic(*arrays))
    if groups is not None:  # rows sorted by event; each event is a run start[e] .. start[e] + count[e]
        order = np.argsort(groups, kind="stable")
        _, start, count = np.unique(np.asarray(groups)[order], return_index=True, return_counts=True)
    n_events = n if groups is None else len(start)
    if n_events < 2:
        return value, float("nan")
    replicas = []
    for _ in range(n_boot):
        pick = rng.integers(0, n_events, n_events)
        if groups is not None:  # the rows of the picked events
            size = count[pick]
            pick = order[np.repeat(start[pick] - np.cumsum(size) + size, size) + np.arange(size.sum())]
        replicas.append(statistic(*(a[pick] for a in arrays)))
    boot = np.asarray(replicas, dtype=float)
    boot = boot[np.isfinite(boot)]
    return value, float(np.std(boot, ddof=1)) if len(boot) > 1 else float("nan")


def binomial_error(passed: ArrayLike, total: ArrayLike) -> np.ndarray:
    """Standard error of the fraction ``passed / total``: sqrt(p (1 - p) / n) with p kept in [1/n, 1 - 1/n].

    Inside that range this is the usual binomial standard error. At p = 0 or 1, where the
    formula gives 0, p is moved 1/n inside, so the error is sqrt(1 - 1/n) / n, about 1/n: the
    size of the 68% upper limit on p after 0 passes of n (1 - 0.32^(1/n), about 1.1/n).
    For n <= 2 that range is p = 1/2 alone (error 1/(2 sqrt(n))).

    Args:
        passed, total: counts k and n (broadcastable; k <= n).

    Returns:
        Error of k/n, float64 of the broadcast shape (0-d for scalars); NaN where n = 0.
    """
    k, n = np.broadcast_arrays(np.asarray(passed, dtype=float), np.asarray(total, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = np.minimum(1.0 / n, 0.5)
        p = np.clip(k / n, edge, 1.0 - edge)
        return np.where(n > 0, np.sqrt(p * (1.0 - p) / n), np.nan)
