"""Typed reconstruction settings: headers exactly as the dict settings wrote them, one-line errors.

Candidates written before the settings were typed must still be reused by a resumed run, and
new output must be byte-identical to it: ``to_header()`` must give the dict that the untyped
code (colliderflow 71cae95, copied below as ``_legacy_*``) stored after resolving its defaults.
"""

import json

import pytest

from colliderflow.mlpf.infer import InferenceConfig
from colliderflow.pf.reconstruct import PFRecoConfig
from colliderflow.reconstruct import (MLPFPileupConfig, MLPFSettings, PFSettings, mlpf_pileup_threshold,
                                      reconstruct_dataset, reconstruction_settings, settings_from_header)
from colliderflow.utils.config import ConfigError, from_dict, to_dict


def _legacy_cli_settings(algo, card="cms-like", calibration=None, model="m.pt", backend="torch",
                         binary_threshold=0.5, pileup_threshold=0.9, max_memory_gb=2.0, threads=0, server=None,
                         server_timeout=60.0, sha256="ab" * 32):
    """``reconstruction_settings`` before typed settings (the shipped model replaced by ``model``)."""
    if algo == "pf":
        return {"calibration": calibration or card, "config": {}}
    config = {"backend": backend, "binary_threshold": binary_threshold,
              "pileup_threshold": pileup_threshold, "max_memory_gb": max_memory_gb}
    if server:
        config.update(backend="onnx", server=server, server_timeout=server_timeout)
        return {"model": f"sha256:{sha256}", "config": config}
    if threads:
        config["num_threads"] = threads
    return {"model": str(model), "config": config}


def _legacy_resolve(algo, settings):
    """``_resolve_settings`` before typed settings: the ``settings`` of every output header."""
    if algo == "pf":
        return {**settings, "config": to_dict(from_dict(PFRecoConfig, settings.get("config", {})))}
    return {**settings, "pileup": to_dict(from_dict(MLPFPileupConfig, settings.get("pileup", {})))}


def _same_json(new, old):
    """The header's bytes: ``write_parquet`` stores ``json.dumps(header, sort_keys=True)``."""
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)


@pytest.fixture
def fake_server(monkeypatch):
    """A Triton server that answers with the model's digest (``reconstruct --server``)."""
    from colliderflow.mlpf import client

    class FakeTriton:
        def __init__(self, server, timeout, model=None):
            self.sha256 = "ab" * 32

        def close(self):
            pass

    monkeypatch.setattr(client, "TritonMLPF", FakeTriton)


CLI_CASES = [
    ("pf", {}),
    ("pf", {"calibration": "my.pfcalib.json"}),
    ("mlpf", {}),
    ("mlpf", {"backend": "onnx", "binary_threshold": 0.4, "pileup_threshold": 0.35, "max_memory_gb": 0.5}),
    ("mlpf", {"threads": 4}),
    ("mlpf", {"server": "localhost:8001", "server_timeout": 5.0, "threads": 4}),
]


@pytest.mark.parametrize(("algo", "choices"), CLI_CASES)
def test_command_line_settings_write_the_headers_they_always_wrote(algo, choices, tmp_path, fake_server):
    kwargs = dict(choices, model="m.pt") if algo == "mlpf" else choices
    settings = reconstruction_settings(algo, tmp_path, **kwargs)  # no manifest: the cms-like card
    assert isinstance(settings, PFSettings if algo == "pf" else MLPFSettings) and settings.algo == algo
    legacy = _legacy_resolve(algo, _legacy_cli_settings(algo, **choices))
    _same_json(settings.to_header(), legacy)
    # read back from the header: the same settings, the same header
    assert settings_from_header(algo, legacy) == settings
    assert settings_from_header(algo, legacy).to_header() == legacy


USER_CASES = [
    ("pf", {"calibration": "cms-like"}),
    ("pf", {"calibration": "cms-like", "config": {}}),
    ("pf", {"calibration": "cms-like", "config": {"vertex": {"min_tracks": 3}, "puppi": {"r0": 0.3}}}),
    ("mlpf", {"model": "element-rule.pt", "config": {"pileup_threshold": 0.35}}),
    ("mlpf", {"model": "m.onnx", "config": {"backend": "onnx", "batch_elements": 5000},
              "pileup": {"vertex": {"min_tracks": 3}}}),
    ("mlpf", {"model": "m.pt", "config": {}, "pileup": to_dict(MLPFPileupConfig())}),
]


@pytest.mark.parametrize(("algo", "data"), USER_CASES)
def test_settings_mappings_write_the_headers_they_always_wrote(algo, data):
    settings = settings_from_header(algo, data)
    legacy = _legacy_resolve(algo, data)
    _same_json(settings.to_header(), legacy)
    assert settings_from_header(algo, settings.to_header()) == settings


def test_settings_made_in_code_store_every_value():
    pf = PFSettings("cms-like")
    assert pf.to_header() == {"calibration": "cms-like", "config": to_dict(PFRecoConfig())}
    mlpf = MLPFSettings("m.pt", InferenceConfig(pileup_threshold=0.35))
    assert mlpf.to_header() == {"model": "m.pt", "config": to_dict(InferenceConfig(pileup_threshold=0.35)),
                                "pileup": to_dict(MLPFPileupConfig())}
    assert MLPFSettings.from_header(mlpf.to_header()).to_header() == mlpf.to_header()
    assert mlpf.vertex == mlpf.pileup.vertex and pf.vertex == pf.config.vertex
    # a header may leave out only values at their defaults: it would not say what was computed
    with pytest.raises(ValueError, match=r"\['pileup_threshold'\] differ from their defaults"):
        MLPFSettings("m.pt", InferenceConfig(pileup_threshold=0.35), config_keys=frozenset({"backend"}))
    with pytest.raises(ValueError, match=r"unknown InferenceConfig field\(s\) \['threshold'\]"):
        MLPFSettings("m.pt", config_keys=frozenset({"threshold"}))


@pytest.mark.parametrize(("algo", "data", "message"), [
    ("pf", {"calibration": "cms-like", "calib": "x"}, r"pf settings: unknown key\(s\) \['calib'\]"),
    ("pf", {"calibration": "cms-like", "config": {"vertex": {"min_tracks": "3"}}},
     "pf settings.config.vertex.min_tracks: expected an integer"),
    ("pf", {"calibration": 3}, "pf settings.calibration: expected a string"),
    ("mlpf", {"model": "m.pt", "config": {"binary_threshold": 1.5}},
     r"mlpf settings.config.binary_threshold = 1.5 is out of range: must be in \[0, 1\]"),
    ("mlpf", {"model": "m.pt", "config_keys": ["backend"]}, r"mlpf settings: unknown key\(s\) \['config_keys'\]"),
    ("mlpf", {"model": "m.pt", "pileup": {"puppi": {"nope": 1}}}, r"mlpf settings.pileup.puppi: unknown key"),
    ("mlpf", ["m.pt"], "mlpf settings: expected a mapping"),
])
def test_bad_settings_are_one_line_errors(algo, data, message):
    with pytest.raises(ConfigError, match=message) as err:
        settings_from_header(algo, data)
    assert "\n" not in str(err.value)


def test_unknown_or_mismatched_algorithm_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown reconstruction 'cnn'"):
        settings_from_header("cnn", {})
    with pytest.raises(ValueError, match="PFSettings are settings of 'pf', not of 'mlpf'"):
        reconstruct_dataset(tmp_path / "ds", tmp_path / "out", "mlpf", PFSettings("cms-like"), progress=False)


def test_pileup_threshold_is_read_through_the_typed_settings():
    header = {"algo": "mlpf", "settings": {"model": "m.pt", "config": {"pileup_threshold": 0.35}}}
    assert mlpf_pileup_threshold(header) == 0.35
    with pytest.raises(ConfigError, match="candidates header settings.config.pileup_threshold"):
        mlpf_pileup_threshold({"settings": {"model": "m.pt", "config": {"pileup_threshold": "high"}}})


def test_pf_config_file_sets_puppi_regions_and_bad_files_are_one_line_errors(tmp_path):
    good = tmp_path / "pf.yaml"
    good.write_text("puppi:\n  neutral_pt_max: 60.0\n  regions:\n"
                    "    - {eta_max: 2.5, use_charged: true, ptcut: 0.2, ptcut_slope: 0.05}\n"
                    "    - {eta_max: 5.0, use_charged: false, ptcut: 1.0, ptcut_slope: 0.0}\n")
    s = reconstruction_settings("pf", tmp_path, pf_config=good)
    assert s.config.puppi.neutral_pt_max == 60.0 and len(s.config.puppi.regions) == 2
    assert s.config.puppi.regions[1].ptcut == 1.0
    assert s.to_header()["config"]["vertex"] == to_dict(PFRecoConfig().vertex)  # the rest: defaults
    for text, message in (("puppi: [1, 2", "cannot read PF settings"), ("- 1\n- 2", "PF settings must be a mapping"),
                          ("puppi: {nonsense: 1}", "nonsense")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message) as err:
            reconstruction_settings("pf", tmp_path, pf_config=bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot read PF settings"):
        reconstruction_settings("pf", tmp_path, pf_config=tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="PF's settings"):
        reconstruction_settings("mlpf", tmp_path, model="m.pt", pf_config=good)


def test_mlpf_backend_follows_the_model_file_unless_asked(tmp_path):
    from colliderflow.reconstruct import mlpf_backend

    assert mlpf_backend(None, "runs/x/model.onnx") == "onnx"
    assert mlpf_backend(None, "runs/x/MODEL.ONNX") == "onnx"
    assert mlpf_backend(None, "runs/x/model.pt") == "torch"
    assert mlpf_backend(None, None) == "torch"
    assert mlpf_backend("torch", "runs/x/model.onnx") == "torch"
    assert mlpf_backend("onnx", None) == "onnx"
    # the settings of a .onnx model without a backend run ONNX Runtime, as 'reconstruct --model m.onnx' does
    assert reconstruction_settings("mlpf", tmp_path, model="m.onnx").to_header() == \
        reconstruction_settings("mlpf", tmp_path, model="m.onnx", backend="onnx").to_header()
