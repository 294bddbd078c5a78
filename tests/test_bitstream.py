import io
import struct
import zlib

import pytest

from vqcodec.errors import CorruptStreamError, FormatError, FormatLimitError
from vqcodec.format import bitstream, schema
from vqcodec.format.bitstream import Header

HEADER = Header(model_id=3, fingerprint=0xDEADBEEF, colour=bitstream.COLOUR_GRAY, width=768,
                height=512, tile=32, lengths=((5, 7), (1, 0), (300, 2)))  # fmt: skip
V2 = Header(model_id=3, fingerprint=0xDEADBEEF, colour=bitstream.COLOUR_RGB, width=768,
            height=512, tile=32, lengths=((5, 7), (1, 0)), version=2)  # fmt: skip
REFINED = Header(model_id=2, fingerprint=0xCAFE, colour=bitstream.COLOUR_RGB, width=768,
                 height=1100, tile=32, lengths=((5, 7),), refine_step=160,
                 refine_lengths=(40, 0, 3), filter_length=9)  # fmt: skip
V3 = Header(model_id=2, fingerprint=0xCAFE, colour=bitstream.COLOUR_RGB, width=768,
            height=1100, tile=32, lengths=((5, 7),), refine_step=160, refine_lengths=(40, 0, 3),
            version=3)  # fmt: skip
V1 = Header(model_id=1, fingerprint=0x12345678, colour=bitstream.COLOUR_RGB, width=96,
            height=64, tile=0, lengths=((5, 7),), arithmetic=bitstream.ARITHMETIC_FLOAT,
            version=1)  # fmt: skip


ALL = [HEADER, REFINED, V3, V2, V1]
IDS = ["v4", "v4-refined-filtered", "v3-refined", "v2", "v1"]


def streams_of(header: Header) -> list[list[bytes]]:
    return [[bytes([65 + t * 2 + m]) * n for m, n in enumerate(tile)]
            for t, tile in enumerate(header.lengths)]  # fmt: skip


def refinement_of(header: Header) -> list[bytes]:
    return [bytes([97 + s]) * n for s, n in enumerate(header.refine_lengths)]


def filter_of(header: Header) -> bytes:
    return b"f" * header.filter_length


def packed(header: Header = HEADER) -> bytes:
    return bitstream.pack(
        header, streams_of(header), 1234, refinement_of(header), filter_of(header)
    )


@pytest.mark.parametrize("header", ALL, ids=IDS)
def test_roundtrip(header):
    parsed = bitstream.unpack(packed(header))
    assert parsed.header == header
    assert (parsed.streams, parsed.crc) == (streams_of(header), 1234)
    assert parsed.refinement == refinement_of(header)
    assert parsed.filter_stream == filter_of(header)
    assert parsed.layers == [*refinement_of(header), filter_of(header)]


def test_refinement_lengths_must_match_the_streams():
    with pytest.raises(ValueError, match="refinement"):
        bitstream.pack(REFINED, streams_of(REFINED), 1234, [b"x"])
    with pytest.raises(ValueError, match="filter"):
        bitstream.pack(REFINED, streams_of(REFINED), 1234, refinement_of(REFINED), b"x")


def test_refinement_stripe_count_is_bounded():
    data = packed(REFINED)
    end = bitstream.unpack_header(data)[1] - bitstream.trailer(REFINED.version).size
    stripes_at = end - 1 - 3 - 1  # varints: stripes (3), lengths 40, 0, 3, filter 9
    assert data[stripes_at] == 3
    with pytest.raises(FormatError, match="refinement stripes"):
        bitstream.unpack(_refield(data, stripes_at, 0))


def test_crc_covers_the_refinement_and_the_filter():
    assert bitstream.crc_of(b"h", b"i", [b"r"]) != bitstream.crc_of(b"h", b"i", [b"s"])
    assert bitstream.crc_of(b"h", b"i") == bitstream.crc_of(b"h", b"i", [])


def test_header_is_compact_and_names_its_arithmetic():
    data = packed()
    assert data[3] == bitstream.VERSION == 5
    assert data[11:13] == bytes([bitstream.ARITHMETIC_INT8_PRIOR, bitstream.CODER_RANGE_2_23])
    payload = sum(sum(t) for t in HEADER.lengths)
    assert len(data) - payload <= 45  # six streams of a Kodak-sized image


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**32 - 1])
def test_varint_roundtrip(value):
    encoded = schema.varint(value)
    stream = io.BytesIO(encoded)
    assert schema._read_varint(stream.read) == value and stream.tell() == len(encoded)


@pytest.mark.parametrize("header", ALL, ids=IDS)
def test_every_truncation_is_a_format_error(header):
    data = packed(header)
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


def _refield(data: bytes, pos: int, value: int) -> bytes:
    """`data` with byte `pos` of the header replaced and the header check recomputed."""
    end = bitstream.unpack_header(data)[1] - bitstream.trailer(bitstream.VERSION).size
    fields = bytearray(data[:end])
    fields[pos] = value
    check = bitstream.header_check(bytes(fields))
    return bytes(fields) + struct.pack("<H", check) + data[end + 2 :]


def forged(header: Header, payload: bytes = b"") -> bytes:
    """A file with `header`, valid checks and `payload`, made without the writer's limits (the
    reader must refuse what the writer would never write)."""
    fields = header.pack_fields()
    check = bitstream.header_check(fields)
    if header.version >= 5:
        return fields + struct.pack("<HII", check, zlib.crc32(payload), 0) + payload
    return fields + struct.pack("<HI", check, 0) + payload


def test_unknown_arithmetic_coder_and_flags_are_refused():
    data = packed()
    with pytest.raises(FormatError, match="arithmetic 7"):
        bitstream.unpack(_refield(data, 11, 7))
    with pytest.raises(FormatError, match="entropy coder 0"):
        bitstream.unpack(_refield(data, 12, 0))
    with pytest.raises(FormatError, match="reserved"):
        bitstream.unpack(_refield(data, 10, 0x81))


def test_damaged_header_is_caught_before_decoding():
    data = bytearray(packed())
    data[13] ^= 0x01  # width
    with pytest.raises(CorruptStreamError, match="header"):
        bitstream.unpack(bytes(data))


def test_huge_dimensions_refused_before_allocation():
    huge = Header(1, 0, 0, width=100_000, height=100_000, tile=0, lengths=((0, 0),))
    with pytest.raises(FormatLimitError, match="limit"):
        bitstream.pack(huge, [[b"", b""]], 0)
    with pytest.raises(FormatError, match="limit"):
        bitstream.unpack(forged(huge))


def test_absurd_stream_counts_refused():
    many = Header(1, 0, 0, width=8, height=8, tile=4, lengths=((0,) * 9,))
    with pytest.raises(FormatError, match="maps"):
        bitstream.unpack(forged(many))


def test_v1_reserved_flags_refused():
    fields = bytearray(V1.pack_fields())
    fields[10] |= 0x80
    check = bitstream.header_check(bytes(fields))
    data = bytes(fields) + struct.pack("<HI", check, 0) + b"t" * 5 + b"b" * 7
    with pytest.raises(FormatError, match="reserved"):
        bitstream.unpack(data)


def test_unpack_header_needs_only_a_bounded_prefix():
    data = packed()
    header_bytes = len(data) - HEADER.payload_bytes
    for prefix in (data, data[:header_bytes]):
        assert bitstream.unpack_header(prefix) == (HEADER, header_bytes)
    assert bitstream.unpack_header(data + bytes(1000))[1] == header_bytes


def test_read_header_pulls_exactly_the_header():
    data = packed()
    stream = io.BytesIO(data + b"more")
    found = bitstream.read_header(stream.read)
    assert (found.header, found.crc) == (HEADER, 1234)
    assert stream.tell() == len(found.raw) == len(data) - HEADER.payload_bytes
    assert found.raw == found.fields + data[len(found.fields) : len(found.raw)]


def five_byte_varint(v: int) -> bytes:
    return bytes([0x80 | (v >> k & 0x7F) for k in (0, 7, 14, 21)] + [v >> 28])


def test_the_longest_header_is_within_max_header_bytes():
    """Every varint spelled with 5 bytes and the most streams and stripes the parser accepts."""
    maps, tiles, stripes = 2, bitstream.MAX_STREAMS // 2, bitstream.MAX_STRIPES
    fields = struct.pack("<3sBHIB", b"VQZ", 5, 1, 2, 0) + bytes([1, 1])
    fields += b"".join(five_byte_varint(v) for v in (4, 4, 4, maps, tiles))
    fields += five_byte_varint(0) * (maps * tiles)
    fields += five_byte_varint(8) + five_byte_varint(stripes) + five_byte_varint(0) * stripes
    fields += five_byte_varint(0)  # filter length
    longest = fields + struct.pack("<HII", bitstream.header_check(fields), 0, 0)
    assert len(longest) == bitstream.MAX_HEADER_BYTES
    header, size = bitstream.unpack_header(longest)
    assert size == bitstream.MAX_HEADER_BYTES and len(header.lengths) == tiles
    assert len(header.refine_lengths) == stripes


def test_unpack_header_refuses_what_unpack_refuses():
    data = packed()
    header_bytes = len(data) - HEADER.payload_bytes
    for n in range(header_bytes):
        with pytest.raises(FormatError):
            bitstream.unpack_header(data[:n])
    with pytest.raises(FormatError, match="magic"):
        bitstream.unpack_header(bytes(1 << 16))
    with pytest.raises(FormatError, match="version 9"):
        bitstream.unpack_header(data[:3] + bytes([9]) + data[4:])
    damaged = bytearray(data)
    damaged[13] ^= 0x01
    with pytest.raises(CorruptStreamError, match="header"):
        bitstream.unpack_header(bytes(damaged))
    huge = Header(1, 0, 0, width=100_000, height=100_000, tile=0, lengths=((0, 0),))
    with pytest.raises(FormatError, match="limit"):
        bitstream.unpack_header(forged(huge))
    with pytest.raises(FormatError, match="tiles of 2 codes"):
        small = Header(1, 0, 0, width=64, height=64, tile=2, lengths=((0, 0),))
        bitstream.unpack_header(forged(small))
