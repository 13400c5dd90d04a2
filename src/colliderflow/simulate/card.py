"""Detector cards: a YAML file of overrides on typed, CMS-like defaults (like a Delphes card).

A card names every subsystem's configuration. Shipped cards live in ``simulate/cards/``:
``cms-like`` (the CMS Run-3 detector) and ``fine-calo`` (a different detector: finer calorimeter
cells, a lighter, more precise tracker) for retraining and fine-tuning studies. See
docs/detector.md for every field.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from colliderflow.simulate.calo_config import EcalConfig, HcalConfig, HfConfig
from colliderflow.simulate.clustering import ClusteringConfig
from colliderflow.simulate.geometry import Geometry
from colliderflow.simulate.material import MaterialConfig
from colliderflow.simulate.muons import MuonConfig
from colliderflow.simulate.tracking import TrackerConfig
from colliderflow.utils.config import ConfigError, from_dict, to_dict

__all__ = ["DetectorCard", "load_card", "shipped_cards", "card_hash"]


@dataclass(frozen=True)
class DetectorCard:
    """A complete detector description."""

    name: str = "cms-like"
    description: str = ""
    geometry: Geometry = field(default_factory=Geometry)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    material: MaterialConfig = field(default_factory=MaterialConfig)
    muon: MuonConfig = field(default_factory=MuonConfig)
    ecal: EcalConfig = field(default_factory=EcalConfig)
    hcal: HcalConfig = field(default_factory=HcalConfig)
    hf: HfConfig = field(default_factory=HfConfig)
    clustering: ClusteringConfig = field(default_factory=ClusteringConfig)

    def to_dict(self) -> dict:
        return to_dict(self)


def shipped_cards() -> dict[str, Path]:
    """Names and paths of the cards shipped with the package."""
    folder = resources.files("colliderflow.simulate") / "cards"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def load_card(name_or_path: str | os.PathLike) -> DetectorCard:
    """Load a shipped card by name (``cms-like``) or a card file by path."""
    cards = shipped_cards()
    path = cards.get(str(name_or_path)) or Path(name_or_path)
    if not path.exists():
        raise ConfigError(f"detector card {str(name_or_path)!r}: not a shipped card ({sorted(cards)}) nor a file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    return from_dict(DetectorCard, data, where=str(path))


def card_hash(card: DetectorCard) -> str:
    """A short digest of the resolved card, stored with every dataset."""
    blob = json.dumps(card.to_dict(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
