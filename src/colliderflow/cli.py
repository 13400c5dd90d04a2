"""The ``colliderflow`` command line: one subcommand per pipeline stage.

    colliderflow pileup-pool      generate the minimum-bias library used for pileup overlay
    colliderflow dataset          generate -> simulate -> target, written as Parquet chunks
    colliderflow generate         generator-level nano (GenJet, GenPart, GenMET, Pileup) for FlashSim, no detector
    colliderflow inspect          validate a dataset and print a summary
    colliderflow validate-target  the MLPF paper's Figure-1 checks of the target against truth
    colliderflow cards            list the shipped detector cards or print one
    colliderflow pf-calibrate     derive the PF hadron calibration of a detector card
    colliderflow reconstruct      run PF or MLPF (with vertexing, CHS, PUPPI) over a dataset
    colliderflow derive-jec       jet energy corrections from a (QCD) sample
    colliderflow evaluate         compare reconstructions: report, plots, metrics.json
    colliderflow train            train the MLPF transformer (YAML config + key=value overrides)
    colliderflow export-onnx      export a trained MLPF model to ONNX
    colliderflow export-triton    write a Triton model repository (onnxruntime backend) for an MLPF model
    colliderflow serve            run a Triton Inference Server with an MLPF model (reconstruct --server uses it)
    colliderflow nano             NanoAOD-like analysis objects (full simulation) from a dataset and its PF candidates
    colliderflow flashsim         train, sample (with oversampling), validate, pulls

Option vocabulary shared by the commands: --dataset (a dataset directory), --input (any other input
file), --out (what a command writes), --seed (default 0, except pf-calibrate: the seed of the shipped
calibrations), --jobs (worker processes), --quiet (no progress bar), --allow-partial (accept a
dataset with missing chunks); ranges are LOW:HIGH (LOW-HIGH also read). The older spellings
--input/--output of reconstruct and --output of flashsim sample still work.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _range(text: str, kind=float) -> tuple:
    parts = text.split(":") if ":" in text else text.split("-", 1) if not text.startswith("-") else [text]
    if len(parts) == 1:
        return kind(parts[0]), kind(parts[0])
    return kind(parts[0]), kind(parts[1])


def _add_pool(sub) -> None:
    p = sub.add_parser(
        "pileup-pool", help="generate a minimum-bias pool for pileup overlay",
        description="Generate inelastic minimum-bias Pythia events once and store them; 'dataset' "
                    "overlays Npu distinct events of the pool on each hard event. The pool should be "
                    "several times larger than the largest pileup you will overlay.",
    )
    p.add_argument("--out", required=True, type=Path, help="output Parquet file")
    p.add_argument("--events", type=int, default=5000, help="number of min-bias events (default: 5000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--sqrt-s", type=float, default=14.0, help="centre-of-mass energy in TeV (default: 14)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default: 1)")
    p.set_defaults(func=_cmd_pool)


def _add_dataset(sub) -> None:
    from colliderflow.generate.guns import GUN_PARTICLES
    from colliderflow.generate.processes import GUN_PROCESS, PROCESSES

    processes = sorted(k for k in PROCESSES if k != "minbias") + [GUN_PROCESS]
    p = sub.add_parser(
        "dataset", help="generate, simulate and build targets into a Parquet dataset",
        description="Run Pythia 8 (or a particle gun), overlay pileup, simulate the detector and build "
                    "the MLPF target; write per-event jagged arrays as Parquet chunks. Writes are "
                    "atomic; re-running the same command fills in only missing chunks.",
    )
    p.add_argument("--process", choices=processes, default="ttbar", help="physics process (default: ttbar)")
    p.add_argument("--events", type=int, default=100, help="number of events (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="run seed; event i depends only on (seed, i) (default: 0)")
    p.add_argument("--sqrt-s", type=float, default=14.0, help="centre-of-mass energy in TeV (default: 14; 13.6 for OOD tests)")
    p.add_argument("--pileup", default="0", help="pileup interactions: N, or LOW:HIGH (LOW-HIGH), uniform (default: 0)")
    p.add_argument("--pileup-pool", type=Path, help="min-bias pool from 'colliderflow pileup-pool' (needed if pileup > 0)")
    p.add_argument("--detector", default="cms-like", help="shipped card name or card YAML path (default: cms-like)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--jobs", type=int, default=1, help="worker processes; output identical for any value (default: 1)")
    p.add_argument("--chunk-size", type=int, default=50, help="events per Parquet chunk (default: 50)")
    p.add_argument("--chunks", help="build only chunks A:B (or A-B; 0-based, B exclusive) of the dataset, for batch arrays")
    g = p.add_argument_group("particle gun (with --process gun)")
    g.add_argument("--gun-particle", choices=sorted(GUN_PARTICLES), default="pi", help="particle (default: pi)")
    g.add_argument("--gun-pt", default="1:200", help="pT range LOW:HIGH (or LOW-HIGH) in GeV, log-uniform (default: 1:200)")
    g.add_argument("--gun-eta", default="-2.5:2.5", help="eta range LOW:HIGH (default: -2.5:2.5)")
    g.add_argument("--gun-n", type=int, default=1, help="particles per event (default: 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_dataset)


def _add_generate(sub) -> None:
    from colliderflow.generate.processes import PROCESSES

    p = sub.add_parser(
        "generate", help="generator-level nano for FlashSim, from Pythia or a HepMC file (no detector simulation)",
        description="Write the generator collections of 'colliderflow nano' (GenJet, GenPart, GenMET, Pileup, run, "
                    "event, genWeight) straight from the generator, without pileup overlay, detector simulation or "
                    "targets: the input of 'colliderflow flashsim sample'. Pythia events are those of 'colliderflow "
                    "dataset' with the same process, seed, energy and pileup range (same collections, same "
                    "Pileup_nPU; no pool is needed: the count is drawn, nothing is overlaid). --hepmc reads "
                    "HepMC3/HepMC2 events of another generator (needs pyhepmc: pip install 'colliderflow[hepmc]').",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--process", choices=sorted(k for k in PROCESSES if k != "minbias"),
                     help="Pythia 8 process")
    src.add_argument("--hepmc", type=Path, metavar="FILE",
                     help="HepMC3 or HepMC2 ASCII file (.gz/.bz2/.xz/.zst allowed); event = position in the file")
    p.add_argument("--out", required=True, type=Path, help="output file, .root or .parquet")
    p.add_argument("--events", type=int,
                   help="number of events (default: 100 with --process; all of the file with --hepmc)")
    p.add_argument("--seed", type=int, default=0,
                   help="run seed: event i depends only on (seed, i); 'run' of every event (default: 0)")
    p.add_argument("--sqrt-s", type=float,
                   help="centre-of-mass energy in TeV, --process only (default: 14; a HepMC file has its own)")
    p.add_argument("--pileup",
                   help="pileup interactions N, or LOW:HIGH (LOW-HIGH), uniform, for Pileup_nPU (default: 55-75, the range of "
                        "the shipped FlashSim model, with --process; 0 with --hepmc)")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes, --process only; output identical for any value (default: 1)")
    p.add_argument("--chunk-size", type=int, default=250, help="events per batch written (default: 250)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_generate)


def _add_inspect(sub) -> None:
    p = sub.add_parser(
        "inspect", help="validate a dataset and print a summary",
        description="Read every chunk, check kind, schema version, layout and values (no NaN/inf), and "
                    "print events, elements per event and target classes. Exits 1 on the first bad file.",
    )
    p.add_argument("path", type=Path, help="dataset directory or one chunk file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_inspect)


def _add_validate_target(sub) -> None:
    p = sub.add_parser(
        "validate-target", help="Figure-1 plots: target (pileup removed) vs generator truth",
        description="Compare the MLPF target after removing pileup (pu_frac < 0.5) with the generator truth: "
                    "particle pT, jet pT, jet response and MET; PNG plots and a JSON of the numbers.",
    )
    p.add_argument("path", type=Path, help="dataset directory or chunk file")
    p.add_argument("--out", type=Path, required=True, help="output directory for plots and metrics")
    p.add_argument("--allow-partial", action="store_true",
                   help="accept a dataset whose manifest lists missing chunks (refused by default); metrics.json records how many")
    p.set_defaults(func=_cmd_validate_target)


def _add_cards(sub) -> None:
    p = sub.add_parser("cards", help="list shipped detector cards, or print one resolved",
                       description="Without a name, list the shipped cards; with a name or path, print the "
                                   "card with every default filled in (YAML).")
    p.add_argument("name", nargs="?", help="card name or path")
    p.set_defaults(func=_cmd_cards)


def _add_pf_calibrate(sub) -> None:
    p = sub.add_parser(
        "pf-calibrate", help="derive the PF hadron calibration of a detector card",
        description="Shoot K0L and neutron guns through the detector card, fit the ECAL+HCAL hadron "
                    "calibration used by PF and write it as JSON (by default next to a shipped card).",
    )
    p.add_argument("--detector", default="cms-like", help="card name or path (default: cms-like)")
    p.add_argument("--events", type=int, default=20000, help="gun events, half K0L half neutrons (default: 20000)")
    p.add_argument("--seed", type=int, default=12345,
                   help="random seed (default: 12345, the seed of the shipped calibrations, so that they reproduce)")
    p.add_argument("--out", type=Path, help="output JSON (default: the shipped card's <name>.pfcalib.json)")
    p.set_defaults(func=_cmd_pf_calibrate)


def _add_reconstruct(sub) -> None:
    p = sub.add_parser(
        "reconstruct", help="run PF or MLPF over a dataset",
        description="Reconstruct particle candidates for every event of a dataset and write them as "
                    "Parquet chunks (one per input chunk; atomic, resumable). PF and MLPF candidates both get "
                    "primary-vertex association, CHS flags and PUPPI weights (PF's settings); MLPF candidates "
                    "also carry the model's per-particle pileup score.",
    )
    p.add_argument("--algo", choices=["pf", "mlpf"], default="pf", help="algorithm (default: pf)")
    p.add_argument("--dataset", "--input", dest="dataset", type=Path, required=True,
                   help="dataset directory or chunk (--input: the older spelling)")
    p.add_argument("--out", "--output", dest="out", type=Path, required=True,
                   help="output directory for candidate chunks (--output: the older spelling)")
    p.add_argument("--calibration", default=None,
                   help="PF: hadron calibration, a card name or .pfcalib.json (default: the dataset's card)")
    p.add_argument("--pf-config", type=Path, default=None, metavar="YAML",
                   help="PF: settings that differ from the defaults, a YAML mapping in the layout of the "
                        "candidates header's settings.config (e.g. puppi: {regions: [...]}); default: none")
    p.add_argument("--model", default=None,
                   help="MLPF: model file, .pt (PyTorch) or .onnx (default: the shipped model of the dataset's card)")
    p.add_argument("--backend", choices=["torch", "onnx"], default=None,
                   help="MLPF runtime (default: onnx for a .onnx --model, else torch)")
    p.add_argument("--binary-threshold", type=float, default=0.5, help="MLPF: candidate threshold (default: 0.5)")
    p.add_argument("--pileup-threshold", type=float, default=0.9,
                   help="MLPF: pileup-score threshold of the MLPF pileup rejection, evaluate's NAME+PU "
                        "(default: 0.9, chosen for the shipped model on validation events)")
    p.add_argument("--threads", type=int, default=0, help="MLPF: CPU threads of the model (default: 0, the library's choice)")
    p.add_argument("--max-memory-gb", type=float, default=2.0,
                   help="MLPF: bound on the estimated inference memory per batch; batches are split to fit, "
                        "an event that alone exceeds it is an error (default: 2)")
    p.add_argument("--server", default=None, metavar="HOST:PORT",
                   help="MLPF: send the events to the Triton server at HOST:PORT (its gRPC port; 'colliderflow "
                        "serve'), which runs the model with ONNX Runtime; --model, if given, must be the model it "
                        "runs (checked by SHA-256 of the .onnx); the candidates equal local --backend onnx inference")
    p.add_argument("--server-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="MLPF with --server: longest wait for the server to be ready, for one answer, and for it to "
                        "come back after it went away; then an error, and completed chunks are kept (default: 60)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default: 1)")
    p.add_argument("--allow-partial", action="store_true",
                   help="accept a dataset whose manifest lists missing chunks (refused by default); only the chunks present are reconstructed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_reconstruct)


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train", help="train the MLPF model",
        description="Train MLPF on datasets made by 'colliderflow dataset'. The YAML config (see "
                    "configs/mlpf-cms-like.yaml) takes key=value overrides, e.g. optim.epochs=3 "
                    "model.width=64. A run resumes from OUT/checkpoint.pt if it exists. Multi-GPU: "
                    "torchrun --nproc_per_node=G -m colliderflow.cli train --config FILE.",
    )
    p.add_argument("--config", type=Path, help="YAML training config")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _add_export(sub) -> None:
    p = sub.add_parser("export-onnx", help="export a trained MLPF model to ONNX",
                       description="Write an ONNX model with dynamic batch size and number of elements; "
                                   "checks that ONNX Runtime agrees with PyTorch on a test batch.")
    p.add_argument("--model", type=Path, required=True, help="model file (.pt) from 'train'")
    p.add_argument("--out", type=Path, required=True, help="output .onnx file")
    p.add_argument("--attention", choices=["mha", "portable"], default="mha",
                   help="dense attention as one fused com.microsoft::MultiHeadAttention node per layer (mha: "
                        "ONNX Runtime only, faster) or as standard MatMul/Softmax operators (portable: any ONNX "
                        "runtime, ONNX's reference evaluator); window-attention models are standard operators "
                        "either way (default: mha)")
    p.set_defaults(func=_cmd_export)


def _add_export_triton(sub) -> None:
    p = sub.add_parser("export-triton", help="write a Triton model repository (onnxruntime backend) for an MLPF model",
                       description="Write REPO/mlpf/config.pbtxt and REPO/mlpf/1/model.onnx, the layout "
                                   "'tritonserver --model-repository REPO' loads: Triton's onnxruntime backend, "
                                   "dynamic batch and element axes, dynamic batching. Other models in REPO are "
                                   "left alone; REPO/mlpf appears whole or not at all.")
    p.add_argument("--model", type=Path, default=None,
                   help="model file, .pt (exported) or .onnx (copied) (default: the shipped cms-like model.onnx)")
    p.add_argument("--out", type=Path, required=True, help="model repository folder")
    p.add_argument("--max-batch-size", type=int, default=256,
                   help="most events per batch Triton may form; clients split larger requests (default: 256)")
    p.add_argument("--attention", choices=["mha", "portable"], default="mha",
                   help="a .pt model's export of dense attention, as in export-onnx (default: mha)")
    p.set_defaults(func=_cmd_export_triton)


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run a Triton Inference Server with an MLPF model",
                       description="Serve an MLPF model's ONNX export with NVIDIA Triton (PyTriton) and ONNX Runtime "
                                   "(CUDA where the serving environment has onnxruntime-gpu and a GPU, else CPU), "
                                   "for 'colliderflow reconstruct --algo mlpf --server HOST:GRPC_PORT'. Runs in the "
                                   "serving environment (make serve-env), until SIGTERM or Ctrl-C. Endpoints: "
                                   "Triton's KServe v2 API over HTTP and gRPC; models 'mlpf' and 'mlpf_metadata'.")
    p.add_argument("--model", type=Path, default=None,
                   help="model file, .onnx or .pt with its .onnx beside it ('colliderflow export-onnx') "
                        "(default: the shipped cms-like model.onnx)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0: every interface, "
                        "the server has no authentication)")
    p.add_argument("--grpc-port", type=int, default=8001, help="gRPC port, the one reconstruct --server uses (default: 8001)")
    p.add_argument("--http-port", type=int, default=8000, help="HTTP port (default: 8000)")
    p.add_argument("--metrics-port", type=int, default=8002, help="Prometheus metrics port (default: 8002)")
    p.add_argument("--max-batch-size", type=int, default=256,
                   help="most events per request; clients split larger batches (default: 256)")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: 0, its choice)")
    p.add_argument("--python", default=None,
                   help="python of the serving environment (default: $COLLIDERFLOW_SERVE_PYTHON, else "
                        ".venv-serve/bin/python here or beside the source tree)")
    p.set_defaults(func=_cmd_serve)


def _reco_args(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values or []:
        if "=" not in v:
            raise ValueError(f"--reco expects NAME=DIR, got {v!r}")
        name, path = v.split("=", 1)
        out[name] = path
    return out


def _add_jec(sub) -> None:
    p = sub.add_parser("derive-jec", help="derive jet energy corrections from a QCD sample",
                       description="Match jets of every collection to truth jets and store the median "
                                   "response in bins of gen pT and |eta| as corrections (JSON) for evaluate --jec. "
                                   "Collections: target and, per --reco NAME, NAME, NAME+CHS, NAME+PUPPI, and for "
                                   "MLPF NAME+PU (pileup score below the reconstruction's threshold).")
    p.add_argument("--dataset", type=Path, required=True, help="dataset (normally QCD)")
    p.add_argument("--reco", action="append", required=True, metavar="NAME=DIR", help="reconstruction output(s)")
    p.add_argument("--radius", type=float, default=0.4, help="anti-kt R (default: 0.4)")
    p.add_argument("--out", type=Path, required=True, help="output JSON")
    p.add_argument("--allow-partial", action="store_true",
                   help="accept a dataset whose manifest lists missing chunks (refused by default); the file records how many")
    p.set_defaults(func=_cmd_jec)


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="compare reconstructions on a dataset: report, plots, metrics.json",
        description="Truth, target and each reconstruction NAME as NAME, NAME+CHS, NAME+PUPPI and, for MLPF, "
                    "NAME+PU (pileup score below the reconstruction's threshold): jet response and "
                    "resolution (Gaussian and IQR) with corrections, MET, particle efficiency and fake rate, an "
                    "event display. Writes report.md, PNG plots and metrics.json.",
    )
    p.add_argument("--dataset", type=Path, required=True, help="dataset directory")
    p.add_argument("--reco", action="append", required=True, metavar="NAME=DIR", help="reconstruction output(s), e.g. PF=out/pf")
    p.add_argument("--jec", help="corrections from derive-jec, or 'self' to calibrate on this sample (default: those "
                                 "shipped for the dataset's card, derived on QCD with pileup); a collection the "
                                 "file lacks is calibrated on this sample, and the report names the source of each")
    p.add_argument("--radius", type=float, default=0.4, help="anti-kt R (default: 0.4; 0.8 for large-R jets)")
    p.add_argument("--out", type=Path, required=True, help="report directory (replaced as a whole on success)")
    p.add_argument("--allow-partial", action="store_true",
                   help="accept a dataset whose manifest lists missing chunks (refused by default); the report states how many")
    p.set_defaults(func=_cmd_evaluate)


def _add_nano(sub) -> None:
    p = sub.add_parser(
        "nano", help="build NanoAOD-like analysis objects (full simulation) from a dataset and its PF candidates",
        description="Generator objects (GenJet with hadron/parton flavour, GenPart leptons and photons, GenMET, "
                    "pileup) and reconstructed objects from PF+PUPPI (corrected AK4 jets with b tag, energy "
                    "fractions and jet ID; muons, electrons, photons with isolation, IDs and impact parameters; "
                    "PUPPI MET; vertices), written as a NanoAOD-style ROOT TTree (nJet, Jet_pt, ...) or Parquet. "
                    "These are FlashSim's training and validation reference.",
    )
    p.add_argument("--dataset", type=Path, required=True, help="dataset directory ('colliderflow dataset')")
    p.add_argument("--candidates", type=Path, required=True,
                   help="PF candidates of that dataset ('colliderflow reconstruct --algo pf')")
    p.add_argument("--out", type=Path, required=True, help="output file, .root or .parquet")
    p.add_argument("--jec", default="shipped",
                   help="PF+PUPPI jet corrections: 'shipped' (the card's, default), 'none', or a derive-jec JSON")
    p.add_argument("--allow-partial", action="store_true",
                   help="accept a dataset whose manifest lists missing chunks (refused by default); the file header records how many")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_nano)


def _add_flashsim(sub) -> None:
    fs = sub.add_parser(
        "flashsim", help="learned end-to-end simulation: train, sample (with oversampling), validate",
        description="FlashSim: efficiency classifiers and conditional flow-matching property models per object "
                    "and source learn the whole chain (detector simulation + PF + object building) from "
                    "generator objects to NanoAOD-like objects. See docs/flashsim.md.",
    )
    fsub = fs.add_subparsers(dest="flashsim_command", metavar="SUBCOMMAND", required=True)
    p = fsub.add_parser("train", help="train every FlashSim model on full-simulation nano files",
                        description="Train from a YAML config (see configs/flashsim-cms-like.yaml) with key=value "
                                    "overrides, e.g. net.steps=500 out=runs/fs. Writes OUT/flashsim.pt, "
                                    "training.json, losses.png and reliability.png (classifier calibration).")
    p.add_argument("--config", type=Path, help="YAML config")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_flashsim_train)

    p = fsub.add_parser("sample", help="simulate generator events with FlashSim",
                        description="Read the generator collections of a nano file, simulate every event "
                                    "--oversample times (fresh efficiency draws per replica) and write "
                                    "NanoAOD-like events (.root TTree or .parquet). 'event' keeps the generator "
                                    "event number, FlashSim_replica the replica: analyse with weight 1/K and "
                                    "fold-aware uncertainties (colliderflow.flashsim.stats).")
    p.add_argument("--model", default="cms-like",
                   help="bundle (flashsim.pt), its training directory, or a shipped model name (default: cms-like)")
    p.add_argument("--input", type=Path, required=True,
                   help="nano file with generator collections (.root/.parquet), e.g. from 'colliderflow generate'")
    p.add_argument("--out", "--output", dest="out", type=Path, required=True,
                   help="output file, .root or .parquet (--output: the older spelling)")
    p.add_argument("--oversample", type=int, default=1, help="replicas per generator event K (default: 1)")
    p.add_argument("--solver", default="midpoint", choices=["euler", "midpoint", "rk4", "adaptive"],
                   help="ODE solver (default: midpoint)")
    p.add_argument("--steps", type=int, default=10, help="fixed ODE steps (default: 10)")
    p.add_argument("--batch-size", type=int, default=0,
                   help="generator events per batch (default 0: 20000 / --oversample; the random numbers depend on it)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default: 1, the most events per CPU-second; 0: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_flashsim_sample)

    p = fsub.add_parser("validate", help="compare FlashSim with the full simulation on unseen events",
                        description="Per-variable histograms with ratio panels, Wasserstein distances next to the "
                                    "statistical floor, correlation matrices, a classifier two-sample test (AUC) "
                                    "per collection and two toy analyses (Z->mumu, ttbar lepton+jets). Writes "
                                    "report.md, metrics.json and PNGs.")
    p.add_argument("--flash", type=Path, nargs="+", required=True, help="FlashSim output file(s)")
    p.add_argument("--full", type=Path, nargs="+", required=True,
                   help="full-simulation nano file(s) of the same generator events")
    p.add_argument("--reference", type=Path, nargs="+",
                   help="independent full-simulation file(s) of the same size (the statistical floor)")
    p.add_argument("--out", type=Path, required=True, help="report directory")
    p.add_argument("--seed", type=int, default=0, help="seed of the two-sample tests (default: 0)")
    p.add_argument("--c2st-epochs", type=int, default=30, help="epochs of each two-sample classifier (default: 30)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_flashsim_validate)

    p = fsub.add_parser("pulls", help="pseudo-experiments: oversampled histograms need fold-aware uncertainties",
                        description="Toy pseudo-experiments with K replicas per generator event: pulls of "
                                    "fold-aware uncertainties have unit width, naive ones are too wide.")
    p.add_argument("--generator-events", type=int, default=2000, help="generator events per experiment")
    p.add_argument("--oversample", type=int, default=10, help="K (default: 10)")
    p.add_argument("--experiments", type=int, default=500, help="pseudo-experiments (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--out", type=Path, required=True, help="output directory (pulls.png, pulls.json)")
    p.set_defaults(func=_cmd_flashsim_pulls)


def build_parser() -> argparse.ArgumentParser:
    import colliderflow

    parser = argparse.ArgumentParser(
        prog="colliderflow",
        description="Machine-learned event reconstruction and simulation for hadron colliders. "
                    "Pipeline: pileup-pool -> dataset -> reconstruct -> evaluate (inspect and validate-target check datasets); "
                    "dataset + PF -> nano -> flashsim train/sample/validate; generate -> flashsim sample (no detector).",
    )
    parser.add_argument("--version", action="version", version=f"colliderflow {colliderflow.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_pool(sub)
    _add_dataset(sub)
    _add_generate(sub)
    _add_inspect(sub)
    _add_validate_target(sub)
    _add_cards(sub)
    _add_pf_calibrate(sub)
    _add_reconstruct(sub)
    _add_jec(sub)
    _add_evaluate(sub)
    _add_train(sub)
    _add_export(sub)
    _add_export_triton(sub)
    _add_serve(sub)
    _add_nano(sub)
    _add_flashsim(sub)
    return parser


def _cmd_pool(args) -> int:
    from colliderflow.generate.source import generate_pool

    path = generate_pool(args.out, args.events, seed=args.seed, sqrt_s=args.sqrt_s, jobs=args.jobs)
    print(f"wrote {args.events} min-bias events to {path}")
    return 0


def _cmd_dataset(args) -> int:
    from colliderflow.dataset.build import DatasetConfig, build_dataset
    from colliderflow.generate.guns import GunConfig
    from colliderflow.generate.pileup import PileupRange
    from colliderflow.generate.source import GenerationConfig

    gun = None
    if args.process == "gun":
        pt = _range(args.gun_pt)
        eta = _range(args.gun_eta)
        gun = GunConfig(args.gun_particle, pt[0], pt[1], eta[0], eta[1], args.gun_n)
    generation = GenerationConfig(
        process=args.process, sqrt_s=args.sqrt_s, seed=args.seed, pileup=PileupRange.parse(args.pileup),
        pileup_pool=str(args.pileup_pool) if args.pileup_pool else None, gun=gun,
    )
    config = DatasetConfig(generation=generation, detector=args.detector, events=args.events,
                           chunk_size=args.chunk_size)
    chunk_range = _range(args.chunks, int) if args.chunks else None
    summary = build_dataset(config, args.out, jobs=args.jobs, chunk_range=chunk_range, progress=not args.quiet)
    print(f"{args.out}: built {summary['chunks_built']} chunk(s), reused {summary['chunks_skipped']}, "
          f"{summary['events_built']} events in {summary['wall_seconds']:.1f} s")
    return 0


def _cmd_generate(args) -> int:
    from colliderflow.generate.pileup import PileupRange

    if args.hepmc is not None:
        from colliderflow.nano.nanogen import hepmc_nano

        for flag, value in (("--jobs", args.jobs != 1), ("--sqrt-s", args.sqrt_s is not None)):
            if value:
                raise ValueError(f"{flag} applies to --process only; a HepMC file is read in one process, at its own energy")
        try:
            r = hepmc_nano(args.hepmc, args.out, seed=args.seed, pileup=PileupRange.parse(args.pileup or "0"),
                           events=args.events, chunk_size=args.chunk_size, progress=not args.quiet)
        except ImportError as err:
            raise ValueError(str(err)) from None
    else:
        from colliderflow.generate.source import GenerationConfig
        from colliderflow.nano.nanogen import NanoGenConfig, generate_nano

        generation = GenerationConfig(process=args.process, sqrt_s=14.0 if args.sqrt_s is None else args.sqrt_s,
                                      seed=args.seed, pileup=PileupRange.parse(args.pileup or "55-75"))
        config = NanoGenConfig(generation=generation, events=100 if args.events is None else args.events,
                               chunk_size=args.chunk_size)
        r = generate_nano(config, args.out, jobs=args.jobs, progress=not args.quiet)
    print(f"{r['output']}: {r['events']} generator events in {r['seconds']:.1f} s "
          f"({r['events_per_second']:.1f} events/s)")
    return 0


def _cmd_inspect(args) -> int:
    from colliderflow.dataset.read import inspect_dataset

    s = inspect_dataset(args.path)
    if args.json:
        print(json.dumps(s, indent=1))
        return 0
    e = s["elements_per_event"]
    print(f"{s['path']}: {s['events']} events in {s['files']} file(s), processes {', '.join(s['processes'])}"
          + (f", detector {s['detector']}" if s.get("detector") else ""))
    print(f"  elements/event: mean {e['mean']:.0f} (min {e['min']}, max {e['max']});"
          f" tracks/event {s['tracks_per_event']:.0f}; pileup/event {s['pileup_per_event']:.1f}")
    print("  element types:  " + ", ".join(f"{k} {v}" for k, v in s["element_types"].items()))
    print("  target classes: " + ", ".join(f"{k} {v}" for k, v in s["target_classes"].items()))
    print(f"  target particles from pileup (pu_frac > 0.5): {100 * s['target_pileup_fraction']:.1f}%")
    if s.get("missing_chunks"):
        print(f"  INCOMPLETE: {len(s['missing_chunks'])} chunk(s) missing, e.g. {s['missing_chunks'][0]}")
        return 1
    print("  all files valid")
    return 0


def _cmd_validate_target(args) -> int:
    from colliderflow.dataset.validation import validate_target

    metrics = validate_target(args.path, args.out, allow_partial=args.allow_partial)
    print(f"wrote {len(metrics['plots'])} plots and metrics.json to {args.out}")
    return 0


def _cmd_cards(args) -> int:
    import yaml

    from colliderflow.simulate.card import load_card, shipped_cards

    if not args.name:
        for name, path in sorted(shipped_cards().items()):
            print(f"{name:12s} {load_card(path).description}")
        return 0
    print(yaml.safe_dump(load_card(args.name).to_dict(), sort_keys=False), end="")
    return 0


def _cmd_pf_calibrate(args) -> int:
    from colliderflow.pf.calibration import calibration_path
    from colliderflow.pf.derive import derive_calibration

    calib = derive_calibration(args.detector, events=args.events, seed=args.seed)
    out = args.out or calibration_path(str(args.detector))
    calib.save(out)
    print(f"wrote PF hadron calibration to {out}")
    return 0


def _cmd_reconstruct(args) -> int:
    from colliderflow.reconstruct import reconstruct_dataset, reconstruction_settings

    settings = reconstruction_settings(args.algo, args.dataset, calibration=args.calibration, model=args.model,
                                       backend=args.backend, binary_threshold=args.binary_threshold,
                                       pileup_threshold=args.pileup_threshold, max_memory_gb=args.max_memory_gb,
                                       threads=args.threads, server=args.server,
                                       server_timeout=args.server_timeout, pf_config=args.pf_config)
    s = reconstruct_dataset(args.dataset, args.out, args.algo, settings, jobs=args.jobs, progress=not args.quiet,
                            allow_partial=args.allow_partial)
    print(f"{args.out}: {args.algo} on {s['events']} events, {s['chunks_built']} chunk(s) built, "
          f"{s['chunks_skipped']} reused" + (f"; PARTIAL: {s['missing_chunks']} dataset chunk(s) missing"
                                              if s["missing_chunks"] else ""))
    return 0


def _cmd_train(args) -> int:
    from colliderflow.mlpf.train import load_train_config, train

    cfg = load_train_config(args.config, args.overrides)
    s = train(cfg, progress=not args.quiet)
    if s:
        last = s["history"][-1] if s["history"] else {}
        print(f"{cfg.out}: {s['steps']} steps, {s['train_events']} training / {s['val_events']} validation events, "
              f"{s['parameters']} parameters; last validation loss {last.get('total', float('nan')):.4f}")
    return 0


def _cmd_export(args) -> int:
    from colliderflow.mlpf.export import agreement_with_torch, export_onnx
    from colliderflow.mlpf.files import load_model

    model = load_model(args.model)
    export_onnx(model, args.out, attention=args.attention)
    worst = agreement_with_torch(model, args.out)
    print(f"wrote {args.out}; ONNX Runtime vs PyTorch on a test batch: largest |difference| is {worst:.2f} x "
          "(1e-4 relative + 1e-5 absolute); an empty event gives empty outputs")
    if worst > 1.0:
        print(f"colliderflow export-onnx: error: {args.out} disagrees with PyTorch beyond 1e-4", file=sys.stderr)
        return 1
    return 0


def _cmd_export_triton(args) -> int:
    from colliderflow.mlpf.shipped import shipped_model
    from colliderflow.mlpf.triton import write_model_repository

    model = args.model or shipped_model("cms-like", "onnx")
    folder = write_model_repository(model, args.out, max_batch_size=args.max_batch_size, attention=args.attention)
    print(f"wrote {folder}/config.pbtxt and {folder}/1/model.onnx (from {model}); serve with "
          f"'tritonserver --model-repository {args.out}'")
    return 0


def _cmd_serve(args) -> int:
    import os

    from colliderflow.mlpf.export import onnx_file
    from colliderflow.mlpf.serve import server_command, serving_python
    from colliderflow.mlpf.shipped import shipped_model

    onnx = onnx_file(args.model or shipped_model("cms-like", "onnx"))
    command = server_command(onnx, serving_python(args.python), host=args.host, http_port=args.http_port,
                             grpc_port=args.grpc_port, metrics_port=args.metrics_port,
                             max_batch_size=args.max_batch_size, threads=args.threads)
    print(f"colliderflow serve: starting Triton for {onnx} on {args.host} (gRPC {args.grpc_port}, HTTP "
          f"{args.http_port}); ready when it prints 'serving'; stop with Ctrl-C or SIGTERM", flush=True)
    os.execv(command[0], command)  # the server takes this process over (signals reach it directly)


def _cmd_jec(args) -> int:
    from colliderflow.evaluate.report import derive_jec_file

    corr = derive_jec_file(args.dataset, _reco_args(args.reco), args.out, radius=args.radius,
                           allow_partial=args.allow_partial)
    print(f"wrote corrections for {', '.join(corr)} to {args.out}")
    return 0


def _cmd_evaluate(args) -> int:
    from colliderflow.evaluate.report import evaluate

    m = evaluate(args.dataset, _reco_args(args.reco), args.out, jec=args.jec, radius=args.radius,
                 allow_partial=args.allow_partial)
    print(f"wrote {args.out}/report.md, {len(m['plots'])} plots and metrics.json")
    if m["missing_chunks"]:
        print(f"  PARTIAL: {m['missing_chunks']} of the dataset's {m['listed_chunks']} chunks missing; the report says so")
    self_cal = [k for k, v in m["jec_sources"].items() if v == "self-calibrated"]
    if self_cal and len(self_cal) < len(m["jec_sources"]):
        print(f"  jet corrections: {', '.join(self_cal)} not in the corrections file; calibrated on this sample")
    for name, s in m["jets_30_100"].items():
        res, err = s.get("gauss_sigma_over_mean"), s.get("gauss_sigma_over_mean_err")
        if res is not None and res == res:
            unc = f" ± {100 * err:.1f}" if err is not None and err == err else ""
            print(f"  {name:14s} jet resolution (30-100 GeV, corrected): {100 * res:.1f}{unc}% "
                  f"({s.get('n', 0)} jets)")
    if m["events"] < 100:
        print(f"  only {m['events']} events: differences within the errors above are not significant")
    return 0


def _cmd_nano(args) -> int:
    from colliderflow.nano.build import build_nano

    r = build_nano(args.dataset, args.candidates, args.out, jec=args.jec, progress=not args.quiet,
                   allow_partial=args.allow_partial)
    print(f"{r['output']}: {r['events']} events (card {r['card']})")
    return 0


def _cmd_flashsim_train(args) -> int:
    from colliderflow.flashsim.train import FlashSimTrainConfig, train_flashsim
    from colliderflow.utils.config import load_config

    cfg = load_config(FlashSimTrainConfig, args.config, args.overrides, what="FlashSim training config")
    r = train_flashsim(cfg, progress=not args.quiet)
    print(f"{cfg.out}/flashsim.pt: {len(r['models'])} models trained on {r['n_events']} events"
          + (f"; skipped (too few objects): {', '.join(r['skipped'])}" if r["skipped"] else ""))
    return 0


def _cmd_flashsim_sample(args) -> int:
    from colliderflow.flashsim.sample import SampleConfig, sample_file

    cfg = SampleConfig(oversample=args.oversample, solver=args.solver, steps=args.steps, batch_size=args.batch_size,
                       seed=args.seed, device=args.device, threads=args.threads)
    r = sample_file(args.model, args.input, args.out, cfg, progress=not args.quiet)
    print(f"{r['output']}: {r['events']} events ({r['generator_events']} generator events x {args.oversample}) in "
          f"{r['seconds']:.1f} s = {r['events_per_second']:.0f} events/s on {r['device']} "
          f"({r['events_per_cpu_second']:.0f} per CPU-second)")
    return 0


def _cmd_flashsim_validate(args) -> int:
    from colliderflow.flashsim.validate import ValidateConfig, validate

    m = validate([str(p) for p in args.flash], [str(p) for p in args.full],
                 [str(p) for p in args.reference] if args.reference else None, args.out,
                 ValidateConfig(seed=args.seed, c2st_epochs=args.c2st_epochs), progress=not args.quiet)
    aucs = {k: v["c2st"] for k, v in m["collections"].items() if v.get("c2st", {}).get("auc") is not None}
    print(f"{args.out}/report.md: classifier AUC (0.5: indistinguishable) "
          + ", ".join(f"{k} {c['auc']:.3f} ± {c['auc_err']:.3f}" for k, c in aucs.items()))
    for name, t in m["toys"].items():
        print(f"  toy {name}: Flash {t['flash']['yield']:.1f} ± {t['flash']['error']:.1f}, "
              f"Full {t['full']['yield']:.1f} ± {t['full']['error']:.1f}")
    return 0


def _cmd_flashsim_pulls(args) -> int:
    from colliderflow.flashsim.stats import pull_study, write_pull_report

    r = pull_study(args.generator_events, args.oversample, args.experiments, args.seed)
    write_pull_report(r, args.out)
    print(f"pull width: fold-aware {r['pull_std_fold']:.3f}, naive {r['pull_std_naive']:.3f} "
          f"({args.experiments} experiments, K = {args.oversample})")
    return 0


#: commands whose interrupted runs keep their completed chunks or checkpoints and resume
_RESUMABLE = ("dataset", "reconstruct", "train")


def main(argv: list[str] | None = None) -> int:
    from colliderflow.utils.errors import one_line

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:  # FileFormatError and ConfigError are ValueErrors
        cmd = args.command + (f" {args.flashsim_command}" if getattr(args, "flashsim_command", None) else "")
        print(f"colliderflow {cmd}: error: {one_line(err, limit=1000)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        kept = ("completed chunks are kept, re-run to resume" if args.command in _RESUMABLE
                else "nothing was written")
        print(f"colliderflow {args.command}: interrupted; {kept}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
