"""The codec commands: encode, decode, info, sample, models."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import click

from vqcodec.cli.common import (
    MODEL_HELP,
    OUTPUT,
    PATH,
    QUALITY_HELP,
    STDIO,
    ByteSize,
    check_output,
    friendly_errors,
    is_stdio,
    main,
    native_stderr_muted,
    quality_level,
    rate_target,
    report,
    stdin,
    write_output,
)

OPTION_NAMES = {"bpp": "--bpp", "max_bytes": "--size", "quality": "--quality",
                "model": "--model", "refine_step": "--refine-step"}  # fmt: skip


@main.command()
@click.argument("image", type=PATH)
@click.option(
    "-o",
    "--output",
    type=OUTPUT,
    help="Output file, '-' for stdout [default: IMAGE with .vqz; stdout if IMAGE is '-'].",
)
@click.option("-m", "--model", default=None, help=MODEL_HELP)
@click.option("-q", "--quality", type=int, default=None, callback=quality_level, help=QUALITY_HELP)
@click.option(
    "--bpp",
    type=float,
    callback=rate_target,
    help="Rate target, bits per pixel of the whole file: the best file not above it.",
)
@click.option(
    "--size",
    "max_bytes",
    type=ByteSize(),
    help="Size budget (40000, 40KB, 40KiB, 1.5MB): the best file not above it.",
)
@click.option(
    "--refine-step",
    type=click.FloatRange(min=0),
    help="Refinement layer's quantizer step, 1..1023 (smaller: more bits; 0: none) "
    "[default: the quality level's].",
)
@click.option(
    "--drop-alpha", is_flag=True, help="Discard a transparency channel instead of failing."
)
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@friendly_errors
def encode(
    image: Path,
    output: Path | None,
    model: str | None,
    quality: int | None,
    bpp: float | None,
    max_bytes: int | None,
    refine_step: float | None,
    drop_alpha: bool,
    force: bool,
) -> None:
    """Compress IMAGE (a file, or '-' for stdin) to a .vqz file.

    A quality level is a model and a refinement layer on its image (a transform-coded
    residual); --model alone codes without refinement unless --refine-step is given. --bpp and
    --size search the models (or only --model), the rate-aware index choice and the refinement
    step for the file with the highest PSNR within the target.

    EXIF orientation is applied and an ICC profile converted to sRGB; animations, CMYK, 32-bit
    and float images are refused."""
    from vqcodec.api import check_request, compress_image
    from vqcodec.format.bitstream import COLOUR_GRAY
    from vqcodec.io.image_io import to_rgb

    check_request(model, quality, bpp, max_bytes, refine_step, names=OPTION_NAMES)
    output = output or (STDIO if is_stdio(image) else image.with_suffix(".vqz"))
    check_output(output, force, image)
    with native_stderr_muted():
        rgb, colour = to_rgb(stdin() if is_stdio(image) else image, drop_alpha)
    pixels = rgb[..., 0] if colour == COLOUR_GRAY else rgb  # a 2-D array is coded as grayscale
    result = compress_image(
        pixels,
        model=model,
        quality=quality,
        bpp=bpp,
        max_bytes=max_bytes,
        refine_step=refine_step,
    )
    write_output(output, result.data, force)
    refined = f", refinement step {result.refine_step:g}" if result.refine_step else ""
    size = f"{result.width}x{result.height}"
    report(output, f"{result.bpp:.3f} bpp  ({size}, model {result.model}{refined})")


def _output_format(output: Path, fmt: str | None) -> str:
    """The image format to write, checked before any decoding work."""
    from vqcodec.io import outputs

    if fmt is not None:
        return fmt.upper()
    if is_stdio(output):
        return "PNG"
    found = outputs.format_for(output)
    if found is None:
        raise click.BadParameter(
            f"cannot write images of type {output.suffix or '(no extension)'!r}; "
            f"-o may end with {outputs.extensions_text()} (or use --format)",
            param_hint="-o",
        )
    return found


def _format_choices() -> list[str]:
    from vqcodec.io import outputs

    return outputs.format_names()


@main.command()
@click.argument("vqz", type=PATH)
@click.option(
    "-o",
    "--output",
    type=OUTPUT,
    help="Output image, '-' for stdout [default: VQZ with .png; stdout if VQZ is '-'].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_format_choices(), case_sensitive=False),
    help="Image format [default: from -o's extension; png for stdout].",
)
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@friendly_errors
def decode(vqz: Path, output: Path | None, fmt: str | None, force: bool) -> None:
    """Decompress a .vqz file (or '-' for stdin) to an image (PNG unless -o or --format names
    another format)."""
    from vqcodec.format.vqz_input import read_vqz
    from vqcodec.io import outputs

    output = output or (STDIO if is_stdio(vqz) else vqz.with_suffix(".png"))
    check_output(output, force, vqz)
    fmt = _output_format(output, fmt)
    start = time.perf_counter()
    # every check that needs no decoding (header, limits, layout, payload CRC) runs before torch
    # is even imported: a damaged or hostile file costs milliseconds and a few MB
    parsed = read_vqz(stdin() if is_stdio(vqz) else vqz)
    from vqcodec.api import decompress

    image = decompress(parsed)
    write_output(output, outputs.encode_image(image, fmt), force)
    seconds = time.perf_counter() - start
    report(output, f"({image.width}x{image.height} {image.mode}, {seconds:.2f} s)")


@main.command()
@click.argument("vqz", type=PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@friendly_errors
def info(vqz: Path, as_json: bool) -> None:
    """Show the header of a .vqz file (or '-' for stdin), reading only the header."""
    from vqcodec.api import info as read_info

    fields = read_info(stdin() if is_stdio(vqz) else vqz)
    if as_json:
        click.echo(json.dumps(fields))
        return
    for key, value in fields.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        click.echo(f"{key:>15}: {shown}")


TEMPERATURES = (0.05, 20.0)  # beyond, the softmax underflows or every code is equally likely


def _temperature(ctx: click.Context, param: click.Parameter, value: float) -> float:
    low, high = TEMPERATURES
    if not (math.isfinite(value) and low <= value <= high):
        raise click.BadParameter(f"{value} is not in {low:g}..{high:g} (e.g. 0.8 or 1.0)")
    return value


@main.command()
@click.option("-q", "--quality", type=int, default=None, callback=quality_level, help=QUALITY_HELP)
@click.option("-m", "--model", default=None, help=MODEL_HELP)
@click.option(
    "--size", default="256x256", show_default=True, help="WIDTHxHEIGHT of each sample, 8..1024."
)
@click.option("-n", "count", default=8, show_default=True, help="Number of samples, 1..64.")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="Random seed.",
)
@click.option(
    "--temperature",
    type=float,
    default=1.0,
    show_default=True,
    callback=_temperature,
    help="Softmax temperature, 0.05..20 (below 1: more typical codes).",
)
@click.option("-o", "--output", type=OUTPUT, required=True, help="Folder for the PNGs.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing files.")
@friendly_errors
def sample(
    quality: int | None,
    model: str | None,
    size: str,
    count: int,
    seed: int,
    temperature: float,
    output: Path,
    force: bool,
) -> None:
    """Draw codes from the priors (top, then bottom) and decode them: what the priors learned."""
    from PIL import Image

    from vqcodec.api import load_codec
    from vqcodec.model.sampling import grid, sample_images

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(
            "expected WIDTHxHEIGHT, e.g. 256x256", param_hint="--size"
        ) from None
    if not (8 <= width <= 1024 and 8 <= height <= 1024) or not 1 <= count <= 64:
        raise click.BadParameter("sizes 8..1024 and 1..64 samples", param_hint="--size/-n")
    if output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output} is not a folder; -o names the samples' folder",
                                 param_hint="-o")  # fmt: skip
    names = [f"sample_{k:02d}.png" for k in range(count)] + ["grid.png"]
    if output.is_dir() and not force and (taken := [n for n in names if (output / n).exists()]):
        raise click.ClickException(
            f"{output / taken[0]} exists; use --force to overwrite the samples or -o to choose "
            "another folder"
        )
    codec = load_codec(model, quality)
    images = sample_images(codec, width, height, count, seed, temperature)
    output.mkdir(parents=True, exist_ok=True)
    files = {f"sample_{k:02d}.png": im for k, im in enumerate(images)}
    files["grid.png"] = grid(images)
    for filename, pixels in files.items():
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG", optimize=True)
        write_output(output / filename, buf.getvalue(), force)
    click.echo(
        f"{output}/grid.png  ({count} samples of {width}x{height}, model {codec.entry.name})"
    )


@main.command()
@friendly_errors
def models() -> None:
    """List the installed models and the quality levels built on them."""
    from vqcodec import zoo

    default = zoo.default_preset()
    for entry in sorted(zoo.entries().values(), key=lambda e: e.model_id):
        click.echo(f"{entry.model_id:>3}  {entry.name:<16} sha256 {entry.sha256[:12]}…")
    for preset in zoo.presets():
        mark = "  (default)" if preset == default else ""
        weights = ""
        if preset.rate_weights is not None:
            weights = " (rate weights " + ", ".join(f"{w:g}" for w in preset.rate_weights) + ")"
        refined = f" + refinement step {preset.refine_step:g}" if preset.refine_step else ""
        click.echo(f"q{preset.quality:<3} {preset.model}{weights}{refined}{mark}")
