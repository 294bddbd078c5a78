"""The command line's inputs and outputs: `-` for stdin/stdout, output formats checked before
any work, never writing over the input, bounded header reads, one-line errors everywhere."""

import io
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from vqcodec.cli import main
from vqcodec.io import outputs

from .conftest import ROOT, photo


@pytest.fixture()
def image_file(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(photo(24, 40)).save(path)
    return path


@pytest.fixture()
def vqz_file(image_file):
    assert run("encode", image_file).exit_code == 0
    return image_file.with_suffix(".vqz")


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def one_line_error(result, pattern, status=1):
    assert result.exit_code == status, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and pattern in lines[0], result.output
    return lines[0]


def cli(*args, stdin=None, timeout=60):
    """The real program in a process: bytes in, (status, stdout bytes, stderr text) out."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "vqcodec.cli", *map(str, args)], input=stdin,
                          capture_output=True, env=env, timeout=timeout)  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr.decode()


# --- pipes -----------------------------------------------------------------------------------


def test_encode_and_decode_through_stdin_and_stdout(image_file, tmp_path):
    encoded = run("encode", "-", "-o", "-", input=image_file.read_bytes())
    assert encoded.exit_code == 0, encoded.stderr
    vqz = encoded.stdout_bytes
    assert vqz[:3] == b"VQZ" and "bpp" in encoded.stderr
    assert encoded.stdout_bytes == run("encode", "-", input=image_file.read_bytes()).stdout_bytes

    decoded = run("decode", "-", "-o", tmp_path / "out.png", input=vqz)
    assert decoded.exit_code == 0 and Image.open(tmp_path / "out.png").size == (40, 24)
    to_stdout = run("decode", "-", input=vqz)  # from stdin: to stdout, PNG
    assert to_stdout.exit_code == 0 and to_stdout.stdout_bytes[:8] == b"\x89PNG\r\n\x1a\n"
    assert "40x24" in to_stdout.stderr
    as_jpeg = run("decode", "-", "-o", "-", "--format", "jpeg", input=vqz)
    assert Image.open(io.BytesIO(as_jpeg.stdout_bytes)).format == "JPEG"

    info = run("info", "-", input=vqz)
    assert info.exit_code == 0 and "width: 40" in info.stdout
    assert run("info", "-", "--json", input=vqz).stdout == run("info", vqz_path(tmp_path, vqz),
                                                               "--json").stdout  # fmt: skip


def vqz_path(folder, data):
    path = folder / "piped.vqz"
    path.write_bytes(data)
    return path


def test_pipe_errors_are_one_line(tmp_path):
    one_line_error(run("encode", "-", "-o", "-", input=b"not an image"), "not an image")
    one_line_error(run("decode", "-", "-o", "-", input=b"not a vqz"), "not a .vqz file")
    one_line_error(run("info", "-", input=b""), ".vqz")


def test_binary_output_to_a_terminal_is_refused(image_file):
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "vqcodec.cli", "encode", str(image_file), "-o", "-"]
    proc = subprocess.run(command, stdout=follower, stderr=subprocess.PIPE, env=env, timeout=60)
    os.close(follower)
    os.close(leader)
    assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1
    assert "terminal" in proc.stderr.decode()


def test_dev_zero_fails_fast_with_one_line():
    status, _, err = cli("info", "/dev/zero", timeout=60)  # the real program, as in the issue
    assert status == 1 and err.strip() == "error: not a .vqz file (bad magic bytes)"
    one_line_error(run("decode", "/dev/zero", "-o", "-"), "bad magic")
    with open("/dev/zero", "rb") as zeros:
        one_line_error(run("info", "-", input=zeros), "bad magic")


# --- output formats --------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".psd", ".blp", ".pdf", ".ico", ".xyz", ".vqz", ""])
def test_output_format_is_checked_before_decoding(vqz_file, monkeypatch, ext):
    import vqcodec.api

    def no_work(*args, **kwargs):
        raise AssertionError("decoded before checking the output format")

    monkeypatch.setattr(vqcodec.api, "decompress", no_work)
    target = vqz_file.with_name("out" + ext)
    line = one_line_error(run("decode", vqz_file, "-o", target), "-o", status=2)
    assert ".png" in line and ".jpg" in line and not target.exists()


def test_every_listed_output_format_writes_rgb_and_gray():
    for fmt, extensions in outputs.writable().items():
        for mode in ("RGB", "L"):
            im = Image.fromarray(photo(9, 13)).convert(mode)
            back = Image.open(io.BytesIO(outputs.encode_image(im, fmt)))
            assert back.size == (13, 9) and back.format == fmt, (fmt, mode)
            assert outputs.format_for(f"x{extensions[0]}") == fmt


def test_decode_to_another_format_by_extension(vqz_file, tmp_path):
    for ext, fmt in ((".jpg", "JPEG"), (".webp", "WEBP"), (".TIFF", "TIFF")):
        target = tmp_path / f"out{ext}"
        assert run("decode", vqz_file, "-o", target).exit_code == 0
        assert Image.open(target).format == fmt


# --- never over the input, names, temp files -------------------------------------------------


def test_output_may_not_be_the_input_even_with_force(image_file, vqz_file, tmp_path):
    original = image_file.read_bytes()
    one_line_error(run("encode", image_file, "-o", image_file, "--force"), "is the input")
    os.link(image_file, tmp_path / "hardlink.png")
    (tmp_path / "symlink.png").symlink_to(image_file)
    for other in ("hardlink.png", "symlink.png"):
        one_line_error(run("encode", image_file, "-o", tmp_path / other, "-f"), "is the input")
    assert image_file.read_bytes() == original
    vqz = vqz_file.read_bytes()
    one_line_error(run("decode", vqz_file, "-o", vqz_file, "--force"), "is the input")
    one_line_error(run("encode", vqz_file, "--force"), "is the input")  # photo.vqz -> photo.vqz
    assert vqz_file.read_bytes() == vqz


def test_errors_name_the_target(image_file, tmp_path):
    target = tmp_path / "no" / "dir" / "out.vqz"
    line = one_line_error(run("encode", image_file, "-o", target), str(target))
    assert ".tmp" not in line


def test_long_output_names_work(image_file, tmp_path):
    target = tmp_path / ("n" * 251 + ".vqz")
    result = run("encode", image_file, "-o", target)
    assert result.exit_code == 0, result.output
    decoded = tmp_path / ("d" * 251 + ".png")
    assert run("decode", target, "-o", decoded).exit_code == 0
    assert sorted(os.listdir(tmp_path)) == sorted(["photo.png", target.name, decoded.name])


def test_decompression_bomb_is_one_line(tmp_path):
    from . import images

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(images.png_header(10_000, 10_000))
    one_line_error(run("encode", bomb), "limit")


def test_messages_of_native_libraries_do_not_add_lines(tmp_path):
    from . import images

    data = bytearray(images.encoded(Image.fromarray(photo(12, 10)), "TIFF",
                                    compression="tiff_deflate"))  # fmt: skip
    data[8] ^= 0xFF  # the deflate stream: libtiff itself prints "ZIPDecode: ..." on stderr
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    status, _, err = cli("encode", bad)
    assert status == 1 and err.count("\n") == 1 and err.startswith("error: "), err


def test_cli_writes_what_the_library_writes(tmp_path):
    import vqcodec

    for mode in ("RGB", "L"):
        path = tmp_path / f"{mode}.png"
        Image.fromarray(photo(16, 24)).convert(mode).save(path)
        assert run("encode", path, "-q", 1).exit_code == 0
        assert path.with_suffix(".vqz").read_bytes() == vqcodec.compress(path, quality=1)


def test_unreadable_inputs_are_one_line_status_1(image_file, vqz_file, monkeypatch):
    from pathlib import Path

    real_open = Path.open

    def no_permission(self, *args, **kwargs):
        if self.name in (image_file.name, vqz_file.name):
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", no_permission)  # root can read anything: pretend
    one_line_error(run("encode", image_file, "-o", image_file.with_name("x.vqz")), "Permission")
    one_line_error(run("decode", vqz_file, "-o", image_file.with_name("x.png")), "Permission")
    one_line_error(run("info", vqz_file), "Permission")
