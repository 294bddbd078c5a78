"""Validation curves of training runs, kept in the repo so the next session knows where each
run stands (run folders live outside the work tree and may not survive).

    python benchmarks/training_curves.py ~/vqcodec-runs/q3-long/run \
        --out benchmarks/results/training

For every run folder: the validation points of stage 1 (`vqvae_log.jsonl`: PSNR on the held-out
training images, code perplexities), stage 1b (`decoder_log.jsonl`: the same PSNR), stage 2
(`prior_log.jsonl`: bits per code and bpp on the same images) and of a restoration network's
run (`log.jsonl` of `vqcodec.training.restore_net_stage`: its mean PSNR gain on the same images
downscaled 2x, and per level) go to `<out>/<run>.json`, merged
with what an earlier call recorded (a run that resumed in a new session keeps its older
points); `<out>/curves.png` plots them all.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

STAGE_KEYS = {
    "vqvae_log.jsonl": ("step", "val_psnr", "ppl_top", "ppl_bottom", "time_s"),
    "decoder_log.jsonl": ("step", "val_psnr", "time_s"),
    "prior_log.jsonl": ("step", "val_bits_top", "val_bits_bottom", "val_bpp", "time_s"),
    "log.jsonl": ("step", "mean_gain_db", "val_gain_db", "seconds"),
}
STAGE_NAMES = {"log.jsonl": "restore-net"}


def validation_points(run: Path) -> dict[str, list[dict]]:
    stages: dict[str, list[dict]] = {}
    for name, keys in STAGE_KEYS.items():
        path = run / name
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        marker = keys[1]
        stages[STAGE_NAMES.get(name, name.split("_")[0])] = [
            {k: r[k] for k in keys if k in r} for r in rows if marker in r
        ]
    return stages


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    by_step = {r["step"]: r for r in old} | {r["step"]: r for r in new}
    return [by_step[s] for s in sorted(by_step)]


def plot(records: dict[str, dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (psnr_ax, decoder_ax, bpp_ax, net_ax) = plt.subplots(1, 4, figsize=(21, 4))
    for name, record in sorted(records.items()):
        stages = record["stages"]
        if points := stages.get("vqvae"):
            psnr_ax.plot([p["step"] for p in points], [p["val_psnr"] for p in points], "o-",
                         label=name, markersize=3)  # fmt: skip
        if points := stages.get("decoder"):
            decoder_ax.plot([p["step"] for p in points], [p["val_psnr"] for p in points], "o-",
                            label=name, markersize=3)  # fmt: skip
        if points := stages.get("prior"):
            bpp_ax.plot([p["step"] for p in points], [p["val_bpp"] for p in points], "o-",
                        label=name, markersize=3)  # fmt: skip
        if points := stages.get("restore-net"):
            net_ax.plot([p["step"] for p in points], [p["mean_gain_db"] for p in points], "o-",
                        label=name, markersize=3)  # fmt: skip
        for ref in record.get("references", []):
            ax = psnr_ax if ref["stage"] == "vqvae" else bpp_ax
            ax.axhline(ref["value"], linestyle="--", color="grey", linewidth=1)
            ax.text(0.01, ref["value"], ref["label"], fontsize=7, color="grey", va="bottom",
                    transform=ax.get_yaxis_transform())  # fmt: skip
    psnr_ax.set(xlabel="step", ylabel="val PSNR (dB)", title="stage 1: held-out training images")
    decoder_ax.set(xlabel="step", ylabel="val PSNR (dB)", title="stage 1b: the same images")
    bpp_ax.set(xlabel="step", ylabel="val bpp", title="stage 2: held-out training images")
    net_ax.set(xlabel="step", ylabel="mean PSNR gain (dB)", title="restoration network")
    for ax in (psnr_ax, decoder_ax, bpp_ax, net_ax):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", type=Path, nargs="*")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        name = run.parent.name if run.name == "run" else run.name
        path = args.out / f"{name}.json"
        record = json.loads(path.read_text()) if path.exists() else {"run": name, "stages": {}}
        for stage, points in validation_points(run).items():
            record["stages"][stage] = merge(record["stages"].get(stage, []), points)
        if (run / "config.json").exists():
            record["config"] = json.loads((run / "config.json").read_text())
        path.write_text(json.dumps(record, indent=1) + "\n")
    records = {p.stem: json.loads(p.read_text()) for p in args.out.glob("*.json")}
    plot(records, args.out / "curves.png")


if __name__ == "__main__":
    main()
