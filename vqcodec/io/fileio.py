"""Safe output files: written to a temporary file beside the target, then moved into place.

A crash or an error never leaves a half-written file under the target name, and an existing
file is never replaced unless `overwrite` is set. The temporary file is `.vqcodec-XXXXXXXX.tmp`:
short whatever the target's length (so names up to the file system's 255 bytes work), hidden,
and unrelated to the target's name, so one left by a SIGKILL is never mistaken for an output.
SIGTERM and SIGHUP during the write remove it as SIGINT does. Errors name the target, not the
temporary file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from vqcodec.errors import OutputError

TEMP_PREFIX, TEMP_SUFFIX = ".vqcodec-", ".tmp"


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM / SIGHUP into SystemExit(128 + signal) while writing, so that `finally`
    blocks run; only where the default action (die at once) was in place, main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
            previous[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _write_via_temp(path: Path, data: bytes, overwrite: bool) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    tmp = Path(name)
    try:
        try:
            _write_all(fd, data)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def check_target(path: Path, overwrite: bool = False) -> None:
    """Before any work: `path` can become a regular file here. OutputError if it names a
    folder, a device, a pipe, a socket or a symbolic link (never replaced, not even with
    `overwrite`: an output is a regular file) or lies in a folder that does not exist or
    cannot be written; FileExistsError if it is an existing file and not `overwrite`."""
    text = os.fspath(path)
    if not text:
        raise OutputError("the output file name is empty")
    if "\0" in text:
        raise OutputError("an output file name cannot contain a NUL character")
    path = Path(text)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        raise OutputError(f"{path}: a folder on its path is a file") from None
    except OSError as exc:
        raise OutputError(f"{exc.strerror or exc}: {path}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise OutputError(f"{path} is a folder; give a file name")
        if stat.S_ISLNK(mode):
            raise OutputError(
                f"{path} is a symbolic link; outputs are written only as regular files"
            )
        if not stat.S_ISREG(mode):
            raise OutputError(f"{path} is not a regular file (a device, pipe or socket)")
        if not overwrite:
            raise FileExistsError(path)
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write in the folder {folder} (permission denied)")


def write_atomic(path: Path, data: bytes, overwrite: bool = False) -> None:
    """Write `data` to `path` atomically, as a regular file (`check_target`); FileExistsError
    if it exists and not `overwrite`."""
    check_target(path, overwrite)
    path = Path(path)
    with _signals_raise():
        try:
            _write_via_temp(path, data, overwrite)
        except FileExistsError:
            raise FileExistsError(path) from None
        except OSError as exc:  # name the target, not the temporary file
            raise OSError(exc.errno, exc.strerror, str(path)) from None


def _link_no_clobber(tmp: Path, path: Path) -> None:
    """Move `tmp` to `path` only if `path` does not exist (atomic where hard links work)."""
    try:
        os.link(tmp, path)  # fails with FileExistsError if someone created `path` meanwhile
    except FileExistsError:
        raise FileExistsError(path) from None
    except OSError:  # file system without hard links
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)
