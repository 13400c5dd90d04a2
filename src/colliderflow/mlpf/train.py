"""MLPF training: ``colliderflow train --config FILE [key=value ...]``.

AdamW with linear warmup and a cosine (or one-cycle) schedule, gradient clipping, bf16
autocast on GPU, size-bucketed padded batches, an 80/20 train/validation split, per-term
loss logging (CSV and PNG), and checkpoints holding the complete state (model, optimiser,
scheduler, random-number states, position in the epoch) written atomically: a killed run
continues exactly where it stopped when started again with the same output directory.

Multi-GPU / multi-node: launch with ``torchrun --nproc_per_node=G -m colliderflow.cli train
--config FILE``; each rank takes every G-th batch and gradients are averaged by
DistributedDataParallel (NCCL on GPU, Gloo on CPU). Only rank 0 writes files.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from colliderflow.mlpf.data import Events, iterate, load_events, make_batches, pad_batch, split_indices
from colliderflow.mlpf.files import CHECKPOINT_FILE, load_model, read_checkpoint, save_checkpoint, save_model
from colliderflow.mlpf.loss import LossConfig, mlpf_loss
from colliderflow.mlpf.model import MLPF, MLPFConfig, count_parameters
from colliderflow.utils.atomic import atomic_write_text, output_dir
from colliderflow.utils.config import (ConfigError, RangeChecked, bounded, load_config, non_negative, positive,
                                       to_dict)
from colliderflow.utils.memory import release_free_memory
from colliderflow.utils.torchfile import as_file_error

__all__ = ["DataConfig", "OptimConfig", "TrainConfig", "load_train_config", "train", "to_tensors"]


@dataclass(frozen=True)
class DataConfig(RangeChecked):
    """Training data.

    Attributes:
        datasets: dataset directories made by ``colliderflow dataset``.
        max_events: at most this many events per dataset (None: all).
        val_fraction: fraction of events held out for validation (seeded split).
        batch_elements: padded elements per batch (batch size x largest event).
        cache: folder for memory-mapped float32 copies of the datasets, written once and reused
            while the dataset files are unchanged: the run then holds only the pages of the
            batches in use rather than every event (a pileup event with per-cell HF is about
            1.1 MB). None: every event in RAM. The values, and so the training, are the same.
    """

    datasets: tuple[str, ...] = ()
    max_events: int | None = bounded(None, ge=1)
    val_fraction: float = bounded(0.2, gt=0, lt=1)
    batch_elements: int = positive(8000)
    cache: str | None = None


@dataclass(frozen=True)
class OptimConfig(RangeChecked):
    """Optimiser and schedule."""

    lr: float = positive(1e-3)
    weight_decay: float = non_negative(0.01)
    epochs: int = positive(10)
    warmup_steps: int = non_negative(100)
    schedule: str = "cosine"
    grad_clip: float = positive(1.0)
    max_steps: int | None = non_negative(None)  # 0, like None: epochs x steps per epoch

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule not in ("cosine", "onecycle"):
            raise ValueError(f"schedule must be 'cosine' or 'onecycle', got {self.schedule!r}")


@dataclass(frozen=True)
class TrainConfig(RangeChecked):
    """Everything a training run needs; saved with every checkpoint and model.

    ``init_from`` starts from the weights of a trained model (fine-tuning, e.g. to another
    detector card); its feature scaler is kept unless ``refit_scaler``. The model section of the
    config must then match the initial model's architecture.

    ``snapshot_every`` > 0 keeps a model file ``snapshots/step_NNNNNN.pt`` every that many steps,
    with the training events and CPU seconds seen so far, for learning curves.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: MLPFConfig = field(default_factory=MLPFConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    out: str = "runs/mlpf"
    seed: int = non_negative(0)
    checkpoint_every: int = positive(200)
    snapshot_every: int = non_negative(0)
    log_every: int = positive(20)
    num_threads: int = non_negative(0)
    deterministic: bool = True
    scaler_events: int = positive(500)
    init_from: str | None = None
    refit_scaler: bool = False


def load_train_config(path: str | os.PathLike | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """A YAML config with ``key.sub=value`` overrides (values parsed as YAML)."""
    return load_config(TrainConfig, path, overrides, what="training config")


def to_tensors(X: np.ndarray, Y: np.ndarray, device: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x = torch.from_numpy(X).to(device)
    y = torch.from_numpy(Y).to(device)
    target = {"cls": y[..., 0].long(), "pt": y[..., 1], "eta": y[..., 2], "phi": y[..., 3], "energy": y[..., 4],
              "pu_frac": y[..., 5]}
    return x, target


#: settings that change how fast a run goes, not what it computes: a run may resume with others
_RUNTIME_KEYS = ("num_threads", "checkpoint_every", "log_every")


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a training config that a resumed run must share with its checkpoint (not
    ``data.cache``: where the events are read from, not which; checkpoints from before it lack it)."""
    out = {k: v for k, v in config.items() if k not in _RUNTIME_KEYS}
    if isinstance(out.get("data"), dict):
        out["data"] = {k: v for k, v in out["data"].items() if k != "cache"}
    return out


def _save_checkpoint(path: Path, cfg: TrainConfig, model: MLPF, optimizer, scheduler, state: dict[str, Any]) -> None:
    """The complete state of a run (:func:`colliderflow.mlpf.files.save_checkpoint`)."""
    save_checkpoint(path, model, optimizer, scheduler, state, to_dict(cfg))


def _load_checkpoint(path: Path, cfg: TrainConfig, model: MLPF, optimizer, scheduler,
                     device: torch.device) -> dict[str, Any]:
    """Restore what :func:`_save_checkpoint` wrote into ``model``, ``optimizer``, ``scheduler`` and
    the torch random-number state; returns the loop state. ``FileFormatError`` if ``path`` is not a
    checkpoint, ``ConfigError`` if it is one of another configuration."""
    ck = read_checkpoint(path, device)
    if _identity(ck["train_config"]) != _identity(to_dict(cfg)):
        raise ConfigError(f"{path}: checkpoint of another configuration; use a new 'out' directory")
    with as_file_error(path, CHECKPOINT_FILE):
        model.load_state_dict(ck["state_dict"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["torch_rng"].cpu())  # the CPU generator's state, whatever map_location did
        return {"events": 0, "cpu_seconds": 0.0, **ck["state"]}


def _lr_lambda(cfg: OptimConfig, total_steps: int):
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * progress))
        return max(0.0, 1.0 - progress)  # one-cycle: warmup up, then linear down

    return f


class _Log:
    """Per-term loss log as CSV (rank 0 only)."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, rows: list[dict]) -> None:
        if not self.enabled or not rows:
            return
        new = not self.path.exists()
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            if new:
                w.writeheader()
            w.writerows(rows)


def _rank_batches(sizes: np.ndarray, cfg: TrainConfig, epoch: int, rank: int, world: int) -> list[np.ndarray]:
    """This rank's batches of an epoch; with several ranks every rank gets the same number
    (DistributedDataParallel needs the same number of steps everywhere), the rest is dropped."""
    batches = make_batches(sizes, cfg.data.batch_elements, cfg.seed, epoch)
    if world > 1:
        batches = batches[: len(batches) // world * world]
    return batches[rank::world]


def _evaluate(model, events: Events, cfg: TrainConfig, device, autocast) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for _, X, Y in iterate(events, make_batches(events.sizes(), cfg.data.batch_elements, cfg.seed, 0, shuffle=False)):
            x, t = to_tensors(X, Y, device)
            with autocast():
                terms = mlpf_loss(model(x), x, t, cfg.loss)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(X)
            n += len(X)
    model.train()
    return {k: v / max(n, 1) for k, v in sums.items()}


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) a model; returns a summary with the final validation losses.

    A run that fails before its first checkpoint leaves no output folder behind (if it made it).
    """
    if int(os.environ.get("RANK", 0)) != 0:
        return _train(cfg, progress)
    with output_dir(cfg.out, complete=lambda folder: (folder / "checkpoint.pt").exists()):
        return _train(cfg, progress)


def _train(cfg: TrainConfig, progress: bool) -> dict[str, Any]:
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    if cfg.deterministic and device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    main_rank = rank == 0
    if main_rank:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))

    if not cfg.data.datasets:
        raise ConfigError("data.datasets is empty: give the dataset directories to train on")
    events = load_events(list(cfg.data.datasets), cfg.data.max_events, cache_dir=cfg.data.cache)
    tr_idx, va_idx = split_indices(len(events), cfg.data.val_fraction, cfg.seed)
    train_ev, val_ev = events.subset(tr_idx), events.subset(va_idx)

    model = MLPF(cfg.model).to(device)
    ckpt_path = out / "checkpoint.pt"
    resume = ckpt_path.exists()
    if not resume and cfg.init_from:
        init = load_model(cfg.init_from, device)
        if init.config.to_dict() != model.config.to_dict():
            raise ConfigError(f"{cfg.init_from}: its architecture {init.config.to_dict()} differs from the "
                              f"config's model section {model.config.to_dict()}")
        model.load_state_dict(init.state_dict())
    if not resume and (not cfg.init_from or cfg.refit_scaler):
        fit_idx = np.arange(min(len(train_ev), cfg.scaler_events))
        X, _ = pad_batch(train_ev, fit_idx)
        x = torch.from_numpy(X).to(device)
        model.scaler.fit(x, x[..., 0] != 0)
    steps_per_epoch = len(_rank_batches(train_ev.sizes(), cfg, 0, rank, world))
    if steps_per_epoch == 0:
        raise ConfigError(f"too few training events ({len(train_ev)}) for {world} ranks")
    total_steps = cfg.optim.max_steps or steps_per_epoch * cfg.optim.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg.optim, total_steps))
    state: dict[str, Any] = {"epoch": 0, "batch": 0, "step": 0, "best_val": float("inf"), "history": [],
                             "events": 0, "cpu_seconds": 0.0}
    if resume:
        state = _load_checkpoint(ckpt_path, cfg, model, optimizer, scheduler, device)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16) if device.type == "cuda" \
            else torch.autocast("cpu", enabled=False)

    log = _Log(out / "losses.csv", main_rank)

    def checkpoint() -> None:
        if not main_rank:
            return
        _save_checkpoint(ckpt_path, cfg, model, optimizer, scheduler, state)

    def snapshot() -> None:
        if main_rank and cfg.snapshot_every and state["step"] % cfg.snapshot_every == 0:
            save_model(model, out / "snapshots" / f"step_{state['step']:06d}.pt",
                       {"train_config": to_dict(cfg), "step": state["step"], "events": state["events"],
                        "cpu_seconds": state["cpu_seconds"]})

    if main_rank and cfg.snapshot_every:
        (out / "snapshots").mkdir(exist_ok=True)
    model.train()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    done = state["step"] >= total_steps
    with tqdm(total=total_steps, initial=state["step"], desc="training", unit="step",
              disable=not (progress and main_rank)) as bar:
        while not done and state["epoch"] < cfg.optim.epochs:
            batches = _rank_batches(train_ev.sizes(), cfg, state["epoch"], rank, world)
            rows = []
            for b, X, Y in iterate(train_ev, batches, state["batch"]):
                x, t = to_tensors(X, Y, device)
                with autocast():
                    terms = mlpf_loss(ddp(x), x, t, cfg.loss)
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                state["batch"] = b + 1
                state["events"] += len(X) * world
                cpu_now = time.process_time()
                state["cpu_seconds"] += cpu_now - cpu0
                cpu0 = cpu_now
                snapshot()
                bar.update(1)
                rows.append({"step": state["step"], "epoch": state["epoch"], "split": "train",
                             "lr": scheduler.get_last_lr()[0], **{k: float(v.detach()) for k, v in terms.items()}})
                if len(rows) >= cfg.log_every:
                    bar.set_postfix(loss=f"{rows[-1]['total']:.3f}")
                    log.write(rows)
                    rows = []
                if state["step"] % cfg.checkpoint_every == 0:
                    log.write(rows)
                    rows = []
                    checkpoint()
                    release_free_memory()  # every rank: gives freed heap pages back (utils/memory.py)
                if state["step"] >= total_steps:
                    done = True
                    break
            log.write(rows)
            if not done or state["batch"] >= len(batches):
                val = _evaluate(model, val_ev, cfg, device, autocast) if len(val_ev) else {}
                log.write([{"step": state["step"], "epoch": state["epoch"], "split": "val",
                            "lr": scheduler.get_last_lr()[0], **val}])
                state["history"].append({"epoch": state["epoch"], "step": state["step"], **val})
                if main_rank and val and val["total"] < state["best_val"]:
                    state["best_val"] = val["total"]
                    save_model(model, out / "best.pt", {"train_config": to_dict(cfg), "val": val})
                state["epoch"] += 1
                state["batch"] = 0
            checkpoint()
    if world > 1:
        torch.distributed.barrier()
    if main_rank:
        save_model(model, out / "model.pt", {"train_config": to_dict(cfg), "history": state["history"]})
        from colliderflow.mlpf.curves import plot_losses

        plot_losses(out / "losses.csv", out / "losses.png")
        summary = {"steps": state["step"], "epochs": state["epoch"], "train_events": len(train_ev),
                   "val_events": len(val_ev), "parameters": count_parameters(model),
                   "wall_seconds_this_run": time.perf_counter() - t0, "history": state["history"],
                   "device": str(device)}
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return summary if main_rank else {}
