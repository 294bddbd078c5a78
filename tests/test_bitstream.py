import struct

import pytest

from vqcodec import bitstream
from vqcodec.bitstream import Header
from vqcodec.errors import CorruptStreamError, FormatError

HEADER = Header(model_id=3, fingerprint=0xDEADBEEF, colour=bitstream.COLOUR_GRAY, backend=0,
                width=768, height=512, len_top=5, len_bottom=7)  # fmt: skip


def packed(header: Header = HEADER) -> bytes:
    return bitstream.pack(header, b"t" * header.len_top, b"b" * header.len_bottom, crc=1234)


def test_roundtrip_and_size():
    data = packed()
    parsed = bitstream.unpack(data)
    assert parsed.header == HEADER
    assert (parsed.top, parsed.bottom, parsed.crc) == (b"ttttt", b"bbbbbbb", 1234)
    assert len(data) - 12 <= 32  # the header of a Kodak-sized image is compact


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**32 - 1])
def test_varint_roundtrip(value):
    encoded = bitstream._varint(value)
    assert bitstream._read_varint(encoded, 0) == (value, len(encoded))


def test_every_truncation_is_a_format_error():
    data = packed()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            bitstream.unpack(data[:n])


def test_trailing_data_is_refused():
    with pytest.raises(FormatError, match="trailing"):
        bitstream.unpack(packed() + b"\0")


def test_bad_magic_and_version():
    data = packed()
    with pytest.raises(FormatError, match="magic"):
        bitstream.unpack(b"PNG" + data[3:])
    with pytest.raises(FormatError, match="version 9"):
        bitstream.unpack(data[:3] + bytes([9]) + data[4:])


def test_damaged_header_is_caught_before_decoding():
    data = bytearray(packed())
    data[11] ^= 0x01  # width
    with pytest.raises(CorruptStreamError, match="header"):
        bitstream.unpack(bytes(data))


def test_huge_dimensions_refused_before_allocation():
    huge = Header(1, 0, 0, 0, width=100_000, height=100_000, len_top=0, len_bottom=0)
    data = bitstream.pack(huge, b"", b"", 0)
    with pytest.raises(FormatError, match="limit"):
        bitstream.unpack(data)


def test_reserved_flags_refused():
    fields = bytearray(HEADER.pack_fields())
    fields[10] |= 0x80
    check = bitstream._header_check(bytes(fields))
    data = bytes(fields) + struct.pack("<HI", check, 0) + b"t" * 5 + b"b" * 7
    with pytest.raises(FormatError, match="reserved"):
        bitstream.unpack(data)


def test_unpack_header_needs_only_a_bounded_prefix():
    data = packed()
    header_bytes = len(data) - HEADER.len_top - HEADER.len_bottom
    for prefix in (data, data[: bitstream.MAX_HEADER_BYTES], data[:header_bytes]):
        assert bitstream.unpack_header(prefix) == (HEADER, header_bytes)
    assert bitstream.unpack_header(data + bytes(1000))[1] == header_bytes
    # the longest header the parser accepts: every varint spelled with 5 bytes
    fields = bitstream._FIXED.pack(b"VQZ", 1, 1, 2, 0) + bytes([0x90, 0x80, 0x80, 0x80, 0]) * 4
    longest = fields + struct.pack("<HI", bitstream._header_check(fields), 0)
    assert len(longest) == bitstream.MAX_HEADER_BYTES
    header, size = bitstream.unpack_header(longest)
    assert size == bitstream.MAX_HEADER_BYTES and (header.width, header.len_top) == (16, 16)


def test_unpack_header_refuses_what_unpack_refuses():
    data = packed()
    header_bytes = len(data) - HEADER.len_top - HEADER.len_bottom
    for n in range(header_bytes):
        with pytest.raises(FormatError):
            bitstream.unpack_header(data[:n])
    with pytest.raises(FormatError, match="magic"):
        bitstream.unpack_header(bytes(1 << 16))
    with pytest.raises(FormatError, match="version 9"):
        bitstream.unpack_header(data[:3] + bytes([9]) + data[4:])
    damaged = bytearray(data)
    damaged[11] ^= 0x01
    with pytest.raises(CorruptStreamError, match="header"):
        bitstream.unpack_header(bytes(damaged))
    huge = bitstream.pack(Header(1, 0, 0, 0, 100_000, 100_000, 0, 0), b"", b"", 0)
    with pytest.raises(FormatError, match="limit"):
        bitstream.unpack_header(huge)
