"""The MLPF loss: closed-form values of each term on hand-built events."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from colliderflow.mlpf.loss import LOSS_TERMS, LossConfig, focal_loss, mlpf_loss  # noqa: E402
from colliderflow.schema.elements import ELEMENT_FEATURES  # noqa: E402
from tests.mlpf.test_model import single_thread  # noqa: E402,F401  (autouse fixture)

N_F = len(ELEMENT_FEATURES)
REGRESSION = ("pt", "eta", "sin_phi", "cos_phi", "energy")


def event(cls: list[int], n_pad: int = 2):
    """One event: len(cls) elements (pt 2, eta 0.5, phi 1, E 5) and targets (pt 3, eta 0.4, phi 1.2, E 6)."""
    n = len(cls)
    X = torch.zeros(1, n + n_pad, N_F)
    X[0, :n, 0] = 1.0
    X[0, :n, 1:5] = torch.tensor([2.0, 0.5, 1.0, 5.0])
    target = {name: torch.zeros(1, n + n_pad) for name in ("pt", "eta", "phi", "energy", "pu_frac")}
    target["cls"] = torch.zeros(1, n + n_pad, dtype=torch.long)
    target["cls"][0, :n] = torch.tensor(cls)
    has = target["cls"] > 0
    for name, value in (("pt", 3.0), ("eta", 0.4), ("phi", 1.2), ("energy", 6.0), ("pu_frac", 0.25)):
        target[name][has] = value
    return X, target


def perfect_outputs(X, target, n_classes: int = 8):
    """Raw outputs that reproduce the targets exactly (and confident classification)."""
    cls = target["cls"]
    out = {
        "binary": torch.where(cls > 0, 30.0, -30.0),
        "pid": 30.0 * F.one_hot(cls, n_classes).float(),
        "pileup": torch.zeros_like(target["pt"]),
        "pt": torch.log(target["pt"].clamp(min=1e-4) / X[..., 1].clamp(min=1e-4)),
        "eta": target["eta"] - X[..., 2],
        "sin_phi": torch.sin(target["phi"]) - torch.sin(X[..., 3]),
        "cos_phi": torch.cos(target["phi"]) - torch.cos(X[..., 3]),
        "energy": torch.log(target["energy"].clamp(min=1e-4) / X[..., 4].clamp(min=1e-4)),
    }
    return {k: v * (X[..., 0] != 0) if k != "pid" else v for k, v in out.items()}


def test_perfect_prediction_has_zero_regression_and_classification_loss():
    X, target = event([1, 3, 0, 2])
    terms = mlpf_loss(perfect_outputs(X, target), X, target)
    assert set(terms) == {*LOSS_TERMS, "total"}
    for name in (*REGRESSION, "binary", "pid"):
        assert terms[name].item() == pytest.approx(0.0, abs=1e-10), name
    # soft-label BCE at logit 0 with label 0.25 is log 2, whatever the label
    assert terms["pileup"].item() == pytest.approx(math.log(2.0), rel=1e-6)


def test_terms_are_means_over_their_own_elements():
    X, target = event([1, 0, 0, 0])
    out = perfect_outputs(X, target)
    out["binary"] = torch.zeros_like(out["binary"])    # BCE log 2 on every real element
    out["eta"] = out["eta"] + 0.3 * (target["cls"] > 0)  # error 0.3 on the one particle
    terms = mlpf_loss(out, X, target)
    assert terms["binary"].item() == pytest.approx(math.log(2.0), rel=1e-6)
    assert terms["eta"].item() == pytest.approx(0.09, rel=1e-5)
    cfg = LossConfig()
    assert terms["total"].item() == pytest.approx(sum(getattr(cfg, n) * terms[n].item() for n in LOSS_TERMS), rel=1e-6)


@pytest.mark.parametrize("cls", [[0, 0, 0], []])
def test_no_targets_gives_finite_terms_and_gradients(cls):
    X, target = event(cls)
    out = {k: v.clone().requires_grad_(True) for k, v in perfect_outputs(X, target).items()}
    target["pt"][:] = float("nan")   # ignored values may be garbage
    target["energy"][:] = 0.0
    terms = mlpf_loss(out, X, target)
    for name in ("pid", "pileup", *REGRESSION):
        assert terms[name].item() == 0.0, name
    assert torch.isfinite(terms["total"])
    terms["total"].backward()
    assert all(torch.isfinite(v.grad).all() for v in out.values())


def test_zero_element_pt_and_target_garbage_on_non_particles_stay_finite():
    X, target = event([1, 0])
    X[0, 0, 1] = 0.0        # a track with pt 0: log is guarded
    X[0, 1, 4] = -1.0       # a negative-energy non-particle element
    target["pt"][0, 1] = float("nan")
    out = {k: torch.zeros_like(v).requires_grad_(True) for k, v in perfect_outputs(X, target).items()}
    terms = mlpf_loss(out, X, target)
    assert all(torch.isfinite(v) for v in terms.values())
    terms["total"].backward()
    assert all(torch.isfinite(v.grad).all() for v in out.values())


def test_sqrt_pt_weight():
    X, target = event([1, 1])
    target["pt"][0, :2] = torch.tensor([1.0, 100.0])
    out = perfect_outputs(X, target)
    out["pt"] = out["pt"] + torch.tensor([[0.0, 0.5, 0.0, 0.0]])  # error only on the pT = 100 particle
    weighted = mlpf_loss(out, X, target, LossConfig(sqrt_pt_weight=True))["pt"].item()
    flat = mlpf_loss(out, X, target, LossConfig(sqrt_pt_weight=False))["pt"].item()
    assert flat == pytest.approx(0.25 / 2, rel=1e-5)
    # weights sqrt(pT) = 1, 10 normalised to mean 1: 2/11, 20/11
    assert weighted == pytest.approx(20 / 11 * 0.25 / 2, rel=1e-5)
    # equal errors: the normalised weights leave the mean unchanged
    out["pt"] = perfect_outputs(X, target)["pt"] + 0.5 * (target["cls"] > 0)
    assert mlpf_loss(out, X, target)["pt"].item() == pytest.approx(0.25, rel=1e-5)
    # the angular terms are not weighted
    out["eta"] = out["eta"] + torch.tensor([[0.0, 0.5, 0.0, 0.0]])
    assert mlpf_loss(out, X, target)["eta"].item() == pytest.approx(0.25 / 2, rel=1e-5)


def test_focal_loss_is_cross_entropy_at_gamma_zero():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 7, 8, generator=gen)
    labels = torch.randint(0, 8, (5, 7), generator=gen)
    ce = F.cross_entropy(logits.reshape(-1, 8), labels.reshape(-1), reduction="none").reshape(5, 7)
    torch.testing.assert_close(focal_loss(logits, labels, 0.0), ce)
    assert (focal_loss(logits, labels, 2.0) < ce).all()
    p = torch.softmax(logits, -1).gather(-1, labels[..., None])[..., 0]
    torch.testing.assert_close(focal_loss(logits, labels, 2.0), (1 - p) ** 2 * ce)


def test_pid_term_is_cross_entropy_over_particles_at_gamma_zero():
    X, target = event([1, 0, 4])
    out = perfect_outputs(X, target)
    out["pid"] = torch.randn(out["pid"].shape, generator=torch.Generator().manual_seed(1))
    got = mlpf_loss(out, X, target, LossConfig(focal_gamma=0.0))["pid"].item()
    ce = F.cross_entropy(out["pid"][0, [0, 2]], torch.tensor([1, 4])).item()
    assert got == pytest.approx(ce, rel=1e-6)


def test_loss_config_validation():
    with pytest.raises(ValueError, match="LossConfig.pt"):
        LossConfig(pt=-1.0)
    assert LossConfig.from_dict(LossConfig(eta=3.0).to_dict()) == LossConfig(eta=3.0)
