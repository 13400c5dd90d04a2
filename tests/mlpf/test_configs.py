"""Every shipped MLPF training config parses into a valid TrainConfig and builds its model."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from colliderflow.mlpf.model import MLPF, count_parameters  # noqa: E402
from colliderflow.mlpf.train import load_train_config  # noqa: E402

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("mlpf-*.yaml"))


def test_configs_are_found():
    assert any(p.name == "mlpf-cms-like.yaml" for p in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_builds_its_model(path):
    cfg = load_train_config(path)
    assert cfg.data.datasets and cfg.out.startswith("runs/")
    n = count_parameters(MLPF(cfg.model))
    assert 0.2e6 < n < 2e6


def test_shipped_model_is_built_from_the_recipe():
    from colliderflow.mlpf.shipped import shipped_model
    from colliderflow.mlpf.files import load_model

    recipe = load_train_config(Path(__file__).parents[2] / "configs" / "mlpf-cms-like.yaml")
    assert load_model(shipped_model("cms-like")).config == recipe.model
