"""Encode/decode seconds, rate and coding overhead of every quality level on a folder of images.

    python benchmarks/coding_speed.py --data ../shared/data/kodak \
        --out benchmarks/results/kodak/coding_cpu.json

Per image: real bpp (whole file), ideal bpp of the maps (sum of -log2 p), their overhead, PSNR,
encode and decode seconds (the decode includes the refinement layer), and the seconds of one
teacher-forced pass of both priors over the same maps (the compute lower bound of
autoregressive decoding). Prior arithmetic runs single-threaded, as in the codec.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from tqdm import tqdm

from vqcodec import zoo
from vqcodec.bench.envinfo import environment
from vqcodec.bench.evaluate import measure
from vqcodec.training.data import list_images


def summarize(rows: list[dict]) -> dict[str, float]:
    keys = [
        "bpp",
        "ideal_bpp",
        "overhead_pct",
        "psnr",
        "encode_s",
        "decode_s",
        "prior_decode_s",
        "teacher_forced_s",
    ]
    out = {f"mean_{k}": statistics.fmean(r[k] for r in rows) for k in keys}
    out["max_decode_s"] = max(r["decode_s"] for r in rows)
    out["decode_over_teacher_forced"] = out["mean_decode_s"] / out["mean_teacher_forced_s"]
    out["prior_decode_over_teacher_forced"] = (
        out["mean_prior_decode_s"] / out["mean_teacher_forced_s"]
    )
    out["all_within_bound"] = all(
        r["payload_bits"] <= r["ideal_bits"] * 1.001 + 64 * r["streams"] for r in rows
    )
    # the cached stepper vs the teacher-forced network: same function, float rounding apart
    out["max_rel_diff_stepper_vs_teacher_forced_bits"] = max(
        abs(r["ideal_bits"] / r["teacher_forced_bits"] - 1) for r in rows
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--levels", default=None, help="comma-separated levels (default: all)")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    levels = [int(q) for q in args.levels.split(",")] if args.levels else None
    presets = [p for p in zoo.presets() if levels is None or p.quality in levels]
    paths = list_images(args.data)[: args.limit]
    report = {"env": environment(), "data": str(args.data), "levels": {}}
    for preset in presets:
        rows = [measure(p, quality=preset.quality).as_dict() for p in tqdm(paths)]
        summary = {"model": preset.model, "refine_step": preset.refine_step, **summarize(rows)}
        report["levels"][f"q{preset.quality}"] = {"summary": summary, "images": rows}
        print(preset, json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
