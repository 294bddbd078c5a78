"""How close `compress(bpp=...)` lands to its target, per image, and at what quality.

    python benchmarks/rate_control.py --data ../shared/data/kodak \
        --out benchmarks/results/kodak/rate_control.json

For every image and target: the file's bpp, its relative error against the target (negative:
under; the file never exceeds it), the model, rate weights and refinement step chosen, the PSNR
and the encode time. The summary gives per target the mean and worst relative error, the mean
PSNR, and how many images landed within 2 % of the target.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vqcodec.api import compress_image, decompress, load_codec
from vqcodec.bench.envinfo import environment
from vqcodec.bench.evaluate import psnr_rgb
from vqcodec.io.image_io import to_rgb
from vqcodec.training.data import list_images
from vqcodec.zoo import ladder

NEAR = 0.02  # "within 2 %" in the summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--targets", default="0.1,0.25,0.5,0.8")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    targets = [float(t) for t in args.targets.split(",")]
    paths = list_images(args.data)[: args.limit]
    for name in ladder():
        load_codec(name)  # outside the timings
    rows = []
    for path in tqdm(paths):
        rgb, _ = to_rgb(path)
        for target in targets:
            start = time.perf_counter()
            found = compress_image(rgb, bpp=target)
            seconds = time.perf_counter() - start
            decoded = np.asarray(decompress(found.data).convert("RGB"))
            rows.append({
                "image": path.name, "target_bpp": target, "bpp": found.bpp,
                "error": found.bpp / target - 1, "model": found.model,
                "rate_weights": found.rate_weights, "refine_step": found.refine_step,
                "psnr": psnr_rgb(rgb, decoded),
                "encode_s": seconds,
            })  # fmt: skip
    summary = {}
    for target in targets:
        mine = [r for r in rows if r["target_bpp"] == target]
        errors = np.array([r["error"] for r in mine])
        summary[str(target)] = {
            "mean_bpp": float(np.mean([r["bpp"] for r in mine])),
            "mean_error": float(errors.mean()),
            "mean_abs_error": float(np.abs(errors).mean()),
            "worst_error": float(errors[np.argmax(np.abs(errors))]),
            "within_2pct": int((np.abs(errors) <= NEAR).sum()),
            "images": len(mine),
            "mean_psnr": float(np.mean([r["psnr"] for r in mine])),
            "mean_encode_s": float(np.mean([r["encode_s"] for r in mine])),
            "models": {m: sum(r["model"] == m for r in mine) for m in ladder()},
        }
    report = {"env": environment(), "data": str(args.data), "summary": summary, "images": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
