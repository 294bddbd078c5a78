"""Train the restoration CNN (`vqcodec.layers.restore_net`) on images decoded by the codec itself.

    python -m vqcodec.training.restore_net_stage --data ../shared/data/train \
        --run ~/vqcodec-runs/restore-net            (re-running the same command resumes)

Two phases, both resumable:

1. Data: every photo of the training split (`split_holdout(...)[0]`; never the held-out split,
   never Kodak) is encoded with the shipped models and decoded at several ladder steps as the
   decoder shows it before the Wiener filter (`pipeline.analyse(...).file(Settings(step,
   filtered=False))`). Each photo is used downscaled 2x (Lanczos: no JPEG grid, like the
   held-out set coder choices are measured on) and, every `--full-every`-th one, also at full
   size (JPEG-origin, but more detail and scale). One npz of uint8 (original, decoded per step,
   steps) per photo and scale in `run/data/train`; the held-out images downscaled 2x
   (`holdout_images`) at every ladder level with the ladder's own weights in `run/data/val`, for
   validation only.
2. Training: random crops aligned to the refinement's 8x8 grid (so the block-phase planes and
   flips stay true), by default the mean over crops of 10 log10 MSE against the original (each
   step's relative gain counts alike), Adam, one torch thread by default. A checkpoint
   (model, optimizer, step, sampler state: tensors and JSON only) every `--ckpt-minutes`; a
   validation every `--eval-minutes` appends a JSON line to `run/log.jsonl` (PSNR gain in dB
   per ladder level on the held-out images) and exports the weights as safetensors
   (`run/export/latest.safetensors`, and `best.safetensors` by mean gain). `--init WEIGHTS`
   starts a new run from a trained network; given more `--layers` than it has, hidden layers
   that start as the identity are appended (`deepen`), so a deeper network goes on from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec import zoo
from vqcodec.layers.restore_net import RestoreNet, RestoreNetConfig, load, save
from vqcodec.training.data import holdout_images, list_images, split_holdout

TRAIN_STEPS = (None, 256.0, 160.0, 128.0, 80.0, 64.0, 48.0, 40.0, 32.0, 24.0, 16.0, 12.0, 8.0)
HALF_LEVELS = 5  # refinement steps per downscaled photo (random among the ladder's)
FULL_LEVELS = 3  # refinement steps per full-size photo: its encodes are slow
COARSE_EVERY = 3  # every third downscaled photo also at the coarse model's two levels
GRID = 8  # the refinement's block size: crops start on its grid


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Atomic: an interrupted generation leaves no half file behind."""
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _decoded(rgb: np.ndarray, model: str, weights: tuple | None, steps: list) -> np.ndarray:
    """(len(steps), H, W, 3) uint8: what the decoder shows before the Wiener filter."""
    from vqcodec.api import load_codec
    from vqcodec.format.bitstream import COLOUR_RGB
    from vqcodec.model.codec import DEFAULT_TILE
    from vqcodec.pipeline import Settings, analyse

    found = analyse(rgb, COLOUR_RGB, load_codec(model), DEFAULT_TILE, weights)
    return np.stack(
        [
            found.file(Settings(s, filtered=False, without=frozenset({"restore-net"})))[1]
            for s in steps
        ]
    )


def _steps_array(steps: list) -> np.ndarray:
    return np.array([0.0 if s is None else s for s in steps], np.float32)  # 0: no refinement


def _ladder_model(step: float | None) -> str:
    """The model the ladder pairs with this step (the coarse one for its two lowest levels)."""
    presets = zoo.presets()
    for p in presets:
        if p.refine_step == step:
            return p.model
    return presets[-1].model


def generate_val(data: Path, out: Path) -> None:
    """The held-out images downscaled 2x at every ladder level, with the ladder's weights."""
    out.mkdir(parents=True, exist_ok=True)
    for name, rgb in holdout_images(data):
        path = out / f"{Path(name).stem}.npz"
        if path.exists():
            continue
        t0 = time.time()
        decoded, steps = [], []
        groups: dict[tuple, list] = {}
        for p in zoo.presets():
            groups.setdefault((p.model, p.rate_weights), []).append(p.refine_step)
        for (model, weights), group in groups.items():
            decoded.append(_decoded(rgb, model, weights, group))
            steps += group
        _save_npz(path, original=rgb, decoded=np.concatenate(decoded), steps=_steps_array(steps))
        print(f"val {name}: {len(steps)} levels, {time.time() - t0:.1f} s", flush=True)


def generate_train(data: Path, out: Path, full_every: int, seed: int, limit: int = 0) -> None:
    """The training split: every photo downscaled 2x at HALF_LEVELS random refinement steps
    (every COARSE_EVERY-th also at the two coarse-model levels), every `full_every`-th also at
    full size at FULL_LEVELS random refinement steps. Refinement encodes cost ~0.2 s each even
    on small images, so each photo gets a few steps, not all."""
    out.mkdir(parents=True, exist_ok=True)
    train = split_holdout(list_images(data))[0]
    train = train[:limit] if limit else train
    fine = _ladder_model(8.0)
    refined = [s for s in TRAIN_STEPS if s is not None and _ladder_model(s) == fine]
    coarse = [s for s in TRAIN_STEPS if _ladder_model(s) != fine]
    for i, path in enumerate(train):
        with Image.open(path) as im:
            full = im.convert("RGB")
        versions = [("half", full.resize((full.width // 2, full.height // 2), Image.LANCZOS))]
        if full_every and i % full_every == 0:
            versions.append(("full", full))
        for scale, image in versions:
            target = out / f"{i:04d}-{path.stem}-{scale}.npz"
            if target.exists() or min(image.size) < 64:
                continue
            t0 = time.time()
            rgb = np.asarray(image)
            rng = np.random.default_rng([seed, i, scale == "full"])
            count = HALF_LEVELS if scale == "half" else FULL_LEVELS
            steps = sorted(rng.choice(refined, count, replace=False).tolist())[::-1]
            if scale == "half" and i % COARSE_EVERY == 0:
                steps = coarse + steps
            decoded, done = [], []
            for model in dict.fromkeys(_ladder_model(s) for s in steps):
                group = [s for s in steps if _ladder_model(s) == model]
                decoded.append(_decoded(rgb, model, None, group))
                done += group
            _save_npz(
                target, original=rgb, decoded=np.concatenate(decoded), steps=_steps_array(done)
            )
            print(f"train {target.name} {rgb.shape[:2]}: {time.time() - t0:.1f} s", flush=True)


def load_samples(folder: Path, min_side: int) -> list[dict[str, np.ndarray]]:
    out = []
    for path in sorted(folder.glob("*.npz")):
        if path.name.endswith(".tmp.npz"):
            continue
        with np.load(path) as z:
            sample = {k: z[k] for k in ("original", "decoded", "steps")}
        if min(sample["original"].shape[:2]) >= min_side:
            out.append(sample)
    return out


class Crops:
    """Random grid-aligned crops of (decoded, original) pairs with flips, and their steps."""

    def __init__(self, samples: list[dict[str, np.ndarray]], crop: int, seed: int) -> None:
        self.samples = samples
        self.crop = crop
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(decoded, original) (size, 3, crop, crop) in [0, 1], and (size,) steps."""
        c = self.crop
        x = np.empty((size, c, c, 3), np.uint8)
        y = np.empty((size, c, c, 3), np.uint8)
        steps = np.empty(size, np.float32)
        for b in range(size):
            s = self.samples[self.rng.integers(len(self.samples))]
            level = self.rng.integers(len(s["steps"]))
            h, w = s["original"].shape[:2]
            y0 = GRID * self.rng.integers((h - c) // GRID + 1)
            x0 = GRID * self.rng.integers((w - c) // GRID + 1)
            dec = s["decoded"][level, y0 : y0 + c, x0 : x0 + c]
            org = s["original"][y0 : y0 + c, x0 : x0 + c]
            if self.rng.random() < 0.5:  # a crop on the grid stays on it when flipped
                dec, org = dec[:, ::-1], org[:, ::-1]
            if self.rng.random() < 0.5:
                dec, org = dec[::-1], org[::-1]
            x[b], y[b], steps[b] = dec, org, s["steps"][level]

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255.0

        return tensor(x), tensor(y), torch.from_numpy(steps)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def validate(net: RestoreNet, val: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Mean PSNR gain (dB) of the network's output over the decoded image, per step."""
    net.eval()
    gains: dict[str, list[float]] = {}
    with torch.inference_mode():
        for s in val:
            for level, step in enumerate(s["steps"].tolist()):
                dec = s["decoded"][level]
                out = net.apply(dec, step or None)
                key = "none" if step == 0 else f"{step:g}"
                gains.setdefault(key, []).append(
                    _psnr(s["original"], out) - _psnr(s["original"], dec)
                )
    net.train()
    return {k: round(float(np.mean(v)), 4) for k, v in gains.items()}


def _lr(step: int, total: int, base: float, warmup: int = 500) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def _loss(out: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """ "mse": plain MSE, dominated by the coarse steps' large errors; "logmse": the mean over
    crops of 10 log10(MSE) (minus PSNR in dB of [0, 1] images), so every step's relative gain
    counts alike, as the levels of a BD-rate do."""
    if kind == "mse":
        return torch.mean((out - target) ** 2)
    per_crop = torch.mean((out - target) ** 2, dim=(1, 2, 3))
    return 10 * torch.mean(torch.log10(per_crop + 1e-8))


def _checkpoint(path: Path, net: RestoreNet, opt: torch.optim.Optimizer, state: dict) -> None:
    """Tensors (model, optimizer) via torch.save with weights_only-loadable content, and the
    plain-JSON state beside them; both replaced atomically."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "opt": opt.state_dict()}, tmp)
    os.replace(tmp, path)
    meta = path.with_suffix(".json")
    meta.with_suffix(".tmp").write_text(json.dumps(state))
    os.replace(meta.with_suffix(".tmp"), meta)


def deepen(net: RestoreNet, layers: int) -> RestoreNet:
    """`net` with hidden layers appended before its tail that start as the identity (a 3x3 conv
    passing each feature through, its FiLM scale and shift zero: the ReLU then passes the
    previous ReLU's output unchanged), so training goes on from what `net` computes."""
    config = net.config
    if layers < config.layers:
        raise ValueError(f"cannot deepen {config.layers} layers to {layers}")
    deep = RestoreNet(RestoreNetConfig(config.channels, layers, config.film_hidden))
    state = deep.state_dict()
    for name, value in net.state_dict().items():
        target = state[name]
        target[tuple(slice(0, n) for n in value.shape)] = value  # FiLM rows of the new layers: 0
    c = config.channels
    for i in range(config.layers - 2, layers - 2):
        state[f"body.{i}.weight"].zero_()
        state[f"body.{i}.weight"][:, :, 1, 1] = torch.eye(c)
        state[f"body.{i}.bias"].zero_()
    deep.load_state_dict(state)
    return deep


def train(args: argparse.Namespace) -> None:
    run: Path = args.run
    config = RestoreNetConfig(channels=args.channels, layers=args.layers)
    config_path = run / "config.json"
    if config_path.exists():
        config = RestoreNetConfig(**json.loads(config_path.read_text()))
    else:
        config_path.write_text(json.dumps(asdict(config), indent=1) + "\n")
    torch.manual_seed(args.seed)
    net = RestoreNet(config)
    if args.init and not (run / "checkpoint.pt").exists():  # a new run from trained weights
        start = load(args.init.expanduser())
        if start.config.channels != config.channels:
            raise SystemExit(
                f"--init has {start.config.channels} channels, the run {config.channels}"
            )
        net = deepen(start, config.layers)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    samples = load_samples(run / "data" / "train", args.crop)
    val = load_samples(run / "data" / "val", 0)
    crops = Crops(samples, args.crop, args.seed)
    ckpt = run / "checkpoint.pt"
    state = {"step": 0, "seconds": 0.0, "best": -1e9}
    if ckpt.exists():
        tensors = torch.load(ckpt, map_location="cpu", weights_only=True)
        net.load_state_dict(tensors["model"])
        opt.load_state_dict(tensors["opt"])
        state = json.loads(ckpt.with_suffix(".json").read_text())
        crops.rng.bit_generator.state = state["rng"]
    print(f"{len(samples)} training samples, {len(val)} val images, from step {state['step']}")
    log = (run / "log.jsonl").open("a")
    log.write(
        json.dumps({"start": state["step"], "args": {k: str(v) for k, v in vars(args).items()}})
        + "\n"
    )
    export = run / "export"
    export.mkdir(exist_ok=True)
    start, last_ckpt, last_eval = time.time(), time.time(), time.time()
    seconds0, losses = state["seconds"], []
    if state["step"] == 0:
        last_eval = 0.0  # validate the identity first: the baseline of the log
    while state["step"] < args.steps:
        now = time.time()
        state["seconds"] = seconds0 + now - start
        if now - last_eval >= 60 * args.eval_minutes or state["step"] == args.steps - 1:
            gains = validate(net, val)
            mean = float(np.mean(list(gains.values()))) if gains else 0.0
            loss = float(np.mean(losses)) if losses else None
            line = {"step": state["step"], "seconds": round(state["seconds"]), "loss": loss}
            log.write(json.dumps({**line, "val_gain_db": gains, "mean_gain_db": mean}) + "\n")
            log.flush()
            print(json.dumps({**line, "mean_gain_db": mean}), flush=True)
            losses = []
            save(net, export / "latest.safetensors")
            if mean > state["best"]:
                state["best"] = mean
                save(net, export / "best.safetensors")
            last_eval = time.time()
        for group in opt.param_groups:
            group["lr"] = _lr(state["step"], args.steps, args.lr)
        x, y, steps = crops.batch(args.batch)
        loss = _loss(net(x, steps), y, args.loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        state["step"] += 1
        if time.time() - last_ckpt >= 60 * args.ckpt_minutes or state["step"] == args.steps:
            state["rng"] = crops.rng.bit_generator.state
            _checkpoint(ckpt, net, opt, state)
            last_ckpt = time.time()
    save(net, export / "latest.safetensors")
    print(f"done at step {state['step']}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of training photos")
    parser.add_argument("--run", type=Path, required=True, help="run folder (resumes)")
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=96, help="a multiple of 8")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--loss", choices=("mse", "logmse"), default="logmse")
    parser.add_argument("--channels", type=int, default=RestoreNetConfig.channels)
    parser.add_argument("--layers", type=int, default=RestoreNetConfig.layers)
    parser.add_argument(
        "--init", type=Path, help="start from these weights (fewer layers: `deepen`ed)"
    )
    parser.add_argument("--full-every", type=int, default=4, help="0: downscaled photos only")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos (tests)")
    parser.add_argument("--no-val", action="store_true", help="skip the held-out set (tests)")
    parser.add_argument("--eval-minutes", type=float, default=10.0)
    parser.add_argument("--ckpt-minutes", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args(argv)
    if args.crop % GRID:
        parser.error(f"--crop must be a multiple of {GRID}")
    torch.set_num_threads(args.threads)
    args.run = args.run.expanduser()
    args.run.mkdir(parents=True, exist_ok=True)
    if not args.no_val:
        generate_val(args.data, args.run / "data" / "val")
    train_dir = args.run / "data" / "train"
    generate_train(args.data, train_dir, args.full_every, args.seed, args.limit)
    if not args.generate_only:
        train(args)


if __name__ == "__main__":
    main()
