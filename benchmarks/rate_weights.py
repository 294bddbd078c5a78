"""Choose each model's default rate weights (`coding.rate_aware`) on held-out training images,
never on Kodak.

    python benchmarks/rate_weights.py --data ../shared/data/train \
        --out benchmarks/results/rate_weights.json

The held-out images are the training stages' validation split (`training.data.split_holdout`),
cropped to Kodak's 768x512. For every model, each top weight (bottom 0) and each bottom weight
(top 0): mean bpp (real files) and PSNR. The chosen pair maximizes the estimated BD-rate gain,
(PSNR change) / SLOPE - (rate change %) (none unless that reaches MIN_GAIN), with SLOPE the
ladder's own trade (about 0.025 dB per 1 % of rate between its rungs on Kodak,
benchmarks/results/kodak/vqcodec.json). Measured: top weights
pay on the two models with large codebooks at both levels; a bottom weight costs the s4 models
about twice the ladder's PSNR per bit, but pays on s8-t512-b1024, whose collapsed top codebook
leaves nearly everything to the bottom map.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec.api import load_codec
from vqcodec.bench.envinfo import environment
from vqcodec.bench.evaluate import psnr_rgb
from vqcodec.format.bitstream import COLOUR_RGB
from vqcodec.model.codec import DEFAULT_TILE
from vqcodec.pipeline import Settings, analyse
from vqcodec.training.data import list_images, split_holdout
from vqcodec.zoo import ladder

SLOPE = 0.025  # dB per 1 % of rate
MIN_GAIN = 0.25  # %: a smaller estimated gain does not pay for the rate-aware encode's time


def measure(codec, images: list[np.ndarray], weights: tuple[float, float]) -> dict[str, float]:
    bpp, psnr = [], []
    for rgb in images:
        found = analyse(rgb, COLOUR_RGB, codec, DEFAULT_TILE, weights)
        decoded = found.base
        bpp.append(found.file(Settings(None))[0].bpp)
        psnr.append(psnr_rgb(rgb, decoded))
    return {"top": weights[0], "bottom": weights[1], "bpp": float(np.mean(bpp)),
            "psnr": float(np.mean(psnr))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top", default="0,0.5,1,2,3")
    parser.add_argument("--bottom", default="0.25,0.5")
    parser.add_argument("--images", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, held_out = split_holdout(list_images(args.data))
    images = [np.asarray(Image.open(p).convert("RGB"))[:512, :768] for p in held_out[: args.images]]
    report: dict = {"env": environment(), "images": [p.name for p in held_out[: args.images]],
                    "slope_db_per_pct": SLOPE, "models": {}}  # fmt: skip
    for name in ladder():
        codec = load_codec(name)
        rows = [measure(codec, images, (float(w), 0.0)) for w in args.top.split(",")]
        rows += [measure(codec, images, (0.0, float(w))) for w in args.bottom.split(",")]
        base = rows[0]
        for r in rows:
            r["rate_pct"] = 100 * (r["bpp"] / base["bpp"] - 1)
            r["psnr_db"] = r["psnr"] - base["psnr"]
            r["gain_pct"] = r["psnr_db"] / SLOPE - r["rate_pct"]
        best = max(rows, key=lambda r: r["gain_pct"])
        if best["gain_pct"] < MIN_GAIN:
            best = base
        report["models"][name] = {"rows": rows, "chosen": [best["top"], best["bottom"]]}
        print(name, "weights", best["top"], best["bottom"], f"gain {best['gain_pct']:.2f} %")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
