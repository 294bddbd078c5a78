"""Peak memory and speed of coding a 4096 x 4096 image (the largest accepted), each direction in
a fresh process, against a 768 x 512 crop of the same picture (Kodak's size).

    python benchmarks/large_image.py --out benchmarks/results/large_image.json

The picture is examples/sample.png mirrored and tiled to the size (natural content, every
tile decoded). Peak RSS is the process's ru_maxrss (model, torch and all); the worker processes
the codec forks for tile groups (`vqcodec.coding.parallel`) are reported beside it, as the largest
worker's ru_maxrss (it counts the pages a worker shares with its parent again); the memory in
use is the peak of the summed PSS of the process and its workers, sampled every 0.5 s. Seconds
are wall time of the library call in that process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from vqcodec import zoo
from vqcodec.bench.envinfo import environment

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time, json
import vqcodec
from vqcodec.api import load_codec
direction, src, dst, quality = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
load_codec(quality=quality)
start = time.perf_counter()
if direction == "encode":
    data = vqcodec.compress(src, quality=quality)
    open(dst, "wb").write(data)
else:
    vqcodec.decompress(src).save(dst)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak, "worker_peak_rss_bytes": workers}))
"""


def picture(width: int, height: int) -> np.ndarray:
    base = np.asarray(Image.open(ROOT / "examples" / "sample.png").convert("RGB"))
    block = np.concatenate([base, base[:, ::-1]], axis=1)
    block = np.concatenate([block, block[::-1]], axis=0)
    reps = (-(-height // block.shape[0]), -(-width // block.shape[1]), 1)
    return np.ascontiguousarray(np.tile(block, reps)[:height, :width])


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += _tree(int(child))
    return found


def _pss(pid: int) -> int:
    """Proportional set size in bytes: shared pages divided among the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(direction: str, src: Path, dst: Path, quality: int) -> dict:
    """Run one direction in a fresh process, sampling the PSS of it and its workers every
    0.5 s: the peak of their sum is the memory the coding really held."""
    cmd = [sys.executable, "-c", CHILD, direction, str(src), str(dst), str(quality)]
    peak = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        while proc.poll() is None:
            peak = max(peak, sum(_pss(p) for p in _tree(proc.pid)))
            time.sleep(0.5)  # smaps_rollup walks the page tables: sampling is not free
        out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{direction} failed: {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1]) | {"peak_pss_all_processes_bytes": peak}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quality", type=int, default=None, help="[default: the default level]")
    parser.add_argument("--side", type=int, default=4096)
    args = parser.parse_args()
    if args.quality is None:
        args.quality = zoo.default_preset().quality
    report: dict = {"env": environment(), "quality": args.quality, "images": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (w, h) in {"kodak_size": (768, 512), "large": (args.side, args.side)}.items():
            png, vqz, out = Path(tmp, f"{name}.png"), Path(tmp, f"{name}.vqz"), Path(tmp, "o.png")
            Image.fromarray(picture(w, h)).save(png)
            enc = run("encode", png, vqz, args.quality)
            dec = run("decode", vqz, out, args.quality)
            mpx = w * h / 1e6
            report["images"][name] = {
                "width": w,
                "height": h,
                "bytes": vqz.stat().st_size,
                "bpp": 8 * vqz.stat().st_size / (w * h),
                "encode": enc | {"s_per_mpx": enc["seconds"] / mpx},
                "decode": dec | {"s_per_mpx": dec["seconds"] / mpx},
            }
            print(name, json.dumps(report["images"][name]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
