"""Stage 2: encode the training set to code maps once (cached), then fit the prior of every
map by cross-entropy in bits, the rate the codec will actually pay."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from vqcodec.model.codec import CodecModel
from vqcodec.model.config import ModelConfig, PriorConfig
from vqcodec.training.common import (
    JsonlLog,
    StageArgs,
    cosine_lr,
    load_checkpoint,
    resumed_crop_rng,
    save_training_state,
)
from vqcodec.training.data import list_images, split_holdout
from vqcodec.training.distributed import DistContext


@dataclass(frozen=True)
class PriorTrainArgs(StageArgs):
    crop: int = 32  # finest-map crop; each coarser map's is half the one below it


CodeMaps = list[tuple[torch.Tensor, ...]]  # per image, its maps coarsest first (each 2x the last)


@torch.no_grad()
def encode_folder(model: CodecModel, paths: list[Path], flips: bool) -> CodeMaps:
    """Code maps of whole images (padded to the model's alignment), and of their mirrors."""
    maps = []
    for p in tqdm(paths, desc="encoding training set", leave=False):
        with Image.open(p) as im:
            x = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)
        x = x[None].float() / 255.0
        align = model.vqvae.cfg.align
        x = F.pad(x, (0, -x.shape[3] % align, 0, -x.shape[2] % align), mode="replicate")
        for view in (x, x.flip(3)) if flips else (x,):
            maps.append(tuple(m[0].short() for m in model.vqvae.encode(view)))
    return maps


def _cached_maps(
    model: CodecModel, args: PriorTrainArgs, ctx: DistContext
) -> tuple[CodeMaps, CodeMaps]:
    """Code maps of the training folder, computed once by rank 0 and cached in the run."""
    cache = args.run / "codes.pt"
    if ctx.is_main and not cache.exists():
        train_paths, val_paths = split_holdout(list_images(args.data))
        train = encode_folder(model, train_paths, flips=True)
        val = encode_folder(model, val_paths, flips=False)
        maps = {"train": train, "val": val}
        torch.save({k: [list(t) for t in zip(*v, strict=True)] for k, v in maps.items()}, cache)
    ctx.barrier()
    saved = torch.load(cache, weights_only=True)
    return list(zip(*saved["train"], strict=True)), list(zip(*saved["val"], strict=True))


class Priors(nn.Module):
    """All the priors behind one forward, so data parallelism sees a single module."""

    def __init__(self, model: CodecModel) -> None:
        super().__init__()
        self.nets = nn.ModuleList(model.priors())

    def forward(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        """Cross-entropy in bits per code of each map (coarsest first), each prior reading the
        map above its own if it is conditional."""
        ln2 = math.log(2)
        return [
            F.cross_entropy(net(m, maps[k - 1] if net.cfg.cond_codes else None), m) / ln2
            for k, (net, m) in enumerate(zip(self.nets, maps, strict=True))
        ]


def _crop_batch(
    maps: CodeMaps, size: int, batch: int, rng: np.random.Generator
) -> list[torch.Tensor]:
    """Aligned crops of every map, coarsest first: (B, c_k, c_k) with the finest c = `size`,
    each coarser one half the next, from maps big enough."""
    levels = len(maps[0])
    side = size >> (levels - 1)  # the coarsest crop
    if side << (levels - 1) != size or not side:
        raise ValueError(f"the crop {size} must be a multiple of {1 << (levels - 1)}")
    usable = [m for m in maps if m[0].shape[0] >= side and m[0].shape[1] >= side]
    if not usable:
        raise ValueError(f"no code map is large enough for {size} x {size} crops")
    crops: list[list[torch.Tensor]] = [[] for _ in range(levels)]
    while len(crops[0]) < batch:
        image = usable[rng.integers(len(usable))]
        y = int(rng.integers(image[0].shape[0] - side + 1))
        x = int(rng.integers(image[0].shape[1] - side + 1))
        for k, (m, out) in enumerate(zip(image, crops, strict=True)):
            out.append(m[y << k : (y + side) << k, x << k : (x + side) << k])
    return [torch.stack(c).long() for c in crops]


@torch.no_grad()
def validate(model: CodecModel, maps: CodeMaps) -> dict[str, float]:
    """Teacher-forced bits per code of each prior on whole held-out maps (the model keeps its
    mode)."""
    was_training = model.training
    model.eval()
    names, nets = model.cfg.names, model.priors()
    bits, counts = [0.0] * len(nets), [0] * len(nets)
    for image in maps:
        image = [m.long()[None] for m in image]
        for k, (net, m) in enumerate(zip(nets, image, strict=True)):
            bits[k] += net.bits(m, image[k - 1] if net.cfg.cond_codes else None).item()
            counts[k] += m.numel()
    model.train(was_training)
    pixels = counts[-1] * model.vqvae.cfg.stride**2
    row = {f"val_bits_{n}": b / c for n, b, c in zip(names, bits, counts, strict=True)}
    return row | {"val_bpp": sum(bits) / pixels}


def train_priors(args: PriorTrainArgs, priors: tuple[PriorConfig, ...] | None = None) -> Path:
    """Fit every prior of the run in `args.run` (resumable), with the shapes `priors` (coarsest
    first; default the run's config); returns the checkpoint path."""
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = DistContext.from_env()
    cfg = ModelConfig.from_json((args.run / "config.json").read_text())
    ckpt_path = args.run / "prior.ckpt"
    resuming = ckpt_path.exists()  # a resumed run keeps the prior shapes it started with
    if priors is not None and not resuming:
        cfg = ModelConfig(cfg.vqvae, priors)
        if ctx.is_main:
            (args.run / "config.json").write_text(cfg.to_json())
    model = CodecModel(cfg)
    stage1 = load_checkpoint(args.run / "vqvae.ckpt")
    if stage1 is None:
        raise FileNotFoundError(f"{args.run / 'vqvae.ckpt'}: run stage 1 first")
    model.vqvae.load_state_dict(stage1["model"])
    model.vqvae.eval()
    train_maps, val_maps = _cached_maps(model, args, ctx)
    torch.manual_seed(args.seed)  # (DDP broadcasts rank 0's initial weights to every rank)
    nets = Priors(model)
    opt = torch.optim.Adam(nets.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed if ctx.is_main else [args.seed, ctx.rank])
    step = 0
    names = [f"prior_{name}" for name in cfg.names]  # the checkpoint's keys
    if (state := load_checkpoint(ckpt_path)) is not None:
        for name, net in zip(names, model.priors(), strict=True):
            net.load_state_dict(state[name])
        if "opt" in state:  # a run's own checkpoint resumes; `train from-model`'s starts over
            opt.load_state_dict(state["opt"])
            step = state["step"]
            rng = resumed_crop_rng(rng, state, args.seed, ctx.rank)
    net = ctx.wrap(nets)
    log = JsonlLog(args.run / "prior_log.jsonl")
    bar = tqdm(total=args.steps, initial=step, desc="stage 2 (priors)", disable=not ctx.is_main)
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr, warmup=100)
        losses = net(_crop_batch(train_maps, args.crop, args.batch, rng))
        opt.zero_grad(set_to_none=True)
        sum(losses).backward()
        opt.step()
        step += 1
        bar.update(1)
        if ctx.is_main and (step % 50 == 0 or step == args.steps):
            bits = {f"bits_{n}": loss.item() for n, loss in zip(cfg.names, losses, strict=True)}
            row = dict(step=step, **bits)
            if step % args.eval_every == 0 or step == args.steps:
                row.update(validate(model, val_maps))
                weights = {n: p.state_dict() for n, p in zip(names, model.priors(), strict=True)}
                save_training_state(ckpt_path, opt, step, rng, **weights)
            log.write(**row)
            bar.set_postfix({n: f"{b:.2f}" for n, b in zip(cfg.names, bits.values(), strict=True)})
    bar.close()
    ctx.barrier()
    ctx.close()
    return ckpt_path
