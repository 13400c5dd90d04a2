"""The per-element MLPF loss (section 5.3, Eqs. 1-3, of the CMS MLPF paper, seed 002).

Every element carries at most one target particle (the one whose primary element it is).
Terms, each a mean over its own elements in the whole batch (0 when there are none):

* ``binary``: BCE of the ``binary`` logit against ``cls > 0``, over all real elements.
* ``pid``: focal loss (Lin et al., arXiv:1708.02002) of the ``pid`` logits, over elements with a
  particle (``cls > 0``); gamma = 0 gives the plain cross entropy.
* ``pt``, ``energy``: MSE of log(target / element) (Eq. 2), weighted per particle by
  sqrt(pT_target) normalised to mean 1 over the batch's particles, so high-pT particles count more.
* ``eta``, ``sin_phi``, ``cos_phi``: MSE of the differences target - element, over particles.
* ``pileup``: BCE of the ``pileup`` logit against the soft label ``pu_frac`` (the pileup energy
  fraction; seed 000, "PU rejection"), over particles.

Default weights. On 40 simulated ttbar events (14 TeV, cms-like card, no pileup) (scaler fitted, default
MLPFConfig, four random initialisations) the unweighted terms at initialisation are about binary
0.7, pid 1.6, pileup 0.5-0.75 (0.69 with a 50 % pileup label mix), pt 0.3-0.4, energy 0.35-0.5
and eta, sin_phi, cos_phi 0.06-0.12 (untrained head noise plus the true element-to-particle
differences; predicting no correction at all gives pt 0.41, energy 0.47, eta 0.08, sin_phi 0.05).
Weights 1 (binary, pid, pileup), 2 (pt, energy) and 4 (eta, sin_phi, cos_phi) put every weighted
term between 0.2 and 1.8 of a total of about 5.5: pid is the largest at about 30 %, and the
classification terms and the regression terms together are of comparable size, as the paper asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from colliderflow.mlpf.model import MAX_LOG_RATIO, MIN_MOMENTUM, element_kinematics, element_mask
from colliderflow.utils import config as _config

__all__ = ["LossConfig", "LOSS_TERMS", "mlpf_loss", "focal_loss"]

#: the loss terms, in the order ``mlpf_loss`` returns them (then ``total``)
LOSS_TERMS = ("binary", "pid", "pt", "eta", "sin_phi", "cos_phi", "energy", "pileup")


@dataclass
class LossConfig(_config.RangeChecked):
    """Term weights and loss options of :func:`mlpf_loss` (module docstring: why these weights)."""

    binary: float = _config.non_negative(1.0)
    pid: float = _config.non_negative(1.0)
    pt: float = _config.non_negative(2.0)
    eta: float = _config.non_negative(4.0)
    sin_phi: float = _config.non_negative(4.0)
    cos_phi: float = _config.non_negative(4.0)
    energy: float = _config.non_negative(2.0)
    pileup: float = _config.non_negative(1.0)
    focal_gamma: float = _config.non_negative(2.0)
    sqrt_pt_weight: bool = True

    def to_dict(self) -> dict[str, Any]:
        return _config.to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossConfig:
        return _config.from_dict(cls, data, where="LossConfig")


def _masked_mean(values: Tensor, mask: Tensor, weight: Tensor | None = None) -> Tensor:
    """sum(mask * weight * values) / sum(mask); 0 when the mask is empty (never NaN)."""
    if weight is not None:
        values = values * weight
    values = torch.where(mask, values, torch.zeros_like(values))
    return values.sum() / mask.sum().clamp(min=1)


def focal_loss(logits: Tensor, labels: Tensor, gamma: float) -> Tensor:
    """Per-element focal loss -(1 - p_t)^gamma log p_t.

    Args:
        logits: (..., C); labels: (...) long in [0, C).

    Returns:
        (...) losses; equal to the cross entropy when gamma = 0.
    """
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (...)
    if gamma == 0:
        return -log_p
    return -(1.0 - log_p.exp()).clamp(min=0.0).pow(gamma) * log_p


def mlpf_loss(outputs: dict[str, Tensor], X: Tensor, target: dict[str, Tensor],
              config: LossConfig | None = None) -> dict[str, Tensor]:
    """The MLPF loss terms and their weighted sum.

    Args:
        outputs: ``MLPF.forward`` outputs (raw heads), (B, N) each and ``pid`` (B, N, C).
        X: (B, N, F) the input element features (padding rows have type 0).
        target: (B, N) tensors ``cls`` (long, 0 = no particle), ``pt``, ``eta``, ``phi``,
            ``energy`` (GeV, rad) and ``pu_frac`` in [0, 1]; their values on padding and on
            ``cls == 0`` are ignored.
        config: weights and options; ``LossConfig()`` when None.

    Returns:
        scalar tensors ``binary, pid, pt, eta, sin_phi, cos_phi, energy, pileup`` and ``total``.
    """
    config = LossConfig() if config is None else config
    real = element_mask(X)                                                   # (B, N)
    n_classes = outputs["pid"].shape[-1]
    cls = target["cls"].long()
    particle = real & (cls > 0)                                              # (B, N)
    zero = torch.zeros_like(outputs["pt"])

    def target_value(value: Tensor) -> Tensor:
        # targets are constants: make them finite where unused so no NaN reaches a gradient
        return torch.where(particle, value, zero).detach()

    terms: dict[str, Tensor] = {}
    terms["binary"] = _masked_mean(
        F.binary_cross_entropy_with_logits(outputs["binary"], particle.to(zero.dtype), reduction="none"), real)
    labels = torch.where(particle, cls, torch.zeros_like(cls)).clamp(0, n_classes - 1)
    terms["pid"] = _masked_mean(focal_loss(outputs["pid"], labels, config.focal_gamma), particle)

    kin = element_kinematics(X)
    pt_t = target_value(target["pt"].to(zero.dtype)).clamp(min=MIN_MOMENTUM)
    e_t = target_value(target["energy"].to(zero.dtype)).clamp(min=MIN_MOMENTUM)
    phi_t = target_value(target["phi"].to(zero.dtype))
    goals = {
        "pt": torch.log(pt_t / kin["pt"]).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO),
        "eta": target_value(target["eta"].to(zero.dtype)) - kin["eta"],
        "sin_phi": torch.sin(phi_t) - kin["sin_phi"],
        "cos_phi": torch.cos(phi_t) - kin["cos_phi"],
        "energy": torch.log(e_t / kin["energy"]).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO),
    }
    if config.sqrt_pt_weight:
        w = torch.where(particle, pt_t.sqrt(), zero)                        # (B, N)
        w = w / (w.sum() / particle.sum().clamp(min=1)).clamp(min=1e-12)    # mean 1 over particles
    else:
        w = None
    for name, goal in goals.items():
        se = (outputs[name] - target_value(goal)) ** 2
        terms[name] = _masked_mean(se, particle, w if name in ("pt", "energy") else None)

    pu = target_value(target["pu_frac"].to(zero.dtype)).clamp(0.0, 1.0)
    terms["pileup"] = _masked_mean(
        F.binary_cross_entropy_with_logits(outputs["pileup"], pu, reduction="none"), particle)

    terms = {name: terms[name] for name in LOSS_TERMS}
    terms["total"] = sum(getattr(config, name) * value for name, value in terms.items())
    return terms
