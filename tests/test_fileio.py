"""Atomic output files: no temp file survives SIGINT or SIGTERM, one left by SIGKILL is never
taken for output, errors name the target, and names up to the file system's 255 bytes work."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from vqcodec.errors import OutputError
from vqcodec.io import fileio
from vqcodec.io.fileio import write_atomic

from .conftest import ROOT


@pytest.mark.parametrize("overwrite", [False, True])
def test_names_up_to_255_bytes_work(tmp_path, overwrite):
    target = tmp_path / ("n" * 251 + ".vqz")
    assert len(target.name.encode()) == 255
    if overwrite:
        target.write_bytes(b"old")
    write_atomic(target, b"data", overwrite=overwrite)
    assert target.read_bytes() == b"data"
    assert os.listdir(tmp_path) == [target.name]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_signal_during_the_write_leaves_no_temp_file(tmp_path, monkeypatch, signum,
                                                       overwrite):  # fmt: skip
    target = tmp_path / "out.vqz"
    if overwrite:
        target.write_bytes(b"old")
    before = signal.getsignal(signal.SIGTERM)

    def killed(fd):
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises((SystemExit, KeyboardInterrupt)) as info:
        write_atomic(target, b"new", overwrite=overwrite)
    if signum == signal.SIGTERM:
        assert info.value.code == 128 + signal.SIGTERM
    assert sorted(os.listdir(tmp_path)) == (["out.vqz"] if overwrite else [])
    assert not overwrite or target.read_bytes() == b"old"
    assert signal.getsignal(signal.SIGTERM) == before


def test_sigkill_leaves_nothing_that_looks_like_the_output(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from vqcodec.io import fileio
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        fileio.write_atomic(fileio.Path(sys.argv[1]), b"x" * 1000)
    """)
    target = tmp_path / ("p" * 251 + ".vqz")
    proc = subprocess.run([sys.executable, "-c", code, str(target)])
    assert proc.returncode == -signal.SIGKILL
    (left,) = os.listdir(tmp_path)  # SIGKILL cannot be caught: the temp file stays, but it is
    assert left.startswith(fileio.TEMP_PREFIX) and left.endswith(fileio.TEMP_SUFFIX)  # hidden
    assert len(left) < 32 and not target.exists()
    fileio.write_atomic(target, b"again")  # and a later run is not confused by it
    assert target.read_bytes() == b"again"


def test_errors_name_the_target_not_the_temp_file(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such" / "dir" / "out.vqz"
    with pytest.raises(OutputError, match="does not exist") as info:
        write_atomic(missing, b"x")
    assert str(info.value).startswith(str(missing))

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    target = tmp_path / "out.vqz"
    with pytest.raises(OSError) as info:
        write_atomic(target, b"x")
    assert info.value.filename == str(target) and info.value.errno == 28
    assert os.listdir(tmp_path) == []


def test_existing_target_is_kept_without_overwrite(tmp_path):
    target = tmp_path / "out.vqz"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        write_atomic(target, b"x")
    assert target.read_bytes() == b"precious" and os.listdir(tmp_path) == ["out.vqz"]
