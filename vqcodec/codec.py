"""A loaded model: the VQ-VAE and both priors, with the pixel-side steps of coding.

Images of any size are padded (edge replicate) to a multiple of the top map's stride before
analysis, and cropped back after synthesis; the map sizes follow from the original size stored
in the header and the model's stride.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from vqcodec import zoo
from vqcodec.config import ModelConfig
from vqcodec.errors import ModelError
from vqcodec.prior import PixelCNN
from vqcodec.vqvae import HierarchicalVQVAE


class CodecModel(nn.Module):
    """The three networks of one shipped model, under one state dict."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vqvae = HierarchicalVQVAE(cfg.vqvae)
        self.prior_top = PixelCNN(cfg.prior_top)
        self.prior_bottom = PixelCNN(cfg.prior_bottom)


def map_sizes(width: int, height: int, stride: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top H, top W), (bottom H, bottom W)) for an image of the given original size."""
    top_h, top_w = -(-height // (2 * stride)), -(-width // (2 * stride))
    return (top_h, top_w), (2 * top_h, 2 * top_w)


def save_model(model: CodecModel, folder: Path) -> str:
    """Write weights (safetensors) + config (JSON) into `folder`; returns the weights' sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / zoo.WEIGHTS_FILE), metadata={"format": "vqcodec"})
    (folder / zoo.CONFIG_FILE).write_text(model.cfg.to_json() + "\n")
    return zoo.sha256_file(folder / zoo.WEIGHTS_FILE)


@dataclass
class Codec:
    entry: zoo.ZooEntry
    model: CodecModel

    @classmethod
    def load(cls, entry: zoo.ZooEntry) -> Codec:
        weights = zoo.verified_weights(entry)
        try:
            cfg = ModelConfig.from_json((entry.folder / zoo.CONFIG_FILE).read_text())
            model = CodecModel(cfg)
            model.load_state_dict(load_file(str(weights)), strict=True)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise ModelError(f"model {entry.name} cannot be loaded: {exc}") from None
        return cls(entry, model.eval())

    @property
    def cfg(self) -> ModelConfig:
        return self.model.cfg

    @torch.no_grad()
    def analyse(self, rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """H x W x 3 uint8 -> (top map, bottom map) as int64 tensors."""
        height, width = rgb.shape[:2]
        x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255.0
        align = self.cfg.vqvae.align
        pad_h, pad_w = -height % align, -width % align
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        idx_top, idx_bottom = self.model.vqvae.encode(x)
        return idx_top[0], idx_bottom[0]

    @torch.no_grad()
    def synthesize(
        self, idx_top: torch.Tensor, idx_bottom: torch.Tensor, width: int, height: int
    ) -> np.ndarray:
        """Maps -> H x W x 3 uint8, cropped to the original size."""
        x = self.model.vqvae.decode(idx_top[None], idx_bottom[None])[0, :, :height, :width]
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
