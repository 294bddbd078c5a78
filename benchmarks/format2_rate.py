"""What format 2 costs in rate on a folder of images: the integer prior, and tiling.

    python benchmarks/format2_rate.py --data ../shared/data/kodak \
        --out benchmarks/results/kodak/format2_rate.json

Per model, real file bytes summed over the images: format 1 (the float prior, one tile), format
2 with one tile (the integer prior alone), and format 2 with tiles of each size in --tiles (the
cost of independent tiles, from which `vqcodec.model.codec.DEFAULT_TILE` is chosen). The maps are
analysed once per image and model, so every column codes the same indices.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tqdm import tqdm

from vqcodec import zoo
from vqcodec.api import load_codec
from vqcodec.bench.envinfo import environment
from vqcodec.coding.entropy import encode_map, words_to_bytes
from vqcodec.format import bitstream
from vqcodec.io.image_io import to_rgb
from vqcodec.model.codec import index_bytes
from vqcodec.training.data import list_images


def v1_bytes(codec, maps: list[torch.Tensor], width: int, height: int) -> int:
    """Size of the format 1 file of these maps (float priors, two streams)."""
    streams = [
        words_to_bytes(encode_map(net, m, maps[k - 1] if k else None).words)
        for k, (net, m) in enumerate(zip(codec.model.priors(), maps, strict=True))
    ]
    header = bitstream.Header(codec.entry.model_id, codec.entry.fingerprint_v1, 0, width, height,
                              0, (tuple(map(len, streams)),), bitstream.ARITHMETIC_FLOAT,
                              version=1)  # fmt: skip
    return len(bitstream.pack(header, [streams], 0))


def v2_bytes(codec, maps: list[torch.Tensor], width: int, height: int, tile: int) -> int:
    encoded = codec.encode_maps(maps, tile)
    lengths = tuple(tuple(len(s) for s in t) for t in encoded.streams)
    header = bitstream.Header(codec.entry.model_id, codec.entry.fingerprint, 0, width, height,
                              tile, lengths)  # fmt: skip
    crc = bitstream.crc_of(header.pack_fields(), index_bytes(maps))
    return len(bitstream.pack(header, encoded.streams, crc))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--tiles", default="8,16,32,64", help="tile sizes for the default model")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.models.split(",") if args.models else zoo.ladder()
    tiles = [int(t) for t in args.tiles.split(",")]
    paths = list_images(args.data)[: args.limit]
    report: dict = {"env": environment(), "data": str(args.data), "images": len(paths),
                    "models": {}}  # fmt: skip
    for name in names:
        codec = load_codec(name)
        sweep = tiles if name == zoo.default_name() else []
        totals = {"float_v1": 0, "int_v2_tile0": 0, **{f"int_v2_tile{t}": 0 for t in sweep}}
        pixels = 0
        for path in tqdm(paths, desc=name):
            rgb, _ = to_rgb(path)
            height, width = rgb.shape[:2]
            pixels += width * height
            maps = codec.analyse(rgb)
            totals["float_v1"] += v1_bytes(codec, maps, width, height)
            for t in [0, *sweep]:
                totals[f"int_v2_tile{t}"] += v2_bytes(codec, maps, width, height, t)
        base = totals["float_v1"]
        report["models"][name] = {
            "bytes": totals,
            "bpp": {k: 8 * v / pixels for k, v in totals.items()},
            "cost_vs_float_pct": {k: 100 * (v / base - 1) for k, v in totals.items()},
        }
        print(name, json.dumps(report["models"][name], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
