"""Pieces shared by both training stages: run folders, checkpoints, logs, schedules."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class StageArgs:
    """What every training stage is given; each stage's own class sets its defaults."""

    data: Path  # folder of training images
    run: Path  # run folder (an existing one resumes)
    steps: int = 3000
    batch: int = 16
    crop: int = 128
    lr: float = 1e-3
    seed: int = 0
    eval_every: int = 500
    threads: int = 0  # 0: torch default


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [0, 1], after rounding to 8 bits as a codec would."""
    a8 = (a.clamp(0, 1) * 255).round()
    b8 = (b.clamp(0, 1) * 255).round()
    mse = torch.mean((a8 - b8) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def cosine_lr(step: int, total: int, base: float, warmup: int = 200) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomic save: a crash mid-write never destroys the previous checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def save_training_state(
    path: Path,
    opt: torch.optim.Optimizer,
    step: int,
    rng: np.random.Generator,
    **weights: dict[str, torch.Tensor],
) -> None:
    """A resumable checkpoint: the weights, the optimizer, the step and the crop sampler."""
    state = dict(weights, opt=opt.state_dict(), step=step, rng=json.dumps(rng.bit_generator.state))
    save_checkpoint(path, state)


def resumed_crop_rng(
    rng: np.random.Generator, state: dict[str, Any], seed: int, rank: int
) -> np.random.Generator:
    """The crop sampler of a resumed run: rank 0 continues its saved stream exactly; other ranks
    (whose streams are not saved) start a fresh one keyed by the step."""
    if rank == 0:
        rng.bit_generator.state = json.loads(state["rng"])
        return rng
    return np.random.default_rng([seed, rank, state["step"]])


class JsonlLog:
    """Append-only training log, one JSON object per line, with wall time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.t0 = time.time()

    def write(self, **row: Any) -> None:
        row["time_s"] = round(time.time() - self.t0, 1)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def is_main_process() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
