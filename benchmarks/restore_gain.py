"""What the restoration filter buys: the ladder with and without it, against WebP, on held-out
training images downscaled 2x (never Kodak).

    python benchmarks/restore_gain.py --data ../shared/data/train
        --out benchmarks/results/restore_gain.json   (one command line)

The training photos are decoded JPEGs (BSD200) or JPEG-origin web photos (SunHays80): at full
size their 8x8 JPEG grid favours an 8x8 DCT coder, and held-out images put vqcodec ahead of WebP
where Kodak (film scans) puts it behind. Downscaling by 2 (Lanczos) removes the grid
(`vqcodec.training.data.holdout_images`).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec import zoo
from vqcodec.api import load_codec
from vqcodec.bench.bench import rate_difference
from vqcodec.bench.envinfo import environment
from vqcodec.bench.evaluate import psnr_rgb
from vqcodec.format.bitstream import COLOUR_RGB
from vqcodec.model.codec import DEFAULT_TILE
from vqcodec.pipeline import Settings, analyse
from vqcodec.training.data import holdout_images

WEBP_QUALITIES = (0, 5, 10, 20, 30, 40, 50, 60, 75, 85, 90, 95)


def mean_point(points: list[tuple[float, float]]) -> dict[str, float]:
    bpp, psnr = np.mean(points, axis=0)
    return {"bpp": float(bpp), "psnr": float(psnr)}


def webp(images: list[tuple[str, np.ndarray]]) -> list[dict]:
    curve = []
    for quality in WEBP_QUALITIES:
        points = []
        for _, rgb in images:
            buffer = io.BytesIO()
            Image.fromarray(rgb).save(buffer, "WEBP", quality=quality, method=6)
            decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
            bpp = 8 * buffer.tell() / (rgb.shape[0] * rgb.shape[1])
            points.append((bpp, psnr_rgb(rgb, decoded)))
        curve.append({"quality": quality, **mean_point(points)})
    return curve


def ladder(images: list[tuple[str, np.ndarray]]) -> dict[str, list[dict]]:
    """Every level, with and without the filter: mean bpp and PSNR."""
    curves: dict[str, list[dict]] = {"filtered": [], "unfiltered": []}
    for preset in zoo.presets():
        codec = load_codec(preset.model)
        weights = preset.rate_weights or codec.entry.rate_weights
        points: dict[str, list] = {name: [] for name in curves}
        for _, rgb in images:
            found = analyse(rgb, COLOUR_RGB, codec, DEFAULT_TILE, weights)
            for name in curves:
                compressed, image = found.file(
                    Settings(preset.refine_step, name == "filtered", without={"restore-net"})
                )
                points[name].append((compressed.bpp, psnr_rgb(rgb, image)))
        for name in curves:
            curves[name].append({"quality": preset.quality, **mean_point(points[name])})
    return curves


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = holdout_images(args.data)
    anchor = webp(images)
    curves = ladder(images)
    report: dict = {"env": environment(), "images": [n for n, _ in images], "webp": anchor}
    for name, curve in curves.items():
        value, method = rate_difference(
            [p["bpp"] for p in anchor], [p["psnr"] for p in anchor],
            [p["bpp"] for p in curve], [p["psnr"] for p in curve],
        )  # fmt: skip
        report[name] = {"curve": curve, "rate_vs_webp_percent": value, "method": method}
        print(f"{name}: {value:+.2f} % vs WebP ({method})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
