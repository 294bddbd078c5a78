"""Ancestral sampling from the priors (coarsest map first, each next given the map above it),
decoded to pixels.

A visual check of what the priors learned, as in the VQ-VAE-2 paper. It walks the same
wavefront schedule as the decoder, drawing each wavefront's codes instead of decoding them.
"""

from __future__ import annotations

import numpy as np
import torch

from vqcodec.coding.schedule import wavefronts
from vqcodec.model.codec import Codec
from vqcodec.model.prior import PixelCNN, PixelCNNStepper


@torch.no_grad()
def sample_map(
    net: PixelCNN, height: int, width: int, cond: torch.Tensor | None,
    gen: torch.Generator, temperature: float = 1.0,
) -> torch.Tensor:  # fmt: skip
    idx = torch.empty(height, width, dtype=torch.long)
    stepper = PixelCNNStepper(net, height, width, cond)
    for rows, cols in wavefronts(height, width, net.cfg.reach):
        probs = torch.softmax(stepper.step(rows, cols) / temperature, dim=1)
        symbols = torch.multinomial(probs, 1, generator=gen)[:, 0]
        idx[rows, cols] = symbols
        stepper.set_symbols(rows, cols, symbols)
    return idx


def sample_images(codec: Codec, width: int, height: int, count: int, seed: int = 0,
                  temperature: float = 1.0) -> list[np.ndarray]:  # fmt: skip
    """`count` H x W x 3 uint8 images drawn from the model's priors."""
    gen = torch.Generator().manual_seed(seed)
    shapes = codec.map_sizes(width, height)
    images = []
    for _ in range(count):
        maps: list[torch.Tensor] = []
        for net, (h, w) in zip(codec.model.priors(), shapes, strict=True):  # coarsest first
            cond = maps[-1] if net.cfg.cond_codes else None
            maps.append(sample_map(net, h, w, cond, gen, temperature))
        images.append(codec.synthesize(maps, width, height))
    return images


def grid(images: list[np.ndarray], columns: int = 4, gap: int = 4) -> np.ndarray:
    """Tile equally sized images into one image with white gaps."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    cols = min(columns, len(images))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = im
    return out
