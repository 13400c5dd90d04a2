import numpy as np
import pytest

from colliderflow.pf.calibration import HadronCalibration, fit_calibration, load_calibration


def _sample(n, rng):
    e_true = np.exp(rng.uniform(np.log(2), np.log(500), n))
    eta = rng.uniform(-2.8, 2.8, n)
    f_ecal = np.where(rng.random(n) < 0.4, 0.0, rng.uniform(0.1, 0.6, n))
    # known detector: ECAL responds 0.8, HCAL 0.5, 5% smearing
    e_ecal = 0.8 * f_ecal * e_true
    e_hcal = 0.5 * (1 - f_ecal) * e_true
    smear = rng.normal(1, 0.05, n)
    return e_ecal * smear, e_hcal * smear, eta, e_true


def test_fit_recovers_known_response():
    rng = np.random.default_rng(1)
    calib = fit_calibration(*_sample(60000, rng))
    e_ecal, e_hcal, eta, e_true = _sample(5000, rng)
    ratio = calib.energy(e_ecal, e_hcal, eta) / e_true
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)
    h_only = e_ecal == 0
    assert np.median(ratio[h_only]) == pytest.approx(1.0, abs=0.02)
    # resolution: 5% constant smearing, no stochastic term to speak of
    assert calib.constant["barrel"] == pytest.approx(0.05, abs=0.015)


def test_json_roundtrip(tmp_path):
    calib = fit_calibration(*_sample(20000, np.random.default_rng(2)))
    calib.save(tmp_path / "c.pfcalib.json")
    back = load_calibration(tmp_path / "c.pfcalib.json")
    x = (np.array([1.0, 10.0]), np.array([5.0, 50.0]), np.array([0.3, 2.0]))
    assert np.allclose(back.energy(*x), calib.energy(*x))


def test_zero_energy_is_zero():
    calib = fit_calibration(*_sample(20000, np.random.default_rng(3)))
    assert calib.energy([0.0], [0.0], [0.0])[0] == 0.0


def test_missing_calibration_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="colliderflow pf-calibrate"):
        load_calibration("no-such-card")


def test_wrong_version(tmp_path):
    path = tmp_path / "c.pfcalib.json"
    path.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="calibration version 99"):
        load_calibration(path)


def test_shipped_cards_have_calibrations():
    for card in ("cms-like", "fine-calo"):
        calib = load_calibration(card)
        assert isinstance(calib, HadronCalibration)
        # a 50 GeV hadron showering in the HCAL only: calibrated close to 50 GeV for ~0.7 response
        assert 40 < calib.energy([0.0], [35.0], [0.2])[0] < 80
