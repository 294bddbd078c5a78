"""Choose the quality ladder (zoo.json "ladder": model, rate weights, refinement step per level)
on held-out training images, never on Kodak.

    python benchmarks/ladder.py --data ../shared/data/train --out benchmarks/results/ladder.json

The held-out images are the training stages' validation split (`vqcodec.data.split_holdout`),
cropped to at most Kodak's 768x512. Every model is measured at its default rate weights (and
s8-t512-b1024 also at higher bottom weights, for rates below its own), alone and with a
refinement layer at each step of STEPS: mean bpp (real files) and mean PSNR over the images.
The ladder is read off the upper envelope of all those points: for each target rate, the
envelope point nearest to it (in log rate).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec.api import _encode, load_codec
from vqcodec.bitstream import COLOUR_RGB
from vqcodec.codec import DEFAULT_TILE
from vqcodec.data import list_images, split_holdout
from vqcodec.envinfo import environment
from vqcodec.evaluate import psnr_rgb
from vqcodec.zoo import entries

STEPS = (20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256)
EXTRA_BOTTOM_WEIGHTS = {"s8-t512-b1024": (1.0, 2.0, 4.0)}
TARGETS = (0.07, 0.12, 0.2, 0.3, 0.45, 0.65, 0.9, 1.2)


def configurations() -> list[tuple[str, tuple[float, ...]]]:
    out = []
    for name, entry in entries().items():
        out.append((name, entry.rate_weights))
        for w in EXTRA_BOTTOM_WEIGHTS.get(name, ()):
            out.append((name, (*entry.rate_weights[:-1], w)))
    return out


def envelope(points: list[dict]) -> list[dict]:
    """The points no other point beats with fewer bits and more PSNR, by rate."""
    ranked = sorted(points, key=lambda p: (p["bpp"], -p["psnr"]))
    front: list[dict] = []
    for p in ranked:
        if not front or p["psnr"] > front[-1]["psnr"]:
            front.append(p)
    return front


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=19)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, held_out = split_holdout(list_images(args.data))
    paths = held_out[: args.images]
    images = [np.asarray(Image.open(p).convert("RGB"))[:512, :768] for p in paths]
    sums: dict[tuple, list[tuple[float, float]]] = {}
    for rgb in images:
        for name, weights in configurations():
            found = _encode(rgb, COLOUR_RGB, load_codec(name), DEFAULT_TILE, weights)
            for step in (None, *STEPS):
                compressed, image = found.refined(step)
                psnr = psnr_rgb(rgb, found.base if image is None else image)
                sums.setdefault((name, weights, step), []).append((compressed.bpp, psnr))
    points = [
        {"model": name, "rate_weights": list(w), "refine_step": step,
         "bpp": float(np.mean([b for b, _ in v])), "psnr": float(np.mean([p for _, p in v]))}
        for (name, w, step), v in sums.items()
    ]  # fmt: skip
    front = envelope(points)
    ladder = []
    for target in TARGETS:
        best = min(front, key=lambda p: abs(math.log(p["bpp"] / target)))
        if best not in ladder:
            ladder.append(best)
    report = {
        "env": environment(),
        "images": [p.name for p in paths],
        "points": points,
        "envelope": front,
        "targets": TARGETS,
        "ladder": [{"quality": i + 1, **p} for i, p in enumerate(ladder)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for p in report["ladder"]:
        print(p)


if __name__ == "__main__":
    main()
