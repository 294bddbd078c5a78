"""GPU benchmark of the Triton kernels against the best torch formulations, at codec shapes.

    python benchmarks/kernels.py --out benchmarks/results/kernels_<gpu>.json

Needs CUDA (it refuses to run, rather than guess, without one). For each shape it records the
median time over repeated runs (CUDA events) and the peak extra GPU memory of each variant.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from vqcodec.kernels._masked_conv_triton import masked_conv2d_triton
from vqcodec.kernels._vq_nearest_triton import vq_nearest_triton
from vqcodec.kernels.masked_conv import kept_taps, tap_matrix
from vqcodec.kernels.vq_nearest import vq_nearest_ref
from vqcodec.model.prior import causal_mask


def timed(fn, *args, repeats: int = 20) -> tuple[float, int]:
    """(median ms, peak bytes allocated beyond the inputs) of fn(*args)."""
    fn(*args)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(*args)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2], torch.cuda.max_memory_allocated() - base


def vq_torch_cdist(z, cb):
    return torch.cdist(z, cb).argmin(1)


def vq_torch_matmul(z, cb):  # one full N x K matrix: the fastest torch form when memory allows
    return torch.addmm(cb.pow(2).sum(1)[None], z, cb.t(), alpha=-2).argmin(1)


def bench_vq(results: list[dict]) -> None:
    shapes = {"kodak-bottom": 192 * 128, "kodak-top": 96 * 64, "4k-bottom": 960 * 540}
    for name, n in shapes.items():
        for k in (512, 1024, 2048, 4096, 8192):
            z = torch.randn(n, 64, device="cuda")
            cb = torch.randn(k, 64, device="cuda")
            row = {"op": "vq_nearest", "shape": name, "N": n, "D": 64, "K": k}
            for label, fn in [
                ("triton", vq_nearest_triton),
                ("torch_matmul", vq_torch_matmul),
                ("torch_chunked_ref", vq_nearest_ref),
                ("torch_cdist", vq_torch_cdist),
            ]:
                try:
                    ms, mem = timed(fn, z, cb)
                    row[label] = {"ms": ms, "peak_extra_bytes": mem}
                except torch.cuda.OutOfMemoryError:
                    row[label] = {"ms": None, "error": "out of memory"}
                torch.cuda.empty_cache()
            best = min(v["ms"] for k_, v in row.items() if k_.startswith("torch") and v.get("ms"))
            row["speedup_vs_best_torch"] = best / row["triton"]["ms"]
            results.append(row)
            print(json.dumps(row))


def masked_conv_dense(x, masked_weight, bias):
    return F.conv2d(x, masked_weight, bias, padding=masked_weight.shape[-1] // 2)


def bench_masked_conv(results: list[dict]) -> None:
    # (batch, channels, H, W, kernel): training crops and whole Kodak maps of the priors
    shapes = [(16, 96, 32, 32, 3), (16, 96, 16, 16, 3), (1, 96, 128, 192, 3), (1, 128, 128, 192, 5)]
    for b, c, h, w, k in shapes:
        x = torch.randn(b, c, h, w, device="cuda")
        weight = torch.randn(c, c, k, k, device="cuda")
        bias = torch.randn(c, device="cuda")
        mask = causal_mask(k, True).cuda()
        taps = kept_taps(mask)
        tw = tap_matrix(weight, taps).contiguous()
        row = {"op": "masked_conv2d", "B": b, "C": c, "H": h, "W": w, "k": k, "taps": len(taps)}
        ms, mem = timed(masked_conv2d_triton, x, tw, bias, taps)
        row["triton"] = {"ms": ms, "peak_extra_bytes": mem}
        ms, mem = timed(masked_conv_dense, x, weight * mask, bias)
        row["torch_dense_masked"] = {"ms": ms, "peak_extra_bytes": mem}
        row["speedup"] = row["torch_dense_masked"]["ms"] / row["triton"]["ms"]
        results.append(row)
        print(json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("error: this benchmark needs a CUDA GPU; no numbers are estimated without one")
    torch.backends.cuda.matmul.allow_tf32 = False  # same arithmetic class as the kernels
    torch.backends.cudnn.allow_tf32 = False
    import triton

    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    results: list[dict] = []
    bench_vq(results)
    bench_masked_conv(results)
    env = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "commit": commit.strip(),
    }
    args.out.write_text(json.dumps({"env": env, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
