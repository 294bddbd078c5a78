"""Shared fixtures: the sample image shipped in the repo, and crops of it of any size."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Triton kernels run under the interpreter on machines without a GPU; this must be set before
# any kernel module is imported.
os.environ.setdefault("TRITON_INTERPRET", "0" if os.environ.get("CUDA_VISIBLE_DEVICES") else "1")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample.png"
KODAK = ROOT.parent / "shared" / "data" / "kodak"


@pytest.fixture(autouse=True)
def _seeded_global_rngs() -> None:
    """Every test starts from the same global RNG state, so no result depends on which tests
    ran before it (tests that need randomness should pass their own generator)."""
    import random

    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def sample_rgb() -> np.ndarray:
    return np.asarray(Image.open(SAMPLE).convert("RGB"))


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A natural-looking H x W x 3 uint8 image: a (tiled, mirrored) crop of the sample."""
    base = np.asarray(Image.open(SAMPLE).convert("RGB"))
    reps = (-(-height // base.shape[0]) + 1, -(-width // base.shape[1]) + 1, 1)
    tiled = np.tile(np.concatenate([base, base[:, ::-1]], axis=1), reps)
    rng = np.random.default_rng(seed)
    y = int(rng.integers(0, tiled.shape[0] - height + 1))
    x = int(rng.integers(0, tiled.shape[1] - width + 1))
    return np.ascontiguousarray(tiled[y : y + height, x : x + width])


def coded_maps(codec, rgb: np.ndarray) -> list:
    """The maps `vqcodec.compress` codes for `rgb` with `codec`: its model's default rate-aware
    choice (`Codec.analyse` gives the nearest codewords instead)."""
    return codec.encode_image(rgb, rate_weights=codec.entry.rate_weights).maps
