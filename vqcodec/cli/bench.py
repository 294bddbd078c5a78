"""The bench command: rate, distortion and speed against other codecs."""

from __future__ import annotations

from pathlib import Path

import click

from vqcodec.cli.common import LEVELS, PATH, friendly_errors, main, write_output


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


DEFAULT_ANCHORS = (  # the published curves issue 21 asks for, and the classical codecs'
    "jpeg", "webp", "bpg_444_x265_ycbcr", "vtm",
    "paper-bmshj2018-factorized", "paper-bmshj2018-hyperprior", "paper-mbt2018",
)  # fmt: skip


@main.command()
@click.option("--dataset", default="kodak", show_default=True, help="'kodak' or a folder.")
@click.option("--data-dir", type=PATH, help="Folder holding the dataset (or its kodak/).")
@click.option(
    "--quality",
    "qualities",
    help=f"Comma-separated quality levels, each {LEVELS} [default: all].",
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
    help="Comma-separated subset of jpeg,webp,avif,avif444,jxl [default: those installed here].",
)
@click.option(
    "--anchors",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of published CompressAI-format JSON curves to compare with.",
)
@click.option(
    "--anchor-names",
    show_default=True,
    default=",".join(DEFAULT_ANCHORS),
    help="Which kodak__<name>.json files of --anchors to use ('all': every file).",
)
@click.option("--json", "json_out", type=PATH, help="vqcodec results JSON (baselines beside).")
@click.option("--plot", "plot_out", type=PATH, help="Rate-distortion plot (PNG).")
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
    from vqcodec import zoo
    from vqcodec.bench import bench as bench_lib
    from vqcodec.bench import bench_report, datasets
    from vqcodec.bench.baselines import BASELINES, missing

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
            write_output(plot_out, tmp_png.read_bytes(), force)
        click.echo(f"wrote {plot_out}")
