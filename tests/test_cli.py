"""The command line: defaults, no-clobber, atomic output, and one-line errors for bad input."""

import subprocess
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from vqcodec.cli import main

from .conftest import photo


@pytest.fixture()
def image_file(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(photo(24, 40)).save(path)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, pattern):
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and pattern in lines[0], result.output


def test_encode_decode_info_with_default_names(image_file):
    result = run("encode", image_file)
    assert result.exit_code == 0, result.output
    vqz = image_file.with_suffix(".vqz")
    assert "bpp" in result.output and "(40x24, model" in result.output and vqz.exists()
    out = image_file.parent / "out.png"
    assert run("decode", vqz, "-o", out).exit_code == 0
    assert Image.open(out).size == (40, 24)
    info = run("info", vqz)
    assert info.exit_code == 0 and "width: 40" in info.output and "bpp" in info.output


def test_refuses_to_overwrite_without_force(image_file):
    vqz = image_file.with_suffix(".vqz")
    vqz.write_bytes(b"precious")
    assert_one_line_error(run("encode", image_file), "--force")
    assert vqz.read_bytes() == b"precious"
    assert run("encode", image_file, "--force").exit_code == 0
    assert vqz.read_bytes()[:3] == b"VQZ"
    # decode defaults to photo.png, which is the original: refused
    assert_one_line_error(run("decode", vqz), "exists")


def test_bad_inputs_give_one_line_errors_and_no_output(tmp_path, image_file):
    assert_one_line_error(run("encode", tmp_path / "missing.png"), "no such file")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert_one_line_error(run("encode", text), "not an image")
    assert_one_line_error(run("decode", text), "not a .vqz file")
    assert_one_line_error(run("decode", tmp_path / "missing.vqz"), "No such file")
    good = run("encode", image_file, "-o", tmp_path / "good.vqz")
    assert good.exit_code == 0
    data = (tmp_path / "good.vqz").read_bytes()
    (tmp_path / "short.vqz").write_bytes(data[:-3])
    assert_one_line_error(run("decode", tmp_path / "short.vqz"), "truncated")
    corrupt = bytearray(data)
    corrupt[-2] ^= 0xFF
    (tmp_path / "corrupt.vqz").write_bytes(bytes(corrupt))
    assert_one_line_error(run("decode", tmp_path / "corrupt.vqz"), "corrupt")
    leftovers = {p.name for p in tmp_path.iterdir()}
    assert leftovers == {"photo.png", "notes.txt", "good.vqz", "short.vqz", "corrupt.vqz"}


def test_real_process_exit_status_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.vqz"
    bad.write_bytes(b"VQZ\x07" + bytes(40))
    proc = subprocess.run([sys.executable, "-m", "vqcodec.cli", "decode", str(bad)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1
    expected = "error: unsupported .vqz format version 7 (this reader knows 1, 2, 3, 4, 5, 6)"
    assert proc.stderr.strip() == expected
    assert not (tmp_path / "bad.png").exists()


def test_sample_writes_images_and_a_grid(tmp_path):
    result = run("sample", "--size", "32x24", "-n", 3, "-o", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "s" / "sample_02.png").size == (32, 24)
    assert Image.open(tmp_path / "s" / "grid.png").size == (3 * 32 + 2 * 4, 24)
    assert_one_line_error(run("sample", "--size", "32x24", "-n", 3, "-o", tmp_path / "s"), "exists")
    assert run("sample", "--size", "big", "-o", tmp_path / "t").exit_code == 2


def test_write_atomic_never_clobbers_and_leaves_no_temp(tmp_path, monkeypatch):
    import os

    from vqcodec.io.fileio import write_atomic

    target = tmp_path / "out.bin"
    write_atomic(target, b"one")
    with pytest.raises(FileExistsError) as info:
        write_atomic(target, b"two")
    assert str(target) in str(info.value)
    write_atomic(target, b"three", overwrite=True)
    assert target.read_bytes() == b"three"

    def racing_link(src, dst):  # someone creates the file between our check and our link
        raise FileExistsError(17, "File exists")

    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(FileExistsError) as info:
        write_atomic(tmp_path / "new.bin", b"x")
    assert info.value.args[0] == tmp_path / "new.bin"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf"])
def test_sample_temperature_must_be_finite_and_positive(tmp_path, value):
    result = run("sample", "--temperature", value, "-o", tmp_path / "s")
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error:") and "--temperature" in line and value in line
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["encode"],
        ["decode", "x.vqz", "--format", "psd"],
        ["bench", "--anchors", "/no/such/folder"],
        ["bench", "--jobs", "0"],
        ["encode", "x.png", "--quality", "high"],
        ["nosuchcommand"],
    ],
)
def test_usage_errors_are_one_line_too(args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error:") and "--help" in line


def test_help_states_ranges_and_defaults():
    from vqcodec import zoo

    levels = [p.quality for p in zoo.presets()]
    default = zoo.default_preset()
    encode = run("encode", "--help").output
    assert f"{levels[0]}..{levels[-1]}" in encode and f"default: {default.quality}]" in encode
    assert default.model in " ".join(encode.split()) and "'-' for stdout" in encode
    sample = run("sample", "--help").output
    assert "8..1024" in sample and "1..64" in sample and "0.05..20" in sample
    decode = " ".join(run("decode", "--help").output.split())
    assert "png for stdout" in decode and "jpeg" in decode


def test_no_command_shows_the_help():
    result = run()
    assert result.exit_code in (0, 2) and "Usage:" in result.output
    assert "error:" not in result.output and "encode" in result.output
