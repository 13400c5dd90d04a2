"""Per-element diagnostics of a reconstruction against the element-aligned target.

The target (``ytarget``) is aligned with the elements (``X``): row i of an event is the
particle whose primary element is element i, or ``cls == 0`` when element i is nobody's
primary element (e.g. the HCAL cluster of a charged hadron, whose primary element is its
track). Candidates name their primary element (``element``, an index into the event's
elements), so the two can be compared element by element:

- **calorimeter energy counted twice**: pT of candidates made from an ECAL or HCAL cluster
  that has no target particle. That cluster's energy belongs to a particle reconstructed
  from another element (a track, mostly), so a neutral candidate made from it adds the
  energy a second time;
- **missed target pT**: pT of target particles of a class (neutral hadrons) whose primary
  element makes no candidate at all.

Every quantity is a per-event sum (GeV), so that fractions are ratios of sums over events
and their errors come from resampling events (:func:`ratio_of_sums`), the independent units.
Pileup particles are included on both sides (targets and candidates before any pileup
mitigation). Inputs are jagged awkward arrays, (events, elements) or (events, candidates).
"""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import numpy as np

from colliderflow.physics.uncertainty import event_bootstrap
from colliderflow.schema.classes import NEUTRAL_HADRON
from colliderflow.schema.elements import ELEMENT_ECAL, ELEMENT_HCAL

__all__ = ["candidate_element_index", "untargeted_cluster_pt", "missed_target_pt", "target_pt_sum",
           "ratio_of_sums"]


def _counts(jagged: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.num(jagged, axis=1)).astype(np.int64)


def _flat(jagged: ak.Array, dtype) -> np.ndarray:
    return ak.to_numpy(ak.flatten(jagged, axis=1)).astype(dtype)


def candidate_element_index(n_elements: np.ndarray, cand_element: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Global (flattened) element index and event number of every candidate.

    Args:
        n_elements: (events,) elements per event.
        cand_element: (events, candidates) primary-element index within the event.

    Returns:
        ((C,) index into the flattened elements, (C,) event number).

    Raises:
        ValueError: if the event counts differ or a candidate points outside its event's elements.
    """
    n_elements = np.asarray(n_elements, dtype=np.int64)
    n_cands = _counts(cand_element)
    if len(n_cands) != len(n_elements):
        raise ValueError(f"candidates: {len(n_cands)} events for {len(n_elements)} events of elements; "
                         "reconstruct the same dataset")
    event = np.repeat(np.arange(len(n_elements)), n_cands)
    local = _flat(cand_element, np.int64)
    bad = np.flatnonzero((local < 0) | (local >= n_elements[event]))
    if len(bad):
        i = bad[0]
        raise ValueError(f"candidates: event {event[i]}: element index {local[i]} outside the event's "
                         f"{n_elements[event[i]]} elements")
    offsets = np.concatenate([[0], np.cumsum(n_elements)])[:-1]
    return offsets[event] + local, event


def untargeted_cluster_pt(elem_type: ak.Array, target_cls: ak.Array, cand_element: ak.Array, cand_pt: ak.Array,
                          cluster_types: Sequence[int] = (ELEMENT_ECAL, ELEMENT_HCAL)) -> np.ndarray:
    """Per-event pT (GeV) of candidates whose primary element is a calorimeter cluster without a target.

    Args:
        elem_type: (events, elements) element type codes (``X.type``).
        target_cls: (events, elements) target class, 0 where the element has no target particle.
        cand_element, cand_pt: (events, candidates) primary-element index and pT.
        cluster_types: the element types counted (ECAL and HCAL).

    Returns:
        (events,) float64.
    """
    n_elements = _counts(elem_type)
    idx, event = candidate_element_index(n_elements, cand_element)
    etype = _flat(elem_type, np.int64)
    tcls = _flat(target_cls, np.int64)
    hit = np.isin(etype[idx], np.asarray(cluster_types)) & (tcls[idx] == 0)
    return np.bincount(event[hit], weights=_flat(cand_pt, np.float64)[hit], minlength=len(n_elements))


def missed_target_pt(target_cls: ak.Array, target_pt: ak.Array, cand_element: ak.Array,
                     cls: int = NEUTRAL_HADRON) -> np.ndarray:
    """Per-event pT (GeV) of target particles of class ``cls`` whose primary element makes no candidate.

    Args:
        target_cls, target_pt: (events, elements) target class and pT.
        cand_element: (events, candidates) primary-element index.

    Returns:
        (events,) float64.
    """
    n_elements = _counts(target_cls)
    idx, _ = candidate_element_index(n_elements, cand_element)
    covered = np.zeros(int(n_elements.sum()), dtype=bool)
    covered[idx] = True
    missed = (_flat(target_cls, np.int64) == cls) & ~covered
    event = np.repeat(np.arange(len(n_elements)), n_elements)
    return np.bincount(event[missed], weights=_flat(target_pt, np.float64)[missed], minlength=len(n_elements))


def target_pt_sum(target_cls: ak.Array, target_pt: ak.Array, cls: int | None = None) -> np.ndarray:
    """Per-event pT sum (GeV) of the target particles (``cls > 0``), or of one class ``cls``; (events,)."""
    sel = target_cls > 0 if cls is None else target_cls == cls
    return ak.to_numpy(ak.sum(ak.where(sel, target_pt, 0.0), axis=1)).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    total = den.sum()
    return float(num.sum() / total) if total > 0 else float("nan")


def ratio_of_sums(num: np.ndarray, den: np.ndarray, rng: np.random.Generator, n_boot: int = 200) -> tuple[float, float]:
    """sum(num) / sum(den) over events and its event-bootstrap error; num, den (events,)."""
    return event_bootstrap(_ratio, [num, den], rng, n_boot)
