"""Average the weights of MLPF snapshots of one training run (stochastic weight averaging).

    python bench/average_snapshots.py runs/mlpf-campaign/snapshots/step_003000.pt ... --out runs/swa/avg.pt

All snapshots must share the architecture and the feature scaler (a run's snapshots do: the scaler
is fitted once). Floating-point tensors are averaged, the others taken from the last snapshot.
On the validation events the average of steps 750-1,500 of the stage-2 campaign had a lower loss
and a better pileup jet resolution than each of them (docs/mlpf.md, "Stage 2 so far"); evaluate an
average with ``bench/mlpf_learning_curves.py --reference-model LABEL=FILE`` and the scoreboard
before shipping it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from colliderflow.mlpf.files import load_model, read_model_file, save_model


def average(paths: list[Path]) -> torch.nn.Module:
    """The model of the last snapshot with every floating-point tensor replaced by the mean over ``paths``."""
    payloads = [read_model_file(p) for p in paths]
    configs = {str(sorted(p["model_config"].items())) for p in payloads}
    if len(configs) != 1:
        raise ValueError("snapshots of different architectures cannot be averaged")
    last = payloads[-1]["state_dict"]
    state = {}
    for key, value in last.items():
        if value.is_floating_point():
            state[key] = sum(p["state_dict"][key] for p in payloads) / len(payloads)
            if "scaler" in key and not all(torch.equal(p["state_dict"][key], value) for p in payloads):
                raise ValueError(f"{key}: the snapshots' feature scalers differ; average snapshots of one run")
        else:
            state[key] = value
    model = load_model(paths[-1])
    model.load_state_dict(state)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("snapshots", nargs="+", type=Path, help="model files of one run (snapshots)")
    ap.add_argument("--out", type=Path, required=True, help="output model file")
    args = ap.parse_args()
    save_model(average(args.snapshots), args.out, {"averaged": [str(p) for p in args.snapshots]})
    print(f"wrote {args.out}: the average of {len(args.snapshots)} snapshots")


if __name__ == "__main__":
    main()
