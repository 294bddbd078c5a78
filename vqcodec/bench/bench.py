"""`vqcodec bench`: rate, distortion and speed of vqcodec's quality levels against classical
codecs.

Every image is measured by one task (all quality levels and all baseline settings), tasks are spread
over `jobs` processes, and each task runs torch with a fixed thread count, so the numbers do
not depend on `jobs` (only the timings can). Results are averaged per setting over images in
file order, as CompressAI does.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vqcodec.api import compress_image, decompress
from vqcodec.bench.baselines import BASELINES
from vqcodec.bench.evaluate import psnr_rgb
from vqcodec.bench.memory import PeakRSS
from vqcodec.io.image_io import to_rgb
from vqcodec.zoo import Preset

METRICS = ("bpp", "psnr-rgb", "ms-ssim", "encoding_time", "decoding_time")


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    from pytorch_msssim import ms_ssim as _ms_ssim

    x = torch.from_numpy(a.copy()).permute(2, 0, 1)[None].double()
    y = torch.from_numpy(b.copy()).permute(2, 0, 1)[None].double()
    return float(_ms_ssim(x, y, data_range=255.0))


def msssim_db(value: float) -> float:
    return -10 * math.log10(max(1 - value, 1e-12))


@dataclass(frozen=True)
class Task:
    path: Path
    levels: tuple[Preset, ...]  # vqcodec's quality levels (`vqcodec.zoo.presets`)
    baselines: tuple[str, ...]
    threads: int


def _row(
    codec: str,
    setting: object,
    path: Path,
    rgb: np.ndarray,
    out: np.ndarray,
    nbytes: int,
    enc: float,
    dec: float,
    **extra: object,
) -> dict:
    pixels = rgb.shape[0] * rgb.shape[1]
    return {
        "codec": codec,
        "setting": setting,
        "image": path.name,
        "bpp": 8 * nbytes / pixels,
        "psnr-rgb": psnr_rgb(rgb, out),
        "ms-ssim": ms_ssim(rgb, out),
        "encoding_time": enc,
        "decoding_time": dec,
        **extra,
    }


def measure_image(task: Task) -> list[dict]:
    """All measurements of one image (runs in a worker process)."""
    torch.set_num_threads(task.threads)
    rgb, _ = to_rgb(task.path)
    rows = []
    for level in task.levels:
        with PeakRSS() as enc_mem:
            start = time.perf_counter()
            result = compress_image(rgb, quality=level.quality)
            enc = time.perf_counter() - start
        with PeakRSS() as dec_mem:
            start = time.perf_counter()
            out = np.asarray(decompress(result.data).convert("RGB"))
            dec = time.perf_counter() - start
        pixels = rgb.shape[0] * rgb.shape[1]
        rows.append(
            _row(
                "vqcodec",
                f"q{level.quality}",
                task.path,
                rgb,
                out,
                len(result.data),
                enc,
                dec,
                model=level.model,
                refine_step=level.refine_step,
                refine_bpp=8 * result.refine_bytes / pixels,
                ideal_bpp=result.ideal_bits / pixels,
                overhead_pct=100 * (8 * result.payload_bytes / result.ideal_bits - 1),
                encode_peak_mb=(enc_mem.extra_bytes or 0) / 2**20,
                decode_peak_mb=(dec_mem.extra_bytes or 0) / 2**20,
            )
        )
    for name in task.baselines:
        baseline = BASELINES[name]
        for quality in baseline.qualities:
            start = time.perf_counter()
            data = baseline.encode(rgb, quality)
            enc = time.perf_counter() - start
            start = time.perf_counter()
            out = baseline.decode(data)
            dec = time.perf_counter() - start
            rows.append(_row(name, quality, task.path, rgb, out, len(data), enc, dec))
    return rows


def run(
    paths: list[Path],
    levels: list[Preset],
    baselines: list[str],
    jobs: int = 1,
    threads: int = 1,
    progress: bool = True,
) -> list[dict]:
    """Per-image rows for every (codec, setting), in image order whatever `jobs` is."""
    from tqdm import tqdm

    tasks = [Task(p, tuple(levels), tuple(baselines), threads) for p in paths]
    bar = tqdm(total=len(tasks), desc="bench", unit="img", disable=not progress)
    rows: list[dict] = []
    if jobs <= 1:
        for task in tasks:
            rows += measure_image(task)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for result in pool.map(measure_image, tasks):
                rows += result
                bar.update()
    bar.close()
    return rows


def curves(rows: list[dict]) -> dict[str, list[dict]]:
    """codec -> [mean over images per setting], ascending bpp."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["codec"], json.dumps(row["setting"]))].append(row)
    out: dict[str, list[dict]] = defaultdict(list)
    for (codec, setting), group in groups.items():
        point = {"setting": json.loads(setting), "images": len(group)}
        numeric = [k for k, v in group[0].items() if isinstance(v, float)]
        point.update({k: float(np.mean([g[k] for g in group])) for k in numeric})
        point.update({k: group[0][k] for k in ("model", "refine_step") if k in group[0]})
        out[codec].append(point)
    return {codec: sorted(points, key=lambda p: p["bpp"]) for codec, points in out.items()}


def compressai_json(name: str, points: list[dict], description: str, **extra: object) -> dict:
    """CompressAI's results schema: lists over the curve's points."""
    results = {k: [p[k] for p in points] for k in METRICS}
    return {"name": name, "description": description, "results": results, **extra}


def load_anchor(path: Path) -> tuple[str, dict[str, list[float]]]:
    """A published curve in CompressAI's format (which spells MS-SSIM 'ms-ssim-rgb' in places)."""
    data = json.loads(path.read_text())
    name = data.get("name") or path.stem
    results = dict(data["results"])
    if "ms-ssim" not in results and "ms-ssim-rgb" in results:
        results["ms-ssim"] = results.pop("ms-ssim-rgb")
    return f"{name} [{path.stem}]", results


def has_bd_rate() -> bool:
    """Whether bjontegaard (the `bench` extra; it pulls scipy and matplotlib) is installed;
    without it rate differences are the equal-quality interpolation below."""
    return importlib.util.find_spec("bjontegaard") is not None


def has_plot() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def rate_difference(
    anchor_bpp: list[float], anchor_q: list[float], test_bpp: list[float], test_q: list[float]
) -> tuple[float | None, str]:
    """Rate change (%) of test vs anchor at equal quality: BD-rate with >= 4 test points, else
    the mean over test points of bpp / (anchor bpp interpolated at the same quality) - 1."""
    a = sorted(zip(anchor_q, anchor_bpp, strict=True))
    if len(test_bpp) >= 4 and len(a) >= 4 and has_bd_rate():
        import bjontegaard

        try:
            value = bjontegaard.bd_rate(
                anchor_bpp,
                anchor_q,
                test_bpp,
                test_q,
                method="akima",
                require_matching_points=False,
                min_overlap=0,  # the overlap is reported in the method instead
            )
            lo, hi = max(min(anchor_q), min(test_q)), min(max(anchor_q), max(test_q))
            share = 100 * (hi - lo) / (max(test_q) - min(test_q))
            span = f"{lo:.2f}-{hi:.2f} dB ({share:.0f} % of ours)"
            return float(value), f"bd-rate (akima) over {span}"
        except (ValueError, ZeroDivisionError):
            pass
    qs, rates = [q for q, _ in a], [math.log(r) for _, r in a]
    diffs = [
        100 * (r / math.exp(float(np.interp(q, qs, rates))) - 1)
        for r, q in zip(test_bpp, test_q, strict=True)
        if qs[0] <= q <= qs[-1]
    ]
    if not diffs:
        return None, "no overlap in quality"
    return float(np.mean(diffs)), f"equal-quality rate difference ({len(diffs)} point(s))"


def bd_table(vq: list[dict], others: dict[str, dict[str, list[float]]]) -> dict[str, dict]:
    """Rate difference of the vqcodec curve against each other curve, in PSNR and MS-SSIM (dB)."""
    bpp = [p["bpp"] for p in vq]
    psnr = [p["psnr-rgb"] for p in vq]
    msdb = [msssim_db(p["ms-ssim"]) for p in vq]
    table = {}
    for name, res in others.items():
        by_psnr = rate_difference(res["bpp"], res["psnr-rgb"], bpp, psnr)
        entry = {"psnr": by_psnr[0], "method": by_psnr[1]}
        if res.get("ms-ssim"):
            entry["ms-ssim-db"] = rate_difference(
                res["bpp"], [msssim_db(v) for v in res["ms-ssim"]], bpp, msdb
            )[0]
        table[name] = entry
    return table


def plot(path: Path, vq_curves: dict[str, list[dict]], others: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 6.5))
    for name, res in others.items():
        style = "--" if "[" in name else "-"
        ax1.plot(res["bpp"], res["psnr-rgb"], style, marker=".", label=name, linewidth=1)
        if res.get("ms-ssim"):
            ax2.plot(
                res["bpp"],
                [msssim_db(v) for v in res["ms-ssim"]],
                style,
                marker=".",
                label=name,
                linewidth=1,
            )
    for name, points in vq_curves.items():
        bpp = [p["bpp"] for p in points]
        ax1.plot(bpp, [p["psnr-rgb"] for p in points], "-o", color="black", label=name, zorder=5)
        for p in points:  # name every model of the ladder next to its point
            ax1.annotate(
                str(p["setting"]),
                (p["bpp"], p["psnr-rgb"]),
                xytext=(6, -12),
                textcoords="offset points",
                fontsize=9,
            )
        ax2.plot(
            bpp,
            [msssim_db(p["ms-ssim"]) for p in points],
            "-o",
            color="black",
            label=name,
            zorder=5,
        )
    for ax, ylabel in ((ax1, "PSNR RGB (dB)"), (ax2, "MS-SSIM (dB)")):
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0, 1.6)
        ax.grid(alpha=0.3)
    ax1.set_ylim(22, 40)
    ax2.set_ylim(6, 22)
    handles, labels = ax1.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
