import io
import struct
import zlib

import pytest

from vqcodec.errors import CorruptStreamError, FormatError, FormatLimitError
from vqcodec.format import bitstream, schema
from vqcodec.format.bitstream import Header
from vqcodec.format.bitstream import LayerRecord as Record

HEADER = Header(model_id=3, fingerprint=0xDEADBEEF, colour=bitstream.COLOUR_GRAY, width=768,
                height=512, tile=32, lengths=((5, 7), (1, 0), (300, 2)))  # fmt: skip
V2 = Header(model_id=3, fingerprint=0xDEADBEEF, colour=bitstream.COLOUR_RGB, width=768,
            height=512, tile=32, lengths=((5, 7), (1, 0)), version=2)  # fmt: skip
LEGACY = (Record(1, 160, (40, 0, 3)), Record(3, 0, (9,)))  # refinement, Wiener filter
LAYERED = Header(model_id=2, fingerprint=0xCAFE, colour=bitstream.COLOUR_RGB, width=768,
                 height=1100, tile=32, lengths=((5, 7),),
                 layers=(LEGACY[0], Record(2, 1), LEGACY[1]))  # fmt: skip
V5 = Header(model_id=2, fingerprint=0xCAFE, colour=bitstream.COLOUR_RGB, width=768,
            height=1100, tile=32, lengths=((5, 7),), layers=LEGACY, version=5)  # fmt: skip
V3 = Header(model_id=2, fingerprint=0xCAFE, colour=bitstream.COLOUR_RGB, width=768,
            height=1100, tile=32, lengths=((5, 7),), layers=LEGACY[:1], version=3)  # fmt: skip
V1 = Header(model_id=1, fingerprint=0x12345678, colour=bitstream.COLOUR_RGB, width=96,
            height=64, tile=0, lengths=((5, 7),), arithmetic=bitstream.ARITHMETIC_FLOAT,
            version=1)  # fmt: skip


ALL = [HEADER, LAYERED, V5, V3, V2, V1]
IDS = ["v6", "v6-layers", "v5-refined-filtered", "v3-refined", "v2", "v1"]


def streams_of(header: Header) -> list[list[bytes]]:
    return [[bytes([65 + t * 2 + m]) * n for m, n in enumerate(tile)]
            for t, tile in enumerate(header.lengths)]  # fmt: skip


def layer_streams_of(header: Header) -> list[tuple[bytes, ...]]:
    return [tuple(bytes([97 + 8 * r.layer + s]) * n for s, n in enumerate(r.lengths))
            for r in header.layers]  # fmt: skip


def packed(header: Header = HEADER) -> bytes:
    return bitstream.pack(header, streams_of(header), 1234, layer_streams_of(header))


@pytest.mark.parametrize("header", ALL, ids=IDS)
def test_roundtrip(header):
    parsed = bitstream.unpack(packed(header))
    assert parsed.header == header
    assert (parsed.streams, parsed.crc) == (streams_of(header), 1234)
    assert list(parsed.layer_streams) == layer_streams_of(header)
    assert parsed.layers == [s for streams in layer_streams_of(header) for s in streams]
    for record, streams in zip(header.layers, layer_streams_of(header), strict=True):
        assert parsed.coded(record.layer) == bitstream.Coded(record.param, streams)
    assert parsed.coded(7) == bitstream.ABSENT


def test_formats_3_to_5_write_their_layers_in_fields_of_their_own():
    """Format 5's bytes are what format 5 always wrote: the refinement's step, stripe count and
    lengths, then the filter's length, after the map lengths."""
    fields = V5.pack_fields()
    maps = b"".join(schema.varint(n) for n in (32, 2, 1, 5, 7))
    assert fields.endswith(maps + bytes([160 & 0x7F | 0x80, 1, 3, 40, 0, 3, 9]))
    with pytest.raises(ValueError, match="cannot hold layers"):
        Header(**{**V5.__dict__, "layers": LAYERED.layers}).pack_fields()


def test_formats_1_and_2_hold_no_layers():
    with pytest.raises(ValueError, match="format 2 cannot hold layers"):
        Header(**{**V2.__dict__, "layers": LEGACY[:1]}).pack_fields()


def test_format_6_writes_layer_records():
    fields = LAYERED.pack_fields()
    records = bytes([3, 1, 160 & 0x7F | 0x80, 1, 3, 40, 0, 3, 2, 1, 0, 3, 0, 1, 9])
    assert fields.endswith(records)
    assert HEADER.pack_fields().endswith(bytes([0]))  # no layers: a count of 0


def test_layer_lengths_must_match_the_streams():
    with pytest.raises(ValueError, match="layer stream lengths"):
        bitstream.pack(LAYERED, streams_of(LAYERED), 1234, [(b"x",)])


def test_refinement_stripe_count_is_bounded():
    data = packed(V5)
    end = bitstream.unpack_header(data)[1] - bitstream.trailer(V5.version).size
    stripes_at = end - 1 - 3 - 1  # varints: stripes (3), lengths 40, 0, 3, filter 9
    assert data[stripes_at] == 3
    with pytest.raises(FormatError, match="refinement stripes"):
        bitstream.unpack(_refield(data, stripes_at, 0))


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ((Record(2), Record(1)), "not increasing"),
        ((Record(1), Record(1)), "not increasing"),
        ((Record(0),), "not increasing"),
        (tuple(Record(i) for i in range(1, 10)), "9 layers"),
        ((Record(1, 4, (0,) * 65),), "over 64 streams"),
    ],
)
def test_layer_records_the_container_forbids(layers, message):
    header = Header(2, 0, 0, 64, 64, 4, ((0, 0),), layers=layers)
    with pytest.raises(FormatLimitError, match=message):
        bitstream.pack(header, [[b"", b""]], 0, [(b"",) * len(r.lengths) for r in layers])
    with pytest.raises(FormatError, match=message.split()[-1]):
        bitstream.unpack(forged(header))


def test_crc_covers_the_layers():
    assert bitstream.crc_of(b"h", b"i", [b"r"]) != bitstream.crc_of(b"h", b"i", [b"s"])
    assert bitstream.crc_of(b"h", b"i") == bitstream.crc_of(b"h", b"i", [])


def test_header_is_compact_and_names_its_arithmetic():
    data = packed()
    assert data[3] == bitstream.VERSION == 6
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
    """Every varint spelled with 5 bytes and the most streams, layers and layer streams the
    parser accepts (format 6; format 5's legacy fields take fewer)."""
    maps, tiles = 2, bitstream.MAX_STREAMS // 2
    layers, streams = schema.MAX_LAYERS, schema.MAX_LAYER_STREAMS
    fields = struct.pack("<3sBHIB", b"VQZ", 6, 1, 2, 0) + bytes([1, 1])
    fields += b"".join(five_byte_varint(v) for v in (4, 4, 4, maps, tiles))
    fields += five_byte_varint(0) * (maps * tiles)
    fields += five_byte_varint(layers)
    for layer in range(1, layers + 1):
        fields += b"".join(five_byte_varint(v) for v in (layer, 0, streams))
        fields += five_byte_varint(0) * streams
    longest = fields + struct.pack("<HII", bitstream.header_check(fields), 0, 0)
    assert len(longest) == bitstream.MAX_HEADER_BYTES
    header, size = bitstream.unpack_header(longest)
    assert size == bitstream.MAX_HEADER_BYTES and len(header.lengths) == tiles
    assert [len(r.lengths) for r in header.layers] == [streams] * layers
    v5 = (
        struct.pack("<3sBHIB", b"VQZ", 5, 1, 2, 0)
        + bytes([1, 1])
        + five_byte_varint(0) * (5 + maps * tiles + 2 + bitstream.MAX_STRIPES + 1)
    )
    assert len(v5) + 10 < bitstream.MAX_HEADER_BYTES


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
