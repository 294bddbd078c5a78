"""Frozen configuration dataclasses, saved as plain JSON next to the weights.

The config is the single source of truth for shapes: weights are never inspected to guess the
architecture (CompressAI's habit we avoid).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VQVAEConfig:
    """Hierarchical VQ-VAE (VQ-VAE-2): bottom codes at 1/stride, top codes at 1/(2 stride).

    `stride` sets the rate range of a model: the paper's 4 (maps at 1/4 and 1/8), 8 for low
    rates (1/8 and 1/16, a quarter of the codes), 2 for high rates.
    """

    stride: int = 4  # bottom-map stride: 2, 4 or 8
    channels: int = 128  # width of encoder/decoder trunks
    res_blocks: int = 2
    res_channels: int = 32
    synthesis_blocks: int = 0  # residual blocks the synthesis trunk has beyond res_blocks
    synthesis_channels: int = 64  # their hidden width
    embed_dim: int = 64  # codeword dimension (both levels)
    codes_top: int = 512
    codes_bottom: int = 512
    beta: float = 0.25  # commitment loss weight
    ema_decay: float = 0.99
    dead_code_threshold: float = 0.03  # restart a code whose EMA usage is < this x mean usage

    def __post_init__(self) -> None:
        if self.stride not in (2, 4, 8):
            raise ValueError(f"stride must be 2, 4 or 8, not {self.stride}")

    @property
    def align(self) -> int:
        """Images are padded to a multiple of this (the top map's stride)."""
        return 2 * self.stride


@dataclass(frozen=True)
class PriorConfig:
    """A PixelCNN over one code map.

    `kernel` is the masked kernel size: each layer reads `kernel // 2` columns to the right in the
    rows above, which bounds the wavefront schedule of the decoder (docs/DESIGN.md section 3).
    `cond_codes > 0` makes it conditional on a code map at half its resolution (the top map).
    """

    codes: int = 512
    embed_dim: int = 32
    channels: int = 64
    layers: int = 4  # residual masked layers after the first (mask A) layer
    kernel: int = 3
    cond_codes: int = 0
    cond_channels: int = 64

    @property
    def reach(self) -> int:
        """Columns to the right, in the row above, that one layer reads."""
        return self.kernel // 2


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a shipped model."""

    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    prior_top: PriorConfig = field(default_factory=PriorConfig)
    prior_bottom: PriorConfig = field(default_factory=lambda: PriorConfig(cond_codes=512))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(
            vqvae=VQVAEConfig(**d["vqvae"]),
            prior_top=PriorConfig(**d["prior_top"]),
            prior_bottom=PriorConfig(**d["prior_bottom"]),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))
