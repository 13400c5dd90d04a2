"""Physics processes: the Pythia 8 settings behind each process name.

Tune: Pythia's default Monash 2013 tune (CMS uses CP5, which needs an LHAPDF set that is
not available offline; see docs/generation.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROCESSES", "GUN_PROCESS", "MINBIAS", "process_settings", "common_settings"]

#: process name of single-particle gun samples (generated without Pythia)
GUN_PROCESS = "gun"
#: process name of the minimum-bias events of the pileup pool
MINBIAS = "minbias"


@dataclass(frozen=True)
class _Process:
    description: str
    settings: tuple[str, ...]
    biased: bool = False


PROCESSES: dict[str, _Process] = {
    "ttbar": _Process(
        "inclusive top quark-antiquark pairs",
        ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    ),
    "qcd": _Process(
        "QCD multijet, pT-hat in [15, 3000] GeV, biased towards high pT-hat (weights kept)",
        (
            "HardQCD:all = on",
            "PhaseSpace:pTHatMin = 15.",
            "PhaseSpace:pTHatMax = 3000.",
            "PhaseSpace:bias2Selection = on",
            "PhaseSpace:bias2SelectionPow = 4.5",
            "PhaseSpace:bias2SelectionRef = 15.",
        ),
        biased=True,
    ),
    "ztautau": _Process(
        "Z -> tau tau with hadronic tau decays only",
        (
            "WeakSingleBoson:ffbar2gmZ = on",
            "WeakZ0:gmZmode = 2",
            "PhaseSpace:mHatMin = 50.",
            "23:onMode = off",
            "23:onIfAny = 15",
            "15:offIfAny = 11 13",
        ),
    ),
    "zmumu": _Process(
        "Drell-Yan Z -> mu mu, m(mu mu) > 50 GeV (FlashSim toy analysis, muon training)",
        (
            "WeakSingleBoson:ffbar2gmZ = on",
            "WeakZ0:gmZmode = 2",
            "PhaseSpace:mHatMin = 50.",
            "23:onMode = off",
            "23:onIfAny = 13",
        ),
    ),
    "gammajets": _Process(
        "prompt photon + jet, pT-hat > 20 GeV",
        ("PromptPhoton:all = on", "PhaseSpace:pTHatMin = 20."),
    ),
    MINBIAS: _Process("inelastic minimum bias (pileup)", ("SoftQCD:inelastic = on",)),
}


def common_settings(sqrt_s: float) -> list[str]:
    """Settings shared by every Pythia process.

    Unstable particles decay in Pythia only inside the tracker-to-ECAL volume (|r| < 129 cm,
    |z| < 315 cm), so K0S and Lambda decay where Geant4 would decay them.
    """
    return [
        f"Beams:eCM = {sqrt_s * 1000.0:.1f}",
        "Next:numberCount = 0",
        "Next:numberShowEvent = 0",
        "Next:numberShowInfo = 0",
        "Next:numberShowProcess = 0",
        "Init:showChangedSettings = off",
        "Init:showChangedParticleData = off",
        "Init:showProcesses = off",
        "ParticleDecays:limitCylinder = on",
        "ParticleDecays:xyMax = 1290.",
        "ParticleDecays:zMax = 3154.",
        "Check:event = off",
    ]


def process_settings(process: str) -> tuple[str, ...]:
    """The process-specific Pythia settings; raises ``ValueError`` on an unknown name."""
    try:
        return PROCESSES[process].settings
    except KeyError:
        raise ValueError(
            f"unknown process {process!r}; choose one of {sorted(PROCESSES)} or {GUN_PROCESS!r}"
        ) from None
