"""Turning bench rows into the committed artefacts: CompressAI-schema JSON, a table, a plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vqcodec.bench import bench
from vqcodec.bench.baselines import BASELINES
from vqcodec.bench.envinfo import environment
from vqcodec.io.fileio import write_atomic


def select_anchors(folder: Path, names: str) -> dict[str, dict[str, list[float]]]:
    """Published curves: `kodak__<name>.json` for each comma-separated name ('all': every file)."""
    files = (
        sorted(folder.glob("*.json"))
        if names == "all"
        else [
            folder / f"kodak__{n}.json"
            for n in names.split(",")
            if (folder / f"kodak__{n}.json").exists()
        ]
    )
    return dict(bench.load_anchor(f) for f in files)


def build(rows: list[dict], anchors: dict[str, dict], meta: dict[str, object]) -> dict[str, dict]:
    """{file stem: JSON document}: 'vqcodec' (one entry per model, ascending bpp) + baselines."""
    curves = bench.curves(rows)
    vq_points = curves.pop("vqcodec", [])
    others = {name: {k: [p[k] for p in pts] for k in bench.METRICS} for name, pts in curves.items()}
    comparison = bench.bd_table(vq_points, {**others, **anchors}) if vq_points else {}
    docs = {
        "vqcodec": bench.compressai_json(
            "vqcodec",
            vq_points,
            "vqcodec quality levels (one point per level: a model and its refinement step); "
            "times are seconds per image",
            models=vq_points,
            rate_difference_percent=comparison,
            images=[r for r in rows if r["codec"] == "vqcodec"],
            **meta,
        )
    }
    for name, points in curves.items():
        docs[name] = bench.compressai_json(
            name, points, BASELINES[name].settings, settings=[p["setting"] for p in points], **meta
        )
    return docs


def rate_cells(entry: dict, unit: str = "%") -> tuple[str, str]:
    """(PSNR, MS-SSIM) cells of one rate-difference entry: signed percent, or n/a."""

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.1f}{unit}"

    return cell(entry["psnr"]), cell(entry.get("ms-ssim-db"))


def table(docs: dict[str, dict]) -> str:
    vq = docs["vqcodec"]
    lines = [
        f"{'level':<8} {'bpp':>6} {'ideal':>6} {'ovh %':>6} {'PSNR':>6} {'MS-SSIM':>7} "
        f"{'enc s':>6} {'dec s':>6} {'dec MB':>6}"
    ]
    for m in vq["models"]:
        lines.append(
            f"{m['setting']:<8} {m['bpp']:6.3f} {m['ideal_bpp']:6.3f} {m['overhead_pct']:6.3f} "
            f"{m['psnr-rgb']:6.2f} {m['ms-ssim']:7.4f} {m['encoding_time']:6.2f} "
            f"{m['decoding_time']:6.2f} {m['decode_peak_mb']:6.0f}"
        )
    lines.append("")
    lines.append(f"{'rate change of vqcodec vs':<58} {'PSNR':>8} {'MS-SSIM':>8}  method")
    for name, entry in vq["rate_difference_percent"].items():
        psnr, ms = rate_cells(entry)
        lines.append(f"{name[:58]:<58} {psnr:>8} {ms:>8}  {entry['method']}")
    return "\n".join(lines)


def meta_block(dataset: str, n_images: int, jobs: int, threads: int) -> dict[str, object]:
    env = environment()
    env.update(jobs=jobs, torch_threads_per_task=threads)
    return {"dataset": dataset, "images_count": n_images, "command": " ".join(sys.argv), "env": env}


def write(docs: dict[str, dict], json_path: Path | None, overwrite: bool) -> list[Path]:
    written = []
    if json_path is not None:
        for name, doc in docs.items():
            path = json_path if name == "vqcodec" else json_path.with_name(f"{name}.json")
            write_atomic(path, (json.dumps(doc, indent=1) + "\n").encode(), overwrite=overwrite)
            written.append(path)
    return written
