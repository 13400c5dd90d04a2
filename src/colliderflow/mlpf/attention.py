"""Attention over the elements of an event: dense, and local windows in eta-phi (linear in N).

Dense attention (:class:`DenseAttention`) lets every element attend to every other one: its cost
grows as N^2 and, without a pairwise term, it has to find neighbours in eta-phi from dot products
of embedded coordinates, which it does poorly.

Window attention (:class:`WindowAttention`) follows the serialised-patch idea of Point
Transformer V3 (Wu et al., arXiv:2312.10035) and the locality-sensitive bucketing of HEPT
(Miao et al., arXiv:2402.12535) and GNN-LSH (the MLPF paper, seed 002, section 5.3): the elements
are sorted along a space-filling (Morton, "Z-order") curve in (eta, phi) at the calorimeter
surface, cut into windows of ``W`` consecutive elements, and attend only within their window.
Consecutive blocks use different curves (transposed and half-cell shifted grids, the
phi = +-pi seam moved), so that neighbours split by a window edge in one block share a window in
another. Cost and memory grow as N * W.

Inside a window the attention logits get a learnt per-head bias from pairwise features, as the
Particle Transformer (Qu, Li, Qian, arXiv:2202.03772) does: the separation in eta and phi, log
Delta R, log k_T = log(min(pT_i, pT_j) Delta R) and the two element types. This is what lets a
cluster weigh the tracks that point at it against its own energy.

Everything is exact about padding: padding elements (type 0) sort after all real elements, are
masked as keys, and a real element's window does not depend on how much the event is padded or
which events share its batch. The graph exports to ONNX with standard operators (TopK for the
sort, Gather, MatMul, Softmax) and dynamic B and N.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colliderflow.schema.elements import ELEMENT_TRACK

__all__ = ["N_ORDERS", "PAIR_FEATURES", "calo_positions", "serialization_key", "window_partition",
           "pair_features", "PairBias", "DenseAttention", "WindowAttention", "window_layout"]

#: number of distinct serialisation curves cycled through by consecutive blocks
N_ORDERS = 4
#: number of pairwise features per (query, key) pair before the type one-hots
PAIR_FEATURES = 4
#: Morton grid: 2^_BITS cells in eta over [-_ETA_MAX, _ETA_MAX] and in phi over 2 pi
_BITS = 8
_ETA_MAX = 5.5
_PAD_CODE = float(2 ** (2 * _BITS))  # larger than every real code: padding sorts last
_NEG = -1.0e9  # additive logit for masked keys (finite: a window of padding only stays NaN-free)


def _wrap_phi(dphi: Tensor) -> Tensor:
    """Angle difference wrapped into [-pi, pi) with elementary operations (ONNX friendly)."""
    return dphi - 2 * math.pi * torch.floor((dphi + math.pi) / (2 * math.pi))


def calo_positions(X: Tensor, eta_ecal: int, phi_ecal: int) -> tuple[Tensor, Tensor]:
    """(eta, phi) of every element at the calorimeter surface, each (B, N).

    Clusters use their own position; tracks their extrapolation to the ECAL surface
    (columns ``eta_ecal``/``phi_ecal``), or their vertex direction when the track does not reach
    the ECAL (both columns zero, e.g. looping low-pT tracks).
    """
    eta, phi = X[..., 2], X[..., 3]
    e_ecal, p_ecal = X[..., eta_ecal], X[..., phi_ecal]
    use = (X[..., 0] == ELEMENT_TRACK) & ((e_ecal != 0) | (p_ecal != 0))
    return torch.where(use, e_ecal, eta), torch.where(use, p_ecal, phi)


def _morton(qa: Tensor, qb: Tensor) -> Tensor:
    """Interleave the bits of two integer-valued float tensors in [0, 2^_BITS): a at even bits."""
    code = torch.zeros_like(qa)
    fa, fb = qa, qb
    for k in range(_BITS):
        na, nb = torch.floor(fa / 2), torch.floor(fb / 2)
        code = code + (fa - 2 * na) * float(4 ** k) + (fb - 2 * nb) * float(2 * 4 ** k)
        fa, fb = na, nb
    return code


def serialization_key(eta: Tensor, phi: Tensor, mask: Tensor, order: int) -> Tensor:
    """(B, N) int64 sort keys along serialisation curve ``order`` (0..N_ORDERS-1); unique per event.

    Orders 0/1 use the (eta, phi) and (phi, eta) Morton curves; 2/3 the same on a grid shifted by
    half a cell in both coordinates with the phi seam moved by pi/2. Padding (``mask`` False)
    gets the largest keys. Ties are broken by the element index.
    """
    shift = 0.5 if order >= 2 else 0.0
    n_cells = float(2 ** _BITS)
    ua = (eta + _ETA_MAX) / (2 * _ETA_MAX) * n_cells + shift
    phi_shifted = _wrap_phi(phi + (math.pi / 2 if order >= 2 else 0.0)) + math.pi  # [0, 2 pi)
    ub = phi_shifted / (2 * math.pi) * n_cells + shift
    qa = torch.floor(ua).clamp(0, n_cells - 1)
    qb = torch.floor(ub).clamp(0, n_cells - 1)
    code = _morton(qa, qb) if order % 2 == 0 else _morton(qb, qa)
    code = torch.where(mask, code, torch.full_like(code, _PAD_CODE))
    n = eta.shape[1]
    index = torch.arange(n, device=eta.device).unsqueeze(0)               # (1, N)
    return code.to(torch.int64) * n + index                                # (B, N)


def window_partition(key: Tensor, window: int) -> tuple[Tensor, Tensor, Tensor]:
    """Sort by ``key`` and cut into windows.

    Args:
        key: (B, N) int64 unique keys.
        window: W, elements per window.

    Returns:
        ``slots`` (B, P) element index at each of the P = ceil(N / W) * W sorted slots (the last
        slots repeat the last element), ``slot_valid`` (P,) bool, False for the repeated slots,
        and ``inverse`` (B, N) the sorted position of every element.
    """
    n = key.shape[1]
    order = torch.sort(key, dim=1)[1]                                      # (B, N)
    inverse = torch.sort(order, dim=1)[1]                                  # (B, N)
    n_windows = torch.div(n + window - 1, window, rounding_mode="floor")
    # a 0-dim tensor end, which torch's stubs do not list (they take numbers only)
    pos = torch.arange(n_windows * window, device=key.device)  # type: ignore[call-overload]  # (P,)
    src = torch.clamp(pos, max=n - 1)
    return order[:, src], pos < n, inverse


def _gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """x (B, N, ...) gathered along N with index (B, M) -> (B, M, ...).

    Through a flat row index (one ONNX ``Gather``), which every ONNX runtime implements for any
    M, unlike ``GatherElements`` with M > N.
    """
    B, N = x.shape[0], x.shape[1]
    offsets = (torch.arange(B, device=x.device) * N).unsqueeze(1)         # (B, 1)
    flat = x.reshape((-1,) + tuple(x.shape[2:]))                           # (B N, ...)
    # (B, -1, ...), not index.shape: an ONNX Reshape reads a 0 in the shape as "keep this axis"
    return flat[(index + offsets).reshape(-1)].reshape((index.shape[0], -1) + tuple(x.shape[2:]))


def pair_features(eta: Tensor, phi: Tensor, pt: Tensor) -> Tensor:
    """Pairwise geometric features within windows.

    Args:
        eta, phi, pt: (B, nW, W) per slot: calorimeter-surface position and pT (GeV).

    Returns:
        (B, nW, W, W, PAIR_FEATURES): for query i and key j, 5 (eta_i - eta_j),
        5 wrap(phi_i - phi_j), log(Delta R + 1e-3) and log(min(pT_i, pT_j) Delta R + 1e-3).
    """
    deta = eta.unsqueeze(-1) - eta.unsqueeze(-2)                           # (B, nW, W, W)
    dphi = _wrap_phi(phi.unsqueeze(-1) - phi.unsqueeze(-2))
    dr = torch.sqrt(deta * deta + dphi * dphi)
    kt = torch.minimum(pt.unsqueeze(-1), pt.unsqueeze(-2)).clamp(min=0) * dr
    return torch.stack([5 * deta, 5 * dphi, torch.log(dr + 1e-3), torch.log(kt + 1e-3)], dim=-1)


class PairBias(nn.Module):
    """Per-head attention bias from pairwise features and the two element types (ParT's U).

    ``MLP([f_ij, onehot(type_i), onehot(type_j)])`` with the first layer split into its three
    parts, so that the type terms cost one lookup per element instead of a pairwise concatenation.
    One bias serves every block that uses the same windows, as the Particle Transformer shares
    its interaction matrix between blocks.
    """

    def __init__(self, hidden: int, num_heads: int, n_types: int) -> None:
        super().__init__()
        self.geometry = nn.Linear(PAIR_FEATURES, hidden)
        self.query_type = nn.Embedding(n_types + 1, hidden)
        self.key_type = nn.Embedding(n_types + 1, hidden)
        self.out = nn.Linear(hidden, num_heads)

    def forward(self, pairs: Tensor, typ: Tensor) -> Tensor:
        # pairs (B, nW, W, W, PAIR_FEATURES); typ (B, nW, W) long -> (B, nW, H, W, W)
        h = self.geometry(pairs) + self.query_type(typ).unsqueeze(-2) + self.key_type(typ).unsqueeze(-3)
        return self.out(torch.relu(h)).permute(0, 1, 4, 2, 3)


class DenseAttention(nn.Module):
    """Multi-head self-attention over all elements (``F.scaled_dot_product_attention``, key mask)."""

    def __init__(self, width: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.width, self.dropout = num_heads, width, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        # x (B, N, D); key_mask (B, 1, 1, N) bool, True = attend
        B, N, _ = x.shape
        H, D = self.num_heads, self.width  # static, so that traced exports keep B and N dynamic
        q, k, v = self.qkv(x).split(D, dim=-1)                                 # 3 x (B, N, D)
        q, k, v = (t.view(B, N, H, D // H).transpose(1, 2) for t in (q, k, v))  # (B, H, N, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, N, hd)
        return self.proj(y.transpose(1, 2).reshape(B, N, D))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows of a serialisation curve.

    The window layout (sorting, windows, key mask and pairwise bias) is computed once per curve
    by :func:`window_layout` and shared by every block that uses that curve.

    Args:
        width: D. num_heads: H. window: W.
    """

    def __init__(self, width: int, num_heads: int, dropout: float, window: int) -> None:
        super().__init__()
        self.num_heads, self.width, self.dropout, self.window = num_heads, width, dropout, window
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, layout: dict[str, Tensor]) -> Tensor:
        # x (B, N, D)
        B = x.shape[0]
        H, D, W = self.num_heads, self.width, self.window
        qkv = _gather_rows(self.qkv(x), layout["slots"])                      # (B, P, 3D)
        qkv = qkv.reshape(B, -1, W, 3, H, D // H).permute(3, 0, 1, 4, 2, 5)   # (3, B, nW, H, W, hd)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = torch.matmul(q * (1.0 / math.sqrt(D // H)), k.transpose(-1, -2))  # (B, nW, H, W, W)
        attn = torch.softmax(logits + layout["bias"], dim=-1)
        if self.training and self.dropout > 0:
            attn = F.dropout(attn, self.dropout)
        y = torch.matmul(attn, v)                                             # (B, nW, H, W, hd)
        y = y.permute(0, 1, 3, 2, 4).reshape(B, -1, D)                        # (B, P, D) sorted slots
        return self.proj(_gather_rows(y, layout["inverse"]))                  # (B, N, D) original order


def window_layout(eta: Tensor, phi: Tensor, pt: Tensor, typ: Tensor, mask: Tensor, order: int, window: int,
                  pair_bias: PairBias | None) -> dict[str, Tensor]:
    """The windows of curve ``order`` and their additive attention bias.

    Args:
        eta, phi, pt: (B, N) calorimeter-surface position and pT; typ: (B, N) type codes;
        mask: (B, N) bool real elements. pair_bias: the pairwise bias, or None for none.

    Returns:
        ``slots`` (B, P) and ``inverse`` (B, N) of :func:`window_partition`, and ``bias``
        (B, nW, H or 1, W, W): -1e9 on masked keys, plus the pairwise bias.
    """
    B = eta.shape[0]
    slots, slot_valid, inverse = window_partition(serialization_key(eta, phi, mask, order), window)
    valid = _gather_rows(mask, slots) & slot_valid.unsqueeze(0)                # (B, P)
    shape = (B, -1, window)
    key_bias = torch.where(valid, torch.zeros_like(eta[:, :1]), torch.full_like(eta[:, :1], _NEG))
    bias = key_bias.reshape(shape).unsqueeze(2).unsqueeze(3)                    # (B, nW, 1, 1, W)
    if pair_bias is not None:
        def per_slot(t: Tensor) -> Tensor:
            return _gather_rows(t, slots).reshape(shape)                       # (B, nW, W)

        typ_slot = per_slot(typ.round().long().clamp(0, pair_bias.query_type.num_embeddings - 1))
        bias = bias + pair_bias(pair_features(per_slot(eta), per_slot(phi), per_slot(pt)), typ_slot)
    return {"slots": slots, "inverse": inverse, "bias": bias}
