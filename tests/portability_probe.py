"""Run by tests/test_portability.py in a subprocess under one machine setting (instruction-set
limits, thread count, Triton interpreter): it decodes every model's golden file, digests every
frequency row the fast path computes for the golden maps, and writes a fresh .vqz file.

    python -m tests.portability_probe OUT_DIR [MODELS [small]]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from vqcodec import zoo
from vqcodec.api import compress, decode_indices, load_codec
from vqcodec.coding.entropy import encode_tiles
from vqcodec.format.tiles import TileGrid
from vqcodec.model.codec import Codec, index_bytes

from .conftest import coded_maps, photo
from .test_golden import GOLDEN_V3, golden_file, v3_coefficients


def rows_digest(codec: Codec, maps: list[torch.Tensor], tile: int, rows_of) -> str:
    """sha256 of every frequency row of every tile of every map, in (map, tile, raster) order;
    `rows_of(level, tiles, conds) -> list of (h, w, K) int arrays`."""
    rects = TileGrid(tuple(maps[0].shape), len(maps), tile).rects()
    digest = hashlib.sha256()
    for level in range(len(maps)):
        tiles, conds = codec._tile_inputs(maps, rects, list(range(len(rects))), level)
        for rows in rows_of(level, tiles, conds):
            digest.update(np.ascontiguousarray(rows, dtype="<i8").tobytes())
    return digest.hexdigest()


def fast_rows(codec: Codec):
    def rows_of(level, tiles, conds):
        net = codec.int_priors[level]
        out = [np.zeros((*t.shape, net.cfg.codes), np.int64) for t in tiles]

        def hook(front, freqs):
            f = freqs.long().numpy()
            for b in range(len(tiles)):
                mine = (front.tile == b).numpy()
                out[b][front.rows[mine].numpy(), front.cols[mine].numpy()] = f[mine]

        encode_tiles(net, tiles, conds, hook)
        return out

    return rows_of


def main(out: Path, models: list[str], size: tuple[int, int]) -> None:
    v3 = GOLDEN_V3.read_bytes()
    report = {
        "threads": torch.get_num_threads(),
        "models": {},
        "golden_v3_coefficients": hashlib.sha256(
            v3_coefficients(v3).astype("<i4").tobytes()
        ).hexdigest(),
    }
    for name in models:
        data = golden_file(name).read_bytes()
        header, codec, maps = decode_indices(data)
        fresh = compress(photo(*size, seed=3), model=name)
        _, _, fresh_maps = decode_indices(fresh)
        (out / f"fresh_{name}.vqz").write_bytes(fresh)
        report["models"][name] = {
            "golden_indices": hashlib.sha256(index_bytes(maps)).hexdigest(),
            "rows": rows_digest(codec, maps, header.tile, fast_rows(codec)),
            "fresh_indices": hashlib.sha256(index_bytes(fresh_maps)).hexdigest(),
            "fresh_coded": hashlib.sha256(
                index_bytes(coded_maps(load_codec(name), photo(*size, seed=3)))
            ).hexdigest(),
        }
    (out / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    names = sys.argv[2].split(",") if len(sys.argv) > 2 else sorted(zoo.entries())
    main(Path(sys.argv[1]), names, (40, 56) if len(sys.argv) < 4 else (16, 24))
