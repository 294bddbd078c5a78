"""Decode times of the browser decoder (web/) in headless Chromium, and the page's peak memory.

kodim23 (768 x 512; evaluation use of Kodak) or, without it, examples/sample.png tiled to
768 x 512, encoded by vqcodec at a few quality levels; each file decoded `--repeats` times in
the page's worker (the first run includes fetching the model's assets and compiling), wall clock
and the renderer process's CPU time (/proc), the time of each stage (median of the warm runs;
the layers above the maps in the order the file's records run them: refinement, restoration
network, filter) and the network's share of the decode (`network_share`: its stage over the
sum of the stages). Results: benchmarks/results/web_decode.json. Needs /usr/bin/chromium and
the playwright package:

    nice -n 10 python benchmarks/web_decode.py [--qualities 1 3 5 9] [--repeats 3]
    nice -n 10 python benchmarks/web_decode.py --large 4096 --qualities 5 --repeats 1
        --threads 1 --out benchmarks/results/web_decode_large.json   (the largest image)
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from vqcodec import api
from vqcodec.format import bitstream
from vqcodec.web_export import export_web

ROOT = Path(__file__).resolve().parents[1]
KODIM23 = Path("/work/shared/data/kodak/kodim23.png")
OUT = ROOT / "benchmarks" / "results" / "web_decode.json"

DECODE = """async ([b64, threads]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const t = performance.now();
  const r = await window.vqz.decodeBytes(bytes.buffer, threads ? { threads } : {});
  return { wall_ms: performance.now() - t, facts: r.facts };
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_image(large: int = 0) -> tuple[Image.Image, str]:
    """kodim23 (or the sample tiled to its size); with `large`, the sample mirrored and tiled to
    large x large (natural content, as benchmarks/large_image.py)."""
    if large:
        base = np.asarray(Image.open(ROOT / "examples" / "sample.png").convert("RGB"))
        block = np.concatenate([base, base[:, ::-1]], axis=1)
        block = np.concatenate([block, block[::-1]], axis=0)
        reps = (-(-large // block.shape[0]), -(-large // block.shape[1]), 1)
        tiled = np.ascontiguousarray(np.tile(block, reps)[:large, :large])
        return Image.fromarray(tiled), f"examples/sample.png tiled to {large}x{large}"
    if KODIM23.exists():
        return Image.open(KODIM23).convert("RGB"), "kodim23.png"
    sample = np.asarray(Image.open(ROOT / "examples" / "sample.png").convert("RGB"))
    tiled = np.tile(sample, (2, 2, 1))[:512, :768]
    return Image.fromarray(tiled), "examples/sample.png tiled to 768x512"


def renderer_pids(before: set[int]) -> list[int]:
    """The Chromium renderer processes started by this run (the page and its worker)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) not in before:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"chromium" in cmd and b"--type=renderer" in cmd:
                pids.append(int(pid))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of `pids` so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def renderer_peak_rss_mb(before: set[int]) -> float | None:
    """Peak resident memory (VmHWM) of the Chromium renderer processes started by this run."""
    peaks = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in before:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"chromium" in cmd and b"--type=renderer" in cmd:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks) if peaks else None


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--qualities", type=int, nargs="+", default=[1, 3, 5, 9])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="helper workers (1: none)"
    )
    parser.add_argument("--large", type=int, default=0, help="a large x large image instead")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    image, source = test_image(args.large)
    files = {}
    for q in args.qualities:
        t = time.perf_counter()
        files[q] = api.compress(image, quality=q)
        print(f"encoded q{q}: {len(files[q])} bytes in {time.perf_counter() - t:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as site:
        export_web(Path(site))
        handler = functools.partial(_Quiet, directory=site)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        before = {int(p) for p in os.listdir("/proc") if p.isdigit()}
        load_before = os.getloadavg()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
            page.wait_for_function("window.vqz !== undefined")
            runs = []
            for q, data in files.items():
                for threads in args.threads:
                    b64 = base64.b64encode(data).decode()
                    times = []
                    for _ in range(args.repeats):
                        pids = renderer_pids(before)
                        cpu = cpu_seconds(pids)
                        times.append(page.evaluate(DECODE, [b64, threads]))
                        times[-1]["cpu_s"] = cpu_seconds(pids) - cpu
                    warm = times[1:] or times
                    facts = warm[-1]["facts"]
                    stages = {
                        k: statistics.median(t["facts"]["times"].get(k, 0) for t in warm) / 1000
                        for k in facts["times"]
                    }
                    run = {
                        "quality": q,
                        "threads": facts["threads"],
                        "model": facts["model"],
                        "bytes": len(data),
                        "bpp": round(len(data) * 8 / (image.width * image.height), 4),
                        "first_decode_s": round(times[0]["wall_ms"] / 1000, 3),
                        "decode_s": round(statistics.median(t["wall_ms"] for t in warm) / 1000, 3),
                        "best_decode_s": round(min(t["wall_ms"] for t in warm) / 1000, 3),
                        "decode_cpu_s": round(statistics.median(t["cpu_s"] for t in warm), 2),
                        "layers": [r.layer for r in bitstream.unpack(data).header.layers],
                        "stages_s": {k: round(v, 3) for k, v in stages.items()},
                        "network_share": round(stages.get("network", 0) / sum(stages.values()), 3),
                        "kernels": facts["kernels"],
                    }
                    runs.append(run)
                    print(json.dumps(run), flush=True)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            peak = renderer_peak_rss_mb(before)
            version = browser.version
            browser.close()
        server.shutdown()
    result = {
        "image": f"{source}, {image.width}x{image.height}",
        "browser": f"Chromium {version} (headless, Debian package)",
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "shared machine: other jobs ran at the same time. decode_s: wall clock in the "
            "page around the worker's decode (median of the warm runs); decode_cpu_s: CPU time of "
            "the renderer process (page + worker) over the same runs, which the load affects less",
        },
        "runs": runs,
        "peak_memory_mb": {
            "renderer_process_vmhwm": round(peak, 1) if peak else None,
            "main_thread_js_heap_used": round(metrics.get("JSHeapUsedSize", 0) / 2**20, 1),
            "main_thread_js_heap_total": round(metrics.get("JSHeapTotalSize", 0) / 2**20, 1),
        },
        "target": "<= 2 s at quality 5",
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
