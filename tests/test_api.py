"""The library's public functions: the input kinds they take, keyword-only options, and only
`VQCodecError` subclasses for anything a caller can get wrong."""

import inspect
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vqcodec
from vqcodec.errors import FormatError, InputReadError, InputTypeError, VQCodecError
from vqcodec.format import bitstream
from vqcodec.format.vqz_input import TRAILING_COUNTED

from . import images
from .conftest import photo


@pytest.fixture(scope="module")
def vqz(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "photo.vqz"
    path.write_bytes(vqcodec.compress(photo(20, 28, seed=7)))
    return path


class Counting(io.RawIOBase):
    """A non-seekable stream (a pipe) that counts what is read from it; endless if `fill`."""

    def __init__(self, data: bytes, fill: bytes | None = None) -> None:
        self.data, self.fill, self.taken = data, fill, 0

    def readable(self):
        return True

    def readinto(self, buf):
        chunk = self.data[self.taken : self.taken + len(buf)]
        if not chunk and self.fill is not None:
            chunk = (self.fill * len(buf))[: len(buf)]
        buf[: len(chunk)] = chunk
        self.taken += len(chunk)
        return len(chunk)


def test_decompress_takes_bytes_paths_and_binary_files(vqz):
    data = vqz.read_bytes()
    expected = np.asarray(vqcodec.decompress(data))
    with vqz.open("rb") as f:
        sources = [bytearray(data), memoryview(data), str(vqz), vqz, f, io.BytesIO(data)]
        for source in [*sources, io.BufferedReader(Counting(data))]:
            assert np.array_equal(np.asarray(vqcodec.decompress(source)), expected)


def test_compress_takes_encoded_image_bytes_and_files(tmp_path):
    png = images.encoded(images.halves(16, 8, (10, 200, 30), (200, 10, 30)), "PNG")
    path = tmp_path / "in.png"
    path.write_bytes(png)
    expected = vqcodec.compress(path)
    assert vqcodec.compress(png) == expected
    assert vqcodec.compress(io.BytesIO(png)) == expected
    with path.open("rb") as f:
        assert vqcodec.compress(f) == expected


def test_info_takes_the_same_sources_and_reads_only_the_header(vqz):
    data = vqz.read_bytes()
    expected = vqcodec.info(data)
    assert vqcodec.info(vqz) == vqcodec.info(str(vqz)) == expected
    pipe = Counting(data)
    assert vqcodec.info(io.BufferedReader(pipe, buffer_size=1)) == expected
    assert pipe.taken <= bitstream.MAX_HEADER_BYTES


def test_info_of_a_damaged_file_fails_like_decompress(vqz, tmp_path):
    short = tmp_path / "short.vqz"
    short.write_bytes(vqz.read_bytes()[:-1])
    with pytest.raises(FormatError, match="truncated"):
        vqcodec.info(short)
    long = tmp_path / "long.vqz"
    long.write_bytes(vqz.read_bytes() + b"x")
    with pytest.raises(FormatError, match="trailing"):
        vqcodec.info(long)


def test_endless_streams_are_refused_after_a_bounded_read(vqz):
    zeros = Counting(b"", fill=b"\0")
    with pytest.raises(FormatError, match="magic"):
        vqcodec.decompress(io.BufferedReader(zeros, buffer_size=1))
    assert zeros.taken <= bitstream.MAX_HEADER_BYTES
    data = vqz.read_bytes()
    endless = Counting(data, fill=b"x")  # a good file followed by garbage forever
    with pytest.raises(FormatError, match=f"trailing data .*at least {TRAILING_COUNTED + 1} b"):
        vqcodec.decompress(io.BufferedReader(endless, buffer_size=1))
    assert endless.taken <= len(data) + 1 + TRAILING_COUNTED


def test_trailing_data_is_counted(vqz, tmp_path):
    """The message says how many bytes follow the payload, from a path, bytes or a pipe."""
    longer = tmp_path / "longer.vqz"
    longer.write_bytes(vqz.read_bytes() + bytes(100))
    for source in (longer, longer.read_bytes(), Counting(longer.read_bytes())):
        with pytest.raises(FormatError, match=r"trailing data after the .vqz payload \(100 b"):
            vqcodec.decompress(source)


def test_a_header_claiming_more_than_any_image_needs_is_refused_before_reading_it():
    fields = bitstream.Header(1, 0, 0, 8, 8, tile=0, lengths=((2**34, 0),)).pack_fields()
    stream = Counting(fields + struct.pack("<HI", bitstream.header_check(fields), 0), b"x")
    with pytest.raises(FormatError, match="header"):
        vqcodec.decompress(io.BufferedReader(stream, buffer_size=1))
    assert stream.taken <= bitstream.MAX_HEADER_BYTES


def test_wrong_types_are_vqcodec_errors_and_type_errors(vqz):
    for call in (
        lambda: vqcodec.decompress(12),
        lambda: vqcodec.decompress(["x"]),
        lambda: vqcodec.info(3.5),
        lambda: vqcodec.compress(12),
        lambda: vqcodec.compress(photo(8, 8), model=3),
        lambda: vqcodec.compress(photo(8, 8), quality="3"),
        lambda: vqcodec.compress(photo(8, 8), quality=True),
        lambda: vqcodec.compress(photo(8, 8), drop_alpha="yes"),
    ):
        with pytest.raises(InputTypeError) as info:
            call()
        assert isinstance(info.value, VQCodecError) and isinstance(info.value, TypeError)
    with vqz.open("r") as text, pytest.raises(InputTypeError, match="binary"):
        vqcodec.decompress(text)


def test_unreadable_sources_are_vqcodec_errors(tmp_path):
    with pytest.raises(InputReadError, match="No such file"):
        vqcodec.decompress(tmp_path / "missing.vqz")
    with pytest.raises(InputReadError, match="folder"):
        vqcodec.decompress(tmp_path)
    with pytest.raises(InputReadError, match="No such file"):
        vqcodec.info(str(tmp_path / "missing.vqz"))


def test_options_are_keyword_only():
    for fn in (vqcodec.compress, vqcodec.compress_image):
        params = list(inspect.signature(fn).parameters.values())
        assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), fn
    for fn in (vqcodec.decompress, vqcodec.info):
        assert len(inspect.signature(fn).parameters) == 1


def test_path_like_objects_are_paths(vqz):
    class Custom:
        def __fspath__(self):
            return str(vqz)

    assert vqcodec.info(Custom())["width"] == 28
    assert isinstance(Path(vqz), Path)


def test_premultiplied_alpha_images_compress():
    for im in (Image.new("RGBa", (8, 8), (90, 60, 30, 255)), Image.new("La", (8, 8), (90, 255))):
        assert vqcodec.decompress(vqcodec.compress(im)).size == (8, 8)
