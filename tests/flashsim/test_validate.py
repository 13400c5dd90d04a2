"""Axis labels of the FlashSim validation plots carry units."""

from __future__ import annotations

from colliderflow.flashsim.validate import axis_label


def test_axis_labels_carry_units():
    assert axis_label("PuppiMET_pt") == "PuppiMET_pt [GeV]"
    assert axis_label("Jet_mass") == "Jet_mass [GeV]"
    assert axis_label("rho") == "rho [GeV]"
    assert axis_label("PuppiMET_phi") == "PuppiMET_phi [rad]"
    assert axis_label("dz") == "dz [cm]"
    assert axis_label("PV_z") == "PV_z"  # not dz
    assert axis_label("nJet") == "nJet"
    assert axis_label("m(mumu) [GeV]") == "m(mumu) [GeV]"
