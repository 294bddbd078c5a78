"""Stage 3: quantize a model's trained priors into the integer priors of format 2.

Calibration on code maps of training images (the training split; never evaluation images), then
the rate the integer priors cost against the float priors they replace, measured on the held-out
training images. Writes `prior_int.safetensors` beside the weights and records its sha256 (and
the config's) in zoo.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from vqcodec import zoo
from vqcodec.coding.int_stepper import teacher_forced_bits
from vqcodec.coding.intprior import IntPriorTorch, save_priors
from vqcodec.model.codec import CodecModel
from vqcodec.model.config import ModelConfig
from vqcodec.model.quantize import calibrate, quantize_prior
from vqcodec.training.data import list_images, load_full, split_holdout

CALIBRATION_EVERY = 12  # every 12th training image (about 30 of 352)
CALIBRATION_SIDE = 256
VALIDATION_SIDE = 512


@dataclass(frozen=True)
class QuantizeReport:
    float_bits: float  # held-out images, float priors (teacher-forced)
    int_bits: float  # the same maps under the integer priors
    images: int

    @property
    def cost_pct(self) -> float:
        return 100 * (self.int_bits / self.float_bits - 1)


def load_model(folder: Path) -> CodecModel:
    model = CodecModel(ModelConfig.from_json((folder / zoo.CONFIG_FILE).read_text()))
    model.load_state_dict(load_file(str(folder / zoo.WEIGHTS_FILE)), strict=True)
    return model.eval()


@torch.no_grad()
def _maps(model: CodecModel, paths: list[Path], side: int) -> list[list[torch.Tensor]]:
    align = model.cfg.vqvae.align
    return [[m[0] for m in model.vqvae.encode(load_full(p, align, side))] for p in paths]


def _float_bits(net, idx: torch.Tensor, cond: torch.Tensor | None) -> float:
    with torch.no_grad():
        logits = net(idx[None], None if cond is None else cond[None]).double()
    return float(F.cross_entropy(logits, idx[None], reduction="sum")) / float(
        torch.log(torch.tensor(2.0))
    )


def quantize_model(folder: Path, data: Path, threads: int = 0) -> QuantizeReport:
    """Write `folder/prior_int.safetensors` from the float priors in `folder`; report its cost."""
    if threads:
        torch.set_num_threads(threads)
    model = load_model(folder)
    train, val = split_holdout(list_images(data))
    calibration = _maps(model, train[::CALIBRATION_EVERY], CALIBRATION_SIDE)
    priors = {}
    for level, (name, net) in enumerate(zip(model.cfg.names, model.priors(), strict=True)):
        pairs = [(m[level], m[level - 1] if level else None) for m in calibration]
        priors[name] = quantize_prior(net, calibrate(net, pairs))
    save_priors(priors, folder / zoo.INT_PRIOR_FILE)
    float_bits = int_bits = 0.0
    ints = [IntPriorTorch(priors[name]) for name in model.cfg.names]
    for maps in _maps(model, val, VALIDATION_SIDE):
        for level, net in enumerate(model.priors()):
            cond = maps[level - 1] if level else None
            float_bits += _float_bits(net, maps[level], cond)
            int_bits += teacher_forced_bits(
                ints[level], [maps[level]], None if cond is None else [cond]
            )
    return QuantizeReport(float_bits, int_bits, len(val))


def register(folder: Path) -> dict:
    """Record the sha256 of the model's config and integer priors in its zoo.json entry."""
    registry = json.loads((folder.parent / zoo.REGISTRY_FILE).read_text())
    entry = next((m for m in registry["models"] if m["name"] == folder.name), None)
    if entry is None:
        raise FileNotFoundError(f"{folder.name} is not in {folder.parent / zoo.REGISTRY_FILE}")
    entry["config_sha256"] = zoo.sha256_file(folder / zoo.CONFIG_FILE)
    entry["int_prior_sha256"] = zoo.sha256_file(folder / zoo.INT_PRIOR_FILE)
    zoo.write_registry(folder.parent, registry)
    return entry
