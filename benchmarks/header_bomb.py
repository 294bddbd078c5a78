"""Header bombs: tiny files claiming the largest image (4096 x 4096) in every tiling, decoded
by `vqcodec decode` in a fresh process each: wall time and peak memory of all its processes.

    python benchmarks/header_bomb.py --out benchmarks/results/header_bomb.json

Every file has a valid header check and empty (or one-byte) streams. What refuses it, and when:
- the format's limits and the layout its model can have (tile 0, tiles over 128 codes, a tile
  count its size and tiling do not make): before torch is imported;
- format 5's payload CRC (any file whose payload is not the one its writer checksummed): the
  same;
- a format 4 file whose layout is a real one has no payload CRC: it is entropy-decoded in full
  (what a real file of that size costs, in the memory a real file takes) before its CRC over the
  decoded indices fails. So is a format 5 file forged with a correct payload CRC: a file that is
  intact by every check the format has costs what its size costs.
Also the fuzz campaign's 30-byte file (format 4, one tile of 1024 x 1024 codes).

Memory is the peak of the summed PSS of the process and its workers, sampled every 20 ms
(`large_image.py`'s sampler); seconds are the process's wall time, startup included.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from large_image import _pss, _tree

from vqcodec import zoo
from vqcodec.bench.envinfo import environment
from vqcodec.format import bitstream
from vqcodec.format.tiles import TileGrid, map_sizes

SIDE = 4096
BOMB_30 = base64.b64decode("VlFaBAUA3fMpYwABAYAggCAAAgEAAAAAwXJ4VjQS")
TILES = (0, 4, 8, 16, 32, 64, 128, 256)
FULL_DECODES = {(4, 4), (4, 32), (4, 128)}  # (version, tile) of valid layouts run in full


def forge(version: int, tile: int, good_payload_crc: bool = False) -> bytes:
    """A file of the default model claiming SIDE x SIDE in tiles of `tile` codes, with one-byte
    streams, a valid header check and a wrong CRC over the decoded indices."""
    entry = zoo.get(zoo.default_name())
    shapes = map_sizes(SIDE, SIDE, _stride(entry))
    count = len(TileGrid(shapes[0], len(shapes), tile)) if tile <= 128 else 1
    count = min(count, bitstream.MAX_STREAMS // len(shapes))
    lengths = ((1,) * len(shapes),) * count
    header = bitstream.Header(entry.model_id, entry.fingerprint, bitstream.COLOUR_RGB, SIDE,
                              SIDE, tile, lengths, version=version)  # fmt: skip
    fields = header.pack_fields()
    payload = bytes(header.payload_bytes)
    check = bitstream.header_check(fields)
    if version >= 5:
        crc = zlib.crc32(payload) if good_payload_crc else zlib.crc32(payload) ^ 1
        return fields + bitstream.trailer(5).pack(check, crc, 0) + payload
    return fields + bitstream.trailer(4).pack(check, 0) + payload


def _stride(entry: zoo.ZooEntry) -> int:
    return json.loads((entry.folder / zoo.CONFIG_FILE).read_text())["vqvae"]["stride"]


def decode(path: Path, out: Path) -> dict:
    """`vqcodec decode` in a fresh process: status, its one error line, seconds, peak PSS."""
    cmd = [sys.executable, "-m", "vqcodec.cli", "decode", str(path), "-o", str(out), "--force"]
    peak, start = 0, time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        while proc.poll() is None:
            peak = max(peak, sum(_pss(p) for p in _tree(proc.pid)))
            time.sleep(0.02)
        _, err = proc.communicate()
    seconds = time.perf_counter() - start
    line = err.strip().splitlines()[-1] if err.strip() else ""
    return {"status": proc.returncode, "message": line, "seconds": round(seconds, 3),
            "peak_pss_all_processes_mb": round(peak / 2**20, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--no-full", action="store_true", help="Skip the full decodes.")
    args = parser.parse_args()
    cases: dict[str, bytes] = {"fuzz-30-byte (format 4, tile 0)": BOMB_30}
    for version in (4, 5):
        for tile in TILES:
            if version == 4 and (version, tile) not in FULL_DECODES and tile in range(4, 129):
                continue  # a valid format-4 layout: decoded in full like the ones run
            if (version, tile) in FULL_DECODES and args.no_full:
                continue
            cases[f"format {version}, tile {tile}"] = forge(version, tile)
    if not args.no_full:
        cases["format 5, tile 32, correct payload CRC"] = forge(5, 32, good_payload_crc=True)
    report: dict = {"env": environment(), "side": SIDE, "model": zoo.default_name(), "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in cases.items():
            path = Path(tmp, "bomb.vqz")
            path.write_bytes(data)
            result = {"file_bytes": len(data)} | decode(path, Path(tmp, "out.png"))
            report["cases"][name] = result
            print(f"{name:<42} {json.dumps(result)}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
