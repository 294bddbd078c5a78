"""What the learned parts are worth: the shipped ladder against its own classical path.

    python benchmarks/learned_share.py --data ../shared/data/kodak
        --out benchmarks/results/kodak/learned_share.json   (one command line)

With `--ablation`, each level is also coded (from the same code maps) without the restoration
network, without the Wiener filter and without both, and the report gains the ladder's BD-rate
against each: what every layer above the refinement is worth on the same images.

The classical path is the same format with every learned component replaced by its classical
counterpart: a flat grey base image (128) instead of the code maps' synthesis, then the same
layers above it (`vqcodec.layers.RESIDUAL_LAYERS`: the DCT refinement and the Wiener filter;
the learned restoration network left out), swept over refinement steps. Its files are the
layers' bytes plus a 30-byte header (no maps).
BD-rate (PSNR) of the ladder against that curve: negative is what the learned parts save.
Kodak is evaluation data: nothing here is tuned on it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec import zoo
from vqcodec.api import load_codec
from vqcodec.bench.bench import rate_difference
from vqcodec.bench.envinfo import environment
from vqcodec.bench.metrics import psnr_rgb
from vqcodec.format.bitstream import COLOUR_RGB
from vqcodec.layers import Frame
from vqcodec.pipeline import Settings, analyse, encode_layers

CLASSICAL_STEPS = (512, 384, 256, 192, 160, 128, 96, 80, 64, 48, 40, 32, 24, 16, 12, 8)
HEADER_BYTES = 30  # a header with no code maps: magic, version, size, layer lengths, checks
FLAT = 128
LEARNED_LAYERS = frozenset({"restore-net"})  # left out of the classical path
ABLATIONS = {  # variants of the shipped settings, by what they leave out
    "without restore-net": {"without": LEARNED_LAYERS},
    "without wiener": {"filtered": False},
    "without both": {"filtered": False, "without": LEARNED_LAYERS},
}


def classical(rgb: np.ndarray, step: float) -> tuple[float, float]:
    """(bpp, PSNR) of the layers above the maps on a flat grey base at `step`."""
    height, width = rgb.shape[:2]
    frame = Frame(width, height, 3, np.full_like(rgb, FLAT), rgb)
    coded = encode_layers(frame, Settings(step, without=LEARNED_LAYERS))
    nbytes = HEADER_BYTES + sum(len(s) for c in coded.values() for s in c.streams)
    return 8 * nbytes / (width * height), psnr_rgb(rgb, frame.image)


def ablation_difference(variant: list[dict], shipped: list[dict]) -> dict[str, object]:
    """BD-rate of the shipped ladder against a variant (negative: what it leaves out saves)."""
    value, method = rate_difference(
        [p["bpp"] for p in variant], [p["psnr"] for p in variant],
        [p["bpp"] for p in shipped], [p["psnr"] for p in shipped],
    )  # fmt: skip
    return {"value": value, "method": method}


def mean(points: list[tuple[float, float]]) -> dict[str, float]:
    bpp, psnr = np.mean(points, axis=0)
    return {"bpp": float(bpp), "psnr": float(psnr)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="Folder of the Kodak PNGs.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="Only the first N images.")
    parser.add_argument("--ablation", action="store_true", help="Also the layers' ablation.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = sorted(args.data.glob("*.png"))[: args.limit]
    images = [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in paths]
    start = time.perf_counter()
    variants = {"shipped": {}, **(ABLATIONS if args.ablation else {})}
    curves: dict[str, list[dict]] = {name: [] for name in variants}
    for preset in zoo.presets():
        codec = load_codec(preset.model)
        weights = preset.rate_weights or codec.entry.rate_weights
        points: dict[str, list] = {name: [] for name in variants}
        for _, rgb in images:
            found = analyse(rgb, COLOUR_RGB, codec, rate_weights=weights)
            for name, changes in variants.items():
                compressed, image = found.file(Settings(preset.refine_step, **changes))
                points[name].append((compressed.bpp, psnr_rgb(rgb, image)))
        for name in variants:
            curves[name].append({"quality": preset.quality, **mean(points[name])})
        print({name: curve[-1] for name, curve in curves.items()}, flush=True)
    shipped = curves["shipped"]
    flat = []
    for step in CLASSICAL_STEPS:
        flat.append({"step": step, **mean([classical(rgb, step) for _, rgb in images])})
        print("classical", flat[-1], flush=True)
    value, method = rate_difference(
        [p["bpp"] for p in flat], [p["psnr"] for p in flat],
        [p["bpp"] for p in shipped], [p["psnr"] for p in shipped],
    )  # fmt: skip
    report = {
        "env": environment(),
        "images": [name for name, _ in images],
        "seconds": round(time.perf_counter() - start, 1),
        "shipped": shipped,
        "classical_flat_base": flat,
        "learned_share_percent": value,
        "method": method,
    }
    if args.ablation:
        report["ablation"] = {
            name: {"curve": curves[name], "shipped_vs_this_percent": ablation_difference(
                curves[name], shipped)}
            for name in ABLATIONS
        }  # fmt: skip
    print(f"shipped vs classical path: {value:+.2f} % ({method})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
