"""Stage 1b (optional): refine the synthesis side with the codes frozen.

In stage 1 the decoder chases codebooks that move every step. Once they are fixed, training
only the layers that turn codes into pixels (`upsample_<level>`, `dec`) raises PSNR at exactly the
same rate: the encoder, the codebooks and `dec_<level>` (which shape the finer quantizers' input)
do not change, so the code maps, and the priors fitted to them in stage 2, stay valid. It can
therefore run at the same time as stage 2. Its weights go to `decoder.ckpt`; export prefers
them over stage 1's.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from vqcodec.model.config import ModelConfig
from vqcodec.model.vqvae import HierarchicalVQVAE, synthesis, widen_synthesis
from vqcodec.training.common import (
    JsonlLog,
    StageArgs,
    cosine_lr,
    load_checkpoint,
    psnr,
    resumed_crop_rng,
    save_checkpoint,
    save_training_state,
)
from vqcodec.training.data import CropDataset, list_images, split_holdout
from vqcodec.training.distributed import DistContext
from vqcodec.training.vqvae_stage import validate

SYNTHESIS = ("upsample_", "dec.")  # parameter prefixes trained here


def is_synthesis(name: str) -> bool:
    return name.startswith(SYNTHESIS)


class Synthesis(nn.Module):
    """The trained layers behind one forward, so data parallelism sees a single module."""

    def __init__(self, model: HierarchicalVQVAE) -> None:
        super().__init__()
        self.upsamplers, self.dec = nn.ModuleList(model.upsamplers()), model.dec

    def forward(self, codewords: list[torch.Tensor]) -> torch.Tensor:
        return synthesis(self.upsamplers, self.dec, codewords)


@dataclass(frozen=True)
class DecoderTrainArgs(StageArgs):
    steps: int = 2000
    lr: float = 2e-4
    downscale: int = 1  # >1: the photos also downscaled by this factor (`CropDataset`)


def refined_vqvae_state(run: Path) -> dict[str, torch.Tensor]:
    """Stage 1's weights with the refined synthesis layers (if stage 1b ran) laid over them."""
    stage1 = load_checkpoint(run / "vqvae.ckpt")
    if stage1 is None:
        raise FileNotFoundError(f"{run / 'vqvae.ckpt'}: run stage 1 first")
    state = dict(stage1["model"])
    if (refined := load_checkpoint(run / "decoder.ckpt")) is not None:
        state.update(refined["synthesis"])
    return state


def widen_run(run: Path, out: Path, blocks: int, hidden: int) -> ModelConfig:
    """A new run folder `out` holding `run`'s model with `blocks` more synthesis blocks
    (`vqcodec.model.vqvae.widen_synthesis`, starting as the identity) and its priors: stage 1b on
    `out` then trains the wider synthesis on the same code maps."""
    cfg = ModelConfig.from_json((run / "config.json").read_text())
    model = HierarchicalVQVAE(cfg.vqvae)
    model.load_state_dict(refined_vqvae_state(run))
    wide, wide_vqvae = widen_synthesis(model, blocks, hidden)
    out.mkdir(parents=True, exist_ok=False)
    wide_cfg = dataclasses.replace(cfg, vqvae=wide_vqvae)
    (out / "config.json").write_text(wide_cfg.to_json())
    save_checkpoint(out / "vqvae.ckpt", {"model": wide.state_dict(), "widened_from": str(run)})
    if (priors := run / "prior.ckpt").exists():  # the code maps are the same: so are the priors
        shutil.copyfile(priors, out / "prior.ckpt")
    return wide_cfg


def train_decoder(args: DecoderTrainArgs) -> Path:
    """Refine (or resume refining) the synthesis layers of the run in `args.run`."""
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = DistContext.from_env()
    cfg = ModelConfig.from_json((args.run / "config.json").read_text())
    model = HierarchicalVQVAE(cfg.vqvae)
    model.load_state_dict(refined_vqvae_state(args.run))
    trainable = [p for n, p in model.named_parameters() if is_synthesis(n)]
    for name, param in model.named_parameters():
        param.requires_grad_(is_synthesis(name))
    torch.manual_seed(args.seed)
    train_paths, val_paths = split_holdout(list_images(args.data))
    data = CropDataset(
        train_paths, args.crop, seed=args.seed + 1000 + ctx.rank, downscale=args.downscale
    )
    opt = torch.optim.Adam(trainable, lr=args.lr)
    ckpt_path = args.run / "decoder.ckpt"
    step = 0
    if (state := load_checkpoint(ckpt_path)) is not None:
        opt.load_state_dict(state["opt"])
        step = state["step"]
        data.rng = resumed_crop_rng(data.rng, state, args.seed, ctx.rank)
    model.eval()  # quantizers frozen: no EMA updates, no restarts
    net = ctx.wrap(Synthesis(model))
    log = JsonlLog(args.run / "decoder_log.jsonl")
    if ctx.is_main and step == 0:
        log.write(step=0, val_psnr=validate(model, val_paths))
    bar = tqdm(total=args.steps, initial=step, desc="stage 1b (decoder)", disable=not ctx.is_main)
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr, warmup=50)
        x = data.batch(args.batch)
        with torch.no_grad():
            codewords, *_ = model._quantize(x)
        reconstruction = net(codewords)
        loss = F.mse_loss(reconstruction, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if ctx.is_main and (step % 50 == 0 or step == args.steps):
            row = dict(step=step, loss=loss.item(), psnr=psnr(reconstruction, x))
            if step % args.eval_every == 0 or step == args.steps:
                row["val_psnr"] = validate(model, val_paths)
                synthesis = {n: t for n, t in model.state_dict().items() if is_synthesis(n)}
                save_training_state(ckpt_path, opt, step, data.rng, synthesis=synthesis)
            log.write(**row)
            bar.set_postfix(loss=f"{row['loss']:.4f}", psnr=f"{row['psnr']:.2f}")
    bar.close()
    ctx.barrier()
    ctx.close()
    return ckpt_path
