"""Safe output files: written to a temporary file beside the target, then moved into place.

A crash or an error never leaves a half-written file under the target name, and an existing
file is never replaced unless `overwrite` is set.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, overwrite: bool = False) -> None:
    """Write `data` to `path` atomically; FileExistsError if it exists and not `overwrite`."""
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp"
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
