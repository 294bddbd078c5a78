"""The training commands: train vqvae / prior / decoder / widen / from-model / quantize, and
export."""

from __future__ import annotations

from pathlib import Path

import click

from vqcodec.cli.common import PATH, friendly_errors, main


@main.group()
def train() -> None:
    """Train a model: stage 1 (vqvae), then stage 2 (prior), then `vqcodec export`."""


DATA = click.Path(exists=True, file_okay=False, path_type=Path)


@train.command("vqvae")
@click.option("--data", type=DATA, required=True, help="Folder of training images.")
@click.option(
    "--out", "run", type=PATH, required=True, help="Run folder (an existing one resumes)."
)
@click.option("--steps", default=6000, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option("--crop", default=128, show_default=True)
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--codes",
    default="512,512",
    show_default=True,
    help="Codebook size of every code map, coarsest first, comma-separated: one map per entry, "
    "each at twice the resolution of the one before, the finest at 1/stride.",
)
@click.option("--codes-top", type=click.IntRange(min=1), help="Two maps: the top codebook.")
@click.option("--codes-bottom", type=click.IntRange(min=1), help="Two maps: the bottom codebook.")
@click.option("--channels", default=128, show_default=True)
@click.option(
    "--stride",
    type=click.Choice(["2", "4", "8"]),
    default="4",
    show_default=True,
    help="Finest-map stride (each coarser map: twice the one below): 8 for low rates, 2 for high.",
)
@click.option(
    "--init",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Start a new run from this stage-1 checkpoint (layers of equal shape).",
)
@click.option("--threads", default=0, help="torch threads (0: default).")
@friendly_errors
def train_vqvae_cmd(
    data: Path,
    run: Path,
    steps: int,
    batch: int,
    crop: int,
    lr: float,
    seed: int,
    codes: str,
    codes_top: int | None,
    codes_bottom: int | None,
    channels: int,
    stride: str,
    init: Path | None,
    threads: int,
) -> None:
    """Stage 1: encoder, codebooks and decoder."""
    from vqcodec.model.config import ModelConfig, VQVAEConfig, default_priors
    from vqcodec.training.vqvae_stage import VQVAETrainArgs, train_vqvae

    sizes = _codebook_sizes(codes, codes_top, codes_bottom)
    cfg = ModelConfig(
        vqvae=VQVAEConfig(stride=int(stride), channels=channels, codes=sizes),
        priors=default_priors(sizes),
    )
    args = VQVAETrainArgs(
        data=data,
        run=run,
        steps=steps,
        batch=batch,
        crop=crop,
        lr=lr,
        seed=seed,
        threads=threads,
        init=init,
    )
    click.echo(f"stage 1 checkpoint: {train_vqvae(args, cfg)}")


def _codebook_sizes(codes: str, top: int | None, bottom: int | None) -> tuple[int, ...]:
    """The codebook sizes of `--codes`, or of `--codes-top` / `--codes-bottom` (two maps, each
    512 unless given), which cannot be mixed with an explicit `--codes`."""
    if top is not None or bottom is not None:
        source = click.get_current_context().get_parameter_source("codes")
        if source is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError("give --codes or --codes-top/--codes-bottom, not both")
        return (top or 512, bottom or 512)
    try:
        sizes = tuple(int(n) for n in codes.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{codes!r} is not a list of sizes", param_hint="--codes"
        ) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise click.BadParameter("needs two or more sizes, each >= 1", param_hint="--codes")
    return sizes


@train.command("prior")
@click.option(
    "--run",
    "--run-dir",
    "run",
    type=DATA,
    required=True,
    help="Run folder of a finished stage 1 (spell it --run-dir under torchrun, whose own "
    "--run-path option claims --run).",
)
@click.option("--data", type=DATA, required=True, help="Folder of training images.")
@click.option("--steps", default=3000, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option(
    "--crop",
    default=32,
    show_default=True,
    help="Finest-map crop (each coarser map: half the one below).",
)
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--channels", default=64, show_default=True)
@click.option("--layers", default=4, show_default=True)
@click.option("--kernel", default=3, show_default=True, help="Masked kernel size (odd).")
@click.option("--threads", default=0, help="torch threads (0: default).")
@friendly_errors
def train_prior_cmd(
    run: Path,
    data: Path,
    steps: int,
    batch: int,
    crop: int,
    lr: float,
    seed: int,
    channels: int,
    layers: int,
    kernel: int,
    threads: int,
) -> None:
    """Stage 2: the prior of every code map: the top one, then each map's conditioned on the
    map above it."""
    from vqcodec.model.config import ModelConfig, default_priors
    from vqcodec.training.prior_stage import PriorTrainArgs, train_priors

    if kernel % 2 == 0:
        raise click.BadParameter("must be odd", param_hint="--kernel")
    vq = ModelConfig.from_json((run / "config.json").read_text()).vqvae
    priors = default_priors(vq.codes, channels=channels, layers=layers, kernel=kernel)
    args = PriorTrainArgs(
        data=data, run=run, steps=steps, batch=batch, crop=crop, lr=lr, seed=seed, threads=threads
    )
    click.echo(f"stage 2 checkpoint: {train_priors(args, priors)}")


@train.command("decoder")
@click.option("--run", "--run-dir", "run", type=DATA, required=True, help="Run folder.")
@click.option("--data", type=DATA, required=True, help="Folder of training images.")
@click.option("--steps", default=2000, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option("--crop", default=128, show_default=True)
@click.option("--lr", default=2e-4, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--downscale",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Also train on every photo downscaled by this factor (removes JPEG artefacts).",
)
@click.option("--threads", default=0, help="torch threads (0: default).")
@friendly_errors
def train_decoder_cmd(
    run: Path,
    data: Path,
    steps: int,
    batch: int,
    crop: int,
    lr: float,
    seed: int,
    downscale: int,
    threads: int,
) -> None:
    """Stage 1b (optional): refine the synthesis layers with the codes frozen.

    The code maps do not change, so this may run before, during or after stage 2."""
    from vqcodec.training.decoder_stage import DecoderTrainArgs, train_decoder

    args = DecoderTrainArgs(
        data=data,
        run=run,
        steps=steps,
        batch=batch,
        crop=crop,
        lr=lr,
        seed=seed,
        threads=threads,
        downscale=downscale,
    )
    click.echo(f"stage 1b checkpoint: {train_decoder(args)}")


@train.command("widen")
@click.option("--run", "--run-dir", "run", type=DATA, required=True, help="Trained run folder.")
@click.option("--out", type=PATH, required=True, help="New run folder (must not exist).")
@click.option("--blocks", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=64, show_default=True)
@friendly_errors
def train_widen_cmd(run: Path, out: Path, blocks: int, hidden: int) -> None:
    """A copy of RUN with more residual blocks in its synthesis (decoding as before until
    stage 1b trains them; the code maps and priors stay valid)."""
    from vqcodec.training.decoder_stage import widen_run

    if out.exists():
        raise click.ClickException(f"{out} exists; give a new run folder")
    cfg = widen_run(run, out, blocks, hidden)
    click.echo(
        f"{out}: synthesis with {cfg.vqvae.res_blocks + cfg.vqvae.synthesis_blocks} residual "
        f"blocks; train them with: vqcodec train decoder --run {out} ..."
    )


@train.command("from-model")
@click.argument("name")
@click.option("--out", type=PATH, required=True, help="New run folder (must not exist).")
@friendly_errors
def train_from_model_cmd(name: str, out: Path) -> None:
    """A run folder holding the installed model NAME as if its training had just ended, to
    train it on (decoder, widen, prior) when its own run folder is gone."""
    from vqcodec.training.export import run_from_model

    if out.exists():
        raise click.ClickException(f"{out} exists; give a new run folder")
    run_from_model(name, out)
    click.echo(f"{out}: {name}'s stage 1 and priors; go on with: vqcodec train decoder --run {out}")


@train.command("quantize")
@click.option(
    "--model", "folder", type=DATA, required=True, help="models/NAME of an exported model."
)
@click.option("--data", type=DATA, required=True, help="Folder of training images (calibration).")
@click.option("--threads", default=0, help="torch threads (0: default).")
@friendly_errors
def train_quantize_cmd(folder: Path, data: Path, threads: int) -> None:
    """Stage 3: the integer priors of format 2 (also run by `vqcodec export`)."""
    _quantize(folder, data, threads)


def _quantize(folder: Path, data: Path, threads: int = 0) -> None:
    from vqcodec.training.quantize_stage import quantize_model, register

    report = quantize_model(folder, data, threads)
    entry = register(folder)
    click.echo(
        f"integer priors: {report.int_bits:.0f} bits vs {report.float_bits:.0f} float "
        f"({report.cost_pct:+.3f} %) on {report.images} held-out images; "
        f"sha256 {entry['int_prior_sha256']}"
    )


@main.command("export")
@click.argument("run", type=DATA)
@click.option("-o", "--output", type=PATH, required=True, help="models/NAME")
@click.option("--data", type=DATA, required=True, help="Training images (prior calibration).")
@click.option("--default", "make_default", is_flag=True, help="Make it the default model.")
@click.option("-q", "--quality", type=int, default=None, help="Its level on the rate ladder.")
@friendly_errors
def export_cmd(
    run: Path, output: Path, data: Path, make_default: bool, quality: int | None
) -> None:
    """Export a trained RUN as a zoo model (safetensors + config + integer priors, sha256 of
    each in zoo.json)."""
    from vqcodec.training.export import export_run

    entry = export_run(run, output, make_default, quality)
    click.echo(f"model {entry.name} (id {entry.model_id}) sha256 {entry.sha256}")
    _quantize(output, data)
