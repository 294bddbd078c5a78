"""The command line's shared parts: the `vqcodec` group, one-line errors, stdio, output checks,
option types and help texts. The commands live in `codec`, `bench` and `train`.

Every failure a user can cause ends with a one-line `error: ...` on stderr and exit status 1
(2 for usage errors: bad options, conflicting or out-of-range values, as click does, but also on
one line); no traceback, no partial output file. `-` as a file name is stdin or stdout.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from vqcodec.errors import InputTypeError, VQCodecError

PATH = click.Path(path_type=Path)
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


OUTPUT = OutputPath()


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


def fail(message: str, status: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can cause into one line on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputTypeError as exc:  # conflicting or out-of-range options: a usage error
            fail(str(exc), status=2)
        except VQCodecError as exc:
            fail(str(exc))
        except FileExistsError as exc:
            name = exc.filename or exc.args[0]
            fail(f"{name} exists; use --force to overwrite it or -o to choose another name")
        except BrokenPipeError:
            raise  # the reader went away (`| head`): click exits quietly
        except OSError as exc:
            fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        except MemoryError:
            fail("out of memory")
        except RuntimeError as exc:  # torch reports allocation failures as RuntimeError
            if "allocate" not in str(exc):
                raise
            fail("out of memory: " + str(exc).splitlines()[0])
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def is_stdio(path: Path | None) -> bool:
    return path is not None and str(path) == "-"


def binary(stream: Any) -> BinaryIO:
    """The bytes side of sys.stdin / sys.stdout (whatever replaced them, as in tests)."""
    return getattr(stream, "buffer", stream)


def stdin() -> BinaryIO:
    return binary(sys.stdin)


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output(output: Path, force: bool, source: Path) -> None:
    """Before any work: the output is not the input, can be written as a regular file in an
    existing folder, is not an existing file (without --force), and binary data does not go
    to a terminal or a closed stdout."""
    from vqcodec.io.fileio import check_target

    if is_stdio(output):
        if sys.stdout is None:
            raise click.ClickException("standard output is closed; give -o FILE")
        if binary(sys.stdout).isatty():
            raise click.UsageError("refusing to write binary data to a terminal; redirect it")
        return
    if not is_stdio(source) and same_file(source, output):
        raise click.ClickException(f"{output} is the input file; choose another -o")
    check_target(output, force)


def write_output(path: Path, data: bytes, force: bool) -> None:
    if is_stdio(path):
        if sys.stdout is None:
            raise click.ClickException("standard output is closed; give -o FILE")
        out = binary(sys.stdout)
        out.write(data)
        out.flush()
        return
    from vqcodec.io.fileio import write_atomic

    write_atomic(path, data, overwrite=force)


def report(output: Path, details: str) -> None:
    """The one status line: on stdout, or on stderr when stdout carries the data."""
    click.echo(f"{'(stdout)' if is_stdio(output) else output}  {details}", err=is_stdio(output))


@contextlib.contextmanager
def native_stderr_muted() -> Iterator[None]:
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


def quality_level(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """A level of the installed ladder (a usage error otherwise)."""
    if value is None:
        return None
    from vqcodec import zoo

    levels = [p.quality for p in zoo.presets()]
    if value not in levels:
        raise click.BadParameter(f"{value} is not a quality level; the levels are {LEVELS}")
    return value


def rate_target(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """--bpp: a finite number above 0 and within what the format can hold."""
    if value is None:
        return None
    from vqcodec.format.bitstream import MAX_BYTES_PER_PIXEL

    most = 8 * MAX_BYTES_PER_PIXEL
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} is not a finite number above 0 (e.g. 0.3)")
    if value > most:
        raise click.BadParameter(f"{value:g} is over {most} bits per pixel, the format's limit")
    return value


QUALITY_HELP = "Quality level " + _ladder_help() + "; picks the model and refinement."
LEVELS = _ladder_help().split(" [")[0]
MODEL_HELP = f"Model name from `vqcodec models` [default: {_default_model()}]."


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
