"""Command-line interface: parse, call the library, print one line. No codec logic here.

Every failure a user can cause ends with a one-line `error: ...` on stderr and exit status 1
(2 for usage errors, as click does); no traceback, no partial output file.
"""

from __future__ import annotations

import functools
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vqcodec.errors import VQCodecError

_PATH = click.Path(path_type=Path)


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


def _write(path: Path, data: bytes, force: bool) -> None:
    from vqcodec.fileio import write_atomic

    write_atomic(path, data, overwrite=force)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vqcodec")
@click.option(
    "--kernels",
    type=click.Choice(["auto", "torch", "triton"]),
    default=None,
    help="Compute kernels [default: $VQCODEC_KERNELS or auto: Triton on CUDA, torch elsewhere].",
)
def main(kernels: str | None) -> None:
    """vqcodec: a learned image codec (hierarchical VQ-VAE + PixelCNN priors + range coding)."""
    if kernels is not None:
        from vqcodec.kernels import set_backend

        set_backend(kernels)


@main.command()
@click.argument("image", type=_PATH)
@click.option("-o", "--output", type=_PATH, help="Output file [default: IMAGE with .vqz].")
@click.option("-m", "--model", default=None, help="Model name from the zoo [default: the default].")
@click.option("-q", "--quality", type=int, default=None, help="Quality level (picks the model).")
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
    drop_alpha: bool,
    force: bool,
) -> None:
    """Compress IMAGE to a .vqz file."""
    from vqcodec.api import compress_image

    if quality is not None and model is not None:
        raise click.UsageError("give --model or --quality, not both")
    output = output or image.with_suffix(".vqz")
    if output.exists() and not force:
        raise FileExistsError(output)
    result = compress_image(image, model=model, drop_alpha=drop_alpha, quality=quality)
    _write(output, result.data, force)
    click.echo(
        f"{output}  {result.bpp:.3f} bpp  ({result.width}x{result.height}, model {result.model})"
    )


@main.command()
@click.argument("vqz", type=_PATH)
@click.option("-o", "--output", type=_PATH, help="Output image [default: VQZ with .png].")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@friendly_errors
def decode(vqz: Path, output: Path | None, force: bool) -> None:
    """Decompress a .vqz file to an image (PNG unless -o names another format)."""
    from PIL import Image

    from vqcodec.api import decompress

    output = output or vqz.with_suffix(".png")
    if output.exists() and not force:
        raise FileExistsError(output)
    fmt = Image.registered_extensions().get(output.suffix.lower())
    if fmt is None:
        raise click.BadParameter(f"unknown image file extension {output.suffix!r}", param_hint="-o")
    start = time.perf_counter()
    image = decompress(vqz.read_bytes())
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    _write(output, buf.getvalue(), force)
    seconds = time.perf_counter() - start
    click.echo(f"{output}  ({image.width}x{image.height} {image.mode}, {seconds:.2f} s)")


@main.command()
@click.argument("vqz", type=_PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@friendly_errors
def info(vqz: Path, as_json: bool) -> None:
    """Show the header of a .vqz file without decoding it."""
    from vqcodec.api import info as read_info

    fields = read_info(vqz.read_bytes())
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
@click.option("--quality", "qualities", help="Comma-separated quality levels [default: all].")
@click.option("--limit", type=int, help="Only the first N images.")
@click.option("--jobs", default=1, show_default=True, help="Worker processes.")
@click.option(
    "--threads",
    default=1,
    show_default=True,
    help="torch threads per image task (fixed, so results do not depend on --jobs).",
)
@click.option("--baselines", default="jpeg,webp,avif,jxl", show_default=True)
@click.option(
    "--anchors",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of published CompressAI-format JSON curves to compare with.",
)
@click.option(
    "--anchor-names",
    show_default=True,
    default="jpeg,webp,bpg_444_x265_ycbcr,vtm,paper-bmshj2018-hyperprior",
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
    baselines: str,
    anchors: Path | None,
    anchor_names: str,
    json_out: Path | None,
    plot_out: Path | None,
    force: bool,
) -> None:
    """Rate / distortion / speed of vqcodec vs JPEG, WebP, AVIF, JPEG XL (and published curves)."""
    import importlib.util

    for package in ("bjontegaard", "imagecodecs", "matplotlib", "pooch", "pytorch_msssim"):
        if importlib.util.find_spec(package) is None:
            raise click.ClickException(
                f"vqcodec bench needs {package}: pip install 'vqcodec[bench]'"
            )
    from vqcodec import bench as bench_lib
    from vqcodec import bench_report, datasets, zoo
    from vqcodec.baselines import BASELINES

    unknown = set(_csv(baselines)) - set(BASELINES)
    if unknown:
        raise click.BadParameter(f"unknown baseline(s) {sorted(unknown)}", param_hint="--baselines")
    models = [zoo.by_quality(int(q)).name for q in _csv(qualities)] or zoo.ladder()
    targets = [p for p in (json_out, plot_out) if p is not None]
    if json_out is not None:
        targets += [json_out.with_name(f"{b}.json") for b in _csv(baselines)]
    for path in targets:
        if path.exists() and not force:
            raise FileExistsError(path)
    paths = datasets.resolve(dataset, data_dir)[:limit]
    rows = bench_lib.run(paths, models, _csv(baselines), jobs=jobs, threads=threads)
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


@main.command()
@click.option("-q", "--quality", type=int, default=None, help="Quality level (picks the model).")
@click.option("-m", "--model", default=None, help="Model name [default: the default model].")
@click.option("--size", default="256x256", show_default=True, help="WIDTHxHEIGHT of each sample.")
@click.option("-n", "count", default=8, show_default=True, help="Number of samples.")
@click.option("--seed", default=0, show_default=True)
@click.option("--temperature", default=1.0, show_default=True)
@click.option("-o", "--output", type=_PATH, required=True, help="Folder for the PNGs.")
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
    """List the installed models."""
    from vqcodec import zoo

    default = zoo.default_name()
    for entry in sorted(zoo.entries().values(), key=lambda e: e.model_id):
        mark = "  (default)" if entry.name == default else ""
        quality = f"q{entry.quality}" if entry.quality else "  "
        click.echo(
            f"{entry.model_id:>3}  {quality:<4} {entry.name:<16} sha256 {entry.sha256[:12]}…{mark}"
        )


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
@click.option("--threads", default=0, help="torch threads (0: default).")
@friendly_errors
def train_decoder_cmd(
    run: Path, data: Path, steps: int, batch: int, crop: int, lr: float, seed: int, threads: int
) -> None:
    """Stage 1b (optional): refine the synthesis layers with the codes frozen.

    The code maps do not change, so this may run before, during or after stage 2."""
    from vqcodec.training.decoder_stage import DecoderTrainArgs, train_decoder

    args = DecoderTrainArgs(
        data=data, run=run, steps=steps, batch=batch, crop=crop, lr=lr, seed=seed, threads=threads
    )
    click.echo(f"stage 1b checkpoint: {train_decoder(args)}")


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
