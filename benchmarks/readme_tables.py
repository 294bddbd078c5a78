"""Render the README's result tables from the committed benchmark JSON (never by hand).

    python benchmarks/readme_tables.py            # print the tables
    python benchmarks/readme_tables.py --write    # replace them between the README's markers

tests/test_readme.py checks that the README holds exactly what this renders.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from vqcodec.bench_report import rate_cells

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT / "benchmarks" / "results" / "kodak"
README = ROOT / "README.md"


def _load(name: str) -> dict:
    return json.loads((KODAK / f"{name}.json").read_text())


def bench_table() -> str:
    vq = _load("vqcodec")
    env = vq["env"]
    lines = [
        f"Kodak, {vq['images_count']} images, measured on {env['cpu']} ({env['cpu_count']} cores, "
        f"{env['torch_threads_per_task']} torch thread per task), commit {env['commit']}:",
        "",
        "| model | bpp (file) | bpp (ideal) | overhead | PSNR RGB | MS-SSIM | encode s "
        "| decode s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in vq["models"]:
        lines.append(
            f"| {m['setting']} | {m['bpp']:.4f} | {m['ideal_bpp']:.4f} | {m['overhead_pct']:.3f} % "
            f"| {m['psnr-rgb']:.2f} dB | {m['ms-ssim']:.4f} | {m['encoding_time']:.2f} "
            f"| {m['decoding_time']:.2f} |"
        )
    lines += [
        "",
        "| rate of vqcodec vs | at equal PSNR | at equal MS-SSIM | method |",
        "|---|---|---|---|",
    ]
    for name, e in vq["rate_difference_percent"].items():
        psnr, ms = rate_cells(e, unit=" %")
        lines.append(f"| {name} | {psnr} | {ms} | {e['method']} |")
    return "\n".join(lines)


def speed_table() -> str:
    data = json.loads((KODAK / "coding_cpu.json").read_text())
    env = data["env"]
    lines = [
        f"{env['cpu']}, {env['cpu_count']} cores, torch {env['torch']}, commit {env['commit']}; "
        "mean seconds per Kodak image:",
        "",
        "| model | encode | decode (all) | decode (priors + range coder) | teacher-forced pass "
        "| decode / teacher-forced | max decode |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in data["models"].items():
        s = m["summary"]
        lines.append(
            f"| {name} | {s['mean_encode_s']:.2f} | {s['mean_decode_s']:.2f} "
            f"| {s['mean_prior_decode_s']:.2f} | {s['mean_teacher_forced_s']:.2f} "
            f"| {s['decode_over_teacher_forced']:.2f} (priors only: "
            f"{s['prior_decode_over_teacher_forced']:.2f}) | {s['max_decode_s']:.2f} |"
        )
    return "\n".join(lines)


TABLES = {"bench": bench_table, "speed": speed_table}


def render(readme: str) -> str:
    for name, make in TABLES.items():
        pattern = re.compile(
            rf"(<!-- {name}-table:start -->\n).*?(<!-- {name}-table:end -->)", re.S
        )
        table = make()
        readme = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), readme)
    return readme


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.write:
        README.write_text(render(README.read_text()))
    else:
        for make in TABLES.values():
            print(make(), end="\n\n")


if __name__ == "__main__":
    main()
