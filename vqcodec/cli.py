"""Command-line interface: parse, call the library, print one line. No codec logic here.

Every failure a user can cause ends with a one-line `error: ...` on stderr and exit status 1
(2 for usage errors, as click does, but also on one line); no traceback, no partial output
file. `-` as a file name is stdin or stdout.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from vqcodec.errors import VQCodecError

_PATH = click.Path(path_type=Path)
STDIO = Path("-")


class OutputPath(click.ParamType):
    """A file name for -o: never empty (Path("") would mean the current folder)."""

    name = "path"

    def convert(self, value: Any, param: Any, ctx: Any) -> Path:
        if isinstance(value, Path):
            return value
        if not str(value):
            self.fail("the output file name is empty", param, ctx)
        if "\0" in str(value):
            self.fail("a file name cannot contain a NUL character", param, ctx)
        return Path(value)


_OUT = OutputPath()


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class OneLineErrors(click.Group):
    """click's group, with usage errors (bad options, missing arguments) on one line too."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            status = super().main(*args, standalone_mode=False, **kwargs)
        except _NO_ARGS_IS_HELP as exc:  # `vqcodec` alone: the help text, as click shows it
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"error: {exc.format_message()}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(status if isinstance(status, int) else 0)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can cause into one line on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VQCodecError as exc:
            _fail(str(exc))
        except FileExistsError as exc:
            name = exc.filename or exc.args[0]
            _fail(f"{name} exists; use --force to overwrite it or -o to choose another name")
        except BrokenPipeError:
            raise  # the reader went away (`| head`): click exits quietly
        except OSError as exc:
            _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        except MemoryError:
            _fail("out of memory")
        except RuntimeError as exc:  # torch reports allocation failures as RuntimeError
            if "allocate" not in str(exc):
                raise
            _fail("out of memory: " + str(exc).splitlines()[0])
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _is_stdio(path: Path | None) -> bool:
    return path is not None and str(path) == "-"


def _binary(stream: Any) -> BinaryIO:
    """The bytes side of sys.stdin / sys.stdout (whatever replaced them, as in tests)."""
    return getattr(stream, "buffer", stream)


def _stdin() -> BinaryIO:
    return _binary(sys.stdin)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _check_output(output: Path, force: bool, source: Path) -> None:
    """Before any work: the output is not the input, can be written as a regular file in an
    existing folder, is not an existing file (without --force), and binary data does not go
    to a terminal or a closed stdout."""
    from vqcodec.fileio import check_target

    if _is_stdio(output):
        if sys.stdout is None:
            raise click.ClickException("standard output is closed; give -o FILE")
        if _binary(sys.stdout).isatty():
            raise click.UsageError("refusing to write binary data to a terminal; redirect it")
        return
    if not _is_stdio(source) and _same_file(source, output):
        raise click.ClickException(f"{output} is the input file; choose another -o")
    check_target(output, force)


def _write(path: Path, data: bytes, force: bool) -> None:
    if _is_stdio(path):
        if sys.stdout is None:
            raise click.ClickException("standard output is closed; give -o FILE")
        out = _binary(sys.stdout)
        out.write(data)
        out.flush()
        return
    from vqcodec.fileio import write_atomic

    write_atomic(path, data, overwrite=force)


def _report(output: Path, details: str) -> None:
    """The one status line: on stdout, or on stderr when stdout carries the data."""
    click.echo(f"{'(stdout)' if _is_stdio(output) else output}  {details}", err=_is_stdio(output))


@contextlib.contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """C libraries under Pillow (libtiff) print their own complaints on file descriptor 2; while
    an input image is read, those go to /dev/null so an error stays one line. CLI only."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_BYTE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "KIB": 2**10, "MIB": 2**20}


class ByteSize(click.ParamType):
    """A byte count: a plain integer, or a number with B, KB, MB (powers of 1000) or KiB, MiB
    (powers of 1024)."""

    name = "size"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().upper()
        number = text.rstrip("BIKM ")
        unit = text[len(number) :].strip()
        try:
            count = float(number) * _BYTE_UNITS[unit]
        except (ValueError, KeyError):
            self.fail(f"{value!r} is not a size such as 40000, 40KB or 1.5MiB", param, ctx)
        if not (math.isfinite(count) and count >= 1):
            self.fail(f"{value!r} is not a size of at least 1 byte", param, ctx)
        return int(count)


def _ladder_help() -> str:
    """'1..4 (1 = fewest bits) [default: 3]' from the installed zoo, read when the CLI loads."""
    try:
        from vqcodec import zoo

        levels = [p.quality for p in zoo.presets()]
        default = zoo.default_preset()
    except (VQCodecError, OSError, ValueError, KeyError, TypeError):
        return "(see `vqcodec models`)"
    if not levels:
        return "(see `vqcodec models`)"
    shown = f"{levels[0]}..{levels[-1]}" if len(levels) > 1 else str(levels[0])
    return f"{shown} (1 = fewest bits) [default: {default.quality or default.model}]"


def _default_model() -> str:
    try:
        from vqcodec import zoo

        return zoo.default_name()
    except (VQCodecError, OSError, ValueError, KeyError):
        return "the zoo's default"


def _quality_level(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """A level of the installed ladder (a usage error otherwise)."""
    if value is None:
        return None
    from vqcodec import zoo

    levels = [p.quality for p in zoo.presets()]
    if value not in levels:
        raise click.BadParameter(f"{value} is not a quality level; the levels are {_LEVELS}")
    return value


def _rate_target(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """--bpp: a finite number above 0 and within what the format can hold."""
    if value is None:
        return None
    from vqcodec.bitstream import MAX_BYTES_PER_PIXEL

    most = 8 * MAX_BYTES_PER_PIXEL
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} is not a finite number above 0 (e.g. 0.3)")
    if value > most:
        raise click.BadParameter(f"{value:g} is over {most} bits per pixel, the format's limit")
    return value


_QUALITY_HELP = "Quality level " + _ladder_help() + "; picks the model and refinement."
_LEVELS = _ladder_help().split(" [")[0]
_MODEL_HELP = f"Model name from `vqcodec models` [default: {_default_model()}]."


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vqcodec")
@click.option(
    "--kernels",
    type=click.Choice(["auto", "torch", "triton"]),
    default=None,
    help="Compute kernels [default: $VQCODEC_KERNELS or auto: Triton on CUDA, torch elsewhere].",
)
def main(kernels: str | None) -> None:
    """vqcodec: a learned image codec (hierarchical VQ-VAE + PixelCNN priors + range coding).

    '-' as a file name reads stdin or writes stdout."""
    if kernels is not None:
        from vqcodec.kernels import set_backend

        set_backend(kernels)


@main.command()
@click.argument("image", type=_PATH)
@click.option(
    "-o",
    "--output",
    type=_OUT,
    help="Output file, '-' for stdout [default: IMAGE with .vqz; stdout if IMAGE is '-'].",
)
@click.option("-m", "--model", default=None, help=_MODEL_HELP)
@click.option(
    "-q", "--quality", type=int, default=None, callback=_quality_level, help=_QUALITY_HELP
)
@click.option(
    "--bpp",
    type=float,
    callback=_rate_target,
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
    from vqcodec.api import compress_image
    from vqcodec.bitstream import COLOUR_GRAY
    from vqcodec.image_io import to_rgb

    if quality is not None and model is not None:
        raise click.UsageError("give --model or --quality, not both")
    if bpp is not None and max_bytes is not None:
        raise click.UsageError("give --bpp or --size, not both")
    if quality is not None and (bpp is not None or max_bytes is not None):
        raise click.UsageError("--bpp and --size choose the model: give them without --quality")
    if refine_step is not None and (bpp is not None or max_bytes is not None):
        raise click.UsageError("--bpp and --size choose the refinement: give no --refine-step")
    from vqcodec.refine import STEP_RANGE

    low, high = STEP_RANGE
    if refine_step and not low <= refine_step <= high:
        raise click.UsageError(f"--refine-step must be 0 or in {low:g}..{high:g}")
    output = output or (STDIO if _is_stdio(image) else image.with_suffix(".vqz"))
    _check_output(output, force, image)
    with _native_stderr_muted():
        rgb, colour = to_rgb(_stdin() if _is_stdio(image) else image, drop_alpha)
    pixels = rgb[..., 0] if colour == COLOUR_GRAY else rgb  # a 2-D array is coded as grayscale
    result = compress_image(
        pixels,
        model=model,
        quality=quality,
        bpp=bpp,
        max_bytes=max_bytes,
        refine_step=refine_step,
    )
    _write(output, result.data, force)
    refined = f", refinement step {result.refine_step:g}" if result.refine_step else ""
    size = f"{result.width}x{result.height}"
    _report(output, f"{result.bpp:.3f} bpp  ({size}, model {result.model}{refined})")


def _output_format(output: Path, fmt: str | None) -> str:
    """The image format to write, checked before any decoding work."""
    from vqcodec import outputs

    if fmt is not None:
        return fmt.upper()
    if _is_stdio(output):
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
    from vqcodec import outputs

    return outputs.format_names()


@main.command()
@click.argument("vqz", type=_PATH)
@click.option(
    "-o",
    "--output",
    type=_OUT,
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
    from vqcodec import outputs
    from vqcodec.vqz_input import read_vqz

    output = output or (STDIO if _is_stdio(vqz) else vqz.with_suffix(".png"))
    _check_output(output, force, vqz)
    fmt = _output_format(output, fmt)
    start = time.perf_counter()
    # every check that needs no decoding (header, limits, layout, payload CRC) runs before torch
    # is even imported: a damaged or hostile file costs milliseconds and a few MB
    parsed = read_vqz(_stdin() if _is_stdio(vqz) else vqz)
    from vqcodec.api import decompress

    image = decompress(parsed)
    _write(output, outputs.encode_image(image, fmt), force)
    seconds = time.perf_counter() - start
    _report(output, f"({image.width}x{image.height} {image.mode}, {seconds:.2f} s)")


@main.command()
@click.argument("vqz", type=_PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@friendly_errors
def info(vqz: Path, as_json: bool) -> None:
    """Show the header of a .vqz file (or '-' for stdin), reading only the header."""
    from vqcodec.api import info as read_info

    fields = read_info(_stdin() if _is_stdio(vqz) else vqz)
    if as_json:
        click.echo(json.dumps(fields))
        return
    for key, value in fields.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        click.echo(f"{key:>15}: {shown}")


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


@main.command()
@click.option("--dataset", default="kodak", show_default=True, help="'kodak' or a folder.")
@click.option("--data-dir", type=_PATH, help="Folder holding the dataset (or its kodak/).")
@click.option(
    "--quality",
    "qualities",
    help=f"Comma-separated quality levels, each {_LEVELS} [default: all].",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N images.")
@click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="torch threads per image task (fixed, so results do not depend on --jobs).",
)
@click.option(
    "--baselines",
    help="Comma-separated subset of jpeg,webp,avif,jxl [default: those installed here].",
)
@click.option(
    "--anchors",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of published CompressAI-format JSON curves to compare with.",
)
@click.option(
    "--anchor-names",
    show_default=True,
    default="jpeg,webp,bpg_444_x265_ycbcr,vtm,paper-bmshj2018-factorized,paper-bmshj2018-hyperprior",
    help="Which kodak__<name>.json files of --anchors to use ('all': every file).",
)
@click.option("--json", "json_out", type=_PATH, help="vqcodec results JSON (baselines beside).")
@click.option("--plot", "plot_out", type=_PATH, help="Rate-distortion plot (PNG).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing result files.")
@friendly_errors
def bench(
    dataset: str,
    data_dir: Path | None,
    qualities: str | None,
    limit: int | None,
    jobs: int,
    threads: int,
    baselines: str | None,
    anchors: Path | None,
    anchor_names: str,
    json_out: Path | None,
    plot_out: Path | None,
    force: bool,
) -> None:
    """Rate / distortion / speed of vqcodec vs JPEG, WebP, AVIF, JPEG XL (and published curves).

    Runs after the plain install: baselines whose library is missing are skipped (named on
    stderr), rate differences fall back from BD-rate to equal-quality interpolation without
    bjontegaard; `pip install 'vqcodec[bench]'` adds JPEG XL, BD-rate and --plot."""
    from vqcodec import bench as bench_lib
    from vqcodec import bench_report, datasets, zoo
    from vqcodec.baselines import BASELINES, missing

    names = _csv(baselines) if baselines is not None else list(BASELINES)
    unknown = set(names) - set(BASELINES)
    if unknown:
        raise click.BadParameter(f"unknown baseline(s) {sorted(unknown)}", param_hint="--baselines")
    absent = {name: why for name in names if (why := missing(name))}
    if absent and baselines is not None:  # asked for by name: refuse rather than skip
        raise click.ClickException(
            "; ".join(f"baseline {name} cannot run here: {why}" for name, why in absent.items())
        )
    if plot_out is not None and not bench_lib.has_plot():
        raise click.ClickException("--plot needs matplotlib: pip install 'vqcodec[bench]'")
    for name, why in absent.items():
        click.echo(f"note: skipping baseline {name} ({why})", err=True)
    names = [name for name in names if name not in absent]
    if not bench_lib.has_bd_rate():
        click.echo(
            "note: bjontegaard is not installed: rate differences are equal-quality "
            "interpolations, not BD-rates (pip install 'vqcodec[bench]')",
            err=True,
        )
    levels = [zoo.by_quality(int(q)) for q in _csv(qualities)] or zoo.presets()
    targets = [p for p in (json_out, plot_out) if p is not None]
    if json_out is not None:
        targets += [json_out.with_name(f"{b}.json") for b in names]
    for path in targets:
        if path.exists() and not force:
            raise FileExistsError(path)
    paths = datasets.resolve(dataset, data_dir)[:limit]
    rows = bench_lib.run(paths, levels, names, jobs=jobs, threads=threads)
    anchor_curves = bench_report.select_anchors(anchors, anchor_names) if anchors else {}
    docs = bench_report.build(
        rows, anchor_curves, bench_report.meta_block(dataset, len(paths), jobs, threads)
    )
    click.echo(bench_report.table(docs))
    for path in bench_report.write(docs, json_out, overwrite=force):
        click.echo(f"wrote {path}")
    if plot_out is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            tmp_png = Path(tmp) / "rd.png"
            others = {k: v["results"] for k, v in docs.items() if k != "vqcodec"}
            vq_curve = {"vqcodec": docs["vqcodec"]["models"]}
            bench_lib.plot(tmp_png, vq_curve, {**others, **anchor_curves})
            _write(plot_out, tmp_png.read_bytes(), force)
        click.echo(f"wrote {plot_out}")


TEMPERATURES = (0.05, 20.0)  # beyond, the softmax underflows or every code is equally likely


def _temperature(ctx: click.Context, param: click.Parameter, value: float) -> float:
    low, high = TEMPERATURES
    if not (math.isfinite(value) and low <= value <= high):
        raise click.BadParameter(f"{value} is not in {low:g}..{high:g} (e.g. 0.8 or 1.0)")
    return value


@main.command()
@click.option(
    "-q", "--quality", type=int, default=None, callback=_quality_level, help=_QUALITY_HELP
)
@click.option("-m", "--model", default=None, help=_MODEL_HELP)
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
@click.option("-o", "--output", type=_OUT, required=True, help="Folder for the PNGs.")
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
    from vqcodec.sampling import grid, sample_images

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
        _write(output / filename, buf.getvalue(), force)
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


@main.group()
def train() -> None:
    """Train a model: stage 1 (vqvae), then stage 2 (prior), then `vqcodec export`."""


_DATA = click.Path(exists=True, file_okay=False, path_type=Path)


@train.command("vqvae")
@click.option("--data", type=_DATA, required=True, help="Folder of training images.")
@click.option(
    "--out", "run", type=_PATH, required=True, help="Run folder (an existing one resumes)."
)
@click.option("--steps", default=6000, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option("--crop", default=128, show_default=True)
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--codes-top", default=512, show_default=True)
@click.option("--codes-bottom", default=512, show_default=True)
@click.option("--channels", default=128, show_default=True)
@click.option(
    "--stride",
    type=click.Choice(["2", "4", "8"]),
    default="4",
    show_default=True,
    help="Bottom-map stride (top: twice it): 8 for low rates, 2 for high.",
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
    codes_top: int,
    codes_bottom: int,
    channels: int,
    stride: str,
    init: Path | None,
    threads: int,
) -> None:
    """Stage 1: encoder, codebooks and decoder."""
    from vqcodec.config import ModelConfig, PriorConfig, VQVAEConfig
    from vqcodec.training.vqvae_stage import VQVAETrainArgs, train_vqvae

    cfg = ModelConfig(
        vqvae=VQVAEConfig(
            stride=int(stride), channels=channels, codes_top=codes_top, codes_bottom=codes_bottom
        ),
        prior_top=PriorConfig(codes=codes_top),
        prior_bottom=PriorConfig(codes=codes_bottom, cond_codes=codes_top),
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


@train.command("prior")
@click.option(
    "--run",
    "--run-dir",
    "run",
    type=_DATA,
    required=True,
    help="Run folder of a finished stage 1 (spell it --run-dir under torchrun, whose own "
    "--run-path option claims --run).",
)
@click.option("--data", type=_DATA, required=True, help="Folder of training images.")
@click.option("--steps", default=3000, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option("--crop", default=32, show_default=True, help="Bottom-map crop (top: half).")
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
    """Stage 2: the top prior and the conditional bottom prior."""
    from vqcodec.config import ModelConfig, PriorConfig
    from vqcodec.training.prior_stage import PriorTrainArgs, train_priors

    if kernel % 2 == 0:
        raise click.BadParameter("must be odd", param_hint="--kernel")
    vq = ModelConfig.from_json((run / "config.json").read_text()).vqvae
    shape = dict(channels=channels, layers=layers, kernel=kernel)
    top = PriorConfig(codes=vq.codes_top, **shape)
    bottom = PriorConfig(codes=vq.codes_bottom, cond_codes=vq.codes_top, **shape)
    args = PriorTrainArgs(
        data=data, run=run, steps=steps, batch=batch, crop=crop, lr=lr, seed=seed, threads=threads
    )
    click.echo(f"stage 2 checkpoint: {train_priors(args, top, bottom)}")


@train.command("decoder")
@click.option("--run", "--run-dir", "run", type=_DATA, required=True, help="Run folder.")
@click.option("--data", type=_DATA, required=True, help="Folder of training images.")
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
@click.option("--run", "--run-dir", "run", type=_DATA, required=True, help="Trained run folder.")
@click.option("--out", type=_PATH, required=True, help="New run folder (must not exist).")
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


@train.command("quantize")
@click.option(
    "--model", "folder", type=_DATA, required=True, help="models/NAME of an exported model."
)
@click.option("--data", type=_DATA, required=True, help="Folder of training images (calibration).")
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
@click.argument("run", type=_DATA)
@click.option("-o", "--output", type=_PATH, required=True, help="models/NAME")
@click.option("--data", type=_DATA, required=True, help="Training images (prior calibration).")
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


if __name__ == "__main__":
    main()
