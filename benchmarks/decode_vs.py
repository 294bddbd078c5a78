"""Decode time of this checkout against another commit's, side by side on one machine.

    git worktree add --detach /tmp/fd28368 fd28368
    python benchmarks/decode_vs.py --reference /tmp/fd28368 --data ../shared/data/kodak \
        --out benchmarks/results/kodak/decode_vs_fd28368.json

Each checkout encodes the images at its own default level and decodes its own files (what a
user of each version gets). Then, round by round, a fresh process per checkout (reference,
then this one, alternating) loads the models, decodes one file untimed to warm up, and times
the decode of every file in process (`time.perf_counter`, torch's default threads). The ratio
of each round's total seconds (this / reference) is taken pair by pair, so drift of the
machine's speed between rounds cancels; the median ratio is the figure to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from vqcodec.bench.envinfo import environment

HERE = Path(__file__).resolve().parents[1]

ENCODE = """
import sys, pathlib, vqcodec
from PIL import Image
out = pathlib.Path(sys.argv[1])
for name in sys.argv[2:]:
    path = pathlib.Path(name)
    (out / (path.stem + ".vqz")).write_bytes(vqcodec.compress(Image.open(path).convert("RGB")))
"""

DECODE = """
import json, sys, time, pathlib, vqcodec
files = [pathlib.Path(p).read_bytes() for p in sys.argv[1:]]
vqcodec.decompress(files[0])
seconds = []
for data in files:
    start = time.perf_counter()
    vqcodec.decompress(data)
    seconds.append(time.perf_counter() - start)
print(json.dumps(seconds))
"""


def run(tree: Path, code: str, args: list[str]) -> str:
    """`code` run by a fresh Python importing vqcodec from `tree` (cwd outside both trees)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def commit_of(tree: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference", type=Path, required=True, help="The other checkout.")
    parser.add_argument("--data", type=Path, required=True, help="Folder of PNG images.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=6, help="Images (the first N).")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    images = [str(p.resolve()) for p in sorted(args.data.glob("*.png"))[: args.limit]]
    trees = {"reference": args.reference.resolve(), "this": HERE}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, tree in trees.items():
            folder = Path(tmp) / name
            folder.mkdir()
            run(tree, ENCODE, [str(folder), *images])
            files[name] = [str(folder / (Path(p).stem + ".vqz")) for p in images]
        sizes = {name: [Path(f).stat().st_size for f in fs] for name, fs in files.items()}
        rounds = []
        for r in range(args.rounds):
            times = {name: json.loads(run(trees[name], DECODE, files[name])) for name in trees}
            rounds.append(times | {"ratio": sum(times["this"]) / sum(times["reference"])})
            print(f"round {r}: ratio {rounds[-1]['ratio']:.3f}", flush=True)
    result = {
        "env": environment(),
        "commits": {name: commit_of(tree) for name, tree in trees.items()},
        "images": [Path(p).name for p in images],
        "bytes": sizes,
        "rounds": rounds,
        "median_seconds_per_image": {
            name: statistics.median(sum(r[name]) / len(images) for r in rounds) for name in trees
        },
        "median_ratio": statistics.median(r["ratio"] for r in rounds),
        "method": "fresh process per checkout and round, alternating; one untimed warm-up "
        "decode; in-process perf_counter; default level of each checkout",
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("median_seconds_per_image", "median_ratio")}))


if __name__ == "__main__":
    main()
