"""Choose the quality ladder (zoo.json "ladder": model, rate weights, refinement step per level)
on held-out training images, never on Kodak.

    python benchmarks/ladder.py --data ../shared/data/train --out benchmarks/results/ladder.json
    python benchmarks/ladder.py ... --write   # and put the ladder into models/zoo.json
    python benchmarks/ladder.py ... --reselect   # only choose again from the points in --out

The held-out images are the training stages' validation split, downscaled 2x (no JPEG grid)
and cropped to at most Kodak's 768x512 (`vqcodec.training.data.holdout_images`). Every model is
measured at its default rate weights and at the EXTRA_WEIGHTS, alone and with a refinement
layer at each step of STEPS: mean bpp (real files) and mean PSNR over the images. The ladder
is read off the upper convex hull of all those points (the settings no mix of others beats):
for each target rate, the hull point nearest to it (in log rate). The default level is the one
nearest DEFAULT_BPP.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from vqcodec.api import load_codec
from vqcodec.bench.envinfo import environment
from vqcodec.bench.evaluate import psnr_rgb
from vqcodec.format.bitstream import COLOUR_RGB
from vqcodec.model.codec import DEFAULT_TILE
from vqcodec.pipeline import Settings, analyse
from vqcodec.training.data import holdout_images
from vqcodec.zoo import REGISTRY_FILE, entries, models_dir, write_registry

STEPS = (6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256)
EXTRA_WEIGHTS = {
    "s8-t512-b1024": ((0.0, 1.0), (0.0, 2.0), (0.0, 4.0)),  # rates below its own
    "s4-t64-b32": ((1.0, 0.0), (0.0, 0.25), (0.0, 0.5)),  # a cheaper base under a refinement?
    "s4-t64-b32-v2": ((1.0, 0.0), (0.0, 0.25), (0.0, 0.5)),
}
# The downscaled held-out images code at about 1.3x Kodak's rate at the same setting (session 6's
# ladder: 0.097 against 0.073 bpp at level 1, 0.44 against 0.33 at level 5, 3.8 against 3.0 at
# level 13), so these targets land near 0.07, 0.1, 0.17 ... 2.9 bpp on Kodak.
TARGETS = (0.095, 0.13, 0.23, 0.3, 0.43, 0.55, 0.76, 0.95, 1.2, 1.6, 2.3, 2.9, 3.8)
DEFAULT_BPP = 0.43  # Kodak 0.33


def configurations(models: list[str] | None = None) -> list[tuple[str, tuple[float, ...]]]:
    out = []
    for name, entry in entries().items():
        if models and name not in models:
            continue
        out.append((name, entry.rate_weights))
        out += [(name, w) for w in EXTRA_WEIGHTS.get(name, ())]
    return out


def upper_hull(points: list[dict]) -> list[dict]:
    """The points on the upper convex hull of (bpp, PSNR), by rate."""
    hull: list[dict] = []
    for p in sorted(points, key=lambda p: (p["bpp"], -p["psnr"])):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            rise = (b["psnr"] - a["psnr"]) * (p["bpp"] - a["bpp"])
            if rise > (p["psnr"] - a["psnr"]) * (b["bpp"] - a["bpp"]):
                break
            hull.pop()  # b lies on or under the line from a to p
        if not hull or p["psnr"] > hull[-1]["psnr"]:
            hull.append(p)
    return hull


def write_ladder(ladder: list[dict]) -> None:
    """Replace zoo.json's ladder (and default level) with these levels."""
    folder = models_dir()
    registry = json.loads((folder / REGISTRY_FILE).read_text())
    levels = []
    for p in ladder:
        level = {"quality": p["quality"], "model": p["model"]}
        if tuple(p["rate_weights"]) != entries()[p["model"]].rate_weights:
            level["rate_weights"] = p["rate_weights"]
        if p["refine_step"] is not None:
            level["refine_step"] = float(p["refine_step"])
        levels.append(level)
    registry["ladder"] = levels
    default = min(ladder, key=lambda p: abs(math.log(p["bpp"] / DEFAULT_BPP)))
    registry["default_quality"] = default["quality"]
    registry["default"] = default["model"]
    write_registry(folder, registry)


def measure(
    data: Path, count: int, models: list[str] | None = None
) -> tuple[dict, list[str], list[dict]]:
    """(environment, image names, points) over the first `count` held-out images, for the
    installed models (or only `models`)."""
    torch.set_num_threads(1)
    images = holdout_images(data)[:count]
    sums: dict[tuple, list[tuple[float, float]]] = {}
    for _, rgb in images:
        for name, weights in configurations(models):
            found = analyse(rgb, COLOUR_RGB, load_codec(name), DEFAULT_TILE, weights)
            for step in (None, *STEPS):
                compressed, image = found.file(Settings(step))
                psnr = psnr_rgb(rgb, image)
                sums.setdefault((name, weights, step), []).append((compressed.bpp, psnr))
    points = [
        {"model": name, "rate_weights": list(w), "refine_step": step,
         "bpp": float(np.mean([b for b, _ in v])), "psnr": float(np.mean([p for _, p in v]))}
        for (name, w, step), v in sums.items()
    ]  # fmt: skip
    return environment(), [name for name, _ in images], points


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=100, help="At most this many.")
    parser.add_argument("--models", help="Comma-separated models to measure (default: all).")
    parser.add_argument("--write", action="store_true", help="Write the ladder into zoo.json.")
    parser.add_argument("--reselect", action="store_true", help="Reuse --out's measurements.")
    args = parser.parse_args()
    if args.reselect:
        measured = json.loads(args.out.read_text())
        env, names, points = measured["env"], measured["images"], measured["points"]
    else:
        models = args.models.split(",") if args.models else None
        env, names, points = measure(args.data, args.images, models)
    hull = upper_hull(points)
    ladder = []
    for target in TARGETS:
        best = min(hull, key=lambda p: abs(math.log(p["bpp"] / target)))
        if best not in ladder:
            ladder.append(best)
    report = {
        "env": env,
        "images": names,
        "points": points,
        "hull": hull,
        "targets": TARGETS,
        "ladder": [{"quality": i + 1, **p} for i, p in enumerate(ladder)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for p in report["ladder"]:
        print(p)
    if args.write:
        write_ladder(report["ladder"])


if __name__ == "__main__":
    main()
