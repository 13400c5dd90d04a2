"""The MLPF transformer: tracks and clusters in, one particle candidate per element out.

After section 5.3 of the CMS MLPF paper (seed 002) and the pileup head of the 2025 MLPF status
slides (seed 000, "PU rejection"):

    X (B, N, F) -> FeatureScaler -> per-type FFN embedding -+-> classification encoder -> binary, pid, pileup
                                                            +-> regression encoder -> pt, eta, sin/cos phi, energy

The regression heads read the regression encoder output concatenated with the classification
encoder output (the classification side knows what the particle is, which sets its calibration).

Padding: rows with ``type == 0`` are padding. They are masked as attention keys and zeroed after
every block, so an event's outputs depend neither on how much it is padded nor on which other
events share its batch. Attention goes through ``F.scaled_dot_product_attention`` with a
(B, 1, 1, N) boolean key mask: on CPU PyTorch runs its fused flash kernel, on CUDA the
memory-efficient kernel (the flash kernel takes no mask); neither stores the N x N matrix.

Columns 0..4 of ``X`` must be ``type, pt, eta, phi, energy`` (``COMMON_FEATURES`` of
``colliderflow.simulate.elements``); units GeV and rad. With ``n_features`` other than
``len(ELEMENT_FEATURES)`` the remaining columns are anonymous and only pt and energy are log-scaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colliderflow.simulate.elements import ELEMENT_FEATURES
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
class MLPFConfig:
    """Hyperparameters of :class:`MLPF`; the defaults give about 1.1 M parameters."""

    n_features: int = len(ELEMENT_FEATURES)  # F, columns of X
    n_types: int = 5                         # element type codes 1..n_types (0 = padding)
    width: int = 128                         # D, embedding and transformer width
    num_heads: int = 8
    num_layers: int = 3                      # transformer blocks per encoder
    ffn_dim: int = 256                       # hidden width of the transformer FFNs
    dropout: float = 0.0
    activation: str = "gelu"                 # "relu" or "gelu"
    n_classes: int = 8                       # C, PID classes including 0 = no particle

    def __post_init__(self) -> None:
        for name in ("n_features", "n_types", "width", "num_heads", "num_layers", "ffn_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"MLPFConfig.{name}: expected a positive integer, got {getattr(self, name)}")
        if self.n_features < 5:
            raise ValueError(f"MLPFConfig.n_features: expected >= 5 (type, pt, eta, phi, energy first), "
                             f"got {self.n_features}")
        if self.width % self.num_heads:
            raise ValueError(f"MLPFConfig.width: {self.width} is not divisible by num_heads={self.num_heads}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"MLPFConfig.activation: expected one of {sorted(_ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MLPFConfig.dropout: expected 0 <= dropout < 1, got {self.dropout}")
        if self.n_classes < 2:
            raise ValueError(f"MLPFConfig.n_classes: expected >= 2, got {self.n_classes}")

    def to_dict(self) -> dict[str, Any]:
        return _config.to_dict(self)

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
    0, and padding rows come out exactly zero. Buffers (``mean``, ``std``, ``log_mask``, all (F,))
    travel with the state dict.

    Args:
        feature_names: the F column names; ``log_mask`` is set for names in ``LOG_FEATURES``.
    """

    def __init__(self, feature_names: Sequence[str]) -> None:
        super().__init__()
        n = len(feature_names)
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))
        self.register_buffer("log_mask", torch.tensor([name in LOG_FEATURES for name in feature_names]))
        self.log_mask[0] = False  # type

    def _transform(self, X: Tensor) -> Tensor:
        return torch.where(self.log_mask, _signed_log(X), X)

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
        mean = rows.mean(0)
        std = rows.std(0, unbiased=False)
        std = torch.where(std < min_std, torch.ones_like(std), std)
        mean[0], std[0] = 0.0, 1.0  # type drives the embedding, it is not scaled
        self.mean.copy_(mean)
        self.std.copy_(std)
        return self

    def forward(self, X: Tensor) -> Tensor:
        """(B, N, F) raw features -> (B, N, F) scaled features, zero on padding rows."""
        X = _finite(X)
        mask = element_mask(X)                                      # (B, N)
        x = (self._transform(X) - self.mean) / self.std             # (B, N, F)
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
        return out


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``F.scaled_dot_product_attention`` with a key padding mask."""

    def __init__(self, config: MLPFConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.width = config.width
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.proj = nn.Linear(config.width, config.width)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        # x (B, N, D); key_mask (B, 1, 1, N) bool, True = attend
        B, N, _ = x.shape
        H, D = self.num_heads, self.width  # static, so that traced exports keep B and N dynamic
        q, k, v = self.qkv(x).split(D, dim=-1)                                 # 3 x (B, N, D)
        q, k, v = (t.view(B, N, H, D // H).transpose(1, 2) for t in (q, k, v))  # (B, H, N, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, N, hd)
        y = y.transpose(1, 2).reshape(B, N, D)                                 # (B, N, D)
        return self.proj(y)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + MHA(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, config: MLPFConfig) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.width)
        self.attn = SelfAttention(config)
        self.ln_ffn = nn.LayerNorm(config.width)
        self.ffn = _ffn(config.width, config.ffn_dim, config.width, config.activation)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, key_mask: Tensor, row_mask: Tensor) -> Tensor:
        # x (B, N, D); row_mask (B, N, 1) float, zeroes padded rows so they stay inert
        x = x + self.drop(self.attn(self.ln_attn(x), key_mask))
        x = x + self.drop(self.ffn(self.ln_ffn(x)))
        return x * row_mask


class Encoder(nn.Module):
    """``num_layers`` blocks and a final LayerNorm."""

    def __init__(self, config: MLPFConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.ln_out = nn.LayerNorm(config.width)

    def forward(self, x: Tensor, key_mask: Tensor, row_mask: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x, key_mask, row_mask)
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
        self.scaler = FeatureScaler(names)
        self.embed = TypeEmbedding(config)
        self.encoder_cls = Encoder(config)
        self.encoder_reg = Encoder(config)
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
        # an event without real elements attends to its padding instead, so no softmax row is empty
        key_mask = (mask | ~mask.any(dim=-1, keepdim=True))[:, None, None, :]  # (B, 1, 1, N)

        x = self.embed(self.scaler(X), X[..., 0])                             # (B, N, D)
        x_cls = self.encoder_cls(x, key_mask, row_mask)                       # (B, N, D)
        x_reg = torch.cat([self.encoder_reg(x, key_mask, row_mask), x_cls], dim=-1)  # (B, N, 2D)

        out = {"pid": self.heads["pid"](x_cls) * row_mask}                    # (B, N, C)
        for name in ("binary", "pileup"):
            out[name] = self.heads[name](x_cls)[..., 0] * mask_f               # (B, N)
        for name in REGRESSION_TARGETS:
            out[name] = self.heads[name](x_reg)[..., 0] * mask_f               # (B, N)
        return out

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

