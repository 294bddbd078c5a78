"""What a hostile but realistic user found (issue 19), one test per finding: every file the
writer emits the reader takes; outputs are regular files, checked before any work; a tiny file
cannot cost a big decode; no traceback, one line and the right status for every user error."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import zlib
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import vqcodec
from vqcodec import zoo
from vqcodec.cli import main
from vqcodec.errors import CorruptStreamError, FormatError, RateError, VQCodecError
from vqcodec.format import bitstream, vqz_input
from vqcodec.model import codec

from .conftest import ROOT, photo

# 30 bytes claiming a 4096 x 4096 image coded as one tile (the fuzz campaign's header bomb)
BOMB_30 = base64.b64decode("VlFaBAUA3fMpYwABAYAggCAAAgEAAAAAwXJ4VjQS")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line(result, pattern: str, status: int = 1) -> str:
    assert result.exit_code == status, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert pattern in lines[0], result.output
    return lines[0]


def cli(*args: str, shell_suffix: str = "") -> subprocess.CompletedProcess:
    """The real program, through a shell (to close its stdout with `>&-`)."""
    command = " ".join([sys.executable, "-m", "vqcodec.cli", *args]) + shell_suffix
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip


@pytest.fixture()
def no_entropy_decoding(monkeypatch):
    """Fails the test if anything reaches the code maps' entropy decoder."""

    def refuse(*args, **kwargs):
        raise AssertionError("the file reached entropy decoding")

    monkeypatch.setattr(codec.Codec, "decode_maps", refuse)


# --- 1. the writer never emits what the reader refuses ---------------------------------------


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2, (height, width, 3)) * 255).astype(np.uint8)


def _reads_back_every_way(data: bytes, tmp_path) -> None:
    path = tmp_path / "x.vqz"
    path.write_bytes(data)
    images = [vqcodec.decompress(data), vqcodec.decompress(path)]
    with open(path, "rb") as f:
        images.append(vqcodec.decompress(f))
    assert all(np.array_equal(np.asarray(images[0]), np.asarray(im)) for im in images[1:])
    out = tmp_path / "x.png"
    result = run("decode", path, "-o", out, "--force")
    assert result.exit_code == 0, result.output


def test_binary_noise_at_the_finest_step_reads_back(tmp_path):
    """64x64 black/white noise at refine step 1: about 40 bpp, refused by the reader before."""
    data = vqcodec.compress(_noise(64, 64), refine_step=1)
    assert 8 * len(data) / (64 * 64) > 20
    _reads_back_every_way(data, tmp_path)


def test_a_size_target_on_noise_reads_back(tmp_path):
    data = vqcodec.compress(_noise(96, 96, seed=1), max_bytes=40_000)
    assert len(data) <= 40_000
    _reads_back_every_way(data, tmp_path)


_EXTREMES = st.sampled_from(["noise", "flat", "gradient"])


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=_EXTREMES,
    size=st.sampled_from([(1, 1), (1, 4096), (4096, 1), (3, 200), (40, 33)]),
    step=st.sampled_from([None, 0, 1, 2, 1023]),
)
def test_extreme_inputs_round_trip(tmp_path, kind, size, step):
    height, width = size
    if kind == "noise":
        rgb = _noise(height, width)
    elif kind == "flat":
        rgb = np.full((height, width, 3), 77, np.uint8)
    else:
        rgb = np.broadcast_to(np.linspace(0, 255, width, dtype=np.uint8)[None, :, None],
                              (height, width, 3)).copy()  # fmt: skip
    data = vqcodec.compress(rgb, refine_step=step)
    _reads_back_every_way(data, tmp_path)


def test_writer_and_reader_share_one_limit():
    """The payload limit is the format's: `pack` refuses what `read_header` would."""
    header = bitstream.Header(1, 0, 0, 8, 8, tile=0, lengths=((6000, 0),))
    with pytest.raises(VQCodecError, match="payload bytes"):
        bitstream.pack(header, [[b"x" * 6000, b""]], 0)
    assert bitstream.header_problem(header) is not None


# --- 2. outputs are regular files --------------------------------------------------------------


@pytest.fixture()
def vqz_file(tmp_path):
    path = tmp_path / "a.vqz"
    path.write_bytes(vqcodec.compress(photo(16, 24), quality=1))
    return path


def test_force_never_replaces_a_fifo_a_device_or_a_link(vqz_file, tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    targets = [fifo]
    if os.geteuid() == 0:  # a null device of our own, as the fuzz campaign made one
        device = tmp_path / "null.png"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets.append(device)
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "elsewhere.png")
    for target in [*targets, link]:
        for force in ([], ["--force"]):
            line = one_line(run("decode", vqz_file, "-o", target, *force), str(target))
            assert "--force" not in line
    assert all(stat.S_ISFIFO(fifo.lstat().st_mode) for _ in [0])
    assert link.is_symlink() and not (tmp_path / "elsewhere.png").exists()
    if len(targets) > 1:
        assert stat.S_ISCHR(targets[1].lstat().st_mode)


def test_outputs_are_checked_before_any_work(vqz_file, tmp_path, no_entropy_decoding):
    one_line(run("decode", vqz_file, "-o", tmp_path / "no" / "out.png"), "does not exist")
    one_line(run("decode", vqz_file, "-o", tmp_path), "is a folder", status=1)
    one_line(run("decode", vqz_file, "-o", ""), "empty", status=2)
    image = tmp_path / "a.png"
    Image.fromarray(photo(8, 8)).save(image)
    one_line(run("encode", image, "-o", tmp_path / "missing" / "a.vqz"), "does not exist")
    line = one_line(run("sample", "-o", image, "-n", "1", "--size", "8x8"), "not a folder", 2)
    assert "--force" not in line


# --- 4. a tiny file cannot cost a big decode --------------------------------------------------


def test_the_30_byte_header_bomb_is_refused_before_decoding(tmp_path, no_entropy_decoding):
    with pytest.raises(CorruptStreamError, match="a tile of 1048576 codes"):
        vqcodec.decompress(BOMB_30)
    path = tmp_path / "bomb.vqz"
    path.write_bytes(BOMB_30)
    one_line(run("decode", path, "-o", tmp_path / "b.png"), "tile")
    one_line(run("info", path), "tile")


def _forged(header: bitstream.Header, payload: bytes, payload_crc: int | None = None) -> bytes:
    fields = header.pack_fields()
    crc = zlib.crc32(payload) if payload_crc is None else payload_crc
    checks = bitstream.trailer(header.version)
    values = (bitstream.header_check(fields), crc, 0) if header.version >= 5 else (
        bitstream.header_check(fields), 0)  # fmt: skip
    return fields + checks.pack(*values) + payload


def test_damage_anywhere_in_a_format_5_payload_is_found_before_decoding(no_entropy_decoding):
    data = vqcodec.compress(photo(16, 24), quality=5)
    header_bytes = len(data) - bitstream.unpack(data).header.payload_bytes
    for pos in range(header_bytes, len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x10
        with pytest.raises(CorruptStreamError, match="payload CRC"):
            vqcodec.decompress(bytes(damaged))


def test_tiny_files_claiming_the_largest_image_in_any_tiling_are_refused_early():
    """Format 5, every tiling, empty streams: refused by the payload CRC or the layout."""
    for tile in (0, 4, 32, 128, 256):
        streams = 1 if tile == 0 else max(1, (256 // tile) ** 2)
        lengths = ((0, 0),) * min(streams, bitstream.MAX_STREAMS // 2)
        header = bitstream.Header(5, 0, 0, 4096, 4096, tile=tile, lengths=lengths)
        data = _forged(header, b"", payload_crc=1)
        with pytest.raises(FormatError):
            vqz_input.read_vqz(data)


_FUZZ = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@_FUZZ
@given(
    width=st.integers(1, 20_000),
    height=st.integers(1, 20_000),
    tile=st.integers(0, 300),
    tiles=st.integers(1, 300),
    version=st.sampled_from([2, 3, 4, 5]),
    payload=st.binary(max_size=64),
)
def test_forged_headers_are_refused_before_decoding(
    no_entropy_decoding, width, height, tile, tiles, version, payload
):
    """Any header with valid checks but streams that cannot hold its image: refused by the
    limits, the layout or (format 5) the payload CRC, never by decoding it."""
    lengths = ((len(payload), 0),) + ((0, 0),) * (tiles - 1)
    header = bitstream.Header(5, 0, 0, width, height, tile=tile, lengths=lengths, version=version)
    data = _forged(header, payload, payload_crc=zlib.crc32(payload) ^ 1)
    try:
        vqcodec.decompress(data)
    except VQCodecError:
        return
    except AssertionError:  # reached decoding: only a layout its model can have, in format < 5
        assert version < 5 and vqz_input.layout_problem(header) is None
        return
    pytest.fail("a forged file decoded")


# --- 5. no tracebacks ---------------------------------------------------------------------------


def test_a_closed_stdout_is_one_line(vqz_file, tmp_path):
    image = tmp_path / "a.png"
    Image.fromarray(photo(8, 8)).save(image)
    for args in (["decode", str(vqz_file), "-o", "-"], ["encode", str(image), "-o", "-"]):
        proc = cli(*args, shell_suffix=" >&-")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines() == [
            "error: standard output is closed; give -o FILE"
        ]


@pytest.mark.parametrize(
    "option", [["--temperature", "1e-300"], ["--temperature", "nan"], ["--seed", str(2**64)]]
)
def test_sample_options_out_of_range_are_usage_errors(tmp_path, option):
    one_line(run("sample", "-o", tmp_path / "s", "-n", "1", "--size", "8x8", *option), "", 2)


# --- 6. every API error is a VQCodecError -----------------------------------------------------


def test_api_errors_are_typed(tmp_path):
    good = vqcodec.compress(photo(8, 8), quality=1)
    with open(ROOT / "examples" / "sample.png", "rb") as closed:
        pass
    calls = [
        lambda: vqcodec.compress(closed),
        lambda: vqcodec.decompress(closed),
        lambda: vqcodec.info(closed),
        lambda: vqcodec.compress("a\0b.png"),
        lambda: vqcodec.decompress("a\0b.vqz"),
        lambda: vqcodec.info(str(tmp_path / "a\0b.vqz")),
        lambda: vqcodec.decompress(good.decode("latin-1")),
        lambda: vqcodec.compress("x" * 5000),
        lambda: vqcodec.decompress("x" * 5000),
    ]
    for call in calls:
        with pytest.raises(VQCodecError) as info:
            call()
        assert len(str(info.value)) < 300 and "\n" not in str(info.value)


# --- 8. messages and exit codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "option,reason",
    [
        (["--bpp", "nan"], "finite"),
        (["--bpp", "inf"], "finite"),
        (["--bpp", "1e9"], "format's limit"),
        (["--bpp", "0"], "above 0"),
        (["--quality", "0"], "not a quality level"),
        (["--quality", "14"], "not a quality level"),
    ],
)
def test_bad_option_values_exit_2_with_the_reason(tmp_path, option, reason):
    image = tmp_path / "a.png"
    Image.fromarray(photo(8, 8)).save(image)
    one_line(run("encode", image, *option), reason, status=2)


def test_a_target_below_the_smallest_file_says_how_small_it_can_be():
    with pytest.raises(RateError, match=r"the smallest file for this image is \d+ bytes"):
        vqcodec.compress(photo(32, 32), max_bytes=10)


def test_info_refuses_what_decode_refuses(tmp_path):
    """A tiling its model cannot have: info fails like decode instead of listing streams."""
    entry = zoo.get("s4-t64-b32-v2")  # 4096 x 4096 in tiles of 4 codes: 16384 tiles, not 65536
    header = bitstream.Header(entry.model_id, entry.fingerprint, 0, 4096, 4096, tile=4,
                              lengths=((0, 0),) * 65536)  # fmt: skip
    path = tmp_path / "many.vqz"
    path.write_bytes(_forged(header, b""))
    one_line(run("info", path), "tiles")
    one_line(run("decode", path, "-o", tmp_path / "x.png"), "tiles")


def test_a_refinement_its_image_cannot_have_is_refused_before_decoding(no_entropy_decoding):
    data = (ROOT / "tests" / "data" / "golden_v5_filtered.vqz").read_bytes()
    parsed = bitstream.unpack(data)
    payload = data[len(data) - parsed.header.payload_bytes :]
    refinement, *others = parsed.header.layers
    bad_step = replace(parsed.header, layers=(replace(refinement, param=2), *others))
    more = replace(refinement, lengths=(*refinement.lengths, 0))
    extra_stripe = replace(parsed.header, layers=(more, *others))
    for header, message in ((bad_step, "refinement step 2"), (extra_stripe, "stripes")):
        with pytest.raises(CorruptStreamError, match=message):
            vqcodec.decompress(_forged(header, payload))
