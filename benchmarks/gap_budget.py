"""Issue 21's gap to AVIF against what every measured lever can still give, from committed results.

    python benchmarks/gap_budget.py   (reads benchmarks/results, writes results/gap_budget.json)

1. The gap: at each of our Kodak levels inside AVIF's range, the rate AVIF 4:2:0 and 4:4:4 need
   for the same PSNR (log-rate interpolation of their curves), and the bench's BD-rates.
2. The ceilings measured on held-out training images (`lever_probes.py`,
   `restore_net_gain.py`, the restoration networks' training logs).
3. The base's return on training: s4-t64-b32-v2's validation PSNR against log2 of its stage-1
   steps and its priors' bits against log2 of theirs (`results/training/t64-long.json`), and the
   CPU hours a given gain would take at those slopes.

Nothing here is re-measured; every number comes from a committed JSON named in the output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vqcodec.bench.envinfo import environment

RESULTS = Path(__file__).parent / "results"
OUT = RESULTS / "gap_budget.json"
EARLIER_STEPS = 2500  # s4-t64-b32's stage 1, from which t64-long continued (models/README.md)
EARLIER_PSNR = 26.51  # s4-t64-b32's validation PSNR at the end of that stage 1 (models/README.md)
STAGE1_HOURS_PER_STEP = 3.3 / 8000  # t64-long's stage 1 on this 2-core CPU (models/README.md)
PRIOR_HOURS_PER_STEP = 1.7 / 3000  # t64-long's stage 2 (models/README.md)
MAPS_SHARE_DEFAULT = 0.6  # the code maps' share of the default level's file (issue 21)
BD_PER_BASE_DB = -2.7 / 0.3  # % rate per dB of base PSNR: s4-t64-b32-v2 against s4-t64-b32,
# held-out, refinement at steps 16-192 (models/README.md, session 7)


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def gap() -> dict:
    ours = _load("kodak/vqcodec.json")
    rows, out = [], {}
    for anchor in ("avif", "avif444"):
        theirs = _load(f"kodak/{anchor}.json")["results"]
        bpp, psnr = np.array(theirs["bpp"]), np.array(theirs["psnr-rgb"])
        order = np.argsort(psnr)
        curve = zip(ours["results"]["bpp"], ours["results"]["psnr-rgb"], strict=True)
        for level, (b, p) in enumerate(curve):
            if psnr.min() < p < psnr.max():
                need = float(np.exp(np.interp(p, psnr[order], np.log(bpp[order]))))
                rows.append({"anchor": anchor, "quality": level + 1, "psnr": round(p, 2),
                             "bpp": round(b, 4), "anchor_bpp": round(need, 4),
                             "more_bits_percent": round(100 * (b / need - 1), 1)})  # fmt: skip
        out[anchor] = ours["rate_difference_percent"][anchor]["psnr"]
    return {"bd_rate_percent": out, "per_level": rows}


def ceilings() -> dict:
    probes = _load("lever_probes.json")
    above = probes["hull"]["psnr_above_ladder_db"]
    context = probes["map-context"]["refinement_bits_percent"]
    nets = {
        name: max(
            r["mean_gain_db"] for r in _load(f"training/{name}.json")["stages"]["restore-net"]
        )
        for name in ("restore-net", "restore-net-6")
    }
    return {
        "ladder_hull_best_psnr_above_db": max(v for row in above.values() for v in row.values()),
        "blocks_16x16_rate_percent": probes["block-size"]["rate_16_vs_8_percent"]["value"],
        "net_strength_best_db": max(
            max(r["best_factor"], r["best_blend"]) for r in probes["net-strength"]["gain_db"]
        ),
        "map_context_best_refinement_bits_percent": min(
            min(v for k, v in r.items() if k.startswith("maps_")) for r in context
        ),
        "map_context_oracle_best_refinement_bits_percent": min(r["oracle_4"] for r in context),
        "avif_on_residual_vs_dct_percent": probes["avif-residual"]["avif_vs_dct_percent"]["value"],
        "restore_net_shipped_rate_percent": _load("restore_net_gain.json")["rate_b_vs_a_percent"][
            "value"
        ],
        "restore_net_best_validation_gain_db": nets,
    }


def _cost(doublings: float, steps: int, hours_per_step: float) -> dict:
    return {"doublings": round(doublings, 1), "steps": int(steps * 2**doublings),
            "cpu_hours": round(steps * (2**doublings - 1) * hours_per_step)}  # fmt: skip


def base_returns(rate_gap_percent: float) -> dict:
    """What closing `rate_gap_percent` (negative) through the base alone would cost, at the
    slopes its training curves show: stage 1 (base PSNR, turned into rate at BD_PER_BASE_DB)
    once within t64-long's run (its second half: the optimistic slope, the learning rate's
    decay included) and once between the ends of two runs; the priors (map bits, turned into
    rate at the default level's share of map bits) within their run."""
    stages = _load("training/t64-long.json")["stages"]
    late = [r for r in stages["vqvae"] if r["step"] >= 4500]  # past the warm-up's dip
    steps = np.log2([EARLIER_STEPS + r["step"] for r in late])
    within = float(np.polyfit(steps, [r["val_psnr"] for r in late], 1)[0])
    total = EARLIER_STEPS + stages["vqvae"][-1]["step"]
    between = (stages["vqvae"][-1]["val_psnr"] - EARLIER_PSNR) / np.log2(total / EARLIER_STEPS)
    prior = stages["prior"]
    bits = np.array([r["val_bpp"] for r in prior])
    per_doubling = float(np.polyfit(np.log2([r["step"] for r in prior]), bits, 1)[0]) / bits[-1]
    base_db = rate_gap_percent / BD_PER_BASE_DB  # base PSNR that would close the gap
    map_bits = np.log(1 + rate_gap_percent / 100 / MAPS_SHARE_DEFAULT)  # as a log ratio
    return {
        "base_db_to_close": round(base_db, 2),
        "stage1_db_per_doubling": {
            "within_run": round(within, 3),
            "between_runs": round(between, 3),
        },
        "stage1_within_run": _cost(base_db / within, total, STAGE1_HOURS_PER_STEP),
        "stage1_between_runs": _cost(base_db / between, total, STAGE1_HOURS_PER_STEP),
        "prior_bits_per_doubling_percent": round(100 * per_doubling, 2),
        "prior_alone": _cost(
            map_bits / np.log(1 + per_doubling), prior[-1]["step"], PRIOR_HOURS_PER_STEP
        ),
    }


def main() -> None:
    found = gap()
    # the rate that closes AVIF's BD gap: 1 / (1 + gap) - 1 (negative)
    worst = max(found["bd_rate_percent"].values())
    closing = 100 * (1 / (1 + worst / 100) - 1)
    report = {
        "env": environment(),
        "gap": found,
        "closing_rate_percent": round(closing, 1),
        "ceilings": ceilings(),
        "base_returns": base_returns(closing),
    }
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("gap", "env")}, indent=1))
    for row in found["per_level"]:
        print(row)


if __name__ == "__main__":
    main()
