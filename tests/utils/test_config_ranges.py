"""Range checks on configuration values: the mechanism, a table of bad values across every kind of
config, the shipped cards and configs, and a guard that every numeric config field has a range."""

import ast
import dataclasses
import importlib
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from colliderflow.simulate.card import DetectorCard, load_card, shipped_cards
from colliderflow.utils.config import (
    RANGE_KEY, ConfigError, RangeChecked, RangeError, bounded, fraction, from_dict, load_config, non_negative,
    positive,
)

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src" / "colliderflow"

#: every config dataclass with numeric settings, "module:Class"; each must be RangeChecked and give
#: every numeric field a range (test_every_numeric_field_has_a_range)
CONFIGS = (
    "colliderflow.simulate.geometry:Geometry",
    "colliderflow.simulate.tracking:TrackerConfig",
    "colliderflow.simulate.material:MaterialConfig",
    "colliderflow.simulate.muons:MuonConfig",
    "colliderflow.simulate.calo_config:EcalConfig",
    "colliderflow.simulate.calo_config:HcalConfig",
    "colliderflow.simulate.calo_config:HfConfig",
    "colliderflow.simulate.clustering:ClusteringConfig",
    "colliderflow.pf.algorithm:PFConfig",
    "colliderflow.pf.links:LinkConfig",
    "colliderflow.pf.pileup:VertexConfig",
    "colliderflow.pf.pileup:PuppiRegion",
    "colliderflow.pf.pileup:PuppiConfig",
    "colliderflow.generate.source:GenerationConfig",
    "colliderflow.generate.guns:GunConfig",
    "colliderflow.generate.pileup:BeamSpot",
    "colliderflow.generate.pileup:PileupRange",
    "colliderflow.dataset.build:DatasetConfig",
    "colliderflow.nano.nanogen:NanoGenConfig",
    "colliderflow.nano.gen:GenConfig",
    "colliderflow.nano.reco:RecoConfig",
    "colliderflow.mlpf.model:MLPFConfig",
    "colliderflow.mlpf.loss:LossConfig",
    "colliderflow.mlpf.infer:InferenceConfig",
    "colliderflow.mlpf.train:DataConfig",
    "colliderflow.mlpf.train:OptimConfig",
    "colliderflow.mlpf.train:TrainConfig",
    "colliderflow.flashsim.train:NetConfig",
    "colliderflow.flashsim.train:FlashSimTrainConfig",
    "colliderflow.flashsim.sample:SampleConfig",
    "colliderflow.flashsim.validate:ValidateConfig",
    "colliderflow.flashsim.transforms:TargetSpec",
    "colliderflow.flashsim.sources:ModelSpec",
)
#: configs with required fields, and what to build them from
_REQUIRED = {"PuppiRegion": dict(eta_max=2.5, use_charged=True, ptcut=0.0, ptcut_slope=0.0),
             "TargetSpec": dict(name="pt", kind="log"), "ModelSpec": dict(name="m", collection="Jet",
                                                                         source="GenJet", max_multiplicity=2)}


def _load(ref: str) -> type:
    module, name = ref.split(":")
    if module.startswith(("colliderflow.mlpf.model", "colliderflow.mlpf.loss", "colliderflow.mlpf.train",
                          "colliderflow.flashsim.train", "colliderflow.flashsim.sample")):
        pytest.importorskip("torch")
    return getattr(importlib.import_module(module), name)


# ------------------------------------------------------------------------------------ mechanism

@dataclass(frozen=True)
class _Toy(RangeChecked):
    width: float = positive(1.0)
    noise: float = non_negative(0.1)
    efficiency: float = fraction(0.9)
    table: tuple[float, ...] = positive((1.0, 2.0))
    low: float = bounded(-1.0, ge=-10, le=10)
    high: float = bounded(2.0, gt="low", le=10)
    cap: int | None = bounded(None, ge=1)
    drop: float = bounded(0.0, ge=0, lt=1, note="a dropout")


@dataclass(frozen=True)
class _Outer:
    toy: _Toy = dataclasses.field(default_factory=_Toy)
    toys: tuple[_Toy, ...] = ()


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(width=0.0), "_Toy.width = 0.0 is out of range: must be > 0"),
    (dict(noise=-0.1), "_Toy.noise = -0.1 is out of range: must be >= 0"),
    (dict(efficiency=1.5), "_Toy.efficiency = 1.5 is out of range: must be in [0, 1]"),
    (dict(table=(1.0, -2.0)), "_Toy.table[1] = -2.0 is out of range: must be > 0"),
    (dict(low=-11.0), "_Toy.low = -11.0 is out of range: must be in [-10, 10]"),
    (dict(high=-2.0), "_Toy.high = -2.0 is out of range: must be > low (-1.0) and <= 10"),
    (dict(cap=0), "_Toy.cap = 0 is out of range: must be >= 1"),
    (dict(drop=1.0), "_Toy.drop = 1.0 is out of range: must be in [0, 1) (a dropout)"),
    (dict(width=math.nan), "_Toy.width = nan is out of range: must be a finite number > 0"),
    (dict(noise=math.inf), "_Toy.noise = inf is out of range: must be a finite number >= 0"),
    (dict(noise="0.1"), "_Toy.noise = '0.1' is out of range: must be a finite number >= 0"),
    # a bad field is named before the fields compared with it
    (dict(low=math.nan, high=1.0), "_Toy.low = nan is out of range"),
])
def test_range_check_in_code(kwargs, message):
    with pytest.raises(RangeError) as err:
        _Toy(**kwargs)
    assert str(err.value).startswith(message)
    assert isinstance(err.value, ConfigError) and isinstance(err.value, ValueError)


def test_unset_optional_and_defaults_pass():
    assert _Toy(cap=None, high=10.0, efficiency=0.0, noise=0.0).cap is None
    assert dataclasses.replace(_Toy(), width=3.0).width == 3.0


def test_from_dict_names_the_nested_path():
    with pytest.raises(RangeError, match=r"^card\.yaml\.toy\.noise = -1\.0 is out of range: must be >= 0$"):
        from_dict(_Outer, {"toy": {"noise": -1}}, where="card.yaml")
    with pytest.raises(RangeError, match=r"^card\.yaml\.toys\[1\]\.table\[0\] = 0\.0 is out of range"):
        from_dict(_Outer, {"toys": [{}, {"table": [0, 1]}]}, where="card.yaml")


def test_bounded_takes_one_bound_per_side():
    with pytest.raises(TypeError):
        bounded(1.0, gt=0, ge=0)


# ----------------------------------------------------------------------------- bad-value table

_SHORT_ECAL_RESPONSE = [0.895, 0.902, 0.923, 0.937, 0.958, 0.981, 0.987, 0.989, 0.985, -0.5]

#: (config, dotted key, bad value, the field path the message must name (default: the key))
BAD = [
    # detector card, every subsystem
    ("card", "geometry.b_field", 0.0, None),
    ("card", "geometry.ecal_radius", 100.0, None),             # inside the tracker (110 cm)
    ("card", "geometry.hf_eta_max", 2.0, None),                # below hf_eta_min
    ("card", "geometry.tracker_eta_max", 12.0, None),
    ("card", "geometry.calo_eta_max", math.nan, None),
    ("card", "tracker.hit_efficiency", 1.5, None),
    ("card", "tracker.pt_res_a", [0.009, 0.01, -0.013, 0.018, 0.022, 0.03], "tracker.pt_res_a[2]"),
    ("card", "tracker.min_hits", 0, None),
    ("card", "tracker.fake_rate", -0.01, None),
    ("card", "tracker.layer_radii", [-2.9] + [6.8] * 13, "tracker.layer_radii[0]"),
    ("card", "material.radiation_lengths", [0.4, 0.5, -0.85, 1.4, 1.8, 1.65, 1.45, 1.0, 0.8, 0.5],
     "material.radiation_lengths[2]"),
    ("card", "material.nuclear_invisible_fraction", 1.0, None),
    ("card", "material.max_brem_photons", 9, None),
    ("card", "muon.station_efficiency", -0.1, None),
    ("card", "muon.threshold_p", [3.0, -4.0, 5.0], "muon.threshold_p[1]"),
    ("card", "ecal.stochastic", -0.03, None),
    ("card", "ecal.noise_barrel", -0.01, None),
    ("card", "ecal.hadron_response", 1.5, None),
    ("card", "ecal.barrel_phi_cells", 0, None),
    ("card", "ecal.moliere_radius", 0.0, None),
    ("card", "ecal.response_barrel", _SHORT_ECAL_RESPONSE, "ecal.response_barrel[9]"),
    ("card", "hcal.lambda_cm", -18.0, None),
    ("card", "hcal.em_fraction_exponent", 1.2, None),
    ("card", "hcal.phi_towers", 0, None),
    ("card", "hf.short_fraction_em", 1.5, None),
    ("card", "hf.noise", -0.15, None),
    ("card", "hf.cell_deta", 0.0, None),
    ("card", "clustering.tolerance", 0.0, None),
    ("card", "clustering.min_fraction", 2.0, None),
    ("card", "clustering.hcal_seed", -1.0, None),
    # MLPF training
    ("colliderflow.mlpf.train:TrainConfig", "optim.lr", 0.0, None),
    ("colliderflow.mlpf.train:TrainConfig", "optim.grad_clip", -1.0, None),
    ("colliderflow.mlpf.train:TrainConfig", "model.dropout", 1.0, None),
    ("colliderflow.mlpf.train:TrainConfig", "model.num_heads", 0, None),
    ("colliderflow.mlpf.train:TrainConfig", "data.val_fraction", 1.5, None),
    ("colliderflow.mlpf.train:TrainConfig", "loss.pt", -1.0, None),
    ("colliderflow.mlpf.train:TrainConfig", "checkpoint_every", 0, None),
    ("colliderflow.mlpf.train:TrainConfig", "seed", -1, None),
    ("colliderflow.mlpf.infer:InferenceConfig", "binary_threshold", 1.5, None),
    # PF
    ("colliderflow.pf.reconstruct:PFRecoConfig", "puppi.r_min", 0.5, None),          # above r0
    ("colliderflow.pf.reconstruct:PFRecoConfig", "puppi.regions",
     [{"eta_max": 2.5, "use_charged": True, "ptcut": -1.0, "ptcut_slope": 0.0}], "puppi.regions[0].ptcut"),
    ("colliderflow.pf.reconstruct:PFRecoConfig", "pf.hadron_max_ecal_fraction", 1.5, None),
    ("colliderflow.pf.reconstruct:PFRecoConfig", "pf.ele_eop_max", 0.5, None),         # below ele_eop_min
    ("colliderflow.pf.reconstruct:PFRecoConfig", "link.n_sigma", 0.0, None),
    ("colliderflow.pf.reconstruct:PFRecoConfig", "vertex.min_tracks", 0, None),
    # FlashSim
    ("colliderflow.flashsim.train:FlashSimTrainConfig", "net.lr", 0.0, None),
    ("colliderflow.flashsim.train:FlashSimTrainConfig", "net.batch_size", 0, None),
    ("colliderflow.flashsim.train:FlashSimTrainConfig", "val_fraction", 0.0, None),
    ("colliderflow.flashsim.sample:SampleConfig", "oversample", 0, None),
    ("colliderflow.flashsim.validate:ValidateConfig", "auc_target", 0.4, None),
    # datasets and generation
    ("colliderflow.dataset.build:DatasetConfig", "events", 0, None),
    ("colliderflow.dataset.build:DatasetConfig", "generation.sqrt_s", -14.0, None),
    ("colliderflow.dataset.build:DatasetConfig", "generation.pileup", {"low": 10, "high": 5},
     "generation.pileup.high"),
    ("colliderflow.dataset.build:DatasetConfig", "generation.beam_spot.sigma_z", -1.0, None),
    ("colliderflow.nano.nanogen:NanoGenConfig", "chunk_size", 0, None),
    ("colliderflow.dataset.build:DatasetConfig", "generation", {"process": "gun", "gun": {"pt_min": 0.0}},
     "generation.gun.pt_min"),
    # nano object selections
    ("colliderflow.nano.reco:RecoConfig", "jet_radius", 0.0, None),
    ("colliderflow.nano.gen:GenConfig", "jet_max_eta", -1.0, None),
]


def _nest(dotted: str, value) -> dict:
    data: dict = {}
    node = data
    keys = dotted.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return data


@pytest.mark.parametrize(("config", "key", "value", "field"), BAD, ids=[f"{r[0].split(':')[-1]}-{r[1]}" for r in BAD])
def test_bad_value_is_a_one_line_error_naming_the_field(tmp_path, config, key, value, field):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_nest(key, value)))
    with pytest.raises(ConfigError) as err:
        if config == "card":
            load_card(path)
        else:
            load_config(_load(config), path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}.{field or key} = "), message
    assert "is out of range: must be" in message


# ----------------------------------------------------------------------------- what ships loads

@pytest.mark.parametrize("name", sorted(shipped_cards()))
def test_shipped_cards_load(name):
    assert load_card(name).name == name


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    ref = ("colliderflow.flashsim.train:FlashSimTrainConfig" if path.name.startswith("flashsim")
           else "colliderflow.mlpf.train:TrainConfig")
    load_config(_load(ref), path)


@pytest.mark.parametrize("ref", CONFIGS, ids=lambda r: r.split(":")[-1])
def test_defaults_pass_their_ranges(ref):
    cls = _load(ref)
    cls(**_REQUIRED.get(cls.__name__, {}))


def test_shipped_instances_pass_their_ranges():
    from colliderflow.flashsim.sources import MODELS
    from colliderflow.pf.pileup import DEFAULT_REGIONS

    assert DEFAULT_REGIONS and MODELS  # built at import: their construction ran the checks
    assert from_dict(DetectorCard, DetectorCard().to_dict()) == DetectorCard()


# ------------------------------------------------------------------------------------- coverage

def _numeric(hint) -> bool:
    """Whether a field type holds numbers (int, float, optional or tuples of them; not bool)."""
    args = typing.get_args(hint)
    if hint in (int, float):
        return True
    if typing.get_origin(hint) in (tuple, typing.Union) or type(hint).__name__ == "UnionType":
        return any(_numeric(a) for a in args if a is not Ellipsis)
    return False


@pytest.mark.parametrize("ref", CONFIGS, ids=lambda r: r.split(":")[-1])
def test_every_numeric_field_has_a_range(ref):
    cls = _load(ref)
    assert issubclass(cls, RangeChecked), f"{cls.__name__} does not check ranges"
    hints = typing.get_type_hints(cls)
    unchecked = [f.name for f in dataclasses.fields(cls) if _numeric(hints[f.name]) and RANGE_KEY not in f.metadata]
    assert not unchecked, f"{cls.__name__}: numeric fields without a range: {unchecked}"


def _config_dataclasses() -> dict[str, list[str]]:
    """Class name -> field annotations of every ``@dataclass`` named ``*Config`` in the package."""
    found = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Config") and any(
                    "dataclass" in ast.unparse(d) for d in node.decorator_list):
                found[node.name] = [ast.unparse(s.annotation) for s in node.body if isinstance(s, ast.AnnAssign)]
    return found


def test_every_config_with_numbers_is_covered():
    covered = {ref.split(":")[1] for ref in CONFIGS}
    configs = _config_dataclasses()
    assert {"TrackerConfig", "TrainConfig", "PuppiConfig"} <= set(configs)
    missing = sorted(name for name, annotations in configs.items()
                     if name not in covered and any(re.search(r"\b(int|float)\b", a) for a in annotations))
    assert not missing, f"config dataclasses with numeric fields missing from CONFIGS: {missing}"


def test_detector_doc_lists_the_ranges():
    """docs/detector.md's field reference shows each card field's range as declared."""
    hints = typing.get_type_hints(DetectorCard)
    cls, rows = None, 0
    for line in (ROOT / "docs" / "detector.md").read_text().splitlines():
        if (m := re.match(r"^### `(\w+)` \(", line)) and m.group(1) in hints:
            cls = hints[m.group(1)]
        elif line.startswith("## ") and cls is not None:
            break
        elif cls is not None and line.startswith("| `"):
            name, _, shown = (c.strip(" `|") for c in line.split(" | ")[:3])
            f = {f.name: f for f in dataclasses.fields(cls)}[name]
            spec = f.metadata.get(RANGE_KEY)
            rule = "true/false" if spec is None else spec.rule()
            if isinstance(f.default, tuple):
                rule = f"each {rule}"
            assert shown == rule, f"{cls.__name__}.{name}: docs say {shown!r}, the field {rule!r}"
            rows += 1
    assert rows == sum(len(dataclasses.fields(t)) for k, t in hints.items() if dataclasses.is_dataclass(t))
