"""Anti-kt jets through the scikit-hep ``fastjet`` package, and reco-gen jet matching."""

from __future__ import annotations

import warnings

import awkward as ak
import numpy as np

from colliderflow.physics.neighbours import delta_r
from colliderflow.utils.quiet import silence_stdout

__all__ = ["cluster_jets", "match_jets", "delta_r"]


def cluster_jets(pt: ak.Array, eta: ak.Array, phi: ak.Array, energy: ak.Array,
                 radius: float = 0.4, min_pt: float = 5.0, weight: ak.Array | None = None,
                 return_constituents: bool = False) -> ak.Array:
    """Cluster anti-kt jets per event.

    Args:
        pt, eta, phi, energy: jagged (events, particles) kinematics in GeV and rad.
        radius: anti-kt distance parameter R.
        min_pt: minimum jet pT in GeV.
        weight: optional per-particle four-momentum scale (e.g. PUPPI weights); 0 removes a particle.
        return_constituents: add ``constituents``, (events, jets, constituents) indices of the
            jet's particles in the input arrays.

    Returns:
        jagged (events, jets) records with ``pt, eta, phi, energy, mass, n_constituents``,
        sorted by decreasing pT.
    """
    import fastjet

    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = energy
    if weight is not None:
        px, py, pz, e = px * weight, py * weight, pz * weight, e * weight
    keep = e > 0
    particles = ak.zip({"px": px[keep], "py": py[keep], "pz": pz[keep], "E": e[keep]}, with_name="Momentum4D")
    particles = ak.values_astype(particles, np.float64)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    with warnings.catch_warnings(), silence_stdout():  # FastJet prints its banner once per process
        warnings.simplefilter("ignore")
        cs = fastjet.ClusterSequence(particles, jetdef)
        jets = cs.inclusive_jets(min_pt=min_pt)
        nconst = ak.num(cs.constituents(min_pt=min_pt), axis=2)
        index = cs.constituent_index(min_pt=min_pt) if return_constituents else None
    jpt = np.hypot(jets.px, jets.py)
    with np.errstate(divide="ignore", invalid="ignore"):
        jeta = np.arcsinh(jets.pz / jpt)
    jphi = np.arctan2(jets.py, jets.px)
    m2 = jets.E**2 - jets.px**2 - jets.py**2 - jets.pz**2
    fields = {"pt": jpt, "eta": jeta, "phi": jphi, "energy": jets.E, "mass": np.sqrt(np.maximum(m2, 0.0)),
              "n_constituents": nconst}
    if return_constituents:
        fields["constituents"] = _input_indices(index, keep)
    out = ak.zip(fields, depth_limit=2)
    return out[ak.argsort(out.pt, ascending=False)]


def _input_indices(index: ak.Array, keep: ak.Array) -> ak.Array:
    """Map FastJet's constituent indices (into the kept particles) back to the input particles."""
    kept = ak.to_numpy(ak.flatten(ak.local_index(keep)[keep]))
    start = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.sum(keep, axis=1)))])[:-1]
    n_jets = ak.to_numpy(ak.num(index, axis=1))
    n_const = ak.to_numpy(ak.flatten(ak.num(index, axis=2)))
    event = np.repeat(np.repeat(np.arange(len(n_jets)), n_jets), n_const)
    flat = kept[ak.to_numpy(ak.flatten(index, axis=None)).astype(np.int64) + start[event]]
    return ak.unflatten(ak.unflatten(flat, n_const), n_jets)


def match_jets(reco: ak.Array, gen: ak.Array, dr_max: float = 0.2) -> ak.Array:
    """For every gen jet, the index of the closest reco jet within ``dr_max`` (-1 if none).

    Matching is unique and greedy: the globally closest pair is matched first.
    """
    out = []
    for r, g in zip(ak.to_list(reco[["eta", "phi"]]), ak.to_list(gen[["eta", "phi"]])):
        idx = np.full(len(g), -1, dtype=np.int64)
        if r and g:
            re = np.array([[j["eta"], j["phi"]] for j in r])
            ge = np.array([[j["eta"], j["phi"]] for j in g])
            d = delta_r(ge[:, None, 0], ge[:, None, 1], re[None, :, 0], re[None, :, 1])
            pairs = np.argwhere(d < dr_max)
            order = np.argsort(d[pairs[:, 0], pairs[:, 1]], kind="stable")
            used_r = set()
            for gi, ri in pairs[order]:
                if idx[gi] < 0 and ri not in used_r:
                    idx[gi] = ri
                    used_r.add(ri)
        out.append(idx)
    return ak.Array(out)
