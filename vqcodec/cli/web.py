"""The export-web command: the browser decoder and the models' assets, as a static site."""

from __future__ import annotations

from pathlib import Path

import click

from vqcodec.cli.common import PATH, friendly_errors, main


@main.command("export-web")
@click.argument("out", type=PATH)
@click.option(
    "-m", "--model", "models", multiple=True, help="Only this model's assets (repeatable)."
)
@click.option("-f", "--force", is_flag=True, help="Write into a folder that is not empty.")
@friendly_errors
def export_web_cmd(out: Path, models: tuple[str, ...], force: bool) -> None:
    """Write the browser decoder (web/) and the shipped models' assets into OUT, a folder any
    static file server can serve: .vqz files then open in a web browser, decoded there."""
    from vqcodec import zoo
    from vqcodec.web_export import export_web

    if out.exists() and not out.is_dir():
        raise click.BadParameter(f"{out} is not a folder", param_hint="OUT")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise click.ClickException(f"{out} is not empty; use --force to write into it")
    unknown = sorted(set(models) - set(zoo.entries()))
    if unknown:
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}", param_hint="--model")
    export_web(out, list(models) or None)
    click.echo(f"{out}/index.html  (serve it: python -m http.server -d {out} 8000)")
