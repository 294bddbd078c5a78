"""Frozen configuration dataclasses, saved as plain JSON next to the weights.

The config is the single source of truth for shapes: weights are never inspected to guess the
architecture (CompressAI's habit we avoid).

A model has a list of code maps ("levels"), coarsest first, each at twice the resolution of the
one before and the finest at 1/stride. In JSON, in the weights' module names and in the integer
priors' tensor names each level goes by its name (`level_names`): "top", "mid1", ..., "bottom",
so a two-level model's files read exactly as they did when two levels were all there was
(`codes_top`, `prior_bottom`, `vqvae.quant_top.codebook`, ...).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


def level_names(levels: int) -> tuple[str, ...]:
    """Names of `levels` code maps, coarsest first: top, mid1, ..., mid(n-2), bottom."""
    if levels < 2:
        raise ValueError(f"a hierarchical model has at least 2 levels, not {levels}")
    return ("top", *(f"mid{k}" for k in range(1, levels - 1)), "bottom")


def levels_in(d: dict[str, Any], prefix: str) -> int:
    """How many levels a JSON object's `<prefix><level name>` keys describe: top and bottom
    plus each mid level present (other keys with the prefix are not level names)."""
    mids = 0
    while f"{prefix}mid{mids + 1}" in d:
        mids += 1
    return 2 + mids


@dataclass(frozen=True)
class VQVAEConfig:
    """Hierarchical VQ-VAE (VQ-VAE-2): code map k of n at 1/(stride 2^(n-1-k)), coarsest first.

    `stride` sets the rate range of a model: the paper's 4 (two maps at 1/4 and 1/8), 8 for low
    rates (1/8 and 1/16, a quarter of the codes), 2 for high rates. `codes` has one codebook size
    per map, coarsest first; its length is the number of maps.
    """

    stride: int = 4  # finest-map stride: 2, 4 or 8
    channels: int = 128  # width of encoder/decoder trunks
    res_blocks: int = 2
    res_channels: int = 32
    synthesis_blocks: int = 0  # residual blocks the synthesis trunk has beyond res_blocks
    synthesis_channels: int = 64  # their hidden width
    embed_dim: int = 64  # codeword dimension (every level)
    codes: tuple[int, ...] = (512, 512)  # codebook size per map, coarsest first
    beta: float = 0.25  # commitment loss weight
    ema_decay: float = 0.99
    dead_code_threshold: float = 0.03  # restart a code whose EMA usage is < this x mean usage

    def __post_init__(self) -> None:
        if self.stride not in (2, 4, 8):
            raise ValueError(f"stride must be 2, 4 or 8, not {self.stride}")
        object.__setattr__(self, "codes", tuple(self.codes))  # equal whether built from a list
        level_names(self.levels)  # at least two

    @property
    def levels(self) -> int:
        return len(self.codes)

    @property
    def names(self) -> tuple[str, ...]:
        return level_names(self.levels)

    @property
    def strides(self) -> list[int]:
        """Pixels per code of every map, coarsest first."""
        return [self.stride << (self.levels - 1 - k) for k in range(self.levels)]

    @property
    def align(self) -> int:
        """Images are padded to a multiple of this (the coarsest map's stride)."""
        return self.strides[0]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: `codes` as one `codes_<level>` entry per level."""
        d = dataclasses.asdict(self)
        del d["codes"]
        return d | {f"codes_{name}": n for name, n in zip(self.names, self.codes, strict=True)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VQVAEConfig:
        """Inverse of `to_dict`; a missing `codes_<level>` takes the default size (512)."""
        names = level_names(levels_in(d, "codes_"))
        rest = {k: v for k, v in d.items() if k not in {f"codes_{n}" for n in names}}
        return cls(**rest, codes=tuple(d.get(f"codes_{name}", 512) for name in names))


@dataclass(frozen=True)
class PriorConfig:
    """A PixelCNN over one code map.

    `kernel` is the masked kernel size: each layer reads `kernel // 2` columns to the right in the
    rows above, which bounds the wavefront schedule of the decoder (docs/DESIGN.md section 3).
    `cond_codes > 0` makes it conditional on the code map above it (half its resolution).
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


def default_priors(codes: tuple[int, ...], **shape: Any) -> tuple[PriorConfig, ...]:
    """One prior per map, coarsest first, each but the first conditioned on the map above."""
    return tuple(
        PriorConfig(codes=n, cond_codes=codes[k - 1] if k else 0, **shape)
        for k, n in enumerate(codes)
    )


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a shipped model: the VQ-VAE and one prior per code map."""

    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    priors: tuple[PriorConfig, ...] = field(default_factory=lambda: default_priors((512, 512)))

    def __post_init__(self) -> None:
        object.__setattr__(self, "priors", tuple(self.priors))
        codes = self.vqvae.codes
        if tuple(p.codes for p in self.priors) != codes:
            raise ValueError(f"priors over {[p.codes for p in self.priors]} codes, maps of {codes}")
        above = (0, *codes[:-1])
        if any(p.cond_codes not in (0, n) for p, n in zip(self.priors, above, strict=True)):
            raise ValueError("a conditional prior must read the map above it (cond_codes)")

    @property
    def names(self) -> tuple[str, ...]:
        """The code maps' names, coarsest first (`level_names`)."""
        return self.vqvae.names

    def to_dict(self) -> dict[str, Any]:
        priors = {
            f"prior_{n}": dataclasses.asdict(p)
            for n, p in zip(self.names, self.priors, strict=True)
        }
        return {"vqvae": self.vqvae.to_dict(), **priors}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        names = level_names(levels_in(d, "prior_"))
        return cls(
            vqvae=VQVAEConfig.from_dict(d["vqvae"]),
            priors=tuple(PriorConfig(**d[f"prior_{name}"]) for name in names),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))
