"""Render the result tables of the README and the model card from the committed benchmark JSON
(never by hand).

    python benchmarks/readme_tables.py            # print the tables
    python benchmarks/readme_tables.py --write    # replace them between the documents' markers

tests/test_readme.py checks that both documents hold exactly what this renders.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from vqcodec.bench.bench_report import rate_cells

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT / "benchmarks" / "results" / "kodak"
README = ROOT / "README.md"
CARD = ROOT / "models" / "README.md"
DOCUMENTS = [README, CARD]


def _load(name: str) -> dict:
    return json.loads((KODAK / f"{name}.json").read_text())


def _level(m: dict) -> str:
    step = m.get("refine_step")
    return m["model"] + (f" + {step:g}" if step else "")


def bench_table() -> str:
    vq = _load("vqcodec")
    env = vq["env"]
    lines = [
        f"Kodak, {vq['images_count']} images, measured on {env['cpu']} ({env['cpu_count']} cores, "
        f"{env['torch_threads_per_task']} torch thread per task), commit {env['commit']}:",
        "",
        "| level | model + refinement step | bpp (file) | of which refinement "
        "| maps: ideal bpp, overhead | PSNR RGB | MS-SSIM | encode s | decode s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in vq["models"]:
        lines.append(
            f"| {m['setting']} | {_level(m)} | {m['bpp']:.4f} | {m['refine_bpp']:.4f} "
            f"| {m['ideal_bpp']:.4f}, {m['overhead_pct']:.2f} % "
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
        "| level | encode | decode (all) | decode (priors + range coder) | teacher-forced pass "
        "| decode / teacher-forced | max decode |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in data["levels"].items():
        s = m["summary"]
        lines.append(
            f"| {name} {_level(s)} | {s['mean_encode_s']:.2f} | {s['mean_decode_s']:.2f} "
            f"| {s['mean_prior_decode_s']:.2f} | {s['mean_teacher_forced_s']:.2f} "
            f"| {s['decode_over_teacher_forced']:.2f} (priors only: "
            f"{s['prior_decode_over_teacher_forced']:.2f}) | {s['max_decode_s']:.2f} |"
        )
    return "\n".join(lines)


def card_table() -> str:
    """Each quality level's Kodak results, for the model card."""
    from vqcodec import zoo

    vq = _load("vqcodec")
    by_level = {m["setting"]: m for m in vq["models"]}
    lines = [
        f"Kodak, {vq['images_count']} images, real file sizes (`benchmarks/results/kodak/`, "
        f"commit {vq['env']['commit']}; decode seconds on {vq['env']['cpu']}, two images at "
        "a time on 2 cores (`--jobs 2`); one at a time, the README's speed table):",
        "",
        "| quality | model (id) | rate weights | refinement step | bpp (file) | PSNR RGB "
        "| MS-SSIM | decode s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for preset in zoo.presets():
        m, entry = by_level[f"q{preset.quality}"], zoo.get(preset.model)
        weights = ", ".join(f"{w:g}" for w in (preset.rate_weights or entry.rate_weights))
        step = f"{preset.refine_step:g}" if preset.refine_step else "none"
        lines.append(
            f"| {preset.quality} | {preset.model} ({entry.model_id}) | {weights} | {step} "
            f"| {m['bpp']:.4f} | {m['psnr-rgb']:.2f} dB | {m['ms-ssim']:.4f} "
            f"| {m['decoding_time']:.2f} |"
        )
    return "\n".join(lines)


TABLES = {"bench": bench_table, "speed": speed_table, "card": card_table}


def render(text: str) -> str:
    """`text` with every marked table replaced by a fresh rendering."""
    for name, make in TABLES.items():
        pattern = re.compile(
            rf"(<!-- {name}-table:start -->\n).*?(<!-- {name}-table:end -->)", re.S
        )
        if pattern.search(text):
            table = make()
            text = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.write:
        for doc in DOCUMENTS:
            doc.write_text(render(doc.read_text()))
    else:
        for make in TABLES.values():
            print(make(), end="\n\n")


if __name__ == "__main__":
    main()
