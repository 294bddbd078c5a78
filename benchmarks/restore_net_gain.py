"""What the restoration CNN (`vqcodec.layers.restore_net`) buys on the ladder, on held-out training
images downscaled 2x (never Kodak), against today's chain.

    python benchmarks/restore_net_gain.py --data ../shared/data/train
        --weights ~/vqcodec-runs/restore-net/export/latest.safetensors
        --out benchmarks/results/restore_net_gain.json   (one command line)

Per ladder level, mean bpp and PSNR of:
  a  refinement + Wiener filter (format 5's chain: `Settings(step, without={"restore-net"})`)
  b  refinement + CNN + Wiener filter refitted on the CNN's output (`restore.fit`; the file
     changes only by the filter's bytes)
  c  refinement + CNN alone (the file without a filter)
  d  refinement + Wiener filter + CNN (the other order; a's file)
and the BD-rate of b, c, d against a (`vqcodec.bench.bench.rate_difference`), the CNN's seconds on a
768x512 image with 1 and 2 torch threads, and how far its pixels move between thread counts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from vqcodec import zoo
from vqcodec.api import load_codec
from vqcodec.bench.bench import rate_difference
from vqcodec.bench.envinfo import environment
from vqcodec.bench.evaluate import psnr_rgb
from vqcodec.format import bitstream
from vqcodec.layers import ABSENT, RESIDUAL_LAYERS, Coded, Frame, restore_net
from vqcodec.layers.refinement import STEP, RefinementLayer
from vqcodec.layers.wiener import WienerLayer
from vqcodec.model.codec import DEFAULT_TILE, index_bytes
from vqcodec.pipeline import Analysis, analyse, channels_of
from vqcodec.training.data import holdout_images

CHAINS = ("a", "b", "c", "d")
NET = Coded(1)  # the network's record (the weights evaluated may not be shipped yet)


def _bpp(found: Analysis, layers: dict[str, Coded]) -> float:
    """Bits per pixel of the whole file with these layers (as `Analysis.file` assembles it)."""
    height, width = found.rgb.shape[:2]
    entry = found.codec.entry
    header = bitstream.Header(entry.model_id, entry.fingerprint, found.colour, width, height,
                              found.tile, lengths=())  # fmt: skip
    ids = {layer.name: layer.layer_id for layer in RESIDUAL_LAYERS}
    parts = sorted((ids[name], coded) for name, coded in layers.items())
    data = bitstream.assemble(header, found.image.streams, index_bytes(found.maps), parts)
    return 8 * len(data) / (width * height)


def level_points(
    found: Analysis, step: float | None, net: restore_net.RestoreNet
) -> dict[str, tuple[float, float]]:
    """(bpp, PSNR) of each chain for one image at one level: the pipeline's layers run by hand
    so the CNN can sit between the refinement and the Wiener filter."""
    rgb = found.rgb
    height, width = rgb.shape[:2]
    frame = Frame(width, height, channels_of(found.colour), found.base.pixels, rgb)
    frame.side[STEP] = step
    refinement = RefinementLayer().encode(frame, step)
    refined, side = frame.image, dict(frame.side)

    def wiener(image: np.ndarray) -> tuple[Coded, np.ndarray]:
        after = Frame(width, height, frame.channels, image, rgb, dict(side))
        coded = WienerLayer().encode(after, True)
        return coded, after.image

    filter_a, image_a = wiener(refined)
    cnn = net.apply(refined, step)
    filter_b, image_b = wiener(cnn)
    bpp_a = _bpp(found, {"refinement": refinement, "wiener": filter_a})
    points = {
        "a": (bpp_a, image_a),
        "b": (
            _bpp(found, {"refinement": refinement, "restore-net": NET, "wiener": filter_b}),
            image_b,
        ),
        "c": (_bpp(found, {"refinement": refinement, "restore-net": NET, "wiener": ABSENT}), cnn),
        "d": (bpp_a, net.apply(image_a, step)),
    }
    return {k: (bpp, psnr_rgb(rgb, image)) for k, (bpp, image) in points.items()}


def ladder(images: list[tuple[str, np.ndarray]], net: restore_net.RestoreNet) -> list[dict]:
    rows = []
    for preset in zoo.presets():
        t0 = time.time()
        codec = load_codec(preset.model)
        weights = preset.rate_weights or codec.entry.rate_weights
        points: dict[str, list] = {k: [] for k in CHAINS}
        for _, rgb in images:
            found = analyse(rgb, bitstream.COLOUR_RGB, codec, DEFAULT_TILE, weights)
            for k, point in level_points(found, preset.refine_step, net).items():
                points[k].append(point)
        row: dict = {"quality": preset.quality, "step": preset.refine_step}
        for k in CHAINS:
            bpp, psnr = np.mean(points[k], axis=0)
            row[k] = {"bpp": round(float(bpp), 5), "psnr": round(float(psnr), 4)}
        rows.append(row)
        gains = " ".join(f"{k} {row[k]['psnr'] - row['a']['psnr']:+.3f}" for k in CHAINS[1:])
        print(f"q{preset.quality}: {gains} dB vs a ({time.time() - t0:.0f} s)", flush=True)
    return rows


def timing(net: restore_net.RestoreNet, rgb: np.ndarray, repeats: int = 5) -> dict:
    """Median seconds of the CNN on `rgb` per torch thread count, and the largest pixel
    difference between the thread counts' outputs."""
    seconds, outputs = {}, {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        net.apply(rgb, 32.0)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            outputs[threads] = net.apply(rgb, 32.0)
            times.append(time.perf_counter() - t0)
        seconds[f"threads_{threads}"] = round(float(np.median(times)), 4)
    torch.set_num_threads(1)
    diff = np.abs(outputs[1].astype(int) - outputs[2])
    return {
        "image": list(rgb.shape[:2]),
        "seconds": seconds,
        "max_level_difference_1_vs_2_threads": int(diff.max()),
        "pixels_differing_1_vs_2_threads": int((diff > 0).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (trials)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    net = restore_net.load(args.weights.expanduser())
    images = holdout_images(args.data)
    images = images[: args.limit] if args.limit else images
    big = max(images, key=lambda item: item[1].size)[1]
    reps = (-(-512 // big.shape[0]), -(-768 // big.shape[1]), 1)
    kodak_size = np.ascontiguousarray(np.tile(big, reps)[:512, :768])  # 768x512 of real content
    speed = timing(net, kodak_size)
    print(json.dumps(speed), flush=True)
    rows = ladder(images, net)
    report: dict = {
        "env": environment(),
        "weights": str(args.weights),
        "config": net.config.__dict__,
        "macs_per_pixel": net.config.macs_per_pixel,
        "images": [n for n, _ in images],
        "cnn_decode": speed,
        "levels": rows,
    }
    for k in CHAINS[1:]:
        value, method = rate_difference(
            [r["a"]["bpp"] for r in rows], [r["a"]["psnr"] for r in rows],
            [r[k]["bpp"] for r in rows], [r[k]["psnr"] for r in rows],
        )  # fmt: skip
        report[f"rate_{k}_vs_a_percent"] = {"value": value, "method": method}
        print(f"{k} vs a: {value:+.2f} % ({method})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
