"""The MLPF transformer: tracks and clusters in, one particle candidate per element out.

After section 5.3 of the CMS MLPF paper (seed 002) and the pileup head of the 2025 MLPF status
slides (seed 000, "PU rejection"):

    X (B, N, F) -> FeatureScaler -> per-type FFN embedding -+-> classification encoder -> binary, pid, pileup
                                                            +-> regression encoder -> pt, eta, sin/cos phi, energy

The regression heads read the regression encoder output concatenated with the classification
encoder output (the classification side knows what the particle is, which sets its calibration).

Padding: rows with ``type == 0`` are padding. They are masked as attention keys and zeroed after
every block, so an event's outputs depend neither on how much it is padded nor on which other
events share its batch. Attention (``colliderflow.mlpf.attention``, chosen by
``MLPFConfig.attention``) is either dense, through ``F.scaled_dot_product_attention`` with a
(B, 1, 1, N) boolean key mask (cost N^2), or local: windows of ``window`` elements along
space-filling curves in eta-phi with a pairwise Delta R / k_T bias (cost N * window).

Columns 0..4 of ``X`` must be ``type, pt, eta, phi, energy`` (``COMMON_FEATURES`` of
``colliderflow.schema.elements``); units GeV and rad. With ``n_features`` other than
``len(ELEMENT_FEATURES)`` the remaining columns are anonymous and only pt and energy are log-scaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from colliderflow.mlpf.attention import (N_ORDERS, DenseAttention, PairBias, WindowAttention, calo_positions,
                                         window_layout)
from colliderflow.schema.elements import ELEMENT_FEATURES
from colliderflow.utils import config as _config

__all__ = ["MLPFConfig", "FeatureScaler", "MLPF", "LOG_FEATURES", "REGRESSION_TARGETS", "MAX_LOG_RATIO",
           "MIN_MOMENTUM", "element_mask", "element_kinematics", "count_parameters"]

#: features sent through sign(x) * log1p(|x|) before standardisation: energies and momenta (GeV,
#: spanning four decades), their uncertainties, heavy-tailed counts and fit quality, and the signed
#: impact parameters (cm; displaced tracks make the tails). Angles, positions, times and
#: shape widths stay linear.
LOG_FEATURES = frozenset({
    "pt", "energy", "px", "py", "pz", "pt_err",
    "e_ecal", "e_hcal", "e_corr", "e_corr_err", "e_layer1", "e_layer2", "e_layer3", "e_layer4",
    "n_cells", "chi2_ndf", "d0", "dz", "d0_err", "dz_err",
})

#: the regression heads, in output order
REGRESSION_TARGETS = ("pt", "eta", "sin_phi", "cos_phi", "energy")
#: |log(target / element)| larger than this is clamped (decode and loss alike): exp(10) ~ 2e4
MAX_LOG_RATIO = 10.0
#: element pt and energy are clamped to at least this (GeV) before taking logs of ratios
MIN_MOMENTUM = 1e-4

_PT, _ETA, _PHI, _ENERGY = 1, 2, 3, 4  # column indices of the common features
_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


@dataclass
class MLPFConfig(_config.RangeChecked):
    """Hyperparameters of :class:`MLPF`; the defaults give about 1.1 M parameters."""

    # F, columns of X
    n_features: int = _config.bounded(len(ELEMENT_FEATURES), ge=5, note="type, pt, eta, phi, energy first")
    n_types: int = _config.positive(5)           # element type codes 1..n_types (0 = padding)
    width: int = _config.positive(128)           # D, embedding and transformer width
    num_heads: int = _config.positive(8)
    num_layers: int = _config.positive(3)        # transformer blocks per encoder
    ffn_dim: int = _config.positive(256)         # hidden width of the transformer FFNs
    dropout: float = _config.bounded(0.0, ge=0, lt=1)
    activation: str = "gelu"                     # "relu" or "gelu"
    n_classes: int = _config.bounded(8, ge=2)    # C, PID classes including 0 = no particle
    attention: str = "dense"                     # "dense" (N^2) or "window" (eta-phi windows, N * window)
    window: int = _config.positive(64)           # W, elements per window (attention = "window")
    pair_hidden: int = _config.non_negative(16)  # pairwise-bias MLP width (attention = "window"; 0 = no bias)
    scaler: str = "global"                       # feature standardisation: "global" or "per_type"
    fused_heads: bool = False                    # one FFN for binary+pid+pileup and one for the regression

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width % self.num_heads:
            raise ValueError(f"MLPFConfig.width: {self.width} is not divisible by num_heads={self.num_heads}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"MLPFConfig.activation: expected one of {sorted(_ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.attention not in ("dense", "window"):
            raise ValueError(f"MLPFConfig.attention: expected 'dense' or 'window', got {self.attention!r}")
        if self.scaler not in ("global", "per_type"):
            raise ValueError(f"MLPFConfig.scaler: expected 'global' or 'per_type', got {self.scaler!r}")

    def to_dict(self) -> dict[str, Any]:
        return _config.to_dict(self)

    def inference_bytes(self, batch: int, n: int, materialised_attention: bool = False) -> float:
        """Estimated peak activation memory of one inference pass over a (batch, n) padded batch, bytes.

        About 24 float32 (batch, n, width) activations are alive in a block; window attention adds
        (batch, heads, n, window) scores and the pairwise-bias MLP (batch, n, window, pair_hidden);
        dense attention adds (batch, heads, n, n) scores where they are materialised (ONNX export;
        PyTorch's fused kernel does not). Measured (peak RSS above the loaded model, one thread):
        window model 448 MB (PyTorch) and 461 MB (ONNX Runtime) at 20,000 elements, estimate 450 MB;
        dense ONNX Runtime about 17 GB at 22,500 elements, estimate 16 GB.
        """
        per_element = 24 * self.width * 4
        if self.attention == "dense":
            per_element += self.num_heads * n * 4 if materialised_attention else 0
        else:
            per_element += 3 * self.num_heads * self.window * 4 + self.window * self.pair_hidden * 4
        return float(batch) * n * per_element

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MLPFConfig:
        """Build from a mapping; unknown keys and wrong types raise ``ConfigError``."""
        return _config.from_dict(cls, data, where="MLPFConfig")


def _finite(x: Tensor) -> Tensor:
    """``x`` with NaN and +-inf replaced by 0 (the model must never propagate them)."""
    return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


def element_mask(X: Tensor) -> Tensor:
    """(B, N) bool: True for real elements, False for padding (``type == 0``, or a non-finite type)."""
    return _finite(X[..., 0]) != 0


def element_kinematics(X: Tensor) -> dict[str, Tensor]:
    """The element quantities the regression targets are relative to, each (B, N).

    ``pt`` and ``energy`` are clamped to at least ``MIN_MOMENTUM`` so that logs of ratios stay
    finite; ``sin_phi``/``cos_phi`` are of the element's phi. Used by decode and by the loss alike.
    """
    X = _finite(X)
    phi = X[..., _PHI]
    return {"pt": X[..., _PT].clamp(min=MIN_MOMENTUM), "eta": X[..., _ETA], "sin_phi": torch.sin(phi),
            "cos_phi": torch.cos(phi), "energy": X[..., _ENERGY].clamp(min=MIN_MOMENTUM)}


def _signed_log(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


class FeatureScaler(nn.Module):
    """Per-feature standardisation with an optional signed-log transform, fitted on real elements.

    ``y = (t(x) - mean) / std`` with ``t(x) = sign(x) log1p(|x|)`` where ``log_mask`` is set and
    ``t(x) = x`` elsewhere. Column 0 (``type``) passes through unchanged, non-finite inputs become
    0, and padding rows come out exactly zero. Buffers travel with the state dict: ``log_mask``
    (F,), and ``mean``, ``std`` of shape (F,) or, with ``n_types``, (n_types + 1, F): one row per
    element type, so that a feature that means something for one type only (a track's momentum
    error, a cluster's depth profile) is standardised over the elements that have it, not
    diluted by the zeros of every other type. Row 0 (padding) stays mean 0, std 1.

    Args:
        feature_names: the F column names; ``log_mask`` is set for names in ``LOG_FEATURES``.
        n_types: None for one set of statistics; the number of element types for per-type ones.
    """

    # buffers (register_buffer), declared for the type checker
    mean: Tensor
    std: Tensor
    log_mask: Tensor

    def __init__(self, feature_names: Sequence[str], n_types: int | None = None) -> None:
        super().__init__()
        n = len(feature_names)
        self.n_types = n_types
        shape = (n,) if n_types is None else (n_types + 1, n)
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))
        self.register_buffer("log_mask", torch.tensor([name in LOG_FEATURES for name in feature_names]))
        self.log_mask[0] = False  # type

    def _transform(self, X: Tensor) -> Tensor:
        return torch.where(self.log_mask, _signed_log(X), X)

    @staticmethod
    def _stats(rows: Tensor, min_std: float) -> tuple[Tensor, Tensor]:
        mean = rows.mean(0)
        std = rows.std(0, unbiased=False)
        std = torch.where(std < min_std, torch.ones_like(std), std)
        mean[0], std[0] = 0.0, 1.0  # type drives the embedding, it is not scaled
        return mean, std

    @torch.no_grad()
    def fit(self, X: Tensor, mask: Tensor | None = None, min_std: float = 1e-6) -> FeatureScaler:
        """Set ``mean`` and ``std`` from the real rows of ``X``.

        Args:
            X: (B, N, F) or (M, F) raw features.
            mask: bool of X's shape minus the last axis; defaults to ``type != 0``.
            min_std: a feature with a smaller spread (constant, or absent) gets std 1.

        Returns:
            self.
        """
        X = _finite(X)
        mask = element_mask(X) if mask is None else mask.bool()
        rows = self._transform(X[mask]).double()  # (M, F)
        if rows.shape[0] == 0:
            raise ValueError("FeatureScaler.fit: no real (type != 0) rows to fit")
        mean, std = self._stats(rows, min_std)
        if self.n_types is None:
            self.mean.copy_(mean)
            self.std.copy_(std)
            return self
        types = X[mask][:, 0].round().long()
        self.mean.zero_()
        self.std.fill_(1.0)
        for t in range(1, self.n_types + 1):
            sel = types == t
            m, s = self._stats(rows[sel], min_std) if int(sel.sum()) > 1 else (mean, std)
            self.mean[t].copy_(m)
            self.std[t].copy_(s)
        return self

    def forward(self, X: Tensor) -> Tensor:
        """(B, N, F) raw features -> (B, N, F) scaled features, zero on padding rows."""
        X = _finite(X)
        mask = element_mask(X)                                      # (B, N)
        if self.n_types is None:
            mean, std = self.mean, self.std                         # (F,)
        else:
            typ = X[..., 0].clamp(0, self.n_types).round().long()   # (B, N)
            mean, std = self.mean[typ], self.std[typ]               # (B, N, F)
        x = (self._transform(X) - mean) / std                       # (B, N, F)
        return x * mask.unsqueeze(-1).to(x.dtype)


def _ffn(n_in: int, n_hidden: int, n_out: int, activation: str) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), _ACTIVATIONS[activation](), nn.Linear(n_hidden, n_out))


class TypeEmbedding(nn.Module):
    """One 2-layer FFN per element type; each element goes through the FFN of its own type.

    Every FFN runs on every element and the type one-hot selects the result: cheaper than a
    gather at these widths, export friendly, and padding (type 0) embeds to exactly 0.
    """

    def __init__(self, config: MLPFConfig) -> None:
        super().__init__()
        self.ffns = nn.ModuleList(_ffn(config.n_features, config.width, config.width, config.activation)
                                  for _ in range(config.n_types))

    def forward(self, x: Tensor, typ: Tensor) -> Tensor:
        # x (B, N, F) scaled features, typ (B, N) float type codes
        out = None
        for t, ffn in enumerate(self.ffns, start=1):
            y = ffn(x) * (typ == t).unsqueeze(-1).to(x.dtype)  # (B, N, D), zero off type t
            out = y if out is None else out + y
        return cast(Tensor, out)  # n_types >= 1: never None


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + MHA(LN(x)), then x + FFN(LN(x)).

    ``context`` is the (B, 1, 1, N) key mask for dense attention, the window layout of
    :meth:`WindowAttention.layout` for window attention.
    """

    def __init__(self, config: MLPFConfig) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.width)
        self.attn: DenseAttention | WindowAttention
        if config.attention == "dense":
            self.attn = DenseAttention(config.width, config.num_heads, config.dropout)
        else:
            self.attn = WindowAttention(config.width, config.num_heads, config.dropout, config.window)
        self.ln_ffn = nn.LayerNorm(config.width)
        self.ffn = _ffn(config.width, config.ffn_dim, config.width, config.activation)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, context: Any, row_mask: Tensor) -> Tensor:
        # x (B, N, D); row_mask (B, N, 1) float, zeroes padded rows so they stay inert
        x = x + self.drop(self.attn(self.ln_attn(x), context))
        x = x + self.drop(self.ffn(self.ln_ffn(x)))
        return x * row_mask


class Encoder(nn.Module):
    """``num_layers`` blocks and a final LayerNorm; block l uses ``contexts[l % len(contexts)]``."""

    def __init__(self, config: MLPFConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.ln_out = nn.LayerNorm(config.width)

    def forward(self, x: Tensor, contexts: list[Any], row_mask: Tensor) -> Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, contexts[i % len(contexts)], row_mask)
        return self.ln_out(x) * row_mask  # (B, N, D)


class MLPF(nn.Module):
    """The MLPF network; see the module docstring for the layout.

    ``forward`` returns raw head outputs; ``decode`` turns them into physical quantities.
    Fit ``model.scaler`` on training data before training (its buffers are part of the state dict).
    """

    def __init__(self, config: MLPFConfig) -> None:
        super().__init__()
        self.config = config
        D, act = config.width, config.activation
        names = ELEMENT_FEATURES if config.n_features == len(ELEMENT_FEATURES) else \
            ("type", "pt", "eta", "phi", "energy") + tuple(f"f{i}" for i in range(5, config.n_features))
        self.scaler = FeatureScaler(names, config.n_types if config.scaler == "per_type" else None)
        self._calo_columns = (names.index("eta_ecal"), names.index("phi_ecal")) if "eta_ecal" in names else (2, 3)
        self.embed = TypeEmbedding(config)
        self._n_orders = min(N_ORDERS, config.num_layers)
        self.pair_bias = None
        if config.attention == "window" and config.pair_hidden > 0:
            self.pair_bias = nn.ModuleList(PairBias(config.pair_hidden, config.num_heads, config.n_types)
                                           for _ in range(self._n_orders))
        self.encoder_cls = Encoder(config)
        self.encoder_reg = Encoder(config)
        if config.fused_heads:
            # one hidden layer per encoder side: 1/5 of the separate heads' cost, same outputs
            self.heads = nn.ModuleDict({"cls": _ffn(D, D, config.n_classes + 2, act),
                                        "reg": _ffn(2 * D, D, len(REGRESSION_TARGETS), act)})
        else:
            self.heads = nn.ModuleDict({
                "binary": _ffn(D, D, 1, act),
                "pid": _ffn(D, D, config.n_classes, act),
                "pileup": _ffn(D, D, 1, act),
                **{name: _ffn(2 * D, D, 1, act) for name in REGRESSION_TARGETS},
            })

    def forward(self, X: Tensor) -> dict[str, Tensor]:
        """Raw head outputs for a padded batch.

        Args:
            X: (B, N, F) float32 element features in ``ELEMENT_FEATURES`` order, padding rows zero.

        Returns:
            ``binary, pileup, pt, eta, sin_phi, cos_phi, energy`` (B, N) and ``pid`` (B, N, C);
            logits for the first three, log(target/element) for pt and energy, differences
            target - element for eta, sin_phi, cos_phi. All zero on padding rows.
        """
        X = _finite(X)
        mask = element_mask(X)                                                # (B, N)
        mask_f = mask.to(X.dtype)                                             # (B, N)
        row_mask = mask_f.unsqueeze(-1)                                       # (B, N, 1)
        contexts = self._attention_contexts(X, mask)

        x = self.embed(self.scaler(X), X[..., 0])                             # (B, N, D)
        x_cls = self.encoder_cls(x, contexts, row_mask)                       # (B, N, D)
        x_reg = torch.cat([self.encoder_reg(x, contexts, row_mask), x_cls], dim=-1)  # (B, N, 2D)

        if self.config.fused_heads:
            cls = self.heads["cls"](x_cls) * row_mask                          # (B, N, C + 2)
            reg = self.heads["reg"](x_reg) * row_mask                          # (B, N, 5)
            out = {"binary": cls[..., 0], "pileup": cls[..., 1], "pid": cls[..., 2:]}
            out.update({name: reg[..., i] for i, name in enumerate(REGRESSION_TARGETS)})
            return out
        out = {"pid": self.heads["pid"](x_cls) * row_mask}                    # (B, N, C)
        for name in ("binary", "pileup"):
            out[name] = self.heads[name](x_cls)[..., 0] * mask_f               # (B, N)
        for name in REGRESSION_TARGETS:
            out[name] = self.heads[name](x_reg)[..., 0] * mask_f               # (B, N)
        return out

    def _attention_contexts(self, X: Tensor, mask: Tensor) -> list[Any]:
        """What the attention of each block needs: the key mask (dense), or one window layout per
        serialisation curve, shared by the blocks of both encoders that use the curve (window)."""
        if self.config.attention == "dense":
            # an event without real elements attends to its padding instead, so no softmax row is empty
            return [(mask | ~mask.any(dim=-1, keepdim=True))[:, None, None, :]]  # (B, 1, 1, N)
        eta, phi = calo_positions(X, *self._calo_columns)                     # (B, N) each
        return [window_layout(eta, phi, X[..., _PT], X[..., 0], mask, order, self.config.window,
                              cast(PairBias, self.pair_bias[order]) if self.pair_bias is not None else None)
                for order in range(self._n_orders)]

    @staticmethod
    def decode(outputs: dict[str, Tensor], X: Tensor) -> dict[str, Tensor]:
        """Physical per-element predictions from ``forward``'s outputs.

        Returns:
            ``p_binary`` (B, N) probability that the element is a particle's primary element,
            ``pid_prob`` (B, N, C) class probabilities, ``p_pileup`` (B, N) pileup probability,
            ``pt``, ``energy`` (B, N) GeV, ``eta``, ``phi`` (B, N). All zero on padding rows.
        """
        kin = element_kinematics(X)
        mask = element_mask(X).to(kin["pt"].dtype)                           # (B, N)
        sin_phi = kin["sin_phi"] + outputs["sin_phi"]
        cos_phi = kin["cos_phi"] + outputs["cos_phi"]
        decoded = {
            "p_binary": torch.sigmoid(outputs["binary"]),
            "pid_prob": torch.softmax(outputs["pid"], dim=-1) * mask.unsqueeze(-1),  # (B, N, C)
            "p_pileup": torch.sigmoid(outputs["pileup"]),
            "pt": kin["pt"] * torch.exp(outputs["pt"].clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)),
            "eta": kin["eta"] + outputs["eta"],
            "phi": torch.atan2(sin_phi, cos_phi),
            "energy": kin["energy"] * torch.exp(outputs["energy"].clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)),
        }
        return {name: y if name == "pid_prob" else y * mask for name, y in decoded.items()}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)

