"""Stage 1: train encoder, codebooks and decoder on random crops of a training folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from vqcodec.model.config import ModelConfig, VQVAEConfig
from vqcodec.model.vqvae import HierarchicalVQVAE
from vqcodec.training.common import (
    JsonlLog,
    StageArgs,
    cosine_lr,
    load_checkpoint,
    psnr,
    resumed_crop_rng,
    save_training_state,
)
from vqcodec.training.data import CropDataset, list_images, load_full, split_holdout
from vqcodec.training.distributed import DistContext


@dataclass(frozen=True)
class VQVAETrainArgs(StageArgs):
    steps: int = 6000
    lr: float = 5e-4
    init: Path | None = None  # a stage-1 checkpoint to start from (a new run only)


def code_usage(idx: torch.Tensor, codes: int) -> tuple[float, int]:
    """(perplexity, number of unused codes) of a batch of indices."""
    counts = torch.bincount(idx.reshape(-1), minlength=codes).double()
    p = counts / counts.sum()
    ent = -(p[p > 0] * p[p > 0].log()).sum()
    return float(ent.exp()), int((counts == 0).sum())


def usage_row(indices: list[torch.Tensor], cfg: VQVAEConfig) -> dict[str, float]:
    """Log entries `ppl_<level>` and `unused_<level>` of every map (`code_usage`)."""
    row: dict[str, float] = {}
    for name, idx, codes in zip(cfg.names, indices, cfg.codes, strict=True):
        row[f"ppl_{name}"], row[f"unused_{name}"] = code_usage(idx, codes)
    return row


@torch.no_grad()
def validate(model: HierarchicalVQVAE, paths: list[Path]) -> float:
    """Mean PSNR of whole held-out images, in eval mode; the model keeps the mode it had."""
    was_training = model.training
    model.eval()
    align = model.cfg.align
    scores = [psnr(model(x := load_full(p, align)).reconstruction, x) for p in paths]
    model.train(was_training)
    return sum(scores) / len(scores)


def init_from(model: HierarchicalVQVAE, ckpt: Path) -> list[str]:
    """Start from another run's weights wherever the shapes agree; returns what was copied.

    A codebook of another size is not copied (nor its EMA state), so that quantizer is seeded
    from data as in a fresh run; every layer of the same shape starts trained. This is how the
    ladder's models inherit the training of a model before them.
    """
    state = load_checkpoint(ckpt)
    if state is None:
        raise FileNotFoundError(f"no checkpoint at {ckpt}")
    source, own = state["model"], model.state_dict()
    skip = {
        name.rsplit(".", 1)[0]
        for name, t in source.items()
        if name.endswith(".codebook") and (name not in own or own[name].shape != t.shape)
    }
    copied = [
        name
        for name, t in source.items()
        if name in own and own[name].shape == t.shape and name.rsplit(".", 1)[0] not in skip
    ]
    model.load_state_dict({**own, **{name: source[name] for name in copied}})
    return copied


def train_vqvae(args: VQVAETrainArgs, cfg: ModelConfig) -> Path:
    """Train (or resume) stage 1 in `args.run`; returns the checkpoint path."""
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = DistContext.from_env()
    cfg_path = args.run / "config.json"
    if ctx.is_main:
        args.run.mkdir(parents=True, exist_ok=True)
        if not cfg_path.exists():
            cfg_path.write_text(cfg.to_json())
    ctx.barrier()
    cfg = ModelConfig.from_json(cfg_path.read_text())  # a resumed run keeps its own config
    torch.manual_seed(args.seed)  # (DDP broadcasts rank 0's initial weights to every rank)
    train_paths, val_paths = split_holdout(list_images(args.data))
    data = CropDataset(train_paths, args.crop, seed=args.seed + ctx.rank)
    model = HierarchicalVQVAE(cfg.vqvae)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    ckpt_path = args.run / "vqvae.ckpt"
    step = 0
    if (state := load_checkpoint(ckpt_path)) is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        data.rng = resumed_crop_rng(data.rng, state, args.seed, ctx.rank)
        torch.manual_seed(args.seed + step)
    elif args.init is not None:
        copied = init_from(model, args.init)
        if ctx.is_main:
            total = len(model.state_dict())
            tqdm.write(f"initialized {len(copied)} of {total} tensors from {args.init}")
    net = ctx.wrap(model)
    log = JsonlLog(args.run / "vqvae_log.jsonl")
    bar = tqdm(total=args.steps, initial=step, desc="stage 1 (vqvae)", disable=not ctx.is_main)
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr)
        x = data.batch(args.batch)
        out = net(x)
        loss = model.objective(out, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if ctx.is_main and (step % 50 == 0 or step == args.steps):
            row = dict(step=step, loss=loss.item(), psnr=psnr(out.reconstruction, x))
            row |= usage_row(out.indices, cfg.vqvae)
            if step % args.eval_every == 0 or step == args.steps:
                row["val_psnr"] = validate(model, val_paths)
                save_training_state(ckpt_path, opt, step, data.rng, model=model.state_dict())
            log.write(**row)
            bar.set_postfix(loss=f"{row['loss']:.4f}", psnr=f"{row['psnr']:.2f}")
    bar.close()
    ctx.barrier()
    ctx.close()
    return ckpt_path
