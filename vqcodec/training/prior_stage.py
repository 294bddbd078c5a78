"""Stage 2: encode the training set to code maps once (cached), then fit both priors by
cross-entropy in bits, the rate the codec will actually pay."""

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
    crop: int = 32  # bottom-map crop; the top crop is half of it


CodeMaps = list[tuple[torch.Tensor, torch.Tensor]]  # (top (h, w), bottom (2h, 2w)) per image


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
            top, bottom = model.vqvae.encode(view)
            maps.append((top[0].short(), bottom[0].short()))
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


class PriorPair(nn.Module):
    """Both priors behind one forward, so data parallelism sees a single module."""

    def __init__(self, model: CodecModel) -> None:
        super().__init__()
        self.top, self.bottom = model.prior_top, model.prior_bottom

    def forward(self, top: torch.Tensor, bottom: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy in bits per code of each map."""
        ln2 = math.log(2)
        bits_top = F.cross_entropy(self.top(top), top) / ln2
        bits_bottom = F.cross_entropy(self.bottom(bottom, top), bottom) / ln2
        return bits_top, bits_bottom


def _crop_batch(maps: CodeMaps, size: int, batch: int, rng: np.random.Generator):
    """Aligned crops: (top (B, size/2, size/2), bottom (B, size, size)) from maps big enough."""
    half = size // 2
    usable = [m for m in maps if m[0].shape[0] >= half and m[0].shape[1] >= half]
    if not usable:
        raise ValueError(f"no code map is large enough for {size} x {size} crops")
    tops, bottoms = [], []
    while len(tops) < batch:
        top, bottom = usable[rng.integers(len(usable))]
        y = int(rng.integers(top.shape[0] - half + 1))
        x = int(rng.integers(top.shape[1] - half + 1))
        tops.append(top[y : y + half, x : x + half])
        bottoms.append(bottom[2 * y : 2 * y + size, 2 * x : 2 * x + size])
    return torch.stack(tops).long(), torch.stack(bottoms).long()


@torch.no_grad()
def validate(model: CodecModel, maps: CodeMaps) -> dict[str, float]:
    """Teacher-forced bits per code of each prior on whole held-out maps (the model keeps its
    mode)."""
    was_training = model.training
    model.eval()
    bits_t = bits_b = n_t = n_b = 0.0
    for top, bottom in maps:
        top, bottom = top.long()[None], bottom.long()[None]
        bits_t += model.prior_top.bits(top).item()
        bits_b += model.prior_bottom.bits(bottom, top).item()
        n_t, n_b = n_t + top.numel(), n_b + bottom.numel()
    model.train(was_training)
    pixels = n_b * model.vqvae.cfg.stride**2
    return dict(
        val_bits_top=bits_t / n_t, val_bits_bottom=bits_b / n_b, val_bpp=(bits_t + bits_b) / pixels
    )


def train_priors(
    args: PriorTrainArgs, top: PriorConfig | None = None, bottom: PriorConfig | None = None
) -> Path:
    """Fit both priors of the run in `args.run` (resumable); returns the checkpoint path."""
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = DistContext.from_env()
    cfg = ModelConfig.from_json((args.run / "config.json").read_text())
    ckpt_path = args.run / "prior.ckpt"
    resuming = ckpt_path.exists()  # a resumed run keeps the prior shapes it started with
    if (top is not None or bottom is not None) and not resuming:
        cfg = ModelConfig(cfg.vqvae, top or cfg.prior_top, bottom or cfg.prior_bottom)
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
    pair = PriorPair(model)
    opt = torch.optim.Adam(pair.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed if ctx.is_main else [args.seed, ctx.rank])
    step = 0
    if (state := load_checkpoint(ckpt_path)) is not None:
        model.prior_top.load_state_dict(state["prior_top"])
        model.prior_bottom.load_state_dict(state["prior_bottom"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        rng = resumed_crop_rng(rng, state, args.seed, ctx.rank)
    net = ctx.wrap(pair)
    log = JsonlLog(args.run / "prior_log.jsonl")
    bar = tqdm(total=args.steps, initial=step, desc="stage 2 (priors)", disable=not ctx.is_main)
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr, warmup=100)
        top, bottom = _crop_batch(train_maps, args.crop, args.batch, rng)
        loss_t, loss_b = net(top, bottom)
        opt.zero_grad(set_to_none=True)
        (loss_t + loss_b).backward()
        opt.step()
        step += 1
        bar.update(1)
        if ctx.is_main and (step % 50 == 0 or step == args.steps):
            row = dict(step=step, bits_top=loss_t.item(), bits_bottom=loss_b.item())
            if step % args.eval_every == 0 or step == args.steps:
                row.update(validate(model, val_maps))
                save_training_state(
                    ckpt_path,
                    opt,
                    step,
                    rng,
                    prior_top=model.prior_top.state_dict(),
                    prior_bottom=model.prior_bottom.state_dict(),
                )
            log.write(**row)
            bar.set_postfix(top=f"{row['bits_top']:.2f}", bottom=f"{row['bits_bottom']:.2f}")
    bar.close()
    ctx.barrier()
    ctx.close()
    return ckpt_path
